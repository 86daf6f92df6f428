"""Run dbt-tests-adapter fixtures on a read-only Amp server, many test classes per dbt invocation.

Why the fixtures are rewritten: dbt-tests-adapter's utils/type/array suites start with `dbt seed`
and `dbt build` into tables, then read those tables back (`check_relations_equal`,
`get_relation_columns`, `project.run_sql`). Amp is read-only for clients: no seeds, tables or
views. So, keeping every base class's model SQL, data tests and expected values:

* each seed CSV becomes an **ephemeral model** of the same name (`select cast(... as <type>) as
  col ... union all ...`), typed like dbt's seed type inference would (or per the base's
  `column_types`), so `ref('data_x')` still resolves;
* every model is `ephemeral`, and the base's data tests (`assert_equal` etc.) run over the inlined
  CTEs, which is how tests work on Amp;
* table comparisons (`check_relations_equal` + column types) become singular data tests: rows
  `except`-ed both ways, and `arrow_typeof()` of each column compared.

And to stay fast (each dbt invocation costs seconds), the files of all test classes of a module
are merged into **one** dbt project and built with **one** `dbt build`; each test class then
asserts on the results of its own nodes. A failure still names the class, the node and dbt's
message (the compiled SQL is in the project's target/ directory, printed on failure).
"""

from __future__ import annotations

import csv
import inspect
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from dbt.tests.util import run_dbt

INT_RE = re.compile(r"^-?\d+$")
FLOAT_RE = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
BOOL_VALUES = {"true", "false"}


def infer_type(values: Iterable[str]) -> str:
    """dbt seed (agate) style inference, as DataFusion SQL types."""
    present = [v for v in values if v != ""]
    if not present:
        return "varchar"
    if all(INT_RE.match(v) for v in present):
        return "bigint"
    if all(FLOAT_RE.match(v) for v in present):
        return "double"
    if all(DATE_RE.match(v) for v in present):
        return "date"
    if all(DATETIME_RE.match(v) for v in present):
        return "timestamp"
    if all(v.lower() in BOOL_VALUES for v in present):
        return "boolean"
    return "varchar"


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def typed_value(value: str, sql_type: str) -> str:
    """A CSV cell as a typed SQL expression; `arrow:<ArrowType>` types use arrow_cast."""
    if sql_type.startswith("arrow:"):
        arrow_type = sql_type[len("arrow:") :]
        inner = "null" if value == "" else sql_literal(value)
        return f"arrow_cast({inner}, {sql_literal(arrow_type)})"
    if value == "":
        return f"cast(null as {sql_type})"
    if sql_type in ("bigint", "double", "int", "integer"):
        return f"cast({value} as {sql_type})"
    return f"cast({sql_literal(value)} as {sql_type})"


def seed_csv_to_sql(csv_text: str, column_types: dict[str, str] | None = None) -> str:
    """A seed CSV as the SQL of an ephemeral model with the same rows and column types."""
    rows = list(csv.reader(io.StringIO(csv_text.strip() + "\n")))
    header, body = rows[0], [r for r in rows[1:] if r]
    column_types = {k.lower(): v for k, v in (column_types or {}).items()}
    types = [
        column_types.get(name.lower()) or infer_type(r[i] for r in body)
        for i, name in enumerate(header)
    ]
    selects = []
    for row in body or [[""] * len(header)]:
        cells = [
            f'{typed_value(v, t)} as "{name}"'
            for v, t, name in zip(row, types, header, strict=True)
        ]
        selects.append("select " + ", ".join(cells))
    sql = "\nunion all\n".join(selects)
    if not body:
        sql += "\nlimit 0"
    return sql + "\n"


def fixture_value(cls: type, name: str, instance: Any, default: Any = None) -> Any:
    """Call a class-scoped pytest fixture method of a dbt-tests-adapter base class directly."""
    attr = getattr(cls, name, None)
    if attr is None:
        return default
    func = getattr(attr, "__wrapped__", attr)
    params = list(inspect.signature(func).parameters)
    if params != ["self"]:
        raise TypeError(f"{cls.__name__}.{name} needs fixtures {params[1:]}; not supported")
    return func(instance)


def seed_column_types(project_config: dict, seed_name: str) -> dict[str, str]:
    """`+column_types` for a seed from a base class's project_config_update."""
    found: dict[str, str] = {}
    for project_seeds in (project_config.get("seeds") or {}).values():
        if isinstance(project_seeds, dict):
            cfg = project_seeds.get(seed_name) or {}
            found.update(cfg.get("+column_types") or cfg.get("column_types") or {})
    return found


def seed_yml_column_types(yml_text: str) -> dict[str, dict[str, str]]:
    doc = yaml.safe_load(yml_text) or {}
    out = {}
    for seed in doc.get("seeds") or []:
        out[seed["name"]] = (seed.get("config") or {}).get("column_types") or {}
    return out


