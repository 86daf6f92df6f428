"""dbt's cross-database macros on Amp, with dbt-tests-adapter's `utils` suites.

Why the fixtures are rewritten (details in `ephemeral_batch.py`): the base classes seed CSVs and
build tables, and Amp is read-only for clients. Every seed becomes an ephemeral model of the same
name with the same rows and (inferred or configured) types, every model is ephemeral, and the
bases' own data tests (`assert_equal`) run over the inlined CTEs; table comparisons
(`check_relations_equal`, `get_relation_columns`) become singular tests comparing rows both ways
and `arrow_typeof()` per column. The bases' model SQL and expected values are kept unchanged, so
these tests fail when a macro is wrong.

All classes of this module share one dbt project and one `dbt build` (plus one `dbt show` for
current_timestamp); each class asserts on its own nodes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from dbt.tests.adapter.utils import fixture_get_intervals_between
from dbt.tests.adapter.utils.data_types.test_type_bigint import BaseTypeBigInt
from dbt.tests.adapter.utils.data_types.test_type_boolean import BaseTypeBoolean
from dbt.tests.adapter.utils.data_types.test_type_float import BaseTypeFloat
from dbt.tests.adapter.utils.data_types.test_type_int import BaseTypeInt
from dbt.tests.adapter.utils.data_types.test_type_numeric import BaseTypeNumeric
from dbt.tests.adapter.utils.data_types.test_type_string import BaseTypeString
from dbt.tests.adapter.utils.data_types.test_type_timestamp import BaseTypeTimestamp
from dbt.tests.adapter.utils.test_any_value import BaseAnyValue
from dbt.tests.adapter.utils.test_array_append import BaseArrayAppend
from dbt.tests.adapter.utils.test_array_concat import BaseArrayConcat
from dbt.tests.adapter.utils.test_array_construct import BaseArrayConstruct
from dbt.tests.adapter.utils.test_bool_or import BaseBoolOr
from dbt.tests.adapter.utils.test_cast import BaseCast
from dbt.tests.adapter.utils.test_cast_bool_to_text import BaseCastBoolToText
from dbt.tests.adapter.utils.test_concat import BaseConcat
from dbt.tests.adapter.utils.test_current_timestamp import BaseCurrentTimestampAware
from dbt.tests.adapter.utils.test_date import BaseDate
from dbt.tests.adapter.utils.test_date_spine import BaseDateSpine
from dbt.tests.adapter.utils.test_date_trunc import BaseDateTrunc
from dbt.tests.adapter.utils.test_dateadd import BaseDateAdd
from dbt.tests.adapter.utils.test_datediff import BaseDateDiff
from dbt.tests.adapter.utils.test_equals import BaseEquals
from dbt.tests.adapter.utils.test_escape_single_quotes import BaseEscapeSingleQuotesQuote
from dbt.tests.adapter.utils.test_except import BaseExcept
from dbt.tests.adapter.utils.test_generate_series import BaseGenerateSeries
from dbt.tests.adapter.utils.test_get_intervals_between import BaseGetIntervalsBetween
from dbt.tests.adapter.utils.test_get_powers_of_two import BaseGetPowersOfTwo
from dbt.tests.adapter.utils.test_hash import BaseHash
from dbt.tests.adapter.utils.test_intersect import BaseIntersect
from dbt.tests.adapter.utils.test_last_day import BaseLastDay
from dbt.tests.adapter.utils.test_length import BaseLength
from dbt.tests.adapter.utils.test_listagg import BaseListagg
from dbt.tests.adapter.utils.test_null_compare import BaseMixedNullCompare, BaseNullCompare
from dbt.tests.adapter.utils.test_position import BasePosition
from dbt.tests.adapter.utils.test_replace import BaseReplace
from dbt.tests.adapter.utils.test_right import BaseRight
from dbt.tests.adapter.utils.test_safe_cast import BaseSafeCast
from dbt.tests.adapter.utils.test_split_part import BaseSplitPart
from dbt.tests.adapter.utils.test_string_literal import BaseStringLiteral

from tests.functional.adapter.ephemeral_batch import (
    BuildResults,
    EphemeralBatchProject,
    fixture_value,
    relations_equal_test,
    seed_column_types,
    seed_csv_to_sql,
    seed_yml_column_types,
)
from tests.profiles import amp_target

BATCH: list[type] = []  # the test classes of this module, in definition order


class AmpUtilsBatch:
    """Mixin: contribute this class's fixtures to the module's one batch project."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("Test"):
            BATCH.append(cls)

    @classmethod
    def contribute(cls, project: EphemeralBatchProject) -> None:
        owner = cls.__name__
        instance = cls()
        models = dict(fixture_value(cls, "models", instance, {}) or {})
        seeds = dict(fixture_value(cls, "seeds", instance, {}) or {})
        macros = fixture_value(cls, "macros", instance, {}) or {}
        config = fixture_value(cls, "project_config_update", instance, {}) or {}
        yml_types: dict[str, dict[str, str]] = {}
        for name, text in list(seeds.items()):
            if name.endswith((".yml", ".yaml")):
                yml_types.update(seed_yml_column_types(text))
                del seeds[name]
        renames = cls.renames()
        for name, text in seeds.items():
            seed = name.rsplit(".", 1)[0]
            types = {**seed_column_types(config, seed), **yml_types.get(seed, {})}
            types.update(cls.seed_types().get(seed, {}))
            model = renames.get(seed, seed)
            project.add_model(owner, f"{model}.sql", seed_csv_to_sql(text, types))
        for name, text in models.items():
            stem, _, ext = name.rpartition(".")
            project.add_model(owner, f"{renames.get(stem, stem)}.{ext}", text)
        for name, text in macros.items():
            project.add_macro(name, text)
        for name, text in cls.singular_tests().items():
            project.add_test(owner, name, text)

    @classmethod
    def renames(cls) -> dict[str, str]:
        return {}

    @classmethod
    def seed_types(cls) -> dict[str, dict[str, str]]:
        return {}

    @classmethod
    def singular_tests(cls) -> dict[str, str]:
        return {}

    def test_build_assert_equal(self, utils_build):
        utils_build.assert_passed(type(self).__name__)


