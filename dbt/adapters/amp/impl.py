"""AmpAdapter: a read-only SQL adapter. Nothing is ever created on the server by dbt."""

from __future__ import annotations

import threading
from typing import Any

import agate
from dbt.adapters.base import available
from dbt.adapters.base.impl import ConstraintSupport
from dbt.adapters.base.relation import BaseRelation
from dbt.adapters.capability import Capability, CapabilityDict, CapabilitySupport, Support
from dbt.adapters.contracts.relation import RelationType
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.exceptions import FailedToConnectError
from dbt.adapters.sql import SQLAdapter
from dbt_common.contracts.constraints import ConstraintType
from dbt_common.contracts.metadata import CatalogTable, ColumnMetadata, TableMetadata
from dbt_common.exceptions import CompilationError, DbtDatabaseError, DbtRuntimeError

from dbt.adapters.amp.admin import AdminClient
from dbt.adapters.amp.catalog import (
    DATASET_MODEL,
    EPHEMERAL_MODEL,
    QUERY_MODEL,
    SOURCE,
    CatalogEntry,
    catalog_table,
)
from dbt.adapters.amp.check import selected_models
from dbt.adapters.amp.column import AmpColumn
from dbt.adapters.amp.compiled import compiled_sql
from dbt.adapters.amp.connections import (
    AmpAdapterResponse,
    AmpConnectionManager,
    AmpTimeoutError,
)
from dbt.adapters.amp.dataset_build import (
    AmpDatasetResponse,
    DatasetBuilder,
    DatasetSpec,
    cancel_waits,
    is_dataset_node,
    node_config,
)
from dbt.adapters.amp.dependencies import (
    REFABLE,
    check_not_shadowing,
    checked_dependencies,
    install_parser_hook,
    node_get,
    node_label,
)
from dbt.adapters.amp.evm_signatures import EventSignatureError, parse_event_signature
from dbt.adapters.amp.fixtures import check_fixture_rows
from dbt.adapters.amp.incremental import STRATEGY, BlockRangeTracker
from dbt.adapters.amp.query_ctes import install_query_cte_hook, is_query_model
from dbt.adapters.amp.relation import AmpDatasetRelation, AmpRelation
from dbt.adapters.amp.sql_text import strip_trailing_comments

logger = AdapterLogger("Amp")

COLUMNS_SQL = "select * from {relation}"
_TRACKER_LOCK = threading.Lock()
# What `ref()` to a model renders, by materialization: these are inlined as CTEs (dbt for
# ephemeral, query_ctes.py for query); any other would need a relation on Amp and is refused.
INLINED_AS_CTE = ("ephemeral", "query")
# The materializations dbt-amp builds from SQL, whose compiled SQL `amp_check` plans.
PLANNED_BY_AMP_CHECK = (*INLINED_AS_CTE, "dataset")


