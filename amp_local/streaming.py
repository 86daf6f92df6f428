"""Streaming queries (`SETTINGS stream = true` / `amp-stream: true`, PROTOCOL §1.6).

The query is re-run over consecutive block ranges (microbatches of at most `MICROBATCH_BLOCKS`) of its
tables, from the earliest synced block (or the block after an `amp-resume` cursor) and then forever,
following the chain head. Each microbatch's rows are followed by a commit point (an empty batch marked
`ranges_complete: true`); idle streams get keep-alive empty batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from datafusion import catalog as df_catalog
from datafusion import col, lit

from amp_local.datasets import BlockRange
from amp_local.engine import (
    DEFAULT_CATALOG,
    PlannedQuery,
    QueryEngine,
    block_num_expr,
    caused_by,
    conform_batch,
    new_context,
)
from amp_local.errors import AmpError
from amp_local.incremental import NonIncremental, check_incremental
from amp_local.udfs import rewrite_udf_calls

MICROBATCH_BLOCKS = 1000  # server_microbatch_max_interval
KEEP_ALIVE_SECONDS = 30.0
POLL_SECONDS = 0.2


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
        try:
            check_incremental(planned.dataframe.logical_plan())
        except NonIncremental as exc:
            raise AmpError(
                "INVALID_QUERY",
                caused_by("non-incremental queries are not supported for streaming", str(exc)),
            ) from None
        networks = {table.network for _, table in planned.tables}
        if len(networks) > 1:
            raise AmpError(
                "INVALID_QUERY",
                f"cross-network joins are not supported in streaming queries: {sorted(networks)}",
            )
        self.network = networks.pop() if networks else None
        self.ctx = new_context()
        self.sql = rewrite_udf_calls(self.ctx, planned.body, block_num_expr=block_num_expr(True))

    def _next_block(self) -> int | None:
        spans = [self.engine.store.table_range(t) for _, t in self.planned.tables]
        spans = [s for s in spans if s is not None]
        if not spans:
            return None
        cursor = self.resume.get(self.network or "")
        if cursor is not None:
            return int(cursor["number"]) + 1
        return min(start for start, _ in spans)

    def _head(self) -> int | None:
        spans = [self.engine.store.table_range(t) for _, t in self.planned.tables]
        if not spans or any(s is None for s in spans):
            return None
        return min(end for _, end in spans)

    def _run_range(self, start: int, end: int) -> Iterator[pa.RecordBatch]:
        """Plan the query with every referenced table cut to `_block_num` in [start, end]."""
        window = (col("_block_num") >= lit(pa.scalar(start, pa.uint64()))) & (
            col("_block_num") <= lit(pa.scalar(end, pa.uint64()))
        )
        by_spelling: dict[str, df_catalog.Schema] = {}
        for (spelling, name), (dataset, table) in zip(
            self.planned.refs, self.planned.tables, strict=True
        ):
            provider = self.engine.provider(dataset, table)
            view = self.ctx.read_table(provider).filter(window).into_view()
            schema = by_spelling.setdefault(spelling, df_catalog.Schema.memory_schema())
            schema.register_table(name, view)
        for spelling, schema in by_spelling.items():
            self.ctx.catalog(DEFAULT_CATALOG).register_schema(spelling, schema)
        try:
            for batch in self.ctx.sql(self.sql).execute_stream():
                yield conform_batch(batch.to_pyarrow(), self.planned.schema)
        except Exception as exc:
            raise AmpError(
                "STREAMING_EXECUTION_ERROR", caused_by("streaming query failed", str(exc))
            ) from None

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
            for batch in self._run_range(start, end):
                if batch.num_rows:
                    yield StreamEvent(ranges, complete=False, batch=batch)
            yield StreamEvent(ranges, complete=True)
            start = end + 1
            idle_since = time.monotonic()

    def _ranges(self, start: int, end: int) -> list[BlockRange]:
        if self.network is None:
            return []
        return [self.engine.store.describe_range(self.planned.tables, self.network, start, end)]
