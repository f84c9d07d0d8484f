"""DuckDB SQL in another engine's dialect: the one place SQL is transpiled (sqlglot).

The typing and gold SQL are written once, for DuckDB, the default engine. sqlglot rewrites them
for Spark and Trino (Athena); where it keeps a DuckDB function the target lacks, the function is
rewritten here on the syntax tree (never by editing text), and anything sqlglot cannot express
raises instead of producing SQL that means something else.
"""

from __future__ import annotations

from typing import Any

#: Dialects the engines speak (sqlglot names).
SOURCE_DIALECT = "duckdb"


class TranspileError(ValueError):
    """The SQL has no faithful translation into the target dialect."""


def _full_match_as_anchored_like(node: Any) -> Any:
    """DuckDB's ``regexp_full_match(text, pattern)``: a match anchored at both ends."""
    from sqlglot import exp

    full_match = getattr(exp, "RegexpFullMatch", None)
    if full_match is not None and isinstance(node, full_match):
        text, pattern = node.this, node.expression
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            raise TranspileError("regexp_full_match needs a literal pattern")
        anchored = exp.Literal.string(f"^(?:{pattern.this})$")
        return exp.RegexpLike(this=text, expression=anchored)
    return node


def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB) as one statement in ``dialect`` ("spark", "trino", "duckdb")."""
    import sqlglot
    from sqlglot.errors import ErrorLevel, SqlglotError

    try:
        tree = sqlglot.parse_one(sql, read=SOURCE_DIALECT)
        tree = tree.transform(_full_match_as_anchored_like)
        return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        raise TranspileError(f"no {dialect} form of the SQL: {error}") from None
