"""Derived-dataset SQL: how Amp analyses, plans and validates the tables of a derived manifest.

Derived SQL names tables only as `<dependency alias>.<table>` or `self.<sibling table>` (PROTOCOL §5.2).
`DerivedEngine` is the query engine with that naming: its schemas are the manifest's aliases (each
bound to the dataset revision the dependency is pinned to) and `self`. Everything else (Amp's UDFs,
the `_` alias ban, `block_num()`, incrementalizability) is the engine's, so ad-hoc queries, `POST
/schema`, registration and the job materializer apply one set of rules.

`analyse()` runs Amp's steps in Amp's order (`handlers/schema.rs`, `handlers/common.rs::
validate_derived_manifest`): parse each table's SQL, extract its table references, order the tables
by their `self.` references, then plan each table and require an incremental plan. Failures are
`Failure`s that `schema_error()` and `registration_error()` turn into each endpoint's error codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import sqlglot
from sqlglot import exp

from amp_local.admin_errors import ValidationFailure
from amp_local.datasets import BLOCK_NUM_FIELD, Dataset, DatasetNotFound, DatasetStore, Table
from amp_local.engine import PlannedQuery, QueryEngine, check_plan_rules
from amp_local.errors import AmpError
from amp_local.incremental import NonIncremental, check_incremental
from amp_local.manifests import SELF, validate_dep_alias
from amp_local.references import InvalidReference, validate_table_name

BLOCK_NUM = "_block_num"


class DerivedEngine(QueryEngine):
    """The engine over a derived dataset's names: dependency aliases and `self`."""

    def __init__(
        self,
        store: DatasetStore,
        aliases: dict[str, Dataset],
        this: Dataset,
        *,
        materializing: bool = False,
    ) -> None:
        super().__init__(store)
        self.aliases = aliases
        self.this = this
        self.materializing = materializing

    def check_plan(self, plan) -> None:
        # the materializer's own `… AS _block_num` (Amp propagates it in the plan instead)
        check_plan_rules(plan, allowed_aliases=(BLOCK_NUM,) if self.materializing else ())

    def resolve_spelling(self, spelling: str) -> Dataset:
        if spelling == SELF:
            return self.this
        dataset = self.aliases.get(spelling)
        if dataset is None:
            raise DatasetNotFound(
                f"dependency alias '{spelling}' is not declared in the manifest's dependencies"
            )
        return dataset

    @staticmethod
    def _table_references(tree: exp.Expression) -> list[tuple[str, str]]:
        # bare names that are not CTEs are left to DataFusion, which does not find them
        return [(ref.schema, ref.table) for ref in table_references(tree) if ref.schema]


# --- failures -------------------------------------------------------------------------------


@dataclass
class Failure(Exception):
    """One analysis failure: `kind` says which step, the rest what Amp's error carries."""

    kind: str  # parse | catalog | table_name | schema_format | no_refs | alias | self_ref
    #            | self_missing | cycle | plan | non_incremental
    table: str
    detail: str = ""  # the source error's text
    code: str = ""  # for `plan`: INVALID_PLAN (user input) or SCHEMA_INFERENCE


def schema_error(failure: Failure) -> ValidationFailure:
    """The `POST /schema` error for a failure (newest `handlers/schema.rs`)."""
    t, d = failure.table, failure.detail
    return {
        "parse": lambda: ValidationFailure(
            "INVALID_TABLE_SQL", 400, f"Invalid SQL query for table '{t}': {d}", d
        ),
        "catalog": lambda: ValidationFailure(
            "CATALOG_QUALIFIED_TABLE", 400, f"Catalog-qualified table reference in table '{t}': {d}", d
        ),
        "table_name": lambda: ValidationFailure(
            "INVALID_TABLE_NAME", 400, f"Invalid table name in table '{t}': {d}", d
        ),
        "schema_format": lambda: ValidationFailure(
            "TABLE_REFERENCE_RESOLUTION",
            400,
            f"Failed to extract table references from table '{t}': {d}",
            d,
        ),
        "no_refs": lambda: ValidationFailure(
            "NO_TABLE_REFERENCES", 400, f"Table '{t}' does not reference any source tables"
        ),
        "self_ref": lambda: ValidationFailure("SELF_REFERENCING_TABLE", 400, "Inter-table dependency error", d),
        "self_missing": lambda: ValidationFailure("SELF_REF_TABLE_NOT_FOUND", 400, "Inter-table dependency error", d),
        "cycle": lambda: ValidationFailure("CYCLIC_DEPENDENCY", 400, "Inter-table dependency error", *_cycle(d)),
        "plan": lambda: ValidationFailure(
            failure.code, 400 if failure.code == "INVALID_PLAN" else 500,
            f"Failed to plan SQL for table '{t}': {d}", d,
        ),
        "non_incremental": lambda: ValidationFailure(
            "NON_INCREMENTAL_QUERY", 400, f"Table '{t}' contains non-incremental SQL: {d}", d
        ),
    }[failure.kind]()  # fmt: skip


