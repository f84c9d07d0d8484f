"""Gold ``play_history`` over several exports, and which export silver ``tracks`` shows.

Pins down: first appearance → null delta; a track missing from the middle export compares with
the most recent earlier export that lists it; null album matches null album (and not another
album); a duplicate line counts once with its largest plays; of two exports of one date the
later landing wins; row order; the dtypes pandas reads back. The expected rows are written out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.sources.itunes.exports import parse_export
from lakehouse_assets.sources.itunes.gold import Export, newest_export, play_history_table
from lakehouse_assets.sources.itunes.silver import tracks_table

Track = tuple[str | None, str | None, str | None, int, int]  # name, artist, album, number, plays


def silver(*tracks: Track) -> pa.Table:
    names = ("name", "artist", "album", "tracknumber", "plays")
    columns = list(zip(*tracks, strict=True)) if tracks else [()] * 5
    types = (pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64())
    table = pa.table({n: pa.array(c, t) for n, c, t in zip(names, columns, types, strict=True)})
    return table.append_column("genre", pa.array(["Pop"] * len(tracks), pa.string()))


def export(day: date, landed: datetime, *tracks: Track) -> Export:
    return Export(day, landed, silver(*tracks), key=f"landing/itunes/tracks/{day} Library.txt")


JANUARY = export(
    date(2026, 1, 1),
    datetime(2026, 1, 1, 9, tzinfo=UTC),
    ("One", "X", "Alb", 1, 10),
    ("Two", "X", None, 2, 5),
    ("Three", "Y", "B", 1, 3),
    ("Three", "Y", "B", 1, 4),  # listed twice: counts once, with 4
    ("Four", None, None, 0, 0),
)
FEBRUARY_FIRST_LANDING = export(
    date(2026, 2, 1), datetime(2026, 2, 1, 9, tzinfo=UTC), ("One", "X", "Alb", 1, 999)
)
FEBRUARY = export(
    date(2026, 2, 1),
    datetime(2026, 2, 2, 9, tzinfo=UTC),
    ("One", "X", "Alb", 1, 12),
    ("Two", "X", None, 2, 9),
    ("Five", "Z", "C", 1, 1),
)
MARCH = export(
    date(2026, 3, 1),
    datetime(2026, 3, 1, 9, tzinfo=UTC),
    ("Three", "Y", "B", 1, 10),  # missing in February: compared with January's 4
    ("Five", "Z", "C", 1, 3),
    ("Five", "Z", "C", 1, 1),
    ("One", "X", "Alb", 1, 12),
    ("Two", "X", None, 2, 9),
    ("Two", "X", "Other", 2, 1),  # another album: a track of its own
)

JAN, FEB, MAR = datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2026, 3, 1)
EXPECTED = [
    (JAN, "Four", None, None, 0, 0, None),
    (JAN, "One", "X", "Alb", 1, 10, None),
    (JAN, "Three", "Y", "B", 1, 4, None),
    (JAN, "Two", "X", None, 2, 5, None),
    (FEB, "Five", "Z", "C", 1, 1, None),
    (FEB, "One", "X", "Alb", 1, 12, 2),
    (FEB, "Two", "X", None, 2, 9, 4),
    (MAR, "Five", "Z", "C", 1, 3, 2),
    (MAR, "One", "X", "Alb", 1, 12, 0),
    (MAR, "Three", "Y", "B", 1, 10, 6),
    (MAR, "Two", "X", "Other", 2, 1, None),
    (MAR, "Two", "X", None, 2, 9, 0),
]
COLUMNS = ["export_date", "name", "artist", "album", "tracknumber", "plays", "plays_delta"]


def rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_play_history_over_three_exports() -> None:
    table = play_history_table([MARCH, FEBRUARY, JANUARY, FEBRUARY_FIRST_LANDING])
    assert table.column_names == COLUMNS
    assert rows(table) == EXPECTED


def test_the_same_history_whatever_order_the_exports_come_in() -> None:
    table = play_history_table([FEBRUARY_FIRST_LANDING, JANUARY, FEBRUARY, MARCH])
    assert rows(table) == EXPECTED


def test_an_earlier_landing_of_the_same_date_is_replaced_by_the_later_one() -> None:
    late_correction = export(
        date(2026, 2, 1), datetime(2026, 2, 3, tzinfo=UTC), ("One", "X", "Alb", 1, 11)
    )
    table = play_history_table([JANUARY, FEBRUARY, late_correction])
    assert [r for r in rows(table) if r[0] == FEB] == [(FEB, "One", "X", "Alb", 1, 11, 1)]


def test_dtypes_read_back_through_pandas(tmp_path: Path) -> None:
    pq.write_table(play_history_table([JANUARY, FEBRUARY]), tmp_path / "play_history.parquet")
    frame = pd.read_parquet(tmp_path / "play_history.parquet")
    dtypes = {column: str(dtype) for column, dtype in frame.dtypes.items()}
    assert dtypes["export_date"].startswith("datetime64[")
    assert dtypes["tracknumber"] == "int64" and dtypes["plays"] == "int64"
    assert dtypes["plays_delta"] == "Int64"
    assert {dtypes[c] for c in ("name", "artist", "album")} <= {"str", "string", "object"}
    assert frame["plays_delta"].isna().sum() == 5


def test_no_exports_gives_an_empty_history() -> None:
    table = play_history_table([])
    assert table.num_rows == 0 and table.column_names == COLUMNS


def test_history_from_silver_tables_built_from_files() -> None:
    header = "Name\tArtist\tAlbum\tGenre\tTrack Number\tYear\tDate Modified\tDate Added\tPlays"
    header += "\tLast Played\tMy Rating"

    def landed(plays: str) -> pa.Table:
        line = f"Jóga\tBjörk\t\tElectronic\t3\t1997\t\t\t{plays}\t\t"
        body = ("\ufeff" + header + "\r" + line).encode("utf-16-le")
        return tracks_table(parse_export(body, "x.txt"), "DMY")[0]

    table = play_history_table(
        [
            Export(date(2026, 10, 1), datetime(2026, 10, 1, tzinfo=UTC), landed("")),
            Export(date(2026, 11, 1), datetime(2026, 11, 1, tzinfo=UTC), landed("5")),
        ]
    )
    assert rows(table) == [
        (datetime(2026, 10, 1), "Jóga", "Björk", None, 3, 0, None),
        (datetime(2026, 11, 1), "Jóga", "Björk", None, 3, 5, 5),
    ]


def test_newest_export_is_by_export_date_even_when_it_landed_first() -> None:
    newer = export(date(2026, 2, 1), datetime(2026, 1, 5, tzinfo=UTC), ("New", "A", "B", 1, 1))
    older = export(date(2026, 1, 1), datetime(2026, 2, 10, tzinfo=UTC), ("Old", "A", "B", 1, 1))
    assert newest_export([newer, older]) is newer
    assert newest_export([older, newer]) is newer


def test_newest_export_of_one_date_is_the_later_landing() -> None:
    assert newest_export([FEBRUARY, FEBRUARY_FIRST_LANDING]) is FEBRUARY
    assert newest_export([FEBRUARY_FIRST_LANDING, FEBRUARY]) is FEBRUARY


def test_newest_export_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no exports"):
        newest_export([])
