"""Silver typing on PHP-style text: numbers as strings, MySQL zero dates, impossible dates."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets_tests.medallion.pandas_silver import build_silver, silver_arrow

SCHEMA = DatasetSchema.of(
    name="things",
    description="",
    key=("id",),
    integers=("id", "n"),
    datetimes=("at",),
    strings=("label",),
    latest_by=("at",),
)


def bronze(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype="string")


def test_string_numbers_and_dates_are_typed_with_derived_parts() -> None:
    frame, report = build_silver(
        bronze(
            [{"id": " 7 ", "n": "12.0", "at": "2024-03-05 06:07:08", "label": "Café", "extra": "e"}]
        ),
        SCHEMA,
    )
    row = frame.iloc[0]
    assert (row["id"], row["n"], row["label"], row["extra"]) == (7, 12, "Café", "e")
    assert str(frame["id"].dtype) == "Int64" and str(frame["n"].dtype) == "Int64"
    assert row["at"] == pd.Timestamp("2024-03-05 06:07:08")
    assert (row["at_year"], row["at_month"], row["at_day"]) == (2024, 3, 5)
    assert row["at_todate"] == pd.Timestamp("2024-03-05")
    assert report.missing_columns == [] and report.unparseable_integers == {}
    table = silver_arrow(frame, SCHEMA)
    assert table.column("at_todate").to_pylist() == [date(2024, 3, 5)]


def test_zero_and_impossible_dates_become_null_and_are_counted() -> None:
    rows = [
        {"id": "1", "n": "1", "at": "0000-00-00 00:00:00", "label": "a"},
        {"id": "2", "n": "1", "at": "0000-00-00", "label": "b"},
        {"id": "3", "n": "1", "at": "2024-02-30 10:00:00", "label": "c"},
        {"id": "4", "n": "1", "at": "2024-02-29", "label": "d"},
        {"id": "5", "n": "1", "at": "", "label": "e"},
    ]
    frame, report = build_silver(bronze(rows), SCHEMA)
    assert frame["at"].isna().tolist() == [True, True, True, False, True]
    assert frame["at_year"].isna().tolist() == [True, True, True, False, True]
    assert frame.loc[3, "at"] == pd.Timestamp(datetime(2024, 2, 29))
    assert report.zero_dates == {"at": 2}
    assert report.impossible_dates == {"at": 1}
    assert report.unparseable_dates == {}


def test_malformed_values_are_reported_not_guessed() -> None:
    rows = [
        {"id": "1", "n": "twelve", "at": "yesterday", "label": "a"},
        {"id": "2", "n": "1.5", "at": "05/03/2024", "label": "b"},
    ]
    frame, report = build_silver(bronze(rows), SCHEMA)
    assert report.unparseable_integers == {"n": 2}
    assert report.unparseable_dates == {"at": 2}
    assert report.unparseable_examples["n"] == ["twelve", "1.5"]
    assert frame["n"].isna().all()


def test_duplicates_are_removed_deterministically() -> None:
    rows = [
        {"id": "1", "n": "1", "at": "2024-01-01", "label": "old"},
        {"id": "1", "n": "1", "at": "2024-01-03", "label": "newest"},
        {"id": "1", "n": "1", "at": "2024-01-02", "label": "middle"},
        {"id": "2", "n": "2", "at": "2024-01-01", "label": "twin"},
        {"id": "2", "n": "2", "at": "2024-01-01", "label": "twin"},
    ]
    for order in (rows, list(reversed(rows))):
        frame, report = build_silver(bronze(order), SCHEMA)
        assert frame[["id", "label"]].values.tolist() == [[1, "newest"], [2, "twin"]]
        assert report.duplicate_rows_removed == 1
        assert report.superseded_rows_removed == 2


def test_null_and_missing_keys_are_reported() -> None:
    frame, report = build_silver(bronze([{"id": "", "n": "1", "at": "2024-01-01"}]), SCHEMA)
    assert report.null_keys == 1 and report.missing_columns == ["label"]
    assert len(frame) == 1


def test_empty_input_gives_empty_typed_table_without_missing_columns() -> None:
    frame, report = build_silver(pd.DataFrame({"_ingested_at": []}), SCHEMA)
    assert report.rows_out == 0 and report.missing_columns == []
    assert {"id", "n", "at", "label", "at_year"} <= set(frame.columns)
