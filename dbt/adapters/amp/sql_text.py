"""Handling of SQL text that dbt-amp needs before sending it (no parsing beyond quotes/comments)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

Token = Literal["code", "string", "identifier", "comment"]


def scan_sql(sql: str) -> Iterator[tuple[Token, int, int]]:
    """Split `sql` into spans: plain code, '…' literals, "…" quoted identifiers, comments.

    `''` / `""` inside a literal / identifier escape the quote; `--` and `/* */` inside them are
    text. Spans are contiguous and cover `sql` (an unterminated one runs to the end)."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in ("'", '"') or sql.startswith(("--", "/*"), i):
            if start < i:
                yield "code", start, i
            if ch in ("'", '"'):
                j = i + 1
                while j < n:
                    if sql[j] == ch:
                        if j + 1 < n and sql[j + 1] == ch:
                            j += 2
                            continue
                        break
                    j += 1
                end = min(j + 1, n)
                yield ("string" if ch == "'" else "identifier"), i, end
            elif sql.startswith("--", i):
                newline = sql.find("\n", i)
                end = n if newline < 0 else newline + 1
                yield "comment", i, end
            else:
                close = sql.find("*/", i + 2)
                end = n if close < 0 else close + 2
                yield "comment", i, end
            i = start = end
        else:
            i += 1
    if start < n:
        yield "code", start, n


def strip_trailing_comments(sql: str) -> str:
    """`sql` without trailing whitespace, `;`, `-- ...` and `/* ... */` comments (a `--` or `/*`
    inside a string literal or a quoted identifier is text, not a comment)."""
    while True:
        end = 0
        for kind, start, stop in scan_sql(sql):
            if kind in ("string", "identifier"):
                end = stop
            elif kind == "code":
                text = sql[start:stop].rstrip()
                if text:
                    end = start + len(text)
        stripped = sql[:end].rstrip().rstrip(";").rstrip()
        if stripped == sql:
            return sql
        sql = stripped


def columns_kept_sql(sql: str) -> str:
    """`sql` left-joined to a one-row relation, so its columns survive when it has no rows.

    Amp plans a query without running it and always returns its columns. Flight SQL servers that
    run the query to answer GetFlightInfo (roapi) return a schema without columns for an empty
    result; with the join there is always one row (of NULLs), and the types are the query's."""
    return (
        "select dbt_amp_columns.* from (select 1 as dbt_amp_anchor) as dbt_amp_anchor_row\n"
        f"left join (\n{strip_trailing_comments(sql)}\n) as dbt_amp_columns on true"
    )