class AmpAdapter(SQLAdapter):
    ConnectionManager = AmpConnectionManager
    Relation = AmpRelation
    Column = AmpColumn

    CONSTRAINT_SUPPORT = {
        ConstraintType.check: ConstraintSupport.NOT_SUPPORTED,
        ConstraintType.not_null: ConstraintSupport.NOT_SUPPORTED,
        ConstraintType.unique: ConstraintSupport.NOT_SUPPORTED,
        ConstraintType.primary_key: ConstraintSupport.NOT_SUPPORTED,
        ConstraintType.foreign_key: ConstraintSupport.NOT_SUPPORTED,
    }
    _capabilities = CapabilityDict(
        {
            Capability.SchemaMetadataByRelations: CapabilitySupport(support=Support.Full),
            Capability.TableLastModifiedMetadata: CapabilitySupport(support=Support.Unsupported),
        }
    )

    def __init__(self, config, mp_context) -> None:
        # before dbt parses anything; DbtCoreHookError (naming the dbt-core version) if dbt-core
        # lacks a function these wrap
        install_parser_hook()
        install_query_cte_hook()
        super().__init__(config, mp_context)
        self._admin: AdminClient | None = None
        self._admin_lock = threading.Lock()

    @classmethod
    def date_function(cls) -> str:
        return "now()"

    @classmethod
    def convert_text_type(cls, agate_table, col_idx) -> str:
        return "VARCHAR"

    @classmethod
    def convert_number_type(cls, agate_table, col_idx) -> str:
        decimals = agate_table.aggregate(agate.MaxPrecision(col_idx))
        return "DOUBLE" if decimals else "BIGINT"

    @classmethod
    def convert_integer_type(cls, agate_table, col_idx) -> str:
        return "BIGINT"

    @classmethod
    def convert_boolean_type(cls, agate_table, col_idx) -> str:
        return "BOOLEAN"

    @classmethod
    def convert_datetime_type(cls, agate_table, col_idx) -> str:
        return "TIMESTAMP"

    @classmethod
    def convert_date_type(cls, agate_table, col_idx) -> str:
        return "DATE"

    @classmethod
    def convert_time_type(cls, agate_table, col_idx) -> str:
        return "TIME"

    def valid_incremental_strategies(self) -> list[str]:
        return [STRATEGY]  # on `query` models; materialized='incremental' is refused

    # --- nothing to create, drop or list ----------------------------------------------------

    def create_schema(self, relation: BaseRelation) -> None:
        """Amp namespaces need no creating; dbt never writes to the server."""

    def drop_schema(self, relation: BaseRelation) -> None:
        """Never drops anything: the server is read-only for clients."""

    def list_relations_without_caching(self, schema_relation: BaseRelation) -> list[BaseRelation]:
        # dbt-amp materializes no relations, so the relation cache is empty by construction;
        # no round trip (Amp has no catalog RPCs anyway).
        return []

    def list_schemas(self, database: str) -> list[str]:
        return []

    def check_schema_exists(self, database: str, schema: str) -> bool:
        return True

    def drop_relation(self, relation: BaseRelation) -> None:
        raise DbtRuntimeError(
            f"dbt-amp never drops relations ({relation}): Amp is read-only for clients"
        )

    def rename_relation(self, from_relation: BaseRelation, to_relation: BaseRelation) -> None:
        raise DbtRuntimeError("dbt-amp never renames relations: Amp is read-only for clients")

    def truncate_relation(self, relation: BaseRelation) -> None:
        raise DbtRuntimeError("dbt-amp never truncates relations: Amp is read-only for clients")

    # --- columns: planned on the server, never executed --------------------------------------

    @available.parse(lambda *a, **k: [])
    def get_column_schema_from_query(self, sql: str) -> list[AmpColumn]:
        """Columns of `sql` from GetFlightInfo alone (Amp plans the query; no DoGet)."""
        schema = self.connections.plan_schema(sql)
        to_name = self.connections.data_type_code_to_name
        return [self.Column.create(f.name, to_name(f.type)) for f in schema]

    @available.parse_list
    def get_columns_in_relation(self, relation: BaseRelation) -> list[AmpColumn]:
        if relation.is_cte:
            raise DbtRuntimeError(
                f"Cannot get the columns of ephemeral model {relation.identifier!r}: it exists "
                "only as a CTE. Use get_column_schema_from_query() on its SQL instead."
            )
        return self.get_column_schema_from_query(COLUMNS_SQL.format(relation=relation))

    @available
    def amp_ephemeral_input_columns(self, unique_id: str, version: Any = None) -> list[AmpColumn]:
        """Columns of an ephemeral model, for a unit-test fixture that stands in for it.

        The fixture node has the model's unique_id, but the unit-test manifest holds only the
        fixtures, so the model is compiled from the full manifest (a copy of the node; nothing
        is written) and its SQL is planned on the server (no execution)."""
        manifest = self.get_macro_resolver()
        nodes = getattr(manifest, "nodes", None) or {}
        node = nodes.get(f"{unique_id}.v{version}") if version is not None else None
        node = node or nodes.get(unique_id)
        name = unique_id.split(".")[-1]
        hint = (
            f"Unit-test rows for ephemeral model {name!r} are cast to its column types, which "
            "dbt-amp learns by compiling and planning the model; that failed"
        )
        remedy = (
            "Give this input with `format: sql` rows (typed SQL, e.g. "
            "`select cast(1 as bigint) as id`)."
        )
        if node is None:
            raise CompilationError(f"{hint}: {unique_id!r} is not in the manifest. {remedy}")
        try:
            return self.get_column_schema_from_query(compiled_sql(self.config, manifest, node))
        except Exception as exc:  # noqa: BLE001 - re-raised with the remedy
            raise CompilationError(f"{hint}: {exc}. {remedy}") from exc

    @available
    def amp_check_fixture_rows(self, rows: Any, data_types: dict, fixture: str) -> None:
        """Refuse fixture values their binary column cannot hold (safe_cast would make them
        NULL): a compile error naming the fixture, row, column, expected and actual length."""
        try:
            check_fixture_rows(rows, data_types, fixture)
        except ValueError as exc:
            raise CompilationError(str(exc)) from None

    @available
    def amp_check(self, select: Any = None, exclude: Any = None) -> str:
        """Plan every selected model on the server without running it (`dbt run-operation
        amp_check`). Each failure names the model and carries Amp's message; any failure makes
        the operation fail. Planning is GetFlightInfo only: Amp plans, it does not execute."""
        manifest = self.get_macro_resolver()
        models = [
            n for n in selected_models(manifest, select, exclude) if n.resource_type == "model"
        ]
        failures = []
        for node in models:
            label = node_label(node, "model")
            materialized = node.config.materialized
            if node.language == "python" or materialized not in PLANNED_BY_AMP_CHECK:
                kind = "python" if node.language == "python" else materialized
                problem = self.amp_refusal_message(node, kind, self.config.project_name)
            else:
                try:
                    sql = compiled_sql(self.config, manifest, node)
                    columns = self.get_column_schema_from_query(sql)
                except Exception as exc:  # noqa: BLE001 - reported per model
                    problem = getattr(exc, "msg", None) or str(exc)
                else:
                    logger.info(f"amp_check OK    {label}: {len(columns)} columns")
                    continue
            logger.info(f"amp_check ERROR {label}: {problem}")
            failures.append(f"{label}: {problem}")
        plural = "" if len(models) == 1 else "s"
        summary = f"amp_check planned {len(models)} model{plural}: {len(failures)} failed"
        if failures:
            raise DbtRuntimeError(summary + "\n" + "\n".join(f"- {f}" for f in failures))
        logger.info(summary)
        return summary

    def validate_sql(self, sql: str) -> AmpAdapterResponse:
        """Plan `sql` without executing it (GetFlightInfo only). dbt's default sends
        `explain <sql>`, which Amp refuses: it answers queries only."""
        self.connections.plan_schema(sql)
        return AmpAdapterResponse(_message="OK")

    # --- relations that exist on Amp: dataset tables -----------------------------------------

    def get_relation(self, database: str, schema: str, identifier: str) -> BaseRelation | None:
        """The dataset table `"schema".identifier` if Amp can plan `select * from` it (dbt's
        default looks in a relation cache that dbt-amp keeps empty: it lists nothing)."""
        relation = self.Relation.create(
            database=database, schema=schema, identifier=identifier, type=RelationType.Table
        )
        try:
            self.get_columns_in_relation(relation)
        except DbtDatabaseError as exc:
            if not _not_plannable(exc):
                raise
            logger.debug(f"No relation {relation} on Amp: {exc}")
            return None
        return relation

    def get_catalog_for_single_relation(self, relation: BaseRelation) -> CatalogTable | None:
        """Table and column metadata of one dataset table, planned (None if Amp has none)."""
        try:
            columns = self.get_columns_in_relation(relation)
        except DbtDatabaseError as exc:
            if not _not_plannable(exc):
                raise
            return None
        return CatalogTable(
            metadata=TableMetadata(
                type=SOURCE,
                schema=relation.schema,
                name=relation.identifier,
                database=relation.database,
            ),
            columns={
                c.name: ColumnMetadata(type=c.dtype, index=i, name=c.name)
                for i, c in enumerate(columns, start=1)
            },
            stats={},
        )

    def debug_query(self) -> None:
        self.execute("select 1 as id")
        credentials = self.config.credentials
        if credentials.admin_url:  # prove the Admin API too, with a real (read-only) call
            self.admin_client().datasets()

    # --- dataset models: Amp derived datasets ------------------------------------------------

    def admin_client(self) -> AdminClient:
        """The profile's Admin API client, made once per adapter and shared by its threads
        (httpx clients are thread-safe; one keeps its connections alive between models)."""
        with self._admin_lock:
            if self._admin is None:
                credentials = self.config.credentials
                if not credentials.admin_url:
                    raise DbtRuntimeError(
                        "This needs Amp's Admin API, but the profile has no admin_url: add "
                        "admin_url: http://<host>:1610 to the target"
                    )
                self._admin = AdminClient(
                    credentials.admin_url,
                    token=credentials.transport().token,
                    retries=max(credentials.retries, 3),
                )
            return self._admin

    @available
    def amp_build_dataset(self, model: Any, sql: str, graph: Any, full_refresh: bool = False):
        """Register (and deploy, and wait for) the Amp derived dataset of a `dataset` model."""
        dependencies = checked_dependencies(
            node_config(model).get("dependencies"), f" of {node_label(model, 'model')}"
        )
        this = DatasetSpec.of(model)
        specs = self._dataset_specs(graph)
        for uid, other in specs.items():
            same = (other.namespace, other.name) == (this.namespace, this.name)
            if same and uid != node_get(model, "unique_id"):
                raise CompilationError(
                    f"{node_label(model, 'model')} and "
                    f"{node_label(graph['nodes'][uid], 'model')} are both the Amp dataset "
                    f"{this.namespace}/{this.name}: each would replace the other's manifest. Give "
                    "one of them another dataset_name."
                )
        # every dataset model's reference: pinned by hash where this one reads it
        dataset_refs = {spec.reference for spec in specs.values()}
        builder = DatasetBuilder(self.admin_client(), self._head_block)
        return builder.build(model, sql, dependencies, dataset_refs, bool(full_refresh))

    def _dataset_specs(self, graph: Any) -> dict[str, DatasetSpec]:
        """{unique_id: DatasetSpec} of the graph's dataset models, built once per graph object
        (every dataset model of a run reads it). A misconfigured model is left out: it fails on
        its own, naming itself."""
        cached = getattr(self, "_dataset_specs_cache", None)
        if cached is not None and cached[0] is graph:
            return cached[1]
        specs = {}
        for uid, node in (graph or {}).get("nodes", {}).items():
            if node_get(node, "resource_type") == "model" and is_dataset_node(node):
                try:
                    specs[uid] = DatasetSpec.of(node)
                except CompilationError:
                    continue
        self._dataset_specs_cache = (graph, specs)
        return specs

    def _head_block(self, tables: list[tuple[str, str]]) -> int | None:
        """The lowest of the highest synced blocks of these dataset tables (None if one is empty)."""
        heads = []
        for reference, table in tables:
            _, result = self.execute(
                f'select max(_block_num) as head from "{reference}".{table}', fetch=True
            )
            head = result.rows[0][0] if len(result.rows) else None
            if head is None:
                return None
            heads.append(int(head))
        return min(heads) if heads else None

    def cancel_open_connections(self):
        """Ctrl-C: also stop waiting for dataset jobs (they keep running on Amp; say so)."""
        for note in cancel_waits():
            logger.warning(note)
        return super().cancel_open_connections()

    @available
    def amp_skipped_response(self, why: str) -> AmpDatasetResponse:
        return AmpDatasetResponse(_message=f"SKIPPED: {why}")

    @available
    def amp_dataset_relation_of(self, node: Any) -> AmpRelation:
        """What `ref()` to a dataset model renders: `"<namespace>/<name>@<version|dev>".<table>`."""
        spec = DatasetSpec.of(node)
        return AmpRelation.create(database=None, schema=spec.reference, identifier=spec.table)

    # --- query models ------------------------------------------------------------------------

    @available
    def run_query_model(
        self, sql: str, model: Any = None, full_refresh: bool = False
    ) -> AmpAdapterResponse:
        """Plan and execute `sql`, counting rows and bytes from Arrow (no agate table). For a
        `block_range` model or one with `export`, stream its rows to Parquet and record the
        blocks it processed once the whole result has been read."""
        if model is None:
            return self.connections.run_query_model(sql)
        run = self.block_ranges.start_run(model, full_refresh, self._reads_partial_data())
        try:
            response = self.connections.run_query_model(sql, sink=run.sink)
            outcome = run.finish(response.block_ranges, response.rows or 0)
        except BaseException:
            run.abort()
            raise
        if outcome.processed:
            response.processed_ranges = [r.to_json() for r in outcome.processed]
            blocks = ", ".join(f"{r.network} {r.start}-{r.end}" for r in outcome.processed)
            response._message += f", blocks {blocks}"
        elif outcome.note:
            response._message += f", {outcome.note}"
        if outcome.export_path is not None:
            response.export_path = str(outcome.export_path)
        return response

    # --- block-range incremental query models (incremental.py, state.py) ---------------------

    @property
    def block_ranges(self) -> BlockRangeTracker:
        """The block-range progress of this project/profile/target, created on first use."""
        with _TRACKER_LOCK:  # dbt threads compile and run models on one adapter
            tracker = getattr(self, "_block_ranges", None)
            if tracker is None:
                tracker = BlockRangeTracker(
                    self.config.project_root, self.config.profile_name, self.config.target_name
                )
                self._block_ranges = tracker
            return tracker

    def _reads_partial_data(self) -> bool:
        """`--empty` or `--sample`: refs and sources are limited, so the rows are not the blocks
        Amp reports; such a run must neither record progress nor export."""
        args = getattr(self.config, "args", None)
        return bool(getattr(args, "EMPTY", False)) or getattr(args, "sample", None) is not None

    @available
    def amp_is_incremental(self, model: Any, full_refresh: bool) -> bool:
        """is_incremental() for `model`: a block_range query model with a successful run."""
        return self.block_ranges.is_incremental(model, full_refresh)

    @available
    def amp_last_processed_block(
        self, model: Any, network: str | None = None, full_refresh: bool = False
    ) -> int:
        """last_processed_block(): where the model's previous successful run ended."""
        return self.block_ranges.last_processed_block(model, network, full_refresh)

    @available
    def amp_strip_trailing_comments(self, sql: str) -> str:
        """`sql` without trailing `;`, whitespace and comments (for `dbt show --limit`)."""
        return strip_trailing_comments(sql)

    # --- EVM macros --------------------------------------------------------------------------

    @available
    def amp_evm_event_params(self, signature: Any) -> list[dict[str, Any]]:
        """[{name, type, canonical, indexed}, ...] of an event signature (evm_signatures.py);
        a malformed signature is a compile error."""
        try:
            return [param.as_dict() for param in parse_event_signature(signature)]
        except EventSignatureError as exc:
            raise CompilationError(str(exc)) from None

    # --- dependencies (`config(dependencies={'eth': '_/eth_firehose@1.0.0'})`) ---------------

    @available
    def amp_dependencies(self, value: Any, node_name: str = "") -> dict[str, str]:
        """The validated `dependencies` config: {alias: "ns/name@revision"}."""
        return checked_dependencies(value, f" of {node_name!r}" if node_name else "")

    @available
    def amp_dataset_relation(
        self,
        reference: str,
        alias: str | None = None,
        empty: bool = False,
        graph: Any = None,
        model: Any = None,
    ) -> AmpDatasetRelation:
        """The relation for a whole dataset: renders `"ns/name@rev"`; `.logs` on it is the table.

        With `graph`, an alias that has the name of a model, seed or snapshot is refused (it
        would silently shadow it). With `empty` (`--empty`), `ref(alias).<table>` renders a
        limited subquery and `ref(alias)` itself cannot be rendered (see AmpDatasetRelation)."""
        if alias and graph is not None:
            refable, _ = self._graph_index(graph)
            check_not_shadowing(model, alias, reference, refable.get(alias, []))
        return AmpDatasetRelation.create(
            database=None,
            schema=reference,
            identifier=None,
            alias=alias,
            limit=0 if empty else None,
        )

    def _graph_index(self, graph: Any) -> tuple[dict, dict]:
        """Two lookups over the Jinja `graph`, built once per graph object:
        {name: [unique_id]} of the nodes `ref()` can name (models, seeds, snapshots), and
        {(package or None, name): model node}."""
        cached = getattr(self, "_graph_index_cache", None)
        if cached is not None and cached[0] is graph:
            return cached[1]
        refable: dict = {}
        models: dict = {}
        for uid, node in (graph or {}).get("nodes", {}).items():
            kind, name = node.get("resource_type"), node.get("name")
            if kind in REFABLE:
                refable.setdefault(name, []).append(uid)
            if kind == "model":
                models[(node.get("package_name"), name)] = node
                models.setdefault((None, name), node)
        self._graph_index_cache = (graph, (refable, models))
        return refable, models

    @available
    def amp_check_ref_target(
        self, graph: Any, model: Any, args: Any, kwargs: Any, relation: Any = None
    ) -> AmpRelation | None:
        """For a dataset model, the relation of its dataset table (dbt's `relation` would name
        the namespace; its `--empty` limit and `--sample` filter are kept); refuse a ref to a model
        that would need a relation on Amp (view, table, ...). `ephemeral` and `query` models are
        inlined as CTEs and never reach this check."""
        name = kwargs.get("name") or (args[-1] if args else None)
        package = kwargs.get("package") or (args[0] if len(args) == 2 else None)
        _, models = self._graph_index(graph)
        target = models.get((package, name)) or models.get((None, name))
        if target is None:
            return None
        if is_dataset_node(target):
            table = self.amp_dataset_relation_of(target)
            if relation is None:
                return table
            return relation.incorporate(
                path={"schema": table.schema, "identifier": table.identifier}
            )
        materialized = target.get("config", {}).get("materialized")
        if materialized in INLINED_AS_CTE:
            return None
        here = node_label(model, "model")
        raise CompilationError(
            f"{here} refs '{name}', which is materialized='{materialized}'"
            + (" (dbt's default)" if not _explicit_materialization(target) else "")
            + ". dbt-amp cannot build that: Amp is read-only for clients. "
            + _fix_hint(target, self.config.project_name)
        )

    @available
    def amp_refusal_message(self, model: Any, kind: str, project_name: str) -> str:
        """One message: which node, why it cannot be built on Amp, what to use instead."""
        name = node_label(model, "model")
        why = "Amp is read-only for clients: it stores no tables or views that dbt creates"
        alternatives = (
            "use materialized='ephemeral' for building blocks (inlined as CTEs) or 'query' to run "
            "a model and record its rows/bytes/block range"
        )
        if kind == "store_failures":
            return (
                f"{name} cannot store failures (--store-failures / store_failures: true): {why}. "
                "Run the test without it; `dbt show` the test's compiled SQL to see failing rows."
            )
        if kind == "seed":
            return (
                f"{name} cannot be loaded: dbt seeds create tables, and {why}. Put small constant "
                "data in an ephemeral model (select ... union all select ...) or a `values` list."
            )
        if kind == "snapshot":
            return (
                f"{name} cannot run: snapshots create and update tables, and {why}. Amp keeps "
                "history itself: query raw datasets by block range, or register a derived dataset."
            )
        if kind == "python" or node_get(model, "language") == "python":
            return (
                f"{name} cannot run: Python models need a table to write to, and {why}. "
                f"Instead, {alternatives}."
            )
        if kind == "view" and not _explicit_materialization(model):
            return (
                f"{name} has no materialization configured, so dbt used its default 'view'; {why}. "
                f"{EPHEMERAL_DEFAULT_HINT}\n\n  {_ephemeral_default_line(project_name)}\n\n"
                "and set materialized='query' on the models you want to run."
            )
        if kind == "incremental":
            return (
                f"{name} cannot be built as materialized='incremental': {why}, so there is no "
                "table to append to. To read only new blocks, use materialized='query' with "
                f"incremental_strategy='{STRATEGY}' (and `export` to keep each run's rows as "
                "Parquet); for building blocks, use materialized='ephemeral'."
            )
        return f"{name} cannot be built as materialized='{kind}': {why}. Instead, {alternatives}."

    # --- docs: every source and every model dbt-amp runs --------------------------------------

    def get_filtered_catalog(self, relation_configs, used_schemas, relations=None):
        """Catalog entries for sources, query models and ephemeral models (catalog.py). With
        `relations` (a selection), sources and query models outside it are left out; ephemeral
        models have no relation, so all are planned and dbt keeps the selected ones."""
        manifest = self.get_macro_resolver()
        wanted = None if relations is None else {_relation_key(r) for r in relations}
        entries = [
            CatalogEntry(node, _catalog_kind(node))
            for node in relation_configs
            if _catalog_kind(node) and (wanted is None or _relation_key(node) in wanted)
        ]
        entries += [
            CatalogEntry(node, EPHEMERAL_MODEL)
            for node in getattr(manifest, "nodes", {}).values()
            if node.resource_type == "model" and node.config.materialized == "ephemeral"
        ]
        planned = []
        for entry in entries:
            try:
                columns = self._catalog_columns(entry, manifest)
            except Exception as exc:  # noqa: BLE001 - one bad node must not sink the docs
                logger.warning(f"Skipping {entry.label} in the catalog: {exc}")
                continue
            planned.append((entry, columns))
        return catalog_table(planned), []

    def _catalog_columns(self, entry: CatalogEntry, manifest: Any) -> list[AmpColumn]:
        """A source's table planned; a dataset model's table once Amp has it, else (like query
        and ephemeral models) its compiled SQL planned."""
        if entry.kind == SOURCE:
            relation = self.Relation.create_from(self.config, entry.node)
            return self.get_columns_in_relation(relation)
        if entry.kind == DATASET_MODEL:
            table = self.get_relation(*_relation_parts(self.amp_dataset_relation_of(entry.node)))
            if table is not None:
                return self.get_columns_in_relation(table)
        return self.get_column_schema_from_query(compiled_sql(self.config, manifest, entry.node))

    def get_catalog(self, relation_configs, used_schemas):
        return self.get_filtered_catalog(relation_configs, used_schemas)

    def submit_python_job(self, parsed_model: dict, compiled_code: str):
        # reached only by a custom materialization: dbt-amp's own refuse Python models earlier
        raise DbtRuntimeError(
            self.amp_refusal_message(parsed_model, "python", self.config.project_name)
        )


