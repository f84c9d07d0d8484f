"""Bronze (every value a string) → silver: types enforced, zero dates nulled, duplicates removed.

Pure functions: the asset decides what to publish from the report they return. A pandas
DataFrame is typed with pandas (what users see when they hand one in); an Arrow table takes the
columnar path (:mod:`lakehouse_assets.transforms.silver_columnar`, DuckDB), several times faster and
without a pandas copy, with the same rules and the same report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse_assets.transforms.schema import DatasetSchema

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

INGESTION_COLUMNS = ("_ingested_at", "_raw_snapshot")
INTEGER_TEXT = r"[+-]?\d+(?:\.0*)?"
DATETIME_TEXT = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
ZERO_DATE_TEXT = r"0000-00-00(?:[ T]00:00(?::00(?:\.0+)?)?)?"


@dataclass
class SilverReport:
    """What typing and deduplication found; the silver checks are decided from it."""

    rows_in: int = 0
    rows_out: int = 0
    missing_columns: list[str] = field(default_factory=list)
    unparseable_integers: dict[str, int] = field(default_factory=dict)
    unparseable_dates: dict[str, int] = field(default_factory=dict)
    zero_dates: dict[str, int] = field(default_factory=dict)
    impossible_dates: dict[str, int] = field(default_factory=dict)
    duplicate_rows_removed: int = 0
    superseded_rows_removed: int = 0
    null_keys: int = 0
    duplicate_keys: int = 0
    unparseable_examples: dict[str, list[str]] = field(default_factory=dict)


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
        from lakehouse_assets.transforms.silver_columnar import build_silver_arrow

        return build_silver_arrow(bronze, schema)
    return _build_silver_pandas(bronze, schema)


def _build_silver_pandas(
    bronze: pd.DataFrame, schema: DatasetSchema
) -> tuple[pd.DataFrame, SilverReport]:
    import pandas as pd

    report = SilverReport(rows_in=len(bronze))
    frame = bronze.copy()
    missing = [c for c in schema.columns if c not in frame.columns]
    if len(frame) > 0:
        report.missing_columns = missing
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
    from lakehouse_assets.transforms.engine import as_constant_text

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
