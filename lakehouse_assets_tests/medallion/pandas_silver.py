"""Test oracles: the pandas silver path and the in-memory Arrow path, kept beside the tests.

The package types every table with the streamed DuckDB engine
(:func:`lakehouse_assets.medallion.silver.write_silver_file`); these independent
implementations of the same rules are what its tests compare it with.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_assets.medallion.bronze import (
    _exact_bronze_table,
    _with_ingestion,
    _with_text_columns,
)
from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.engine import connect, release_memory
from lakehouse_assets.medallion.silver import ROW, SilverReport, _constant, _Input, _silver
from lakehouse_assets.medallion.text_rules import (
    DATETIME_TEXT,
    INGESTION_COLUMNS,
    INTEGER_TEXT,
    ZERO_DATE_TEXT,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def _text(series: pd.Series) -> pd.Series:
    """Values as stripped strings; empty strings are missing (PHP's way of writing NULL)."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def coerce_integers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers from strings like ``"12"`` or ``"12.0"``; returns (values, unparseable mask)."""
    import pandas as pd

    text = _text(series)
    valid = text.str.fullmatch(INTEGER_TEXT).fillna(False).astype(bool)
    bad = text.notna() & ~valid
    numbers = pd.to_numeric(text.where(valid).str.replace(r"\.0*$", "", regex=True))
    return numbers.astype("Int64"), bad


def coerce_datetimes(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Timestamps from MySQL text; returns (values, zero, impossible, unparseable) masks.

    ``0000-00-00 00:00:00`` is MySQL's "no date": null. A well-formed but impossible date
    (``2024-02-30``) is null too. Text that is not a date at all is unparseable.
    """
    import pandas as pd

    text = _text(series)
    zero = text.str.fullmatch(ZERO_DATE_TEXT).fillna(False).astype(bool)
    well_formed = text.str.fullmatch(DATETIME_TEXT).fillna(False).astype(bool) & ~zero
    candidates = text.where(well_formed)
    values = pd.to_datetime(candidates, format="ISO8601", errors="coerce")
    impossible = well_formed & values.isna()
    unparseable = text.notna() & ~zero & ~well_formed
    return values, zero, impossible, unparseable


def _examples(text: pd.Series, mask: pd.Series, limit: int = 3) -> list[str]:
    return [str(v)[:40] for v in text[mask].drop_duplicates().head(limit)]


def build_silver(bronze: Any, schema: DatasetSchema) -> tuple[Any, SilverReport]:
    """Type, derive and deduplicate one dataset; never raises on bad values, reports them.

    An Arrow table comes back as an Arrow table (the columnar path), a DataFrame as a DataFrame.
    """
    import pyarrow as pa

    if isinstance(bronze, pa.Table):
        return build_silver_arrow(bronze, schema)
    return _build_silver_pandas(bronze, schema)


def _build_silver_pandas(
    bronze: pd.DataFrame, schema: DatasetSchema
) -> tuple[pd.DataFrame, SilverReport]:
    import pandas as pd

    report = SilverReport(rows_in=len(bronze))
    frame = bronze.copy()
    missing = [c for c in schema.column_names if c not in frame.columns]
    if len(frame) > 0:
        report.missing_columns = missing
    declared = set(schema.column_names)
    report.extra_columns = [
        c for c in frame.columns if c not in declared and not str(c).startswith("_")
    ]
    for column in missing:
        frame[column] = pd.Series([pd.NA] * len(frame), index=frame.index, dtype="string")

    for column in schema.integers:
        values, bad = coerce_integers(frame[column])
        if bad.any():
            report.unparseable_integers[column] = int(bad.sum())
            report.unparseable_examples[column] = _examples(frame[column], bad)
        frame[column] = values
    derived: dict[str, pd.Series] = {}
    for column in schema.datetimes:
        values, zero, impossible, bad = coerce_datetimes(frame[column])
        for counts, mask in (
            (report.zero_dates, zero),
            (report.impossible_dates, impossible),
            (report.unparseable_dates, bad),
        ):
            if mask.any():
                counts[column] = int(mask.sum())
        if bad.any():
            report.unparseable_examples[column] = _examples(frame[column], bad)
        frame[column] = values
        derived[f"{column}_todate"] = values.dt.normalize()
        derived[f"{column}_year"] = values.dt.year.astype("Int64")
        derived[f"{column}_month"] = values.dt.month.astype("Int64")
        derived[f"{column}_day"] = values.dt.day.astype("Int64")
    for column in schema.strings:
        frame[column] = frame[column].astype("string")

    source_columns = [c for c in frame.columns if c not in INGESTION_COLUMNS]
    ingestion = [c for c in INGESTION_COLUMNS if c in frame.columns]
    for column in ingestion:  # bronze stores the snapshot key dictionary-encoded: text here
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("str")
    frame = pd.concat(
        [frame[source_columns], pd.DataFrame(derived, index=frame.index), frame[ingestion]], axis=1
    )

    before = len(frame)
    frame = frame.drop_duplicates(subset=source_columns, keep="last")
    report.duplicate_rows_removed = before - len(frame)

    key = list(schema.key)
    order = [c for c in schema.latest_by if c in frame.columns]
    if order:
        frame = frame.sort_values(order, kind="stable", na_position="first")
    null_key = frame[key].isna().any(axis=1)
    report.null_keys = int(null_key.sum())
    keyed = frame[~null_key]
    deduped = keyed.drop_duplicates(subset=key, keep="last")
    report.superseded_rows_removed = len(keyed) - len(deduped)
    frame = pd.concat([deduped, frame[null_key]])
    frame = frame.sort_values(key, kind="stable", na_position="last").reset_index(drop=True)
    report.duplicate_keys = int(frame[~frame[key].isna().any(axis=1)].duplicated(subset=key).sum())
    report.rows_out = len(frame)
    return frame, report


def silver_arrow(frame: pd.DataFrame | pa.Table, schema: DatasetSchema) -> pa.Table:
    """The silver frame as Arrow, with ``<col>_todate`` stored as a calendar date."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(frame, pa.Table):
        return frame  # the columnar path already stores dates as dates
    from lakehouse_assets.medallion.engine import as_constant_text

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "_raw_snapshot" in table.schema.names:  # one value per table: dictionary-encoded
        index = table.schema.get_field_index("_raw_snapshot")
        table = table.set_column(
            index, "_raw_snapshot", as_constant_text(table.column("_raw_snapshot"))
        )
    for column in schema.datetimes:
        name = f"{column}_todate"
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pc.cast(table.column(name), pa.date32()))
    return table


def build_silver_arrow(bronze: pa.Table, schema: DatasetSchema) -> tuple[pa.Table, SilverReport]:
    """:func:`write_silver_file` for a table in memory, returning the silver table."""
    import numpy as np
    import pyarrow as pa

    release_memory()
    names = list(bronze.schema.names)
    constants = {}
    for name in INGESTION_COLUMNS:
        if name in names and (value := _constant(bronze.column(name))) is not None:
            constants[name] = value
    kept = bronze.select([c for c in names if c not in constants])
    for index, field_ in enumerate(kept.schema):
        if pa.types.is_dictionary(field_.type):
            kept = kept.set_column(
                index, field_.name, kept.column(index).cast(field_.type.value_type)
            )
    kept = kept.append_column(ROW, pa.array(np.arange(bronze.num_rows, dtype=np.int64)))
    collected: list[pa.Table] = []

    def collect(batches: Iterable[pa.RecordBatch], schema_: pa.Schema) -> int:
        collected[:] = [pa.Table.from_batches(list(batches), schema=schema_)]
        return collected[0].num_rows

    connection = connect()
    try:
        connection.register("bronze_input", kept)
        report = _silver(
            connection, _Input("bronze_input", names, constants, bronze.num_rows), schema, collect
        )
    finally:
        connection.close()
        release_memory()
    return collected[0], report


def bronze_table_from_file(
    path: Path, ingested_at: datetime, snapshot: str, source: str, dataset: str
) -> pa.Table:
    """The JSON array in ``path`` as a bronze table: what ``bronze_table`` makes of its rows.

    DuckDB reads the file into Arrow columns directly (no Python object per value, about 5×
    faster than ``json.loads`` and a fraction of its memory). Columns come out in first-seen
    order; a key the sample did not show, a value whose text DuckDB would spell differently
    from ``as_text`` (floats, nested values), an element that is not an object, or invalid JSON
    sends the file down the exact path, ``json`` plus ``bronze_table``, whose errors name the
    dataset and page (``SourceError``).
    """
    release_memory()  # what the previous step freed, before this one allocates
    table = _with_text_columns(Path(path), lambda reader: reader.read_all())
    if table is None:
        return _exact_bronze_table(Path(path), ingested_at, snapshot, source, dataset)
    return _with_ingestion(table, table.num_rows, ingested_at, snapshot)


def statistics_postname_table(posts: pa.Table, statistics: pa.Table) -> pa.Table:
    """:func:`write_gold_file` for silver tables in memory."""
    release_memory()
    connection = connect(large_strings=False)
    try:
        connection.register("posts", posts.select(_used(posts, "posts")))
        connection.register("statistics", statistics.select(_used(statistics, "statistics")))
        table = connection.sql(gold_query("posts", "statistics")).to_arrow_table()
    finally:
        connection.close()
        release_memory()
    return table.cast(gold_schema())


def _used(table: pa.Table, name: str) -> list[str]:
    wanted = {column for source, column in GOLD_COLUMNS.values() if source == name}
    wanted |= {"ID", "post_type"} if name == "posts" else {"id"}
    return [c for c in table.schema.names if c in wanted]


from lakehouse_assets.sources.wordpress_api.statistics_postname import (  # noqa: E402
    GOLD_COLUMNS,
    gold_query,
    gold_schema,
)