def relations_equal_test(actual: str, expected: str, columns: list[str]) -> str:
    """Singular test: `check_relations_equal` + column-type equality, over ephemeral models.

    Types are compared on one anchor row left-joined to (at most) one row of each side, so they
    are compared even when a side has no rows (arrow_typeof of the NULL is the column's type)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    type_checks = "\n".join(
        f"""union all
select 'type of {c}: ' || arrow_typeof(a."{c}") || ' vs expected ' || arrow_typeof(e."{c}") as problem
from (select 1 as anchor) one_row
left join (select * from {{{{ ref('{actual}') }}}} limit 1) a on true
left join (select * from {{{{ ref('{expected}') }}}} limit 1) e on true
where arrow_typeof(a."{c}") <> arrow_typeof(e."{c}")"""
        for c in columns
    )
    return f"""
select 'row only in actual' as problem from (
    select {cols} from {{{{ ref('{actual}') }}}}
    except
    select {cols} from {{{{ ref('{expected}') }}}}
) only_actual
union all
select 'row only in expected' as problem from (
    select {cols} from {{{{ ref('{expected}') }}}}
    except
    select {cols} from {{{{ ref('{actual}') }}}}
) only_expected
{type_checks}
"""


class EphemeralBatchProject:
    """One dbt project on disk holding the files of many test classes; `run` invokes dbt."""

    def __init__(self, root: Path, profile_target: dict, name: str = "amp_batch"):
        self.root = Path(root)
        self.name = name
        self.profile_target = profile_target
        self.models: dict[str, str] = {}
        self.macros: dict[str, str] = {}
        self.tests: dict[str, str] = {}
        self.owners: dict[str, set[str]] = {}  # owner (test class) -> model/test names

    def own(self, owner: str, name: str) -> None:
        self.owners.setdefault(owner, set()).add(name)

    def add_model(self, owner: str, filename: str, text: str) -> None:
        key = filename
        if key in self.models and self.models[key] != text:
            raise ValueError(f"{owner}: model file {filename} already added by another class")
        self.models[key] = text
        if filename.endswith(".sql"):
            self.own(owner, filename[:-4])

    def add_macro(self, filename: str, text: str) -> None:
        if filename in self.macros and self.macros[filename] != text:
            raise ValueError(f"macro file {filename} differs between classes")
        self.macros[filename] = text

    def add_test(self, owner: str, filename: str, text: str) -> None:
        self.tests[filename] = text
        self.own(owner, filename[:-4])

    def write(self, extra_project_config: dict | None = None) -> None:
        project = {
            "name": self.name,
            "version": "1.0",
            "config-version": 2,
            "profile": "test",
            "models": {self.name: {"+materialized": "ephemeral"}},
            "flags": {"send_anonymous_usage_stats": False},
        }
        project.update(extra_project_config or {})
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "dbt_project.yml").write_text(yaml.safe_dump(project))
        profiles = {"test": {"target": "default", "outputs": {"default": self.profile_target}}}
        (self.root / "profiles.yml").write_text(yaml.safe_dump(profiles))
        for folder, files in (
            ("models", self.models),
            ("macros", self.macros),
            ("tests", self.tests),
        ):
            for filename, text in files.items():
                path = self.root / folder / filename
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)

    def run(self, *args: str, expect_pass: bool | None = None):
        return run_dbt(
            [*args, "--project-dir", str(self.root), "--profiles-dir", str(self.root)],
            expect_pass=expect_pass,
        )


class BuildResults:
    """Results of one `dbt build` over a batch project, looked up by owning test class."""

    def __init__(self, project: EphemeralBatchProject, results):
        self.project = project
        self.by_name: dict[str, list] = {}
        for result in results or []:
            node = result.node
            names = {node.name}
            attached = getattr(node, "attached_node", None)
            if attached:
                names.add(attached.split(".")[-1])
            for dep in getattr(node.depends_on, "nodes", []) or []:
                names.add(dep.split(".")[-1])
            for name in names:
                self.by_name.setdefault(name, []).append(result)

    def for_owner(self, owner: str) -> list:
        seen: dict[str, Any] = {}
        for name in self.project.owners.get(owner, ()):
            for result in self.by_name.get(name, []):
                seen[result.node.unique_id] = result
        return list(seen.values())

    def assert_passed(self, owner: str, min_tests: int = 1) -> None:
        results = [r for r in self.for_owner(owner) if r.node.resource_type == "test"]
        assert len(results) >= min_tests, (
            f"{owner}: expected at least {min_tests} data test(s), got "
            f"{[r.node.unique_id for r in results]}"
        )
        failed = [r for r in results if str(r.status) != "pass"]
        assert not failed, f"{owner}: " + "; ".join(
            f"{r.node.unique_id}: {r.status} {r.message} (compiled SQL under "
            f"{self.project.root}/target/)"
            for r in failed
        )
