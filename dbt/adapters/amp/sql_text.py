"""Handling of SQL text that dbt-amp needs before sending it (no parsing beyond quotes/comments)."""

from __future__ import annotations


def strip_trailing_comments(sql: str) -> str:
    """`sql` without trailing whitespace, `;`, `-- ...` and `/* ... */` comments (a `--` or `/*`
    inside a string literal or a quoted identifier is text, not a comment)."""
    while True:
        end, i, n = 0, 0, len(sql)
        while i < n:
            ch = sql[i]
            if ch in ("'", '"'):  # a literal or a quoted identifier; '' and "" escape the quote
                j = i + 1
                while j < n:
                    if sql[j] == ch:
                        if j + 1 < n and sql[j + 1] == ch:
                            j += 2
                            continue
                        break
                    j += 1
                i = j + 1
                end = min(i, n)
            elif sql.startswith("--", i):
                newline = sql.find("\n", i)
                i = n if newline < 0 else newline + 1
            elif sql.startswith("/*", i):
                close = sql.find("*/", i + 2)
                i = n if close < 0 else close + 2
            else:
                if not ch.isspace():
                    end = i + 1
                i += 1
        stripped = sql[:end].rstrip().rstrip(";").rstrip()
        if stripped == sql:
            return sql
        sql = stripped
