"""Silver ``popular_songs``/``top_played`` from hand-built pages, against rows written out here.

Pins down: one row per kept entry in configured playlist order then API order; every reason an
entry is left out counted (null entry, null item, local on the entry, local on the track,
episode) per playlist; ``item`` winning over ``track`` (even when ``item`` is null); a
``track``-only entry accepted; missing popularity → null (``Int64`` via pandas, also in a file
without nulls); positions from page offsets with gaps; duplicates kept; exact columns, order and
dtypes after a Parquet round trip; bronze keeping every entry as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.sources.spotify.silver import (
    popular_songs_bronze_rows,
    popular_songs_table,
    top_played_bronze_rows,
    top_played_table,
)


def track(
    track_id: str,
    name: str,
    artists: list[str],
    *,
    pop: int | None,
    album: str = "Album",
    released: str = "1981-12-15",
    precision: str = "day",
    duration: int = 200_000,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "album": {"name": album, "release_date": released, "release_date_precision": precision},
        "artists": [{"name": n, "id": f"artist-{n}", "type": "artist"} for n in artists],
        "duration_ms": duration,
        "id": track_id,
        "name": name,
        "type": "track",
        "is_local": False,
        "uri": f"spotify:track:{track_id}",
    }
    if pop is not None:
        out["popularity"] = pop
    return out


def entry(**fields: Any) -> dict[str, Any]:
    return {
        "added_at": "2026-01-05T10:00:00Z",
        "added_by": {"id": "u"},
        "is_local": False,
        **fields,
    }


T1 = track("t1", "Tainted Love", ["Soft Cell"], pop=71, album="Non-Stop", released="1981")
T1["album"]["release_date_precision"] = "year"
T2 = track("t2", "Heroes", ["David Bowie"], pop=80, released="1977-10", precision="month")
T2_STALE = {**T2, "id": "t2-old", "name": "Heroes - 2017 Remaster", "popularity": 3}
T3 = track("t3", "Jóga", ["Björk"], pop=55, album="Homogenic", released="1997-09-22")
T4 = track("t4", "Hyperballad", ["Björk"], pop=None, duration=321_000)
T5 = track(
    "t5", "Señorita", ["Zoë Ñandú", "Ólafur Á.", "宇多田"], pop=0, album="Días", duration=181_500
)
T6 = track("t6", "Never Read", ["Nobody"], pop=10)
LOCAL = {"name": "My Demo", "id": None, "type": "track", "duration_ms": 1000, "artists": []}
EPISODE = {"id": "e1", "name": "Episode 1", "type": "episode", "duration_ms": 1_800_000}

PLAYLIST_Z = [  # configured first although its id sorts last
    {
        "href": "h",
        "limit": 5,
        "next": "n",
        "offset": 0,
        "previous": None,
        "total": 9,
        "items": [
            entry(item=T1, track=T1),
            None,
            entry(item=T2, track=T2_STALE),
            entry(track=T3),
            entry(is_local=True, item=LOCAL, track=LOCAL),
        ],
    },
    {
        "href": "h",
        "limit": 5,
        "next": None,
        "offset": 5,
        "previous": "p",
        "total": 9,
        "items": [
            entry(item={**LOCAL, "is_local": True}, track={**LOCAL, "is_local": True}),
            entry(item=EPISODE, track=EPISODE),
            entry(item=T1, track=T1),
            entry(item=T4, track=T4),
        ],
    },
]
PLAYLIST_A = [
    {
        "href": "h",
        "limit": 50,
        "next": None,
        "offset": 0,
        "previous": None,
        "total": 3,
        "items": [
            entry(item=None, track=None),
            entry(item=T5, track=T5),
            entry(item=None, track=T6),
        ],
    }
]

COLUMNS = [
    "artist",
    "track",
    "track_pop",
    "duration_ms",
    "album_nm",
    "album_dt",
    "album_dt_precision",
    "track_id",
    "artists",
    "position",
]
EXPECTED_ROWS = [
    (
        "Soft Cell",
        "Tainted Love",
        71,
        200_000,
        "Non-Stop",
        "1981",
        "year",
        "t1",
        "Soft Cell",
        0,
        "zz",
    ),
    (
        "David Bowie",
        "Heroes",
        80,
        200_000,
        "Album",
        "1977-10",
        "month",
        "t2",
        "David Bowie",
        2,
        "zz",
    ),
    ("Björk", "Jóga", 55, 200_000, "Homogenic", "1997-09-22", "day", "t3", "Björk", 3, "zz"),
    (
        "Soft Cell",
        "Tainted Love",
        71,
        200_000,
        "Non-Stop",
        "1981",
        "year",
        "t1",
        "Soft Cell",
        7,
        "zz",
    ),
    ("Björk", "Hyperballad", None, 321_000, "Album", "1981-12-15", "day", "t4", "Björk", 8, "zz"),
    (
        "Zoë Ñandú",
        "Señorita",
        0,
        181_500,
        "Días",
        "1981-12-15",
        "day",
        "t5",
        "Zoë Ñandú, Ólafur Á., 宇多田",
        1,
        "aa",
    ),
]
DTYPES = {
    "artist": "str",
    "track": "str",
    "track_pop": "Int64",
    "duration_ms": "int64",
    "album_nm": "str",
    "album_dt": "str",
    "album_dt_precision": "str",
    "track_id": "str",
    "artists": "str",
    "position": "int64",
}


def read_back(table: Any, path: Path) -> pd.DataFrame:
    pq.write_table(table, path)
    return pd.read_parquet(path)


def test_popular_songs_rows_values_and_left_out_entries(tmp_path: Path) -> None:
    table, report = popular_songs_table([("zz", PLAYLIST_Z), ("aa", PLAYLIST_A)])
    frame = read_back(table, tmp_path / "popular_songs.parquet")

    assert list(frame.columns) == [*COLUMNS, "playlist_id"]
    assert {c: str(t) for c, t in frame.dtypes.items()} == {**DTYPES, "playlist_id": "str"}
    rows = [
        tuple(None if pd.isna(v) else v for v in row)
        for row in frame.itertuples(index=False, name=None)
    ]
    assert rows == EXPECTED_ROWS
    assert frame["track_pop"].isna().tolist() == [False, False, False, False, True, False]

    assert report.left_out == {"null": 3, "local": 2, "not_track": 1, "malformed": 0}
    assert report.left_out_by_playlist == {
        "zz": {"null": 1, "local": 2, "not_track": 1, "malformed": 0},
        "aa": {"null": 2, "local": 0, "not_track": 0, "malformed": 0},
    }
    assert (report.pages, report.entries, report.rows) == (3, 12, 6)
    assert report.without_popularity == 1
    assert report.from_deprecated_track == 1
    assert report.item_track_differ == 2  # the relinked t2, and the null item over t6
    assert report.metadata()["left_out_total"] == 6
    json.dumps(report.metadata())  # fit for Dagster metadata as it is


def test_popularity_reads_as_Int64_even_without_nulls(tmp_path: Path) -> None:  # noqa: N802
    page = {"offset": 0, "items": [entry(item=T1), entry(item=T5)], "next": None}
    table, report = popular_songs_table([("p", [page])])
    frame = read_back(table, tmp_path / "t.parquet")
    assert str(frame["track_pop"].dtype) == "Int64"
    assert frame["track_pop"].tolist() == [71, 0] and report.without_popularity == 0


def test_positions_follow_page_offsets_and_fall_back_to_a_running_count() -> None:
    pages = [
        {"items": [entry(item=T1), entry(item=T2)]},
        {"items": [None, entry(item=T3)]},  # no offset: counted on from the last page
        {"offset": 10, "items": [entry(item=T4)]},
    ]
    table, _ = popular_songs_table([("p", pages)])
    assert table.column("position").to_pylist() == [0, 1, 3, 10]


def test_an_empty_playlist_gives_an_empty_table_with_the_schema() -> None:
    table, report = popular_songs_table([("p", [{"offset": 0, "items": [], "next": None}])])
    assert table.num_rows == 0 and table.column_names == [*COLUMNS, "playlist_id"]
    assert report.left_out_by_playlist == {"p": dict.fromkeys(report.left_out, 0)}


def test_a_page_that_is_not_a_paging_object_names_the_playlist() -> None:
    with pytest.raises(ValueError, match="playlist p1: page 1"):
        popular_songs_table([("p1", [{"offset": 0, "items": []}, {"error": {"status": 500}}])])


def test_top_played_ranks_with_gaps_and_exclusions(tmp_path: Path) -> None:
    pages = [
        {"offset": 0, "limit": 2, "items": [T4, None], "next": "n"},
        {"offset": 2, "limit": 2, "items": [{**LOCAL, "is_local": True}, T1], "next": None},
        {"offset": 4, "limit": 2, "items": [EPISODE, {**T6, "duration_ms": "long"}], "next": None},
    ]
    table, report = top_played_table(pages)
    frame = read_back(table, tmp_path / "top.parquet")
    assert list(frame.columns) == COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES
    assert frame["track_id"].tolist() == ["t4", "t1"]
    assert frame["position"].tolist() == [0, 3]
    assert frame["track_pop"].tolist()[1] == 71 and pd.isna(frame["track_pop"][0])
    assert report.left_out == {"null": 1, "local": 1, "not_track": 1, "malformed": 1}
    assert report.left_out_by_playlist == {} and report.without_popularity == 1


def test_bronze_keeps_every_entry_as_text_after_its_place() -> None:
    rows = popular_songs_bronze_rows([("zz", PLAYLIST_Z), ("aa", PLAYLIST_A)])
    assert len(rows) == 12
    assert [(r["playlist_id"], r["page"], r["position"]) for r in rows[:6]] == [
        ("zz", "0", "0"),
        ("zz", "0", "1"),
        ("zz", "0", "2"),
        ("zz", "0", "3"),
        ("zz", "0", "4"),
        ("zz", "1", "5"),
    ]
    assert rows[1] == {"playlist_id": "zz", "page": "0", "position": "1"}  # the null entry
    assert rows[4]["is_local"] == "true"
    assert "item" not in rows[3] and json.loads(rows[3]["track"] or "") == T3
    assert json.loads(rows[2]["item"] or "")["id"] == "t2"
    assert json.loads(rows[2]["track"] or "")["id"] == "t2-old"
    assert all(isinstance(v, str) for r in rows for v in r.values() if v is not None)

    top = top_played_bronze_rows([{"offset": 0, "items": [T4, None]}])
    assert top[0]["id"] == "t4" and top[0]["duration_ms"] == "321000"
    assert "popularity" not in top[0]
    assert top[1] == {"page": "0", "position": "1"}
