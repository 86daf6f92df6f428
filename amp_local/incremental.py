"""Amp's incrementalizability rule (PROTOCOL §2.5), checked on a DataFusion logical plan.

Streaming queries and every derived-table SQL must be computable block range by block range. Amp
walks the plan and names the first operation that is not; so does this, with Amp's operation names
in the message `query contains non-incremental operation: <Op>`.
"""

from __future__ import annotations

ALLOWED = {
    "Projection",
    "Filter",
    "Union",
    "Unnest",
    "Subquery",
    "SubqueryAlias",
    "Repartition",
    "TableScan",
    "Values",
    "EmptyRelation",
}
ALLOWED_JOINS = {"Inner", "LeftSemi", "RightSemi"}
NOT_INCREMENTAL = {
    "Limit": "Limit",
    "Sort": "Sort",
    "Window": "Window",
    "WindowExpr": "Window",
    "RecursiveQuery": "RecursiveQuery",
}
BLOCK_KEYS = ("_block_num", "block_num()")


class NonIncremental(ValueError):
    """The plan holds an operation Amp cannot run incrementally."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"query contains non-incremental operation: {operation}")
        self.operation = operation


def _is_block_key(expr_text: str) -> bool:
    text = expr_text.strip()
    if text.startswith("Expr(") and text.endswith(")"):
        text = text[5:-1]
    last = text.rsplit(".", 1)[-1].strip('"')
    return last in BLOCK_KEYS or text.endswith("block_num()")


def check_incremental(plan, *, inside_join: bool = False) -> None:
    """Raise `NonIncremental` for the first operation Amp would refuse."""
    variant = plan.to_variant()
    kind = type(variant).__name__
    children = plan.inputs()
    if kind == "Join":
        join_type = str(variant.join_type())
        if join_type not in ALLOWED_JOINS:
            raise NonIncremental(f"Join({join_type})")
        if inside_join:
            raise NonIncremental("StackedJoins")
        for child in children:
            check_incremental(child, inside_join=True)
        return
    if kind == "Aggregate":
        keys = [str(e) for e in variant.group_by_exprs()]
        if not keys or not _is_block_key(keys[0]):
            raise NonIncremental("Aggregate")
    elif kind == "Distinct":
        text = plan.display().lstrip()
        if not text.startswith("DistinctOn"):
            raise NonIncremental("Distinct")
        on = text[len("DistinctOn: on_expr=[[") :].split(",")[0].split("]")[0]
        if not _is_block_key(on):
            raise NonIncremental("Distinct")
    elif kind in NOT_INCREMENTAL:
        raise NonIncremental(NOT_INCREMENTAL[kind])
    elif kind not in ALLOWED:
        raise NonIncremental(kind)
    for child in children:
        check_incremental(child, inside_join=inside_join)