class AmpRelationsEqual(AmpUtilsBatch):
    """Bases that compare `actual` and `expected` tables (contents and column types)."""

    columns: list[str] = []
    expected_arrow_type: str | None = None  # the type the seeded `expected` column gets

    @classmethod
    def prefix(cls) -> str:
        return cls.__name__.removeprefix("Test").lower()

    @classmethod
    def renames(cls) -> dict[str, str]:
        return {"actual": f"{cls.prefix()}_actual", "expected": f"{cls.prefix()}_expected"}

    @classmethod
    def seed_types(cls) -> dict[str, dict[str, str]]:
        if not cls.expected_arrow_type:
            return {}
        return {"expected": {c: f"arrow:{cls.expected_arrow_type}" for c in cls.columns}}

    @classmethod
    def singular_tests(cls) -> dict[str, str]:
        p = cls.prefix()
        return {
            f"{p}_relations_equal.sql": relations_equal_test(
                f"{p}_actual", f"{p}_expected", cls.columns
            )
        }

    test_build_assert_equal = None  # the bases' own method names are used instead


class AmpTypeCheck(AmpRelationsEqual):
    def test_check_types_assert_match(self, utils_build):
        utils_build.assert_passed(type(self).__name__)


class AmpArrayCheck(AmpRelationsEqual):
    def test_expected_actual(self, utils_build):
        utils_build.assert_passed(type(self).__name__)


@pytest.fixture(scope="module")
def utils_build(amp_server, tmp_path_factory) -> BuildResults:
    profile = amp_target(amp_server)
    project = EphemeralBatchProject(tmp_path_factory.mktemp("utils_batch"), profile)
    for cls in BATCH:
        cls.contribute(project)
    project.write()
    results = project.run("build", expect_pass=None)
    return BuildResults(project, results)


# --- assert_equal suites: the bases' models, data tests and expected values, unchanged ---------


class TestAnyValue(AmpUtilsBatch, BaseAnyValue):
    pass


