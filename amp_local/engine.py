"""The query engine: Amp's SQL rules on top of DataFusion.

Planning does what Amp's `GetFlightInfo` does (parse one statement, resolve dataset references, plan
against schemas without touching data); execution does what `DoGet` does (re-plan, check the tables are
synced, compute the common block ranges, stream batches). Everything that goes wrong is an `AmpError`
with the code real Amp would use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import sqlglot
from datafusion import SessionConfig, SessionContext, SQLOptions, col, lit
from datafusion import catalog as df_catalog
from sqlglot import exp

from amp_local.datasets import BlockRange, Dataset, DatasetNotFound, DatasetStore, Table
from amp_local.errors import (
    AmpError,
    DataFusionError,
    carried_error,
    caused_by,
    execution_error,
    invalid_plan,
    planning_error,
)
from amp_local.plans import (
    join_node,
    output_columns,
    qualifier,
    selects_block_num_over_join,
    table_scans,
    underscore_alias,
)
from amp_local.references import DatasetReference, InvalidReference, validate_table_name
from amp_local.udf_rewrite import clean_error_text, unrewrite_text
from amp_local.udfs import Rewritten, install, rewrite_udf_calls

# a trailing `SETTINGS k = v[, k = v]` clause, optionally followed by `;` and a line comment
SETTINGS_RE = re.compile(
    r"\s+SETTINGS\s+(?P<pairs>\w+\s*=\s*[\w']+(?:\s*,\s*\w+\s*=\s*[\w']+)*)"
    r"\s*;?\s*(?:--[^\n]*)?\s*$",
    re.I,
)
NOT_FOUND_RE = re.compile(r"table '(?:amp|datafusion)\.(.+)\.([^.']+)' not found")
DEFAULT_CATALOG = "amp"
BLOCK_NUM_CALL_RE = re.compile(r"\bblock_num\s*\(\s*\)", re.I)
OPTIMIZER_RE = re.compile(r"(type_coercion|Optimizer rule '[^']*' failed)\b")
READ_ONLY_RE = re.compile(r"^Error during planning: (DDL|DML|Statement) not supported")


@dataclass(frozen=True)
class BoundTable:
    """A table the query scans: the schema spelling used in the SQL and what it resolved to."""

    spelling: str
    dataset: Dataset
    table: Table


@dataclass
class PlannedQuery:
    sql: str
    body: str  # the SQL without its SETTINGS clause
    streaming: bool
    schema: pa.Schema
    tables: list[BoundTable]
    dataframe: object  # datafusion.DataFrame, planned in the shared context
    rewritten: Rewritten  # the body with Amp's function calls renamed to registered variants
    block_expr: str | None = None  # what `block_num()` was rewritten to (streaming only)

    @property
    def pairs(self) -> list[tuple[Dataset, Table]]:
        return [(b.dataset, b.table) for b in self.tables]


def split_settings(sql: str) -> tuple[str, bool]:
    """Strip a trailing SETTINGS clause; only `stream = true` (the literal) turns streaming on."""
    match = SETTINGS_RE.search(sql)
    if not match:
        return sql, False
    settings = dict(
        (key.strip().lower(), value.strip().lower())
        for key, value in (pair.split("=", 1) for pair in match["pairs"].split(","))
    )
    return sql[: match.start()], settings.get("stream") == "true"


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Give a batch the planned schema: the physical plan may know more (e.g. non-null
    aggregates from statistics) than the logical schema sent in FlightInfo."""
    if batch.schema == schema:
        return batch
    if batch.schema.types == schema.types:
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    return batch.cast(schema)


def catalog_qualified(reference: str) -> AmpError:
    return AmpError(
        "TABLE_REFERENCE_RESOLUTION",
        caused_by(
            "Failed to resolve table references from SQL",
            f"Catalog-qualified table references are not supported: {reference}",
        ),
    )


def check_plan_rules(plan, *, allowed_aliases: tuple[str, ...] = ()) -> None:
    """Amp's `forbid_underscore_prefixed_aliases` (`crates/core/common/src/plan_visitors.rs`):
    no `_`-prefixed alias anywhere in the plan, no bare `_block_num` selected over a join.
    (`allowed_aliases`: what amp_local itself adds where Amp rewrites the plan.)"""
    alias = underscore_alias(plan, allowed=allowed_aliases)
    if alias is not None:
        raise invalid_plan(
            DataFusionError.plan(
                f"expression contains a column alias starting with '_': '{alias}'. "
                "Underscore-prefixed names are reserved. Please rename your column"
            )
        )
    if selects_block_num_over_join(plan):
        raise invalid_plan(
            DataFusionError.plan(
                "selecting `_block_num` from a multi-table context (e.g. a join) is ambiguous. "
                "Use the `block_num()` function instead to get the correct value"
            )
        )