def _relation_parts(relation: BaseRelation) -> tuple:
    return relation.database, relation.schema, relation.identifier


def _not_plannable(error: DbtDatabaseError) -> bool:
    """Amp could not plan `select * from` a relation (it has no such table), as opposed to not
    being reachable, refusing the token or timing out, which must reach the user."""
    return not isinstance(error, (FailedToConnectError, AmpTimeoutError))


def _catalog_kind(node: Any) -> str | None:
    """How a node of dbt's catalogable relations is catalogued (None: not at all)."""
    if node.resource_type == "source":
        return SOURCE
    if is_query_model(node):
        return QUERY_MODEL
    if node.resource_type == "model" and is_dataset_node(node):
        return DATASET_MODEL
    return None


def _relation_key(node: Any) -> tuple:
    """(database, schema, identifier), case-folded: how dbt matches catalog rows to nodes."""
    return tuple(
        (getattr(node, k, None) or "").casefold() for k in ("database", "schema", "identifier")
    )


def _explicit_materialization(node: Any) -> bool:
    unrendered = node_get(node, "unrendered_config") or {}
    return "materialized" in unrendered


EPHEMERAL_DEFAULT_HINT = "Make ephemeral the project default with this line in dbt_project.yml:"


def _ephemeral_default_line(project_name: str) -> str:
    return f"models: {{{project_name}: {{+materialized: ephemeral}}}}"


def _fix_hint(target: Any, project_name: str) -> str:
    if not _explicit_materialization(target):
        return f"{EPHEMERAL_DEFAULT_HINT} {_ephemeral_default_line(project_name)}"
    return f"Make '{node_get(target, 'name')}' materialized='ephemeral'."