class TestBoolOr(AmpUtilsBatch, BaseBoolOr):
    pass


class TestCast(AmpUtilsBatch, BaseCast):
    pass


class TestCastBoolToText(AmpUtilsBatch, BaseCastBoolToText):
    pass


class TestConcat(AmpUtilsBatch, BaseConcat):
    pass


class TestDate(AmpUtilsBatch, BaseDate):
    pass


class TestDateAdd(AmpUtilsBatch, BaseDateAdd):
    pass


class TestDateDiff(AmpUtilsBatch, BaseDateDiff):
    pass


class TestDateSpine(AmpUtilsBatch, BaseDateSpine):
    pass


class TestDateTrunc(AmpUtilsBatch, BaseDateTrunc):
    pass


class TestEscapeSingleQuotes(AmpUtilsBatch, BaseEscapeSingleQuotesQuote):
    pass


class TestGenerateSeries(AmpUtilsBatch, BaseGenerateSeries):
    pass


class TestGetIntervalsBetween(AmpUtilsBatch, BaseGetIntervalsBetween):
    """The base's non-Postgres branch passes US dates ('09/01/2023'), which DataFusion cannot
    cast to a timestamp; the same dates in ISO form, same expected value (11)."""

    @pytest.fixture(scope="class")
    def models(self):
        sql = fixture_get_intervals_between.models__test_get_intervals_between_sql
        sql = sql.replace("'09/01/2023'", "'2023-09-01'").replace("'09/12/2023'", "'2023-09-12'")
        return {
            "test_get_intervals_between.yml": (
                fixture_get_intervals_between.models__test_get_intervals_between_yml
            ),
            "test_get_intervals_between.sql": sql,
        }


class TestGetPowersOfTwo(AmpUtilsBatch, BaseGetPowersOfTwo):
    """The base's yml names a model `test_powers_of_two` that does not exist (its file is
    test_get_powers_of_two.sql), so upstream nothing is asserted; the same check as a singular test."""

    @classmethod
    def singular_tests(cls):
        return {
            "get_powers_of_two_equal.sql": (
                "select * from {{ ref('test_get_powers_of_two') }} where actual <> expected"
            )
        }


class TestHash(AmpUtilsBatch, BaseHash):
    pass


class TestLastDay(AmpUtilsBatch, BaseLastDay):
    pass


class TestLength(AmpUtilsBatch, BaseLength):
    pass


class TestListagg(AmpUtilsBatch, BaseListagg):
    pass


class TestNullCompare(AmpUtilsBatch, BaseNullCompare):
    pass


class TestMixedNullCompare(AmpUtilsBatch, BaseMixedNullCompare):
    """The base expects its assert_equal test to fail (1 vs null)."""

    def test_build_assert_equal(self, utils_build):
        results = [
            r for r in utils_build.for_owner(type(self).__name__) if r.node.resource_type == "test"
        ]
        assert results and all(str(r.status) == "fail" for r in results), [
            (r.node.unique_id, str(r.status)) for r in results
        ]


class TestPosition(AmpUtilsBatch, BasePosition):
    pass


class TestReplace(AmpUtilsBatch, BaseReplace):
    pass


class TestRight(AmpUtilsBatch, BaseRight):
    pass


class TestSafeCast(AmpUtilsBatch, BaseSafeCast):
    pass