def new_context(*, partitions: int | None = None) -> SessionContext:
    """A DataFusion context set up like Amp's: catalog `amp`, no information_schema, and no
    file-listing cache, so parquet files appended at the chain head are seen at once.
    `partitions=1` keeps rows in the order of the (sorted) input for ordered streaming runs."""
    config = SessionConfig().with_default_catalog_and_schema(DEFAULT_CATALOG, "public")
    if partitions is not None:
        config = config.with_target_partitions(partitions)
    ctx = SessionContext(config.with_information_schema(False))
    ctx.sql("SET datafusion.runtime.list_files_cache_limit = '0K'").collect()
    return ctx


class QueryEngine:
    """One DataFusion context shared by all requests; dataset schemas registered per spelling."""

    def __init__(self, store: DatasetStore) -> None:
        self.store = store
        self.ctx = new_context()
        self._options = (
            SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)
        )
        self._lock = threading.RLock()
        self._spellings: dict[str, tuple] = {}  # spelling -> the dataset revision registered
        self._providers: dict[tuple, object] = {}
        self._tmp_counter = 0

    # --- planning -------------------------------------------------------------------------

    def plan(self, sql: str, stream_header: bool | None = None) -> PlannedQuery:
        if not sql or not sql.strip():
            raise AmpError("INVALID_QUERY", "invalid query: query is empty")
        body, streaming = split_settings(sql)
        if stream_header is not None:
            streaming = stream_header
        tree = self._parse(body)
        refs = self._table_references(tree) if isinstance(tree, exp.Query) else []
        discover = tree is None
        with self._lock:
            for spelling, table in refs:
                self._bind(spelling, table)
            block_expr = self._block_num_expr(body, streaming, discover=discover)
            try:
                rewritten = rewrite_udf_calls(
                    self.ctx,
                    body,
                    plan=lambda text: self._datafusion_plan(text, discover=discover),
                    block_num_expr=block_expr,
                )
            except AmpError:
                raise
            except Exception as exc:  # DataFusion refused the query while its UDF calls were typed
                raise datafusion_planning_error(str(exc)) from None
            df = self._plan_sql(rewritten.sql, discover=discover)
            self.check_plan(df.logical_plan())
            tables = self._scanned_tables(df, refs)
            schema = pa.schema([f.with_name(unrewrite_text(f.name)) for f in df.schema()])
        return PlannedQuery(sql, body, streaming, schema, tables, df, rewritten, block_expr)

    def check_plan(self, plan) -> None:
        """Amp's plan rules (the derived-table materializer adds its own `_block_num`)."""
        check_plan_rules(plan)

    def _block_num_expr(self, body: str, streaming: bool, *, discover: bool) -> str | None:
        """`block_num()` in a streaming query: the row's `_block_num`, and over a join Amp's
        `GREATEST(left._block_num, right._block_num)` (planned once to find the two sides)."""
        if not streaming:
            return None
        if not BLOCK_NUM_CALL_RE.search(body):
            return "_block_num"
        probe = rewrite_udf_calls(
            self.ctx,
            body,
            plan=lambda text: self._datafusion_plan(text, discover=discover),
            block_num_expr="CAST(NULL AS BIGINT UNSIGNED)",
        )
        join = join_node(self._plan_sql(probe.sql, discover=discover).logical_plan())
        if join is None:
            return "_block_num"
        sides = [qualifier(side) for side in join.inputs()]
        if None in sides:
            return "_block_num"  # DataFusion reports the ambiguity
        return "greatest(" + ", ".join(f"{side}._block_num" for side in sides) + ")"

    def _scanned_tables(self, df, refs: list[tuple[str, str]]) -> list[BoundTable]:
        """The tables the query reads, each checked against Amp's reference rules: the plan's
        scans, plus those only the SQL text shows (scalar subqueries live inside expressions)."""
        # Not the optimized plan: optimizing can be costly (constant folding evaluates e.g.
        # `range(1000000)`), and scalar subqueries stay inside expressions there anyway.
        scans = table_scans(df.logical_plan())
        scans += [
            (None, spelling, name)
            for spelling, name in refs
            if (None, spelling, name) not in scans
        ]
        bound = []
        for catalog, spelling, name in scans:
            if catalog is not None:
                raise catalog_qualified(f"{catalog}.{spelling}.{name}")
            if spelling is None:
                continue  # CTEs and values lists are inlined; a bare table would not plan
            dataset, table = self._bind(spelling, name)
            bound.append(BoundTable(spelling, dataset, table))
        return bound

    def _parse(self, sql: str) -> exp.Expression | None:
        """The statement's syntax tree, or None where sqlglot cannot parse what DataFusion may:
        then DataFusion's own parser and planner decide (see `_plan_sql`)."""
        try:
            trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
        except sqlglot.errors.SqlglotError:
            return None
        if len(trees) > 1:
            raise AmpError(
                "SQL_PARSE_ERROR",
                caused_by(
                    "SQL parse error", f"Expected a single SQL statement, found {len(trees)}"
                ),
            )
        return trees[0] if trees else None

    def _datafusion_plan(self, sql: str, *, discover: bool) -> object:
        """Plan with DataFusion, raising its own exceptions. With `discover`, dataset references
        are learned from its "table not found" errors one at a time (for SQL only DataFusion's
        parser reads)."""
        tried: set[tuple[str, str]] = set()
        while True:
            try:
                return self.ctx.sql_with_options(sql, self._options)
            except Exception as exc:  # DataFusion reports everything as ValueError/Exception
                missing = NOT_FOUND_RE.search(str(exc)) if discover else None
                if missing is None or (missing[1], missing[2]) in tried:
                    raise
                tried.add((missing[1], missing[2]))
                self._bind(missing[1], missing[2])

    def _plan_sql(self, sql: str, *, discover: bool) -> object:
        """`_datafusion_plan` with DataFusion's errors turned into Amp's."""
        try:
            return self._datafusion_plan(sql, discover=discover)
        except AmpError:
            raise
        except Exception as exc:
            raise datafusion_planning_error(str(exc)) from None

    @staticmethod
    def _table_references(tree: exp.Expression) -> list[tuple[str, str]]:
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        refs: list[tuple[str, str]] = []
        for table in tree.find_all(exp.Table):
            if not table.name:
                continue  # table functions such as unnest
            if table.catalog:
                raise catalog_qualified(f"{table.catalog}.{table.db}.{table.name}")
            if not table.db:
                if table.name in ctes:
                    continue
                raise AmpError(
                    "TABLE_REFERENCE_RESOLUTION",
                    caused_by(
                        "invalid table reference",
                        f"table '{table.name}' is not qualified by a dataset: "
                        'use "<namespace>/<name>@<revision>".<table>',
                    ),
                )
            if (table.db, table.name) not in refs:
                refs.append((table.db, table.name))
        return refs

    def resolve_spelling(self, spelling: str) -> Dataset:
        """The dataset a schema spelling names: `[ns/]name[@rev]` in ad-hoc SQL. Raises
        `InvalidReference` or `DatasetNotFound`."""
        return self.store.resolve(DatasetReference.parse(spelling))

    def _bind(self, spelling: str, table_name: str) -> tuple[Dataset, Table]:
        """Resolve `spelling.table` and (re)register that schema spelling in the context."""
        # an unknown dataset or table is a plain DataFusion "not found" on Amp: INTERNAL
        not_found = planning_error(
            DataFusionError.plan(f"table '{DEFAULT_CATALOG}.{spelling}.{table_name}' not found")
        )
        try:
            validate_table_name(table_name)
            dataset = self.resolve_spelling(spelling)
        except DatasetNotFound:
            raise not_found from None
        except InvalidReference as exc:
            raise AmpError(
                "TABLE_REFERENCE_RESOLUTION",
                caused_by(
                    "Failed to resolve table references from SQL",
                    f"Invalid schema format in reference '{spelling}.{table_name}': {exc}",
                    str(exc),
                ),
            ) from None
        table = dataset.tables.get(table_name)
        if table is None:
            raise not_found
        # a table that becomes synced (a derived dataset deployed) gets a new provider
        revision = (dataset.ref_name, dataset.manifest_hash, dataset.table_state())
        if self._spellings.get(spelling) != revision:
            schema = df_catalog.Schema.memory_schema()
            for name, tbl in dataset.tables.items():
                schema.register_table(name, self.provider(dataset, tbl))
            self.ctx.catalog(DEFAULT_CATALOG).register_schema(spelling, schema)
            self._spellings[spelling] = revision
        return dataset, table

    def provider(self, dataset: Dataset, table: Table) -> object:
        """The DataFusion table provider of a dataset table (a listing table over its parquet)."""
        key = (dataset.ref_name, dataset.manifest_hash, table.name, table.directory)
        provider = self._providers.get(key)
        if provider is None:
            self._tmp_counter += 1
            tmp = f"amp_local_tmp_{self._tmp_counter}"
            if table.directory is not None and table.directory.is_dir():
                self.ctx.register_listing_table(tmp, str(table.directory), schema=table.schema)
            else:
                empty = pa.RecordBatch.from_pylist([], schema=table.schema)
                self.ctx.register_record_batches(tmp, [[empty]])
            provider = self.ctx.catalog(DEFAULT_CATALOG).schema("public").table(tmp)
            self.ctx.deregister_table(tmp)
            self._providers[key] = provider
        return provider

    # --- execution ------------------------------------------------------------------------

    def execute(self, planned: PlannedQuery) -> tuple[list[BlockRange], Iterator[pa.RecordBatch]]:
        """DoGet: check the tables are synced, take a snapshot of their synced ranges, and run
        the query over exactly that snapshot (so rows and `ranges` agree while the head moves)."""
        check_executable(planned)
        snapshot = self.store.snapshot(planned.pairs)
        windows = {
            (bound.spelling, bound.table.name): synced.span or EMPTY_WINDOW
            for bound, synced in zip(planned.tables, snapshot, strict=True)
        }
        return self.store.block_range(snapshot), self.run_windowed(planned, windows)

    def run_windowed(
        self,
        planned: PlannedQuery,
        windows: dict[tuple[str, str], tuple[int, int]],
        *,
        ordered: bool = False,
        sql: str | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Run the query in its own context where each scanned table holds only the rows with
        `_block_num` in its window [first, last]. `ordered` reads every table in block order in
        one partition (streaming); `sql` replaces the planned SQL (and its output schema)."""
        ctx = new_context(partitions=1 if ordered else None)
        schemas: dict[str, df_catalog.Schema] = {}
        for bound in planned.tables:
            lo, hi = windows[(bound.spelling, bound.table.name)]
            window = (col("_block_num") >= lit(pa.scalar(lo, pa.uint64()))) & (
                col("_block_num") <= lit(pa.scalar(hi, pa.uint64()))
            )
            view = ctx.read_table(self.provider(bound.dataset, bound.table)).filter(window)
            if ordered:
                view = view.sort(col("_block_num").sort(ascending=True))
            schema = schemas.setdefault(bound.spelling, df_catalog.Schema.memory_schema())
            schema.register_table(bound.table.name, view.into_view())
        for spelling, schema in schemas.items():
            ctx.catalog(DEFAULT_CATALOG).register_schema(spelling, schema)
        install(ctx, planned.rewritten.variants)
        try:
            frame = ctx.sql_with_options(sql or planned.rewritten.sql, self._options)
            for batch in frame.execute_stream():
                batch = batch.to_pyarrow()
                yield batch if sql else conform_batch(batch, planned.schema)
        except AmpError:
            raise
        except Exception as exc:
            raise datafusion_execution_error(str(exc)) from None


def datafusion_planning_error(text: str) -> AmpError:
    """A DataFusion planning failure as Amp reports it: SQL syntax errors (`SQL_PARSE_ERROR`),
    read-only violations (`INVALID_PLAN`), everything else untagged (`PLANNING_ERROR`)."""
    error = DataFusionError.raw(clean_error_text(text))
    if str(error).startswith("SQL error: ParserError"):
        return AmpError(
            "SQL_PARSE_ERROR", caused_by("SQL parse error", "Invalid SQL syntax", str(error))
        )
    if READ_ONLY_RE.search(str(error)):
        return invalid_plan(error)
    return planning_error(error)


def datafusion_execution_error(text: str) -> AmpError:
    """A failure while running a plan: a UDF's refusal as the UDF raised it; a failure of
    DataFusion's analyzer or optimizer, which Amp runs before executing (`PlanningError`); else
    DataFusion's error while computing rows."""
    carried = carried_error(text)
    if carried is not None:
        return execution_error(carried)
    if "PyErr {" in text:  # a Python exception that is not a UDF refusal: a bug in amp_local
        raise RuntimeError(f"unexpected exception in a UDF: {text}")
    error = DataFusionError.raw(clean_error_text(text))
    if OPTIMIZER_RE.match(str(error)):
        return planning_error(error)
    return execution_error(error)


EMPTY_WINDOW = (1, 0)  # no block: a table without synced data


def check_executable(planned: PlannedQuery) -> None:
    """What Amp checks at DoGet before running anything: synced tables, unique result names."""
    for bound in planned.tables:
        if bound.table.directory is None:
            raise AmpError(
                "PHYSICAL_CATALOG_ERROR",
                caused_by(
                    "failed to build the physical catalog",
                    f"Table {bound.dataset.hash_reference}.{bound.table.name} has not been synced",
                ),
            )
    duplicates = duplicate_columns(planned)
    if duplicates:
        raise planning_error(
            DataFusionError.plan(
                f"Duplicate field names detected in plan schema: [{duplicates}]. "
                "Please alias your columns to be unique."
            )
        )


def duplicate_columns(planned: PlannedQuery) -> str:
    """Amp's `forbid_duplicate_field_names`: for every repeated output name, the columns of that
    name (`a.x and b.x`); empty when names are unique."""
    names = planned.schema.names
    columns = output_columns(planned.dataframe.logical_plan()) or names
    seen: set[str] = set()
    entries = []
    for name in names:
        if name in seen:
            sources = [c for c, n in zip(columns, names, strict=False) if n == name]
            entries.append(" and ".join(sources))
        seen.add(name)
    return ", ".join(entries)
