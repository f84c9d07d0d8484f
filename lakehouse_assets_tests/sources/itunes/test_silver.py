"""Silver ``tracks`` rules: each date form of both orders, null and zero rules, verbatim text,
rating digits, rejected values counted with examples, and the exact columns and dtypes pandas
reads back. Expectations are literal values written here, not recomputed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.errors import BadFileError
from lakehouse_assets.sources.itunes.exports import parse_export
from lakehouse_assets.sources.itunes.silver import tracks_table

SILVER_COLUMNS = [
    "name",
    "artist",
    "album",
    "genre",
    "tracknumber",
    "year",
    "datemodified",
    "dateadded",
    "plays",
    "lastplayed",
    "myrating",
    "datemodifieddate",
    "dateaddeddate",
    "lastplayeddate",
    "myratingdigit",
]
DEFAULTS = {
    "Name": "Song",
    "Artist": "Artist",
    "Album": "Album",
    "Genre": "Pop",
    "Track Number": "1",
    "Year": "2001",
    "Date Modified": "",
    "Date Added": "",
    "Plays": "1",
    "Last Played": "",
    "My Rating": "",
    "Location": "C:\\Users\\jane\\Music\\song.mp3",
}


def bronze(*rows: dict[str, str], extra: dict[str, list[str]] | None = None) -> pa.Table:
    """A bronze table as ``parse_export`` leaves it: every column text, each row over DEFAULTS."""
    full = [{**DEFAULTS, **row} for row in rows]
    columns = {name: pa.array([r[name] for r in full], pa.string()) for name in DEFAULTS}
    return pa.table({**columns, **(extra or {})})


def dates(date_order: str, *values: str) -> tuple[list[datetime | None], dict[str, int]]:
    table, report = tracks_table(bronze(*({"Last Played": v} for v in values)), date_order)
    return table.column("lastplayed").to_pylist(), report.unparseable_dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05/04/2021 13:29", datetime(2021, 4, 5, 13, 29)),
        ("05/04/2021, 13:29", datetime(2021, 4, 5, 13, 29)),
        ("05/04/2021 13:29:07", datetime(2021, 4, 5, 13, 29, 7)),
        ("05/04/2021, 13:29:07", datetime(2021, 4, 5, 13, 29, 7)),
        ("5/4/21 9:05", datetime(2021, 4, 5, 9, 5)),
        ("5/4/21, 13:29", datetime(2021, 4, 5, 13, 29)),
        ("05/04/68 13:29", datetime(2068, 4, 5, 13, 29)),
        ("05/04/69 13:29", datetime(1969, 4, 5, 13, 29)),
        ("31/12/99, 23:59", datetime(1999, 12, 31, 23, 59)),
        ("01/01/00 00:00", datetime(2000, 1, 1, 0, 0)),
        ("29/02/2020 10:00", datetime(2020, 2, 29, 10, 0)),
        ("05/04/2021", datetime(2021, 4, 5)),
        ("5/4/21, 1:29 pm", datetime(2021, 4, 5, 13, 29)),
        (" 05/04/2021  13:29 ", datetime(2021, 4, 5, 13, 29)),
    ],
)
def test_dmy_forms(text: str, expected: datetime) -> None:
    assert dates("DMY", text) == ([expected], {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4/5/21, 1:29 PM", datetime(2021, 4, 5, 13, 29)),
        ("4/5/21, 1:29\u202fPM", datetime(2021, 4, 5, 13, 29)),
        ("4/5/21, 1:29\u00a0PM", datetime(2021, 4, 5, 13, 29)),
        ("4/5/21 1:29 PM", datetime(2021, 4, 5, 13, 29)),
        ("4/5/21, 1:29:30 PM", datetime(2021, 4, 5, 13, 29, 30)),
        ("04/05/2021, 01:29 PM", datetime(2021, 4, 5, 13, 29)),
        ("4/5/21, 12:15 AM", datetime(2021, 4, 5, 0, 15)),
        ("4/5/21, 12:15 pm", datetime(2021, 4, 5, 12, 15)),
        ("4/5/21, 1:29PM", datetime(2021, 4, 5, 13, 29)),
        ("12/31/68, 11:00 PM", datetime(2068, 12, 31, 23, 0)),
        ("12/31/69, 11:00 PM", datetime(1969, 12, 31, 23, 0)),
        ("4/5/21, 13:29", datetime(2021, 4, 5, 13, 29)),
        ("4/5/2021 13:29:59", datetime(2021, 4, 5, 13, 29, 59)),
    ],
)
def test_mdy_forms(text: str, expected: datetime) -> None:
    assert dates("MDY", text) == ([expected], {})


@pytest.mark.parametrize(
    ("date_order", "text"),
    [
        ("DMY", "31/02/2020 10:00"),
        ("DMY", "29/02/2021, 10:00"),
        ("DMY", "13/13/2021 10:00"),
        ("DMY", "05/04/2021 25:00"),
        ("DMY", "05/04/021 13:29"),
        ("DMY", "05/04/20211 13:29"),
        ("DMY", "2021-04-05 13:29"),
        ("DMY", "05.04.2021 13:29"),
        ("DMY", "05/04/2021 13:29 x"),
        ("DMY", "yesterday"),
        ("MDY", "31/12/2021, 1:29 PM"),
        ("MDY", "4/5/21, 13:29 PM"),
        ("MDY", "2/30/20, 1:00 AM"),
    ],
)
def test_unparseable_or_impossible_dates_are_null_and_counted(date_order: str, text: str) -> None:
    assert dates(date_order, text) == ([None], {"lastplayed": 1})


def test_empty_dates_are_null_and_not_counted() -> None:
    assert dates("DMY", "", "   ") == ([None, None], {})


def test_date_order_other_than_dmy_or_mdy_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="DMY, MDY"):
        tracks_table(bronze({}), "YMD")


def test_report_counts_every_column_with_up_to_three_distinct_examples() -> None:
    table, report = tracks_table(
        bronze(
            {"Date Added": "31/02/2020 10:00", "Plays": "abc"},
            {"Date Added": "nope", "Plays": "1,234", "Year": "MMXX"},
            {"Date Added": "31/02/2020 10:00", "Plays": "abc", "Date Modified": "32/01/2020 1:00"},
            {"Date Added": "x", "Plays": "2.5"},
            {"Date Added": "y", "Plays": "99999999999999999999"},
            {"Date Added": "05/04/2021 13:29", "Plays": "7"},
        ),
        "DMY",
    )
    assert report.rows == 6
    assert report.unparseable_dates == {"datemodified": 1, "dateadded": 5}
    assert report.unparseable_date_examples == {
        "datemodified": ["32/01/2020 1:00"],
        "dateadded": ["31/02/2020 10:00", "nope", "x"],
    }
    assert report.non_integers == {"year": 1, "plays": 5}
    assert report.non_integer_examples == {"year": ["MMXX"], "plays": ["abc", "1,234", "2.5"]}
    assert table.column("plays").to_pylist() == [0, 0, 0, 0, 0, 7]
    assert table.column("year").to_pylist() == [2001, 0, 2001, 2001, 2001, 2001]
    assert report.metadata()["unparseable_dates"] == 6
    assert report.metadata()["non_integers"] == 6


def test_text_is_verbatim_and_empty_text_is_null_never_nan() -> None:
    table, _ = tracks_table(
        bronze(
            {"Name": "  padded  ", "Artist": "Simon &amp; Garfunkel", "Album": "Cafe\u0301"},
            {"Name": "", "Artist": "", "Album": "", "Genre": ""},
            {"Name": "nan", "Artist": "None", "Album": " ", "Genre": "NULL"},
        ),
        "DMY",
    )
    assert table.select(["name", "artist", "album", "genre"]).to_pylist() == [
        {
            "name": "  padded  ",
            "artist": "Simon &amp; Garfunkel",
            "album": "Cafe\u0301",
            "genre": "Pop",
        },
        {"name": None, "artist": None, "album": None, "genre": None},
        {"name": "nan", "artist": "None", "album": " ", "genre": "NULL"},
    ]
    frame = table.to_pandas()
    assert frame["name"].isna().tolist() == [False, True, False]
    assert frame.loc[1, ["name", "artist", "album", "genre"]].isna().all()


def test_empty_integers_are_zero_and_integer_text_is_read() -> None:
    table, report = tracks_table(
        bronze(
            {"Track Number": "", "Year": "", "Plays": "", "My Rating": ""},
            {"Track Number": "12.0", "Year": " 1999 ", "Plays": "007", "My Rating": "+80"},
            {"Track Number": "-1", "Year": "2024", "Plays": "  ", "My Rating": "100"},
        ),
        "DMY",
    )
    assert table.select(["tracknumber", "year", "plays", "myrating"]).to_pylist() == [
        {"tracknumber": 0, "year": 0, "plays": 0, "myrating": 0},
        {"tracknumber": 12, "year": 1999, "plays": 7, "myrating": 80},
        {"tracknumber": -1, "year": 2024, "plays": 0, "myrating": 100},
    ]
    assert report.non_integers == {}


def test_rating_digit() -> None:
    ratings = ["", "0", "20", "40", "50", "60", "80", "100", "120", "abc"]
    table, _ = tracks_table(bronze(*({"My Rating": r} for r in ratings)), "DMY")
    assert table.column("myratingdigit").to_pylist() == [0, 0, 1, 2, 0, 3, 4, 5, 0, 0]


def test_day_columns_are_midnight_of_each_timestamp() -> None:
    table, _ = tracks_table(
        bronze(
            {
                "Date Modified": "05/04/2021, 13:29",
                "Date Added": "31/12/1999 23:59:59",
                "Last Played": "",
            }
        ),
        "DMY",
    )
    (row,) = table.select(["datemodifieddate", "dateaddeddate", "lastplayeddate"]).to_pylist()
    assert row == {
        "datemodifieddate": datetime(2021, 4, 5),
        "dateaddeddate": datetime(1999, 12, 31),
        "lastplayeddate": None,
    }


def test_columns_order_and_dtypes_read_back_through_pandas(tmp_path: Path) -> None:
    snapshots = pa.array(["raw/itunes/tracks/x.txt"]).dictionary_encode()
    ingested = pa.array([datetime(2026, 10, 1)], pa.timestamp("us", tz="UTC"))
    table, _ = tracks_table(
        bronze(
            {"Date Added": "05/04/2021 13:29"},
            extra={"Skips": ["3"], "_ingested_at": ingested, "_raw_snapshot": snapshots},
        ),
        "DMY",
    )
    assert table.column_names == [*SILVER_COLUMNS, "_ingested_at", "_raw_snapshot"]
    assert table.column("_raw_snapshot").type == snapshots.type  # passed through unchanged
    pq.write_table(table, tmp_path / "tracks.parquet")
    frame = pd.read_parquet(tmp_path / "tracks.parquet")
    dtypes = {column: str(dtype) for column, dtype in frame.dtypes.items()}
    text = {dtypes[c] for c in ("name", "artist", "album", "genre")}
    assert text <= {"str", "string", "object"}, text
    for column in ("tracknumber", "year", "plays", "myrating", "myratingdigit"):
        assert dtypes[column] == "int64", column
    for column in ("datemodified", "dateadded", "lastplayed", "datemodifieddate"):
        assert dtypes[column].startswith("datetime64[") and "UTC" not in dtypes[column], column
    assert "Location" not in table.column_names and "location" not in table.column_names


def test_rows_keep_file_order() -> None:
    names = [f"{n:04d}" for n in range(3000, 0, -1)]
    table, _ = tracks_table(bronze(*({"Name": n, "Plays": n} for n in names)), "DMY")
    assert table.column("name").to_pylist() == names
    assert table.column("plays").to_pylist() == list(range(3000, 0, -1))


def test_an_export_with_no_rows_gives_an_empty_table_of_the_columns() -> None:
    table, report = tracks_table(bronze(), "MDY")
    assert table.num_rows == 0 and table.column_names == SILVER_COLUMNS
    assert report.rows == 0 and report.unparseable_dates == {} and report.non_integers == {}


def test_bronze_missing_a_required_column_is_a_bad_file() -> None:
    with pytest.raises(BadFileError, match="My Rating"):
        tracks_table(bronze({}).drop_columns(["My Rating"]), "DMY")


def test_from_bytes_to_silver() -> None:
    header = "Name\tArtist\tAlbum\tGenre\tTrack Number\tYear\tDate Modified\tDate Added\tPlays"
    header += "\tLast Played\tMy Rating\tLocation"
    line = "Jóga\tBjörk\t\tElectronic\t3\t1997\t05/04/2021, 13:29\t05/04/21 13:27\t\t\t100"
    body = ("\ufeff" + header + "\r" + line + "\r").encode("utf-16-le")
    table, report = tracks_table(parse_export(body, "2026-10-01 Library.txt"), "DMY")
    assert table.to_pylist() == [
        {
            "name": "Jóga",
            "artist": "Björk",
            "album": None,
            "genre": "Electronic",
            "tracknumber": 3,
            "year": 1997,
            "datemodified": datetime(2021, 4, 5, 13, 29),
            "dateadded": datetime(2021, 4, 5, 13, 27),
            "plays": 0,
            "lastplayed": None,
            "myrating": 100,
            "datemodifieddate": datetime(2021, 4, 5),
            "dateaddeddate": datetime(2021, 4, 5),
            "lastplayeddate": None,
            "myratingdigit": 5,
        }
    ]
    assert report.unparseable_dates == {} and report.non_integers == {}
