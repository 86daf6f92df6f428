"""The `export` config of `query` models: each run's rows, streamed into one Parquet file.

Batches go from the Flight stream straight into a `pyarrow.parquet.ParquetWriter` (no table is built
in memory) writing a hidden temporary file in the export folder; when the run has succeeded the file
is renamed to its final name, which says which model and which blocks it holds:

    <alias>.<network>.<first block>-<last block>.parquet      e.g. transfers.mainnet.000000000101-000000000150.parquet

(one `.<network>.<first>-<last>` part per network, in network order; block numbers are zero-padded to
12 digits so names sort in block order). Incremental runs of a `block_range` model therefore add one
file per run holding exactly the blocks that run read.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from dbt.adapters.events.logging import AdapterLogger

logger = AdapterLogger("Amp")

BLOCK_DIGITS = 12
# Batches are gathered into row groups of about this size before they are written: Flight batches
# (DataFusion's 8,192 rows, or Amp's ~2 MiB slices) would make many tiny row groups, slow to read.
# Memory stays bounded by one row group.
ROW_GROUP_ROWS = 128 * 1024
ROW_GROUP_BYTES = 64 * 1024 * 1024
_PART = re.compile(r"\.(?P<network>[^.]+)\.(?P<start>\d+)-(?P<end>\d+)")


@dataclass(frozen=True)
class NetworkRange:
    """Blocks `start`..`end` (inclusive) of one network."""

    network: str
    start: int
    end: int

    def to_json(self) -> dict:
        return {"network": self.network, "start": self.start, "end": self.end}


def export_file_name(alias: str, ranges: list[NetworkRange]) -> str:
    """The file name of one run's export (see the module docstring)."""
    parts = "".join(
        f".{r.network}.{r.start:0{BLOCK_DIGITS}d}-{r.end:0{BLOCK_DIGITS}d}"
        for r in sorted(ranges, key=lambda r: r.network)
    )
    return f"{alias}{parts}.parquet"


def parse_export_file_name(alias: str, name: str) -> list[NetworkRange] | None:
    """The ranges in an export file's name, or None if it is not an export of `alias`."""
    prefix, suffix = alias, ".parquet"
    if not (name.startswith(prefix + ".") and name.endswith(suffix)):
        return None
    middle = name[len(prefix) : -len(suffix)]
    ranges, pos = [], 0
    while pos < len(middle):
        match = _PART.match(middle, pos)
        if match is None:
            return None
        ranges.append(NetworkRange(match["network"], int(match["start"]), int(match["end"])))
        pos = match.end()
    return ranges or None


def export_files(directory: Path, alias: str) -> list[tuple[Path, list[NetworkRange]]]:
    """The finished export files of `alias` in `directory`, in name (= block) order."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        ranges = parse_export_file_name(alias, path.name)
        if ranges is not None and path.is_file():
            found.append((path, ranges))
    return found


def temporary_files(directory: Path, alias: str) -> list[Path]:
    """Unfinished exports of `alias` left by a process that was killed mid-run."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f".{glob_escape(alias)}.*.parquet.tmp"))


def glob_escape(text: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", text)


class ParquetExport:
    """A batch sink (see flight.BatchSink) writing one run's rows to a temporary Parquet file.

    `begin` is called at the start of every attempt (a retried query starts the file over),
    `commit` renames the finished file, `abort` removes it."""

    def __init__(self, directory: Path, alias: str) -> None:
        self.directory = directory
        self.alias = alias
        self.temporary = directory / f".{alias}.{uuid.uuid4().hex[:12]}.parquet.tmp"
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def begin(self, schema: pa.Schema) -> None:
        self.abort()  # a retried query starts the file over
        self.directory.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.temporary, schema)
        self.rows = 0
        logger.debug(f"Exporting the rows of {self.alias} to {self.temporary}")

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            raise RuntimeError("ParquetExport.write before begin")
        if not batch.num_rows:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._writer is not None:
            table = pa.Table.from_batches(self._pending, schema=self._writer.schema)
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def commit(self, ranges: list[NetworkRange]) -> Path:
        """Finish the file and give it its final name (replacing a file of the same name)."""
        if self._writer is None:
            raise RuntimeError("ParquetExport.commit before begin")
        self._flush()
        self._close()
        final = self.directory / export_file_name(self.alias, ranges)
        os.replace(self.temporary, final)
        return final

    def abort(self) -> None:
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        self._close()
        self.temporary.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
