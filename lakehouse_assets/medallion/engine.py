"""The typing engine behind every layer: DuckDB over Arrow, imported only when used.

DuckDB parses JSON arrays several times faster than ``json`` or ``pandas.read_json`` (and
without building a Python object per value), scans Arrow tables without copying them, and
hands results back as Arrow. It is imported inside the functions that use it so importing the
code location stays cheap.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Ceiling for one transform's working memory; DuckDB spills to temporary files beyond it.
MEMORY_LIMIT = "1GB"
#: Rows per record batch (and Parquet row group) when a result is streamed to a file.
ROWS_PER_BATCH = 1 << 17


def spill_directory() -> Path:
    """Where DuckDB spills beyond its memory limit: the system's temporary directory (DuckDB's
    own default is ``.tmp`` under the working directory, which a deployment may not let us
    write), one folder per process."""
    return Path(tempfile.gettempdir()) / f"lakehouse-duckdb-{os.getpid()}"


def connect(*, large_strings: bool = True) -> duckdb.DuckDBPyConnection:
    """A private in-memory database in UTC; strings exported as ``large_string`` (pandas'
    choice, so silver's schema is the same whichever path typed it) unless told otherwise."""
    import duckdb

    connection = duckdb.connect(
        config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill_directory())}
    )
    connection.execute(f"SET arrow_large_buffer_size = {str(large_strings).lower()}")
    connection.execute("SET preserve_insertion_order = true")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def repeat(value: pa.Scalar, length: int, chunk_rows: int = 1 << 16) -> pa.ChunkedArray:
    """``value`` ``length`` times, as one shared chunk listed over and over.

    A constant column (the snapshot a table came from) then costs one chunk of memory however
    many rows the table has, instead of ``length`` copies of its text.
    """
    import pyarrow as pa

    if length <= chunk_rows:
        return pa.chunked_array([pa.repeat(value, length)], type=value.type)
    block = pa.repeat(value, chunk_rows)
    full, rest = divmod(length, chunk_rows)
    chunks = [block] * full + ([block.slice(0, rest)] if rest else [])
    return pa.chunked_array(chunks, type=value.type)


def release_memory() -> None:
    """Hand memory Arrow's pool keeps for reuse back to the system between steps."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


#: Type of a column holding one value for a whole table (the snapshot a table came from).
def constant_text_type() -> pa.DataType:
    import pyarrow as pa

    return pa.dictionary(pa.int32(), pa.string())


def constant_text(value: str, length: int) -> pa.ChunkedArray:
    """``value`` ``length`` times, dictionary-encoded over shared chunks of zero indices."""
    import pyarrow as pa

    indices = repeat(pa.scalar(0, pa.int32()), length)
    values = pa.array([value], type=pa.string())
    return pa.chunked_array(
        [pa.DictionaryArray.from_arrays(chunk, values) for chunk in indices.chunks],
        type=constant_text_type(),
    )


def constant_text_array(value: str, length: int) -> pa.Array:
    """:func:`constant_text` as one array, for a record batch."""
    import pyarrow as pa

    indices = pa.repeat(pa.scalar(0, pa.int32()), length)
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], type=pa.string()))


def as_constant_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Any text column in the dictionary-encoded form (``constant_text_type``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    encoded = pc.dictionary_encode(column.cast(pa.string()))
    if isinstance(encoded, pa.Array):
        encoded = pa.chunked_array([encoded])
    return encoded.cast(constant_text_type())
