"""Amp's incrementalizability rule (PROTOCOL §2.5) on DataFusion plans."""

from __future__ import annotations

import pytest
from datafusion import SessionContext

from amp_local.incremental import NonIncremental, check_incremental


@pytest.fixture(scope="module")
def ctx():
    ctx = SessionContext()
    ctx.sql("CREATE TABLE t AS SELECT CAST(1 AS BIGINT UNSIGNED) AS _block_num, 2 AS x")
    return ctx


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT x FROM t WHERE x > 1",
        "WITH a AS (SELECT * FROM t) SELECT * FROM a",
        "SELECT x FROM t UNION ALL SELECT x FROM t",
        "SELECT * FROM t JOIN t u ON t.x = u.x",
        "SELECT _block_num, count(*) FROM t GROUP BY _block_num, x",
        "SELECT DISTINCT ON (_block_num) x FROM t",
        "SELECT x FROM t WHERE x IN (SELECT x FROM t)",
    ],
)
def test_incremental_plans_pass(ctx, sql):
    check_incremental(ctx.sql(sql).logical_plan())


@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        ("SELECT x FROM t LIMIT 1", "Limit"),
        ("SELECT x FROM t ORDER BY x", "Sort"),
        ("SELECT DISTINCT x FROM t", "Distinct"),
        ("SELECT DISTINCT ON (x) x FROM t", "Distinct"),
        ("SELECT x, count(*) FROM t GROUP BY x", "Aggregate"),
        ("SELECT row_number() OVER () FROM t", "Window"),
        ("SELECT * FROM t LEFT JOIN t u ON t.x = u.x", "Join(Left)"),
        ("SELECT * FROM t JOIN t u ON t.x = u.x JOIN t v ON v.x = t.x", "StackedJoins"),
    ],
)
def test_non_incremental_plans_name_the_operation(ctx, sql, operation):
    with pytest.raises(NonIncremental) as info:
        check_incremental(ctx.sql(sql).logical_plan())
    assert str(info.value) == f"query contains non-incremental operation: {operation}"
