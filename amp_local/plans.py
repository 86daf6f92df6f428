"""Reading DataFusion logical plans: the tables a query scans and the aliases it defines.

Amp checks its rules on the plan, not on the SQL text (a column-alias list such as `t(_a)` is an
alias only in the plan), so amp_local does the same.
"""

from __future__ import annotations

from collections.abc import Iterator

UNNEST_PLACEHOLDER = "__unnest_placeholder"


def nodes(plan) -> Iterator:
    """Every node of a logical plan, depth first."""
    yield plan
    for child in plan.inputs():
        yield from nodes(child)


def table_scans(plan) -> list[tuple[str | None, str | None, str]]:
    """(catalog, schema, table) of every table scan, as written in the SQL, in plan order."""
    scans = []
    for node in nodes(plan):
        variant = node.to_variant()
        if type(variant).__name__ == "TableScan":
            scan = tuple(variant.fqn())
            if scan not in scans:
                scans.append(scan)
    return scans


def alias_names(plan) -> Iterator[str]:
    """Names given by `AS` anywhere in projections (column aliases and column-alias lists)."""
    for node in nodes(plan):
        variant = node.to_variant()
        if type(variant).__name__ != "Projection":
            continue
        for expr in variant.projections():
            inner = expr.to_variant()
            if type(inner).__name__ == "Alias" and not inner.alias().startswith(
                UNNEST_PLACEHOLDER
            ):
                yield inner.alias()


def join_node(plan):
    """The plan's join, if any (an incremental plan has at most one join level)."""
    return next((n for n in nodes(plan) if type(n.to_variant()).__name__ == "Join"), None)


def qualifier(plan) -> str | None:
    """How SQL names the relation a plan subtree produces: its alias, or its table reference."""
    node = plan
    while True:
        variant = node.to_variant()
        kind = type(variant).__name__
        if kind == "SubqueryAlias":
            return '"' + variant.alias().replace('"', '""') + '"'
        if kind == "TableScan":
            _, schema, table = variant.fqn()
            return f'"{schema}"."{table}"' if schema else f'"{table}"'
        children = node.inputs()
        if len(children) != 1:
            return None
        node = children[0]