class TestAmpSafeCast(AmpUtilsBatch):
    """safe_cast to the Arrow type names dbt-amp reports: NULL, never an error, for values that
    do not convert (TRY_CAST twins for simple names, a checked arrow_cast for timestamps and
    FixedSizeBinary, compile-time checks of '0x…' literals); the types are the named ones."""

    @classmethod
    def singular_tests(cls):
        addr = "'0x" + "ab" * 20 + "'"
        ts_utc = "'Timestamp(Nanosecond, Some(\"+00:00\"))'"
        return {
            "amp_safe_cast_nulls.sql": f"""
select 'not null: ' || what as problem from (
    select 'abc Int64' as what, {{{{ dbt.safe_cast("'abc'", 'Int64') }}}} is null as ok
    union all select '-1 UInt64', {{{{ dbt.safe_cast("'-1'", 'UInt64') }}}} is null
    union all select '300 UInt8', {{{{ dbt.safe_cast("'300'", 'UInt8') }}}} is null
    union all select 'text Float64', {{{{ dbt.safe_cast("'x'", 'Float64') }}}} is null
    union all select '1e100 Decimal128', {{{{ dbt.safe_cast("'1e100'", 'Decimal128(38, 0)') }}}} is null
    union all select 'not a time', {{{{ dbt.safe_cast("'not a time'", {ts_utc}) }}}} is null
    union all select 'not a time naive', {{{{ dbt.safe_cast("'not a time'", 'Timestamp(Nanosecond, None)') }}}} is null
    union all select 'not a time us', {{{{ dbt.safe_cast("'not a time'", 'Timestamp(Microsecond, None)') }}}} is null
    union all select 'odd hex bytea', {{{{ dbt.safe_cast("'0xabc'", 'bytea') }}}} is null
    union all select 'odd hex Binary', {{{{ dbt.safe_cast("'0xabc'", 'Binary') }}}} is null
    union all select 'short hex FSB', {{{{ dbt.safe_cast("'0x1234'", 'FixedSizeBinary(20)') }}}} is null
    union all select 'text FSB', {{{{ dbt.safe_cast("'abcd'", 'FixedSizeBinary(20)') }}}} is null
    union all select 'null list', {{{{ dbt.safe_cast("null", 'List(Struct("a": Int64))') }}}} is null
) checks
where not ok or ok is null
union all
-- columns: per row, NULL for the values that do not convert and the value for the others
select 'column ' || what from (
    select 'Int64' as what, count(*) filter (where c is null) = 1 and sum(c) = 5 as ok
    from (select {{{{ dbt.safe_cast('v', 'Int64') }}}} as c from (values ('abc'), ('5')) t(v)) x
    union all
    select 'Timestamp', count(*) filter (where c is null) = 1
        and max(c) = arrow_cast('2024-01-01T00:00:00Z', {ts_utc})
    from (select {{{{ dbt.safe_cast('v', {ts_utc}) }}}} as c
          from (values ('2024-01-01T00:00:00Z'), ('nope')) t(v)) x
    union all
    select 'FixedSizeBinary', count(*) filter (where c is null) = 1 and max(c) = arrow_cast(decode('616263', 'hex'), 'FixedSizeBinary(3)')
    from (select {{{{ dbt.safe_cast('v', 'FixedSizeBinary(3)') }}}} as c from (values ('abc'), ('abcd')) t(v)) x
) checks
where not ok or ok is null
""",
            "amp_safe_cast_values.sql": f"""
with v as (
    select
        {{{{ dbt.safe_cast("'5'", 'Int64') }}}} as i64,
        {{{{ dbt.safe_cast("'5'", 'UInt64') }}}} as u64,
        {{{{ dbt.safe_cast("'2.5'", 'Float64') }}}} as f64,
        {{{{ dbt.safe_cast("'x'", 'Utf8') }}}} as utf8,
        {{{{ dbt.safe_cast("'1.5'", 'Decimal256(38, 2)') }}}} as d256,
        {{{{ dbt.safe_cast("'2024-01-01 00:00:00'", {ts_utc}) }}}} as ts,
        {{{{ dbt.safe_cast("'2024-02-29'", 'Date32') }}}} as d,
        {{{{ dbt.safe_cast("{addr}", 'FixedSizeBinary(20)') }}}} as fsb,
        {{{{ dbt.safe_cast("'0x1234'", 'bytea') }}}} as bin,
        {{{{ dbt.safe_cast("null", 'List(Struct("a": Int64))') }}}} as lst
)
select 'values' as problem from v
where i64 <> 5 or u64 <> 5 or f64 <> 2.5 or utf8 <> 'x' or d256 <> 1.5
   or ts <> arrow_cast('2024-01-01T00:00:00Z', {ts_utc}) or d <> date '2024-02-29'
   or fsb <> evm_encode_hex({addr}) or bin <> decode('1234', 'hex')
union all
select 'types' from v
where arrow_typeof(i64) <> 'Int64' or arrow_typeof(u64) <> 'UInt64'
   or arrow_typeof(f64) <> 'Float64' or arrow_typeof(utf8) <> 'Utf8'
   or arrow_typeof(d256) <> 'Decimal256(38, 2)' or arrow_typeof(ts) <> 'Timestamp(ns, "+00:00")'
   or arrow_typeof(d) <> 'Date32' or arrow_typeof(fsb) <> 'FixedSizeBinary(20)'
   or arrow_typeof(bin) <> 'Binary' or arrow_typeof(lst) not like 'List(%'
""",
        }


