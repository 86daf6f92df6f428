"""Streaming queries (`SETTINGS stream = true` / `amp-stream: true`, PROTOCOL §1.6).

The query is re-run over consecutive block ranges (microbatches of at most `MICROBATCH_BLOCKS`) of its
tables, from the earliest synced block (or the block after an `amp-resume` cursor) and then forever,
following the chain head. Each microbatch's rows are followed by a commit point (an empty batch marked
`ranges_complete: true`); idle streams get keep-alive empty batches.

An inner join's microbatch is computed as Amp's incrementalizer does, ΔL⋈R_prev ∪ L_prev⋈ΔR ∪ ΔL⋈ΔR
(Δ: the microbatch's blocks, prev: all blocks before it), so matches across microbatches are found.
Self-joins, semi-joins and subquery joins are refused: each side must be its own tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from amp_local.datasets import BlockRange
from amp_local.engine import (
    EMPTY_WINDOW,
    PlannedQuery,
    QueryEngine,
    check_executable,
)
from amp_local.errors import AmpError, streaming_execution_error
from amp_local.incremental import NonIncremental, check_incremental
from amp_local.plans import join_node, table_scans

MICROBATCH_BLOCKS = 1000  # server_microbatch_max_interval
KEEP_ALIVE_SECONDS = 30.0
POLL_SECONDS = 0.2
UNSUPPORTED_JOIN = "amp_local cannot stream this join; run the query in batch mode"


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

    def _windows(self, start: int, end: int) -> Iterator[dict[tuple[str, str], tuple[int, int]]]:
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

    def _next_block(self) -> int | None:
        spans = [s for s in self._spans() if s is not None]
        if not spans:
            return None
        cursor = self.resume.get(self.network or "")
        if cursor is not None:
            return int(cursor["number"]) + 1
        return min(start for start, _ in spans)

    def _head(self) -> int | None:
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
            head = self._head()
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
        """The rows of blocks [start, end]."""
        batches = []
        try:
            for windows in self._windows(start, end):
                batches += self.engine.run_windowed(self.planned, windows)
        except AmpError as error:
            if error.cause is None:
                raise
            raise streaming_execution_error(error.cause) from None
        return [b for b in batches if b.num_rows]

    def _ranges(self, start: int, end: int) -> list[BlockRange]:
        if self.network is None:
            return []
        pairs = self.planned.pairs
        return [self.engine.store.describe_range(pairs, self.network, start, end)]
