"""Block-range incremental `query` models and their exports ("incremental = smart WHERE clauses").

Amp keeps no result a client could append to, so an incremental query model is a model whose SQL
reads only the blocks after the last successful run:

    {{ config(materialized='query', incremental_strategy='block_range', export=true) }}
    select ... from {{ source('eth', 'logs') }}
    {% if is_incremental() %} where block_num > {{ last_processed_block() }} {% endif %}

The last processed block is the END of the block ranges Amp reported for the previous successful run
(Flight `app_metadata`: the synced range of the tables the query read, i.e. the chain head the
query saw), not the largest block number among the returned rows: blocks without matching rows are
processed too. It is kept per dbt profile, target, model and network in `.amp-dbt/state.db`
(state.py) and written only after the run has read its whole result (and its export is in place).

Consistency between compile time and run time: the progress a model's SQL was compiled against is
remembered (per invocation and model) and checked again, under the state DB's write lock, before the
new progress is written, so two processes running the same model at once cannot both advance it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import CompilationError, DbtRuntimeError
from dbt_common.invocation import get_invocation_id

from dbt.adapters.amp.dependencies import node_get, node_label
from dbt.adapters.amp.export import (
    NetworkRange,
    ParquetExport,
    export_files,
    temporary_files,
)
from dbt.adapters.amp.state import (
    BlockProgress,
    ModelKey,
    delete_block_progress,
    open_state,
    read_block_progress,
    replace_block_progress,
    utc_now,
    write_transaction,
)

logger = AdapterLogger("Amp")

STRATEGY = "block_range"
DEFAULT_EXPORT_DIR = "exports"
FULL_REFRESH_HINT = "Run it with --full-refresh to start over from the first block."


@dataclass(frozen=True)
class QueryModel:
    """The parts of a model node (and its config) that block ranges and exports depend on."""

    unique_id: str
    label: str
    alias: str
    materialized: str | None
    block_range: bool
    export_dir: Path | None

    @classmethod
    def of(cls, node: Any, project_root: Path, target: str) -> QueryModel:
        config = node_get(node, "config") or {}
        label = node_label(node, "model")
        strategy = node_get(config, "incremental_strategy")
        materialized = node_get(config, "materialized")
        if strategy not in (None, STRATEGY):
            raise CompilationError(
                f"{label} sets incremental_strategy={strategy!r}, which dbt-amp does not have: "
                f"Amp keeps no table to merge into. Use incremental_strategy='{STRATEGY}' on a "
                "materialized='query' model (it reads only the blocks after its last successful "
                "run; see is_incremental() and last_processed_block()), or remove the config."
            )
        if strategy == STRATEGY and materialized != "query":
            raise CompilationError(
                f"{label} sets incremental_strategy='{STRATEGY}' but is "
                f"materialized={materialized!r}: block-range incremental runs are a feature of "
                "materialized='query' models (dataset models are incremental by Amp itself). "
                "Set materialized='query' or remove incremental_strategy."
            )
        alias = node_get(node, "alias") or node_get(node, "name") or "model"
        return cls(
            unique_id=node_get(node, "unique_id") or alias,
            label=label,
            alias=alias,
            materialized=materialized,
            block_range=strategy == STRATEGY,
            export_dir=_export_dir(node_get(config, "export"), label, project_root, target),
        )


def _export_dir(value: Any, label: str, project_root: Path, target: str) -> Path | None:
    if value is None or value is False:
        return None
    if value is True:
        return project_root / DEFAULT_EXPORT_DIR / target
    if isinstance(value, str) and value.strip():
        path = Path(value.strip()).expanduser()
        return path if path.is_absolute() else project_root / path
    raise CompilationError(
        f"{label} has export={value!r}: give `export: true` (files go to "
        f"{DEFAULT_EXPORT_DIR}/<target>/ in the project) or a folder path, e.g. "
        "export='exports/transfers' (relative to the dbt project directory)."
    )


@dataclass(frozen=True)
class AmpRange:
    """One network's block range as Amp reported it in Flight app_metadata."""

    network: str
    start: int
    end: int
    hash: str | None
    timestamp: int | None