def registration_error(failure: Failure) -> tuple[str, tuple[str, ...]]:
    """`validate_derived_manifest`'s error (display, source chain) for a failure; registration
    reports it as `MANIFEST_VALIDATION_ERROR`."""
    t, d = failure.table, failure.detail
    inter_table = "Inter-table dependency error"
    return {
        "parse": (f"Invalid SQL query for table '{t}': {d}", (d,)),
        "catalog": (f"Catalog-qualified table reference in table '{t}': {d}", (d,)),
        "table_name": (f"Invalid table name in SQL query: {d}", (d,)),
        "schema_format": (f"Failed to resolve table references in table '{t}': {d}", (d,)),
        "no_refs": (f"Table '{t}' does not reference any source tables", ()),
        "alias": (
            f"Dependency alias not found: In table '{t}': Dependency alias '{d}' referenced in "
            "table but not provided in dependencies",
            (),
        ),
        "self_ref": (inter_table, (d,)),
        "self_missing": (inter_table, (d,)),
        "cycle": (inter_table, _cycle(d)),
        "plan": (f"Failed to plan query for table '{t}': {d}", (d,)),
        "non_incremental": (f"Table '{t}' contains non-incremental SQL: {d}", (d,)),
    }[failure.kind]


def _cycle(node: str) -> tuple[str, str]:
    at = f'Cyclic dependency detected at node: TableName("{node}")'
    return f"Cyclic dependency detected among inter-table references: {at}", at


# --- references -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRef:
    schema: str | None  # a dependency alias or `self`; None: a bare name
    table: str
    text: str


def parse_one(table: str, sql: str) -> exp.Expression | None:
    """The single statement of a table's SQL, or None where only DataFusion's parser can read it."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except sqlglot.errors.SqlglotError:
        return None
    if len(trees) != 1:
        raise Failure("parse", table, f"expected exactly one SQL statement, found {len(trees)}")
    return trees[0] if isinstance(trees[0], exp.Query) else None


def table_references(tree: exp.Expression, table: str = "") -> list[TableRef]:
    """The tables a statement reads, validated like Amp's `resolve_table_references`."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    refs: list[TableRef] = []
    for node in tree.find_all(exp.Table):
        if not node.name:
            continue  # table functions such as unnest
        text = node.sql(dialect="postgres")
        if node.catalog:
            raise Failure(
                "catalog", table, f"Catalog-qualified table references are not supported: {text}"
            )
        if not node.db and node.name in ctes:
            continue
        try:
            validate_table_name(node.name)
        except InvalidReference as exc:
            raise Failure(
                "table_name", table, f"Invalid table name in reference '{text}': {exc}"
            ) from None
        if node.db and node.db != SELF:
            try:
                validate_dep_alias(node.db)
            except ValueError as exc:
                raise Failure(
                    "schema_format", table, f"Invalid schema format in reference '{text}': {exc}"
                ) from None
        ref = TableRef(node.db or None, node.name, text)
        if ref not in refs:
            refs.append(ref)
    return refs


def inter_table_order(refs: dict[str, list[TableRef]]) -> list[str]:
    """Tables in processing order: each after the siblings it reads as `self.<table>`.
    Amp's `resolve_inter_table_order`: depth-first over the tables in name order."""
    deps: dict[str, list[str]] = {}
    for table in sorted(refs):
        deps[table] = []
        for ref in refs[table]:
            if ref.schema != SELF:
                continue
            if ref.table == table:
                raise Failure(
                    "self_ref", table, f"Table '{table}' references itself via self.{table}"
                )
            if ref.table not in refs:
                raise Failure(
                    "self_missing",
                    table,
                    f"Table '{table}' references non-existent sibling table 'self.{ref.table}'",
                )
            deps[table].append(ref.table)
    ordered: list[str] = []
    done: set[str] = set()

    def visit(node: str, path: set[str]) -> None:
        if node in path:
            raise Failure("cycle", node, node)
        if node in done:
            return
        path.add(node)
        for dep in deps[node]:
            visit(dep, path)
        path.discard(node)
        done.add(node)
        ordered.append(node)

    for node in deps:
        visit(node, set())
    return ordered


# --- planning -------------------------------------------------------------------------------