def _date_math_cases() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(dateadd call, expected 'YYYY-MM-DD HH:MM:SS'), (datediff call, expected int)."""
    from datetime import date

    # a block timestamp (the \" are Jinja escapes: the calls below are Jinja string arguments)
    block_ts = r"""arrow_cast('{}', 'Timestamp(Nanosecond, Some(\"+00:00\"))')"""
    far_days = (date(9999, 12, 31) - date(2024, 1, 1)).days
    adds = [
        ("dateadd('year', 100, \"'2200-01-01'\")", "2300-01-01 00:00:00"),
        ("dateadd('day', 1, \"'9999-12-30'\")", "9999-12-31 00:00:00"),
        ("dateadd('day', -1, \"'9999-12-31'\")", "9999-12-30 00:00:00"),
        ("dateadd('month', 1, \"'2024-01-31'\")", "2024-02-29 00:00:00"),
        ("dateadd('month', -1, \"'2024-03-31'\")", "2024-02-29 00:00:00"),
        ("dateadd('month', 1, \"'2023-01-31'\")", "2023-02-28 00:00:00"),
        ("dateadd('year', 1, \"'2024-02-29'\")", "2025-02-28 00:00:00"),
        ("dateadd('quarter', 1, \"'2023-11-30'\")", "2024-02-29 00:00:00"),
        ("dateadd('quarter', -4, \"'9999-12-31'\")", "9998-12-31 00:00:00"),
        ("dateadd('week', -2, \"'2024-01-10'\")", "2023-12-27 00:00:00"),
        ("dateadd('day', -1, \"'1600-03-01'\")", "1600-02-29 00:00:00"),
        ("dateadd('hour', 5, \"cast('2024-01-01' as date)\")", "2024-01-01 05:00:00"),
        (
            f"dateadd('hour', 5, \"{block_ts.format('2024-01-01T22:00:00Z')}\")",
            "2024-01-02 03:00:00",
        ),
        (
            f"dateadd('day', -1, \"{block_ts.format('2024-03-01T00:00:00Z')}\")",
            "2024-02-29 00:00:00",
        ),
    ]
    diffs = [
        ("datediff(\"'2024-01-01'\", \"'9999-12-31'\", 'day')", str(far_days)),
        ("datediff(\"'9999-12-31'\", \"'2024-01-01'\", 'day')", str(-far_days)),
        ("datediff(\"'2024-01-01'\", \"'9999-12-31'\", 'year')", "7975"),
        ("datediff(\"'2024-01-01'\", \"'9999-12-31'\", 'quarter')", str(7975 * 4 + 3)),
        ("datediff(\"'2024-01-01'\", \"'9999-12-31'\", 'month')", str(7975 * 12 + 11)),
        ("datediff(\"'9999-12-31'\", \"'2024-01-01'\", 'month')", str(-(7975 * 12 + 11))),
        # 2024-01-01 is a Monday and 9999-12-31 a Friday: whole weeks, no extra boundary
        ("datediff(\"'2024-01-01'\", \"'9999-12-31'\", 'week')", str(far_days // 7)),
        ("datediff(\"'2024-01-01'\", \"'2024-01-15'\", 'week')", "2"),
        ("datediff(\"'2024-01-31'\", \"'2024-03-01'\", 'month')", "2"),
        ("datediff(\"'2024-02-28'\", \"'2024-03-01'\", 'day')", "2"),
        ("datediff(\"'2023-02-28'\", \"'2023-03-01'\", 'day')", "1"),
        ("datediff(\"'2024-03-31'\", \"'2024-04-01'\", 'quarter')", "1"),
        ("datediff(\"'1969-12-31 22:59:59'\", \"'1969-12-31 23:00:00'\", 'hour')", "1"),
        ("datediff(\"'1969-12-31 23:30:00'\", \"'1970-01-01 00:10:00'\", 'hour')", "1"),
        ("datediff(\"'1969-12-31 23:30:00'\", \"'1969-12-31 23:10:00'\", 'hour')", "0"),
        (
            "datediff(\"'9999-12-31 00:00:00'\", \"'9999-12-31 00:00:01.5'\", 'millisecond')",
            "1500",
        ),
        (
            "datediff(\"'9999-12-31 00:00:00'\", \"'9999-12-31 00:00:01'\", 'microsecond')",
            "1000000",
        ),
        (
            f'datediff("{block_ts.format("2024-01-01T23:00:00Z")}", '
            f"\"{block_ts.format('2024-01-02T01:00:00Z')}\", 'day')",
            "1",
        ),
        (
            f'datediff("{block_ts.format("2024-01-01T23:00:00Z")}", '
            f"\"{block_ts.format('2024-01-02T01:00:00Z')}\", 'hour')",
            "2",
        ),
        (
            f"datediff(\"{block_ts.format('2024-01-01T23:00:00Z')}\", \"'9999-12-31'\", 'day')",
            str(far_days),
        ),
    ]
    return adds, diffs


class TestAmpDateMath(AmpUtilsBatch):
    """dateadd / datediff beyond DataFusion's nanosecond TIMESTAMP range (1677-2262), with
    negative amounts, month ends, leap years, quarters, weeks and tz-aware block timestamps."""

    @classmethod
    def singular_tests(cls):
        adds, diffs = _date_math_cases()
        rows = [
            f"select {i} as n, cast({{{{ {call} }}}} as varchar) as got, '{want}' as want"
            for i, (call, want) in enumerate(adds)
        ]
        rows += [
            f"select {100 + i}, cast({{{{ {call} }}}} as varchar), '{want}'"
            for i, (call, want) in enumerate(diffs)
        ]
        union = "\nunion all\n".join(rows)
        return {
            "amp_date_math.sql": f"""
