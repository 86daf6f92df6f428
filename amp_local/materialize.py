"""Materializing a derived dataset: Amp's `materialize-derived` job body (PROTOCOL §5.5).

Each table is computed block range by block range (microbatches of at most `microbatch_blocks`),
in the order its `self.` references require, from its dependencies' synced data, and written as Amp
writes segments: one parquet file per microbatch, rows ordered by `_block_num`, the range in the
footer. A microbatch is computed as a streaming query computes one (joins see earlier blocks of the
other side), with `_block_num` selected through every row source so each row keeps its block.

The materializer only computes and writes; `jobs.py` owns the job's lifecycle around it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from amp_local.datasets import Dataset, DatasetStore
from amp_local.derived import (
    BLOCK_NUM,
    DerivedEngine,
    Failure,
    inter_table_order,
    parse_one,
    plan_table,
    registration_error,
    table_references,
    with_block_num,
)
from amp_local.errors import AmpError, caused_by
from amp_local.segments import canonical_chain, write_segment
from amp_local.streaming import StreamingQuery

DEFAULT_MICROBATCH_BLOCKS = 100_000  # Amp's `microbatch_max_interval`


class MaterializeError(Exception):
    """A failure the job records: Amp's `{error_code, error_message, error_context}` detail."""

    def __init__(
        self, code: str, message: str, *, table: str | None = None, blocks: tuple | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.table = table
        self.blocks = blocks

    def detail(self) -> dict:
        context: dict = {"stack_trace": [self.message], "attempt_index": 0}
        if self.table is not None:
            context["table"] = self.table
        if self.blocks is not None:
            context["block_range_start"], context["block_range_end"] = self.blocks
        return {"error_code": self.code, "error_message": self.message, "error_context": context}


class Stopped(Exception):
    """A stop request was seen; the microbatch in progress was not written."""


@dataclass
class TableJob:
    name: str
    query: StreamingQuery
    schema: pa.Schema  # the manifest's declared schema, what the segments are written with


def resolve_end_block(end_block: str | None, latest: int | None) -> int | None:
    """The last block to materialize: None for continuous jobs and when `latest` is unknown."""
    if end_block is None or end_block == "latest":
        return latest
    value = int(end_block)
    if value >= 0:
        return value
    return None if latest is None else max(latest + value, 0)


class Materializer:
    """Computes and writes the tables of one deployed derived dataset revision."""

    def __init__(
        self,
        store: DatasetStore,
        dataset: Dataset,
        aliases: dict[str, Dataset],
        microbatch_blocks: int = DEFAULT_MICROBATCH_BLOCKS,
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.microbatch_blocks = microbatch_blocks
        self.engine = DerivedEngine(store, aliases, dataset, materializing=True)
        self.tables = self._plan()

    def _plan(self) -> list[TableJob]:
        sqls = {
            name: spec["input"]["sql"] for name, spec in self.dataset.manifest["tables"].items()
        }
        try:
            refs = {}
            for name, sql in sqls.items():
                tree = parse_one(name, sql)
                refs[name] = [] if tree is None else table_references(tree, name)
            order = inter_table_order(refs)
            jobs = []
            for name in order:
                planned = plan_table(self.engine, name, with_block_num(sqls[name]) or sqls[name])
                if BLOCK_NUM not in planned.schema.names:
                    raise MaterializeError(
                        "BLOCK_NUM_PROPAGATION",
                        f"amp_local cannot give the rows of table '{name}' their _block_num: "
                        "select _block_num (or block_num()) explicitly",
                        table=name,
                    )
                query = StreamingQuery(self.engine, planned)
                jobs.append(TableJob(name, query, self.dataset.tables[name].schema))
            return jobs
        except Failure as failure:
            display, causes = registration_error(failure)
            raise MaterializeError("INVALID_TABLE", caused_by(display, *causes)) from None
        except AmpError as error:
            raise MaterializeError(error.error_code, error.message) from None

    # --- block accounting -------------------------------------------------------------------

    def synced(self, name: str) -> tuple[int, int] | None:
        """(first, last) block of a table's contiguous segments."""
        chain = canonical_chain(self.dataset.tables[name].directory)
        return (chain[0].start, chain[-1].end) if chain else None

    def next_block(self, job: TableJob) -> int | None:
        synced = self.synced(job.name)
        return synced[1] + 1 if synced else job.query.first_block()

    def latest(self) -> int | None:
        """The latest block all dependencies have synced (`end_block: "latest"`)."""
        heads = [
            job.query.head()
            for job in self.tables
            if all(b.spelling != "self" for b in job.query.planned.tables)
        ]
        return None if not heads or None in heads else min(heads)

    def done(self, end: int) -> bool:
        """Every table has processed the blocks up to `end` (or has no data before it)."""
        for job in self.tables:
            start = self.next_block(job)
            if start is None or start <= end:
                return False
        return True

    # --- running ----------------------------------------------------------------------------

    def step(self, end: int | None, should_stop: Callable[[], bool]) -> bool:
        """Process at most one microbatch per table, in dependency order; True if anything was
        written. Raises `Stopped` when a stop request interrupts a microbatch."""
        wrote = False
        for job in self.tables:
            if should_stop():
                raise Stopped
            head = job.query.head()
            start = self.next_block(job)
            if head is None or start is None:
                continue
            last = head if end is None else min(head, end)
            if start > last:
                continue
            self._microbatch(
                job, start, min(last, start + self.microbatch_blocks - 1), should_stop
            )
            wrote = True
        return wrote

    def _microbatch(
        self, job: TableJob, start: int, end: int, should_stop: Callable[[], bool]
    ) -> None:
        batches = []
        try:
            for windows in job.query.windows(start, end):
                if should_stop():
                    raise Stopped
                batches += [b for b in self.engine.run_windowed(job.query.planned, windows)]
        except AmpError as error:
            raise MaterializeError(
                error.error_code, error.message, table=job.name, blocks=(start, end)
            ) from None
        rows = self._conform(job, batches, start, end)
        if should_stop():
            raise Stopped
        ranges = [
            self.store.describe_range(
                [(self.dataset, self.dataset.tables[job.name])],
                self.dataset.network or "",
                start,
                end,
            ).to_json()
        ]
        key = f"{self.dataset.hash_reference}:{job.name}:{start}:{end}"
        file_id = hashlib.sha256(key.encode()).hexdigest()[:16]
        write_segment(self.dataset.tables[job.name].directory, rows, job.name, ranges, file_id)

    def _conform(self, job: TableJob, batches: list, start: int, end: int) -> pa.Table:
        """The microbatch's rows in the declared schema, ordered by `_block_num`."""
        planned = job.query.planned.schema
        table = (
            pa.Table.from_batches(batches, schema=planned) if batches else planned.empty_table()
        )
        missing = [f.name for f in job.schema if f.name not in table.column_names]
        if missing:
            raise MaterializeError(
                "SCHEMA_MISMATCH",
                f"table '{job.name}': the SQL does not produce the manifest's columns {missing}; "
                "regenerate the schema with POST /schema",
                table=job.name,
                blocks=(start, end),
            )
        try:
            table = table.select(job.schema.names).cast(job.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise MaterializeError(
                "SCHEMA_MISMATCH",
                f"table '{job.name}': rows do not fit the manifest's schema: {exc}",
                table=job.name,
                blocks=(start, end),
            ) from None
        if table.num_rows > 1:
            table = table.take(pc.sort_indices(table[BLOCK_NUM]))
        return table


def run_until(
    materializer: Materializer,
    end_block: str | None,
    should_stop: Callable[[], bool],
    poll_seconds: float = 0.25,
) -> None:
    """Run a materialization to its end block (forever for continuous jobs). Returns when done;
    raises `Stopped` or `MaterializeError`."""
    end = resolve_end_block(end_block, materializer.latest()) if end_block is not None else None
    if end_block is not None and end is None:
        return  # `latest` of dependencies without data: nothing to do (Amp completes the job)
    while True:
        if end is not None and materializer.done(end):
            return
        if not materializer.step(end, should_stop):
            if should_stop():
                raise Stopped
            time.sleep(poll_seconds)