def reported_ranges(raw: list[dict] | None, label: str) -> dict[str, AmpRange]:
    """{network: range} from the `ranges` list of Amp's app_metadata."""
    ranges: dict[str, AmpRange] = {}
    for item in raw or []:
        try:
            numbers = item["numbers"]
            network = str(item["network"])
            rng = AmpRange(
                network,
                int(numbers["start"]),
                int(numbers["end"]),
                item.get("hash"),
                int(item["timestamp"]) if item.get("timestamp") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DbtRuntimeError(
                f"{label}: Amp sent a block range dbt-amp cannot read ({item!r}: {exc}); its "
                "progress was not changed. Please report this with the server's version."
            ) from exc
        ranges[network] = rng
    return ranges


def _ends(progress: dict[str, BlockProgress] | None) -> dict[str, tuple[int, int]]:
    return {n: (p.first_block, p.last_block) for n, p in (progress or {}).items()}


def _describe(progress: dict[str, BlockProgress]) -> str:
    return ", ".join(f"{n} up to block {p.last_block}" for n, p in sorted(progress.items()))


@dataclass
class RunOutcome:
    """What a finished run processed: the blocks it covered per network, and its export file."""

    processed: list[NetworkRange] = field(default_factory=list)
    export_path: Path | None = None
    note: str = ""


class BlockRangeTracker:
    """Block-range progress for one dbt invocation's project, profile and target.

    One per adapter (dbt threads share it). Remembers, per invocation and model, the progress the
    model's SQL was compiled against (`compiled_progress`), which the materialization then uses."""

    def __init__(self, project_root: str | Path, profile: str, target: str) -> None:
        self.project_root = Path(project_root)
        self.profile = profile
        self.target = target
        self._compiled: dict[tuple[str, str], dict[str, BlockProgress]] = {}
        self._lock = threading.Lock()

    def model(self, node: Any) -> QueryModel:
        return QueryModel.of(node, self.project_root, self.target)

    def key(self, model: QueryModel) -> ModelKey:
        return ModelKey(self.profile, self.target, model.unique_id)

    # --- compile time: is_incremental() and last_processed_block() ------------------------------

    def compiled_progress(self, node: Any, full_refresh: bool) -> dict[str, BlockProgress]:
        """The progress this model's SQL is compiled against ({} = read everything). Read once
        per invocation and model, so every macro call in one compilation sees the same state."""
        model = self.model(node)
        if not model.block_range:
            return {}
        cache_key = (get_invocation_id(), model.unique_id)
        with self._lock:
            if cache_key in self._compiled:
                return self._compiled[cache_key]
        progress = {}
        if not full_refresh:
            with open_state(self.project_root) as conn:
                progress = read_block_progress(conn, self.key(model))
        with self._lock:
            return self._compiled.setdefault(cache_key, progress)

    def is_incremental(self, node: Any, full_refresh: bool) -> bool:
        return bool(self.compiled_progress(node, full_refresh))

    def last_processed_block(self, node: Any, network: str | None, full_refresh: bool) -> int:
        model = self.model(node)
        if not model.block_range:
            raise CompilationError(
                f"{model.label} calls last_processed_block(), which exists only for "
                f"materialized='query' models with incremental_strategy='{STRATEGY}'. Add "
                f"`incremental_strategy='{STRATEGY}'` to its config (and materialized='query')."
            )
        progress = self.compiled_progress(node, full_refresh)
        if not progress:
            why = "--full-refresh is set" if full_refresh else "it has no successful run yet"
            raise CompilationError(
                f"{model.label} calls last_processed_block() but {why} (target "
                f"'{self.target}'), so no block has been processed. Call it only inside "
                "`{% if is_incremental() %} ... {% endif %}`."
            )
        if network is None:
            if len(progress) > 1:
                raise CompilationError(
                    f"{model.label} reads several networks ({', '.join(sorted(progress))}): "
                    "name one, e.g. last_processed_block('mainnet')."
                )
            return next(iter(progress.values())).last_block
        if network not in progress:
            raise CompilationError(
                f"{model.label} calls last_processed_block({network!r}), but its last run read "
                f"{', '.join(sorted(progress))}. Use one of those network names."
            )
        return progress[network].last_block

    # --- run time: the query materialization ---------------------------------------------------

    def start_run(self, node: Any, full_refresh: bool, partial: bool = False) -> QueryRun:
        """Before the query: reset on --full-refresh, check the progress the SQL was compiled
        against, tidy the export folder, and open the export sink. A `partial` run (`--empty`,
        `--sample`) reads limited inputs, so it keeps nothing and changes nothing."""
        model = self.model(node)
        with self._lock:
            compiled = self._compiled.pop((get_invocation_id(), model.unique_id), None)
        if partial:
            if model.block_range or model.export_dir:
                logger.info(
                    f"{model.label}: --empty/--sample run: its progress and exports are left as "
                    "they are."
                )
            return QueryRun(self, replace(model, block_range=False, export_dir=None), {}, {}, None)
        sink = ParquetExport(model.export_dir, model.alias) if model.export_dir else None
        if not model.block_range:  # a plain query model, perhaps exporting: no progress to keep
            if full_refresh:
                self._clear_exports(model)
            return QueryRun(self, model, {}, {}, sink)
        if compiled is None and not full_refresh:
            logger.warning(
                f"{model.label} has incremental_strategy='{STRATEGY}' but its SQL never calls "
                "is_incremental() or last_processed_block(), so every run reads all blocks. Add "
                "`{% if is_incremental() %} where block_num > {{ last_processed_block() }} "
                "{% endif %}`."
            )
        with open_state(self.project_root) as conn, write_transaction(conn):
            key = self.key(model)
            if full_refresh:
                delete_block_progress(conn, key)
                self._clear_exports(model)
            current = read_block_progress(conn, key)
            if compiled is not None and _ends(compiled) != _ends(current):
                raise DbtRuntimeError(
                    f"{model.label}: its progress in state.db changed after its SQL was compiled "
                    f"(compiled against {_describe(compiled) or 'no progress'}, now "
                    f"{_describe(current) or 'no progress'}), most likely because another dbt "
                    "process ran it at the same time. Nothing was read or recorded; run it again."
                )
            if model.export_dir is not None and not full_refresh:
                self._check_exports(model, current)
        # the SQL's view of the progress: what it was compiled against, else a full read
        return QueryRun(self, model, compiled or {}, current, sink)

    def _clear_exports(self, model: QueryModel) -> None:
        if model.export_dir is None:
            return
        files = [path for path, _ in export_files(model.export_dir, model.alias)]
        files += temporary_files(model.export_dir, model.alias)
        for path in files:
            path.unlink(missing_ok=True)
        if files:
            logger.info(f"{model.label}: --full-refresh removed {len(files)} export file(s)")

    def _check_exports(self, model: QueryModel, current: dict[str, BlockProgress]) -> None:
        """The export folder must hold this model's runs up to its progress and nothing after:
        files past it come from a run killed between writing its file and recording its
        progress (the blocks will be read again), and files without any progress are refused."""
        assert model.export_dir is not None
        files = export_files(model.export_dir, model.alias)
        if not current:
            if files:
                raise DbtRuntimeError(
                    f"{model.label}: the export folder {model.export_dir} already holds "
                    f"{len(files)} file(s) of this model (e.g. {files[0][0].name}), but state.db "
                    f"has no progress for it on target '{self.target}', so a new full read would "
                    f"duplicate their rows. {FULL_REFRESH_HINT} (It deletes those files.) Or move "
                    "them away first."
                )
            return
        stale = [
            path
            for path, ranges in files
            if any(
                r.network not in current or r.start > current[r.network].last_block for r in ranges
            )
        ]
        for path in stale:
            logger.warning(
                f"{model.label}: removing {path.name}: it holds blocks after the recorded progress "
                f"({_describe(current)}), left by a run that did not finish; they are read again."
            )
            path.unlink(missing_ok=True)
        if len(stale) == len(files):
            logger.warning(
                f"{model.label}: exports in {model.export_dir} start after "
                f"{_describe(current)}: earlier blocks were processed before `export` was set. "
                f"{FULL_REFRESH_HINT}"
            )


class QueryRun:
    """One run of a query model: its export sink, and the progress to write when it succeeds."""

    def __init__(
        self,
        tracker: BlockRangeTracker,
        model: QueryModel,
        used: dict[str, BlockProgress],
        expected: dict[str, BlockProgress],
        sink: ParquetExport | None,
    ) -> None:
        self.tracker = tracker
        self.model = model
        self.used = used  # the progress the SQL filtered on ({} = it read everything)
        self.expected = expected  # state.db's progress when the run started
        self.sink = sink

    @property
    def keeps_anything(self) -> bool:
        return self.model.block_range or self.sink is not None

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()

    def finish(self, ranges: list[dict] | None, rows: int) -> RunOutcome:
        """After the whole result was read: name and keep the export, record the progress."""
        if not self.keeps_anything:
            return RunOutcome()
        label = self.model.label
        reported = reported_ranges(ranges, label)
        if not reported:
            self.abort()
            if rows:
                raise DbtRuntimeError(
                    f"{label} returned {rows} rows but Amp reported no block range for them (the "
                    "query reads no Amp dataset table), so they cannot be "
                    + ("exported under a block-range name" if self.sink else "tracked by block")
                    + f". Remove incremental_strategy/export from {label}, or make it read a "
                    "dataset table."
                )
            logger.warning(
                f"{label}: Amp reported no block range (a table it reads has no synced data "
                "yet): nothing was exported and its progress is unchanged."
            )
            return RunOutcome(note="no block range reported")
        processed = self._processed(reported)
        if all(r.start > r.end for r in processed):
            self.abort()
            return RunOutcome(note=f"no new blocks since {_describe(self.used)}")
        export_path = None
        try:
            if self.model.block_range:
                with open_state(self.tracker.project_root) as conn, write_transaction(conn):
                    current = read_block_progress(conn, self.tracker.key(self.model))
                    if _ends(current) != _ends(self.expected):
                        raise DbtRuntimeError(
                            f"{label}: another dbt process recorded progress for it while this "
                            f"run was reading ({_describe(current) or 'progress reset'}). This "
                            "run's rows were not exported or recorded; run it again."
                        )
                    if self.sink is not None:
                        export_path = self.sink.commit(processed)
                    replace_block_progress(
                        conn, self.tracker.key(self.model), self._new_progress(reported)
                    )
            elif self.sink is not None:
                export_path = self.sink.commit(processed)
        except BaseException:
            self.abort()
            if export_path is not None:
                export_path.unlink(missing_ok=True)
            raise
        return RunOutcome(processed, export_path)

    def _processed(self, reported: dict[str, AmpRange]) -> list[NetworkRange]:
        """The blocks this run covered per network: after `used`, up to what Amp reported."""
        used, label = self.used, self.model.label
        if used and set(reported) != set(used):
            raise DbtRuntimeError(
                f"{label}: its last run read {', '.join(sorted(used))} but this run read "
                f"{', '.join(sorted(reported))}. {FULL_REFRESH_HINT}"
            )
        processed = []
        for network, rng in sorted(reported.items()):
            if network in used and rng.end < used[network].last_block:
                raise DbtRuntimeError(
                    f"{label}: Amp now reports {network} blocks only up to {rng.end}, but the "
                    f"model already processed up to block {used[network].last_block} (target "
                    f"'{self.tracker.target}'): the server's data was reset or rolled back, or "
                    f"the target points at another server. {FULL_REFRESH_HINT}"
                )
            start = used[network].last_block + 1 if network in used else rng.start
            processed.append(NetworkRange(network, start, rng.end))
        return processed

    def _new_progress(self, reported: dict[str, AmpRange]) -> list[BlockProgress]:
        now, invocation = utc_now(), get_invocation_id()
        return [
            BlockProgress(
                network=network,
                first_block=self.used[network].first_block if network in self.used else rng.start,
                last_block=rng.end,
                last_block_hash=rng.hash,
                last_block_timestamp=rng.timestamp,
                updated_at=now,
                invocation_id=invocation,
            )
            for network, rng in sorted(reported.items())
        ]