select * from (
{union}
) cases
where replace(got, 'T', ' ') is distinct from want
"""
        }


class TestRelationsEqualChecksTypesOfEmptyRelations(AmpUtilsBatch):
    """The harness itself: relations_equal_test must catch a type difference when both sides
    are empty (the rows are trivially equal; the type check must not pass vacuously)."""

    @classmethod
    def singular_tests(cls):
        return {
            "harness_types_empty.sql": relations_equal_test("empty_int", "empty_bigint", ["id"])
        }

    @classmethod
    def contribute(cls, project):
        super().contribute(project)
        project.add_model(cls.__name__, "empty_int.sql", "select cast(1 as int) as id where false")
        project.add_model(
            cls.__name__, "empty_bigint.sql", "select cast(1 as bigint) as id where false"
        )

    def test_build_assert_equal(self, utils_build):
        results = [
            r for r in utils_build.for_owner(type(self).__name__) if r.node.resource_type == "test"
        ]
        assert [str(r.status) for r in results] == ["fail"], [
            (r.node.unique_id, str(r.status), r.message) for r in results
        ]


class TestSplitPart(AmpUtilsBatch, BaseSplitPart):
    pass


class TestStringLiteral(AmpUtilsBatch, BaseStringLiteral):
    pass


# --- suites that compare relations: rows both ways + column types, as singular tests ------------


class TestEquals(AmpUtilsBatch, BaseEquals):
    """The base counts rows of two built tables: 3 'same' rows, 6 'different' rows."""

    @classmethod
    def singular_tests(cls):
        return {
            "equals_counts.sql": """