def plan_table(engine: DerivedEngine, table: str, sql: str) -> PlannedQuery:
    """Plan one table's SQL as Amp plans derived SQL (`block_num()` allowed)."""
    try:
        return engine.plan(sql, stream_header=True)
    except AmpError as error:
        detail = _source(error)
        if error.error_code == "SQL_PARSE_ERROR":
            raise Failure("parse", table, detail) from None
        code = "INVALID_PLAN" if error.error_code == "INVALID_PLAN" else "SCHEMA_INFERENCE"
        raise Failure("plan", table, detail, code) from None


def _source(error: AmpError) -> str:
    """The DataFusion error behind an engine error (Amp's derived-SQL errors wrap that one)."""
    if error.cause is not None:
        return str(error.cause)
    return error.message.split(" | Caused by: ", 1)[-1]


def output_schema(planned: PlannedQuery) -> pa.Schema:
    """A derived table's schema: the plan's, `_block_num` prepended unless selected."""
    schema = planned.schema
    if BLOCK_NUM in schema.names:
        return schema
    return schema.insert(0, BLOCK_NUM_FIELD)


@dataclass
class Analysis:
    order: list[str]
    plans: dict[str, PlannedQuery]
    schemas: dict[str, pa.Schema]


def analyse(
    store: DatasetStore,
    aliases: dict[str, Dataset],
    tables: dict[str, str],
    this: Dataset,
    *,
    check_aliases: bool,
    sibling_schema: Callable[[str, pa.Schema], pa.Schema] = lambda name, inferred: inferred,
) -> Analysis:
    """Parse, reference-check, order, plan and incrementality-check a derived dataset's tables.

    `this` is the dataset `self.` resolves to; after each table is planned, `sibling_schema` says
    which schema the following tables see for it (inferred for `/schema`, declared for
    registration). `check_aliases` rejects undeclared aliases before planning (registration does).
    """
    trees = {name: parse_one(name, sql) for name, sql in sorted(tables.items())}
    refs: dict[str, list[TableRef]] = {}
    for name, tree in trees.items():
        if tree is None:
            refs[name] = []  # only DataFusion reads this SQL: its plan tells
            continue
        refs[name] = table_references(tree, name)
        if not refs[name]:
            raise Failure("no_refs", name)
        if check_aliases:
            for ref in refs[name]:
                if ref.schema and ref.schema != SELF and ref.schema not in aliases:
                    raise Failure("alias", name, ref.schema)
    order = inter_table_order(refs)
    engine = DerivedEngine(store, aliases, this)
    plans, schemas = {}, {}
    for name in order:
        planned = plan_table(engine, name, tables[name])
        if trees[name] is None and not planned.tables:
            raise Failure("no_refs", name)
        try:
            check_incremental(planned.dataframe.logical_plan())
        except NonIncremental as exc:
            raise Failure("non_incremental", name, str(exc)) from None
        plans[name] = planned
        schemas[name] = output_schema(planned)
        this.tables[name] = Table(
            name, sibling_schema(name, schemas[name]), this.network or "", None
        )
    return Analysis(order, plans, schemas)


# --- `_block_num` of each output row --------------------------------------------------------


def with_block_num(sql: str) -> str | None:
    """`sql` rewritten so every row source (the statement, union branches, FROM subqueries,
    CTEs) also selects `_block_num`, as Amp's plan rewrite propagates it: the column itself from
    one source, `block_num()` (the greater of both sides) over a join. None when sqlglot cannot
    read the SQL."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return None
    _propagate(tree)
    return tree.sql(dialect="postgres", normalize_functions=False)


def _propagate(node: exp.Expression) -> None:
    with_ = node.args.get("with_") or node.args.get("with")
    if with_ is not None:
        for cte in with_.expressions:
            _propagate(cte.this)
    if isinstance(node, exp.Subquery):
        _propagate(node.this)
        return
    if isinstance(node, exp.SetOperation):
        _propagate(node.this)
        _propagate(node.expression)
        return
    if not isinstance(node, exp.Select):
        return
    from_ = node.args.get("from_") or node.args.get("from")
    sources = ([from_.this] if from_ is not None else []) + [
        join.this for join in node.args.get("joins") or []
    ]
    for source in sources:
        if isinstance(source, exp.Subquery):
            _propagate(source.this)
    if any(_selects_block_num(e) for e in node.expressions):
        return
    if len(sources) > 1:
        column = exp.alias_(sqlglot.parse_one("block_num()", read="postgres"), BLOCK_NUM)
    else:
        column = exp.column(BLOCK_NUM)
    node.set("expressions", [column, *node.expressions])


def _selects_block_num(expression: exp.Expression) -> bool:
    if isinstance(expression, exp.Star):
        return True
    if isinstance(expression, exp.Column):
        return isinstance(expression.this, exp.Star) or expression.name == BLOCK_NUM
    return isinstance(expression, exp.Alias) and expression.alias == BLOCK_NUM
