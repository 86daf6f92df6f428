"""Streaming queries (`SETTINGS stream = true` / `amp-stream: true`, PROTOCOL §1.6).

The query is re-run over consecutive block ranges (microbatches of at most `MICROBATCH_BLOCKS`) of its
tables, from the earliest synced block (or the block after an `amp-resume` cursor) and then forever,
following the chain head. Each microbatch's rows are followed by a commit point (an empty batch marked
`ranges_complete: true`); idle streams get keep-alive empty batches.

An inner join's microbatch is computed as Amp's incrementalizer does, ΔL⋈R_prev ∪ L_prev⋈ΔR ∪ ΔL⋈ΔR
(Δ: the microbatch's blocks, prev: all blocks before it), so matches across microbatches are found.
Self-joins, semi-joins and subquery joins are refused: each side must be its own tables.

Rows within a microbatch are ordered by `_block_num`, as Amp orders them, whatever the order of the
segment files: each table is read in block order in one partition, and where the outermost SELECT
reads dataset tables directly (the usual case, joins included) it also computes each row's block
(`_block_num`, or `greatest(…)` over a join) in a hidden column the microbatch is sorted by.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import TokenType

from amp_local.datasets import BlockRange
from amp_local.engine import (
    EMPTY_WINDOW,
    PlannedQuery,
    QueryEngine,
    check_executable,
    conform_batch,
)
from amp_local.errors import AmpError, streaming_execution_error
from amp_local.incremental import NonIncremental, check_incremental
from amp_local.plans import join_node, table_scans

MICROBATCH_BLOCKS = 1000  # server_microbatch_max_interval
KEEP_ALIVE_SECONDS = 30.0
POLL_SECONDS = 0.2
UNSUPPORTED_JOIN = "amp_local cannot stream this join; run the query in batch mode"
BLOCK_COLUMN = "__amp_local_block"  # the hidden column microbatches are sorted by


@dataclass
class StreamEvent:
    """`batch` rows of a microbatch (complete=False) or a commit point / keep-alive (batch None)."""

    ranges: list[BlockRange]
    complete: bool
    batch: pa.RecordBatch | None = None


class StreamingQuery:
    """Runs one streaming query; `events()` never ends unless `is_active()` turns false."""

    def __init__(
        self,
        engine: QueryEngine,
        planned: PlannedQuery,
        resume: dict | None = None,
        is_active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.engine = engine
        self.planned = planned
        self.resume = resume or {}
        self.is_active = is_active
        check_executable(planned)
        plan = planned.dataframe.logical_plan()
        try:
            check_incremental(plan)
        except NonIncremental as exc:
            raise AmpError(
                "INVALID_QUERY",
                f"invalid query: non-incremental queries are not supported for streaming, {exc}",
            ) from None
        self.sides = self._join_sides(plan, planned)
        networks = {bound.table.network for bound in planned.tables}
        if len(networks) > 1:
            raise AmpError(
                "INVALID_QUERY",
                f"cross-network joins are not supported in streaming queries: {sorted(networks)}",
            )
        self.network = networks.pop() if networks else None
        self.ordered_sql = with_block_column(planned)

    @staticmethod
    def _join_sides(plan, planned: PlannedQuery) -> tuple[set, set] | None:
        """The tables on each side of the query's inner join, or None without a join."""
        join = join_node(plan)
        if join is None:
            if join_node(planned.dataframe.optimized_logical_plan()) is not None:
                raise AmpError("INVALID_QUERY", UNSUPPORTED_JOIN + " (IN/EXISTS subqueries)")
            return None
        if str(join.to_variant().join_type()) != "Inner":
            raise AmpError("INVALID_QUERY", UNSUPPORTED_JOIN + " (only inner joins stream)")
        left, right = (
            {(schema, table) for _, schema, table in table_scans(side)} for side in join.inputs()
        )
        if left & right:
            raise AmpError("INVALID_QUERY", UNSUPPORTED_JOIN + " (a table on both sides)")
        return left, right

    def windows(self, start: int, end: int) -> Iterator[dict[tuple[str, str], tuple[int, int]]]:
        """Per-table block windows whose query results, together, are the microbatch's rows."""
        keys = [(b.spelling, b.table.name) for b in self.planned.tables]
        delta = (start, end)
        if self.sides is None:
            yield dict.fromkeys(keys, delta)
            return
        prev = (0, start - 1) if start > 0 else EMPTY_WINDOW
        left, right = self.sides
        for left_window, right_window in ((delta, prev), (prev, delta)):
            windows = dict.fromkeys(keys, EMPTY_WINDOW)
            windows.update(dict.fromkeys(left, left_window))
            windows.update(dict.fromkeys(right, right_window))
            yield windows
        yield dict.fromkeys(keys, delta)

    def _spans(self) -> list[tuple[int, int] | None]:
        return [self.engine.store.table_range(b.table) for b in self.planned.tables]

    def first_block(self) -> int | None:
        """The earliest block any table the query reads has data for."""
        spans = [s for s in self._spans() if s is not None]
        return min(start for start, _ in spans) if spans else None

    def _next_block(self) -> int | None:
        first = self.first_block()
        if first is None:
            return None
        cursor = self.resume.get(self.network or "")
        if cursor is not None:
            return int(cursor["number"]) + 1
        return first

    def head(self) -> int | None:
        """The last block every table the query reads has data for (None: one has none)."""
        spans = self._spans()
        if not spans or any(s is None for s in spans):
            return None
        return min(end for _, end in spans)

    def events(self) -> Iterator[StreamEvent]:
        start = self._next_block()
        if start is None:
            yield StreamEvent([], complete=True)
            return
        idle_since = time.monotonic()
        while self.is_active():
            head = self.head()
            if head is None or head < start:
                if time.monotonic() - idle_since >= KEEP_ALIVE_SECONDS:
                    idle_since = time.monotonic()
                    yield StreamEvent([], complete=False)
                time.sleep(POLL_SECONDS)
                continue
            end = min(head, start + MICROBATCH_BLOCKS - 1)
            ranges = self._ranges(start, end)
            for batch in self._microbatch(start, end):
                yield StreamEvent(ranges, complete=False, batch=batch)
            yield StreamEvent(ranges, complete=True)
            start = end + 1
            idle_since = time.monotonic()

    def _microbatch(self, start: int, end: int) -> list[pa.RecordBatch]:
        """The rows of blocks [start, end], in block order."""
        batches = []
        try:
            for windows in self.windows(start, end):
                batches += self.engine.run_windowed(
                    self.planned, windows, ordered=True, sql=self.ordered_sql
                )
        except AmpError as error:
            if error.cause is None:
                raise
            raise streaming_execution_error(error.cause) from None
        batches = [b for b in batches if b.num_rows]
        if not batches:
            return []
        if self.ordered_sql is None:
            return [conform_batch(b, self.planned.schema) for b in batches]
        table = pa.Table.from_batches(batches).sort_by(BLOCK_COLUMN)  # a stable sort
        table = table.drop_columns([BLOCK_COLUMN]).combine_chunks()
        return [conform_batch(b, self.planned.schema) for b in table.to_batches()]

    def _ranges(self, start: int, end: int) -> list[BlockRange]:
        if self.network is None:
            return []
        pairs = self.planned.pairs
        return [self.engine.store.describe_range(pairs, self.network, start, end)]