select * from (
    select
        (select count(*) from {{ ref('equal_values') }} where expected = 'same') as same_rows,
        (select count(*) from {{ ref('not_equal_values') }} where expected = 'different') as different_rows
) counts
where same_rows <> 3 or different_rows <> 6
"""
        }

    test_build_assert_equal = None

    def test_equal_values(self, utils_build):
        utils_build.assert_passed(type(self).__name__)


class AmpSetOperation(AmpUtilsBatch):
    pairs: list[tuple[str, str]] = []

    @classmethod
    def singular_tests(cls):
        return {
            f"{actual}_equals_{expected}.sql": relations_equal_test(actual, expected, ["id"])
            for actual, expected in cls.pairs
        }


class TestExcept(AmpSetOperation, BaseExcept):
    pairs = [
        ("test_except_a_minus_b", "data_except_a_minus_b"),
        ("test_except_b_minus_a", "data_except_b_minus_a"),
        ("test_except_a_minus_a", "data_except_empty"),
        ("test_except_a_minus_empty", "data_except_a"),
        ("test_except_empty_minus_a", "data_except_empty"),
        ("test_except_empty_minus_empty", "data_except_empty"),
    ]


class TestIntersect(AmpSetOperation, BaseIntersect):
    pairs = [
        ("test_intersect_a_overlap_b", "data_intersect_a_overlap_b"),
        ("test_intersect_b_overlap_a", "data_intersect_a_overlap_b"),
        ("test_intersect_a_overlap_a", "data_intersect_a"),
        ("test_intersect_a_overlap_empty", "data_intersect_empty"),
        ("test_intersect_empty_overlap_a", "data_intersect_empty"),
        ("test_intersect_empty_overlap_empty", "data_intersect_empty"),
    ]


class TestArrayAppend(AmpArrayCheck, BaseArrayAppend):
    columns = ["id", "array_col"]


class TestArrayConcat(AmpArrayCheck, BaseArrayConcat):
    columns = ["id", "array_col"]


class TestArrayConstruct(AmpArrayCheck, BaseArrayConstruct):
    columns = ["id", "array_col"]


# type_* macros: the `expected` seed is typed with the Arrow type a DataFusion column of that
# SQL type has; the base's `actual` model casts with the macro under test.


class TestTypeString(AmpTypeCheck, BaseTypeString):
    columns = ["string_col"]
    expected_arrow_type = "Utf8View"


class TestTypeInt(AmpTypeCheck, BaseTypeInt):
    columns = ["int_col"]
    expected_arrow_type = "Int32"


class TestTypeBigInt(AmpTypeCheck, BaseTypeBigInt):
    columns = ["bigint_col"]


class TestTypeFloat(AmpTypeCheck, BaseTypeFloat):
    columns = ["float_col"]
    expected_arrow_type = "Float64"


class TestTypeNumeric(AmpTypeCheck, BaseTypeNumeric):
    columns = ["numeric_col"]
    expected_arrow_type = "Decimal128(28, 6)"


class TestTypeBoolean(AmpTypeCheck, BaseTypeBoolean):
    columns = ["boolean_col"]
    expected_arrow_type = "Boolean"


class TestTypeTimestamp(AmpTypeCheck, BaseTypeTimestamp):
    columns = ["timestamp_col"]
    expected_arrow_type = "Timestamp(Nanosecond, None)"


# --- current_timestamp: the value goes through the adapter to Python, as in the base ------------


class TestCurrentTimestamp(AmpUtilsBatch, BaseCurrentTimestampAware):
    """Amp's timestamps are UTC-aware (`Timestamp(ns, "+00:00")`, like block timestamps)."""

    @pytest.fixture(scope="class")
    def current_timestamp(self, utils_build):
        result = utils_build.project.run(
            "show",
            "--inline",
            "select current_ts_column from {{ ref('current_ts') }}",
            expect_pass=True,
        )
        value = result.results[0].agate_table.rows[0][0]
        if isinstance(value, str):  # agate may hand back text for exotic types
            value = datetime.fromisoformat(value)
        return value

    test_build_assert_equal = None  # no data test in this base: the checks are the base's two

    def test_current_timestamp_type(self, current_timestamp):
        super().test_current_timestamp_type(current_timestamp)

    def utcnow_matching_type(self, dt):
        return (
            datetime.now(timezone.utc)
            if dt.tzinfo
            else datetime.now(timezone.utc).replace(tzinfo=None)
        )
