"""Reading DataFusion logical plans: the tables a query scans, its aliases, its joins.

Amp checks its rules on the plan, not on the SQL text (a column-alias list such as `t(_a)` is an
alias only in the plan), so amp_local does the same. DataFusion's Python API cannot convert every
expression (`to_variant()` of a scalar function raises), so expressions are walked through
`rex_call_operands()`; a subquery inside an expression is only reachable through its Rust `Debug`
text, from which its aliases are read (`Alias { …, name: "…", metadata: … }`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

UNNEST_PLACEHOLDER = "__unnest_placeholder"
BLOCK_NUM = "_block_num"
_LEAVES = {
    "Column",
    "Literal",
    "ScalarVariable",
    "Placeholder",
    "OuterReferenceColumn",
    "Wildcard",
}
_SUBQUERIES = {"ScalarSubquery", "InSubquery", "Exists"}
_DEBUG_ALIAS_RE = re.compile(r'name: "((?:[^"\\]|\\.)*)", metadata:')
_DISPLAY_ALIAS_RE = re.compile(r" AS ([^,\]\)]+)")


def nodes(plan) -> Iterator:
    """Every node of a logical plan, depth first (the plan's inputs, not expression subqueries)."""
    yield plan
    for child in plan.inputs():
        yield from nodes(child)


def kind(plan) -> str:
    return type(plan.to_variant()).__name__


def node_expressions(plan) -> list:
    """The expressions a plan node holds (those the Python API exposes)."""
    variant = plan.to_variant()
    name = type(variant).__name__
    if name == "Projection":
        return list(variant.projections())
    if name == "Filter":
        return [variant.predicate()]
    if name == "Aggregate":
        return [*variant.group_by_exprs(), *variant.aggregate_exprs()]
    if name == "Join":
        pairs = [e for pair in variant.on() for e in pair]
        condition = variant.filter()
        return pairs + ([condition] if condition is not None else [])
    if name == "Sort":
        return [s.expr() for s in variant.sort_exprs()]
    if name == "Window":
        return list(variant.window_exprs())
    return []


def _operands(expr) -> list:
    """The direct sub-expressions of an expression."""
    expr_kind = expr.variant_name()
    if expr_kind in _LEAVES or expr_kind in _SUBQUERIES:
        return []
    if expr_kind == "Alias":
        return [expr.to_variant().expr()]
    try:
        return list(expr.rex_call_operands())
    except Exception:  # an expression kind the Python API cannot open: nothing more to check
        return []


def expression_aliases(expr) -> Iterator[str]:
    """`AS` names in an expression tree, outermost first, including inside subqueries."""
    expr_kind = expr.variant_name()
    if expr_kind == "Alias":
        yield expr.to_variant().alias()
    elif expr_kind in _SUBQUERIES:
        debug = repr(expr.to_variant().subquery())
        for match in _DEBUG_ALIAS_RE.finditer(debug):
            yield match.group(1).encode().decode("unicode_escape")
    for operand in _operands(expr):
        yield from expression_aliases(operand)


def alias_names(plan) -> Iterator[str]:
    """Every `AS` name in the plan, in Amp's visiting order (node by node, top down)."""
    for node in nodes(plan):
        if kind(node) == "Distinct":  # DISTINCT ON's select list is not exposed: read its text
            for match in _DISPLAY_ALIAS_RE.finditer(node.display()):
                yield match.group(1).strip()
        for expr in node_expressions(node):
            yield from expression_aliases(expr)


def underscore_alias(plan, allowed: tuple[str, ...] = ()) -> str | None:
    """The first `_`-prefixed alias Amp refuses (DataFusion's unnest placeholder and `allowed`
    names excepted)."""
    return next(
        (
            name
            for name in alias_names(plan)
            if name.startswith("_")
            and not name.startswith(UNNEST_PLACEHOLDER)
            and name not in allowed
        ),
        None,
    )


def selects_block_num_over_join(plan) -> bool:
    """A projection directly over a join that selects a bare `_block_num` column: Amp refuses it
    as ambiguous (one `_block_num` per side)."""
    for node in nodes(plan):
        if kind(node) != "Projection":
            continue
        source = node.inputs()[0]
        while kind(source) in ("Filter", "Repartition") and source.inputs():
            source = source.inputs()[0]
        if kind(source) != "Join":
            continue
        for expr in node.to_variant().projections():
            if expr.variant_name() == "Column" and expr.schema_name().rsplit(".", 1)[-1] == (
                BLOCK_NUM
            ):
                return True
    return False


def output_columns(plan) -> list[str]:
    """How DataFusion names the plan's output columns with their qualifiers (`Column` display:
    `_/eth_rpc@0.0.0.blocks.block_num`, `t.x`), or bare names for computed columns."""
    top = plan.to_variant()
    if type(top).__name__ != "Projection":
        return []
    out = []
    for expr in top.projections():
        if expr.variant_name() == "Column":
            out.append(expr.schema_name())
        elif expr.variant_name() == "Alias":
            out.append(expr.to_variant().alias())
        else:
            out.append(expr.schema_name())
    return out


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


def join_node(plan):
    """The plan's join, if any (an incremental plan has at most one join level)."""
    return next((n for n in nodes(plan) if kind(n) == "Join"), None)


def qualifier(plan) -> str | None:
    """How SQL names the relation a plan subtree produces: its alias, or its table reference."""
    node = plan
    while True:
        variant = node.to_variant()
        node_kind = type(variant).__name__
        if node_kind == "SubqueryAlias":
            return '"' + variant.alias().replace('"', '""') + '"'
        if node_kind == "TableScan":
            _, schema, table = variant.fqn()
            return f'"{schema}"."{table}"' if schema else f'"{table}"'
        children = node.inputs()
        if len(children) != 1:
            return None
        node = children[0]