def with_block_column(planned: PlannedQuery) -> str | None:
    """The query with each row's block in a hidden last column, when its outermost SELECT reads
    dataset tables directly (so `_block_num` / `greatest(…)` resolves there); else None."""
    try:
        tree = sqlglot.parse_one(planned.body, read="postgres")
    except sqlglot.errors.SqlglotError:
        return None
    if not isinstance(tree, exp.Select) or planned.block_expr is None:
        return None
    sources = [tree.args.get("from")] + list(tree.args.get("joins") or [])
    if not sources[0] or not all(
        isinstance(s.this, exp.Table) and s.this.db for s in sources if s is not None
    ):
        return None
    sql = planned.rewritten.sql
    position = _outer_from_position(sql)
    if position is None:
        return None
    column = f', ({planned.block_expr}) AS "{BLOCK_COLUMN}" '
    return sql[:position] + column + sql[position:]


def _outer_from_position(sql: str) -> int | None:
    """Where the outermost SELECT's FROM keyword starts (outside parentheses)."""
    depth, selected = 0, False
    for token in Postgres.Tokenizer().tokenize(sql):
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        elif depth == 0 and token.token_type == TokenType.SELECT:
            selected = True
        elif depth == 0 and selected and token.token_type == TokenType.FROM:
            return token.start
    return None
