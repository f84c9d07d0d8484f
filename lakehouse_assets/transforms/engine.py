"""The columnar engine behind the transforms: DuckDB over Arrow, imported only when used.

DuckDB parses JSON arrays several times faster than ``json`` or ``pandas.read_json`` (and
without building a Python object per value), scans Arrow tables without copying them, and
hands results back as Arrow. It is imported inside the functions that use it so importing the
code location stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

#: Ceiling for one transform's working memory; DuckDB spills to temporary files beyond it.
MEMORY_LIMIT = "1GB"


def connect(*, large_strings: bool = True) -> duckdb.DuckDBPyConnection:
    """A private in-memory database in UTC; strings exported as ``large_string`` (pandas'
    choice, so silver's schema is the same whichever path typed it) unless told otherwise."""
    import duckdb

    connection = duckdb.connect(config={"memory_limit": MEMORY_LIMIT})
    connection.execute(f"SET arrow_large_buffer_size = {str(large_strings).lower()}")
    connection.execute("SET preserve_insertion_order = true")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"
