"""Gold ``weekly_chart`` over three kept weeks, against scores and movements worked out by hand.

Pins down: the documented score (0.5 played + 0.3 listed + 0.2 popularity), ties broken by the
better top rank, ranks 1-based per week, movement against the previous *kept* week (a skipped
calendar week is no gap), new and re-entering tracks (``is_new``, null ``rank_change``), a track
only in the top tracks (0 playlists, null position), weeks given in any order, and the columns,
order and pandas dtypes after a Parquet round trip.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets.sources.spotify.gold import weekly_chart


def popular(rows: list[tuple[str, str, int | None, int]]) -> pa.Table:
    """Silver popular_songs rows: (playlist_id, track_id, track_pop, position)."""
    return pa.table(
        {
            "artist": [f"Artist {t}" for _, t, _, _ in rows],
            "track": [f"Song {t}" for _, t, _, _ in rows],
            "track_pop": pa.array([p for _, _, p, _ in rows], pa.int64()),
            "duration_ms": pa.array([200_000] * len(rows), pa.int64()),
            "track_id": pa.array([t for _, t, _, _ in rows], pa.large_string()),
            "position": pa.array([p for _, _, _, p in rows], pa.int64()),
            "playlist_id": [p for p, _, _, _ in rows],
            "_ingested_at": pa.array([None] * len(rows), pa.timestamp("us", tz="UTC")),
        }
    )


def top(rows: list[tuple[str, int | None]]) -> pa.Table:
    """Silver top_played rows in rank order: (track_id, track_pop)."""
    return pa.table(
        {
            "artist": [f"Artist {t}" for t, _ in rows],
            "track": [f"Song {t}" for t, _ in rows],
            "track_pop": pa.array([p for _, p in rows], pa.int64()),
            "track_id": [t for t, _ in rows],
            "position": pa.array(range(len(rows)), pa.int64()),
        }
    )


WEEK_1 = (
    date(2026, 1, 5),
    popular(
        [
            ("P1", "A", 50, 0),
            ("P1", "B", None, 1),
            ("P1", "C", 80, 2),
            ("P2", "A", 50, 0),
            ("P2", "D", 10, 1),
        ]
    ),
    top([("B", None), ("A", 50)]),
)
WEEK_2 = (
    date(2026, 1, 12),
    popular(
        [
            ("P1", "A", 60, 0),
            ("P1", "C", 80, 1),
            ("P1", "E", 90, 3),
            ("P2", "C", 80, 0),
            ("P2", "A", 60, 1),
        ]
    ),
    top([("A", 60), ("C", 80), ("E", 90)]),
)
WEEK_4 = (  # the week of 19 January was not kept: week 2 is this one's previous week
    date(2026, 1, 26),
    popular([("P1", "E", 90, 0), ("P1", "D", 10, 1), ("P2", "E", 90, 2)]),
    top([("C", 80), ("F", None)]),
)

# week, track, playlists, best_position, top_rank, track_pop, score, rank, rank_change, is_new
EXPECTED = [
    # week 1: A 0.25 + 0.3 + 0.1 = 0.65 ties B 0.5 + 0.15 + 0; B's top rank 1 wins
    ("2026-01-05", "B", 1, 1, 1, None, 0.65, 1, None, True),
    ("2026-01-05", "A", 2, 0, 2, 50, 0.65, 2, None, True),
    ("2026-01-05", "C", 1, 2, None, 80, 0.31, 3, None, True),
    ("2026-01-05", "D", 1, 1, None, 10, 0.17, 4, None, True),
    # week 2: N = 3 top tracks
    ("2026-01-12", "A", 2, 0, 1, 60, 0.92, 1, 1, False),
    ("2026-01-12", "C", 2, 0, 2, 80, 0.793333, 2, 1, False),
    ("2026-01-12", "E", 1, 3, 3, 90, 0.496667, 3, None, True),
    # week 4: D re-enters (not in week 2), F only in the top tracks
    ("2026-01-26", "C", 0, None, 1, 80, 0.66, 1, 1, False),
    ("2026-01-26", "E", 2, 0, None, 90, 0.48, 2, 1, False),
    ("2026-01-26", "F", 0, None, 2, None, 0.25, 3, None, True),
    ("2026-01-26", "D", 1, 1, None, 10, 0.17, 4, None, True),
]
COLUMNS = [
    "week_start",
    "track_id",
    "track",
    "artist",
    "playlists",
    "best_position",
    "top_rank",
    "track_pop",
    "score",
    "rank",
    "rank_change",
    "is_new",
]
DTYPES = {
    "week_start": "datetime64[us]",
    "track_id": "str",
    "track": "str",
    "artist": "str",
    "playlists": "int64",
    "best_position": "Int64",
    "top_rank": "Int64",
    "track_pop": "Int64",
    "score": "float64",
    "rank": "int64",
    "rank_change": "Int64",
    "is_new": "bool",
}


def test_three_weeks_of_movement(tmp_path: Path) -> None:
    table = weekly_chart([WEEK_4, WEEK_1, WEEK_2])
    pq.write_table(table, tmp_path / "weekly_chart.parquet")
    frame = pd.read_parquet(tmp_path / "weekly_chart.parquet")

    assert list(frame.columns) == COLUMNS
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES
    got = [
        (
            row.week_start.date().isoformat(),
            row.track_id,
            row.playlists,
            None if pd.isna(row.best_position) else row.best_position,
            None if pd.isna(row.top_rank) else row.top_rank,
            None if pd.isna(row.track_pop) else row.track_pop,
            pytest.approx(row.score, abs=1e-9),
            row.rank,
            None if pd.isna(row.rank_change) else row.rank_change,
            row.is_new,
        )
        for row in frame.itertuples(index=False)
    ]
    assert got == EXPECTED
    assert frame["track"].tolist()[:2] == ["Song B", "Song A"]
    assert frame["artist"].tolist()[:2] == ["Artist B", "Artist A"]


def test_no_weeks_give_an_empty_chart_with_the_schema() -> None:
    table = weekly_chart([])
    assert table.num_rows == 0 and table.column_names == COLUMNS


def test_a_week_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="more than once"):
        weekly_chart([WEEK_1, WEEK_1])


def test_a_silver_table_without_a_needed_column_is_named() -> None:
    week_start, songs, played = WEEK_1
    with pytest.raises(ValueError, match="popular_songs lacks columns \\['playlist_id'\\]"):
        weekly_chart([(week_start, songs.drop_columns(["playlist_id"]), played)])
