"""Silver ``popular_songs`` and ``top_played`` of every kept week → gold ``weekly_chart``.

The original pipeline asked which songs are most played and popular, week by week. One week's
silver tables answer it for that week; the movement against the previous week needs every kept
week, so the chart is rebuilt from all of them (never appended to), and a late or re-run week
lands in its place with the movement after it right again.

The score, per week and track, each part between 0 and 1::

    score = 0.5 × played + 0.3 × listed + 0.2 × popularity
    played     = (N − top_rank + 1) / N   N = tracks in that week's top_played; 0 if not in it
    listed     = playlists listing the track / playlists in that week's popular_songs
    popularity = track_pop / 100          0 where Spotify no longer sends it

What the user plays weighs most, how widely the configured playlists carry it next; popularity
only shades the order, since development-mode apps no longer receive it. The score is rounded to
6 decimals; ties go to the better top rank, then more playlists, then the better playlist
position, then the track id, so ``rank`` (1 = top) is unique and the same on every rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import pyarrow as pa

from lakehouse_assets.lake.parquet import mark_nullable
from lakehouse_assets.medallion.engine import connect

WEIGHTS = {"played": 0.5, "listed": 0.3, "popularity": 0.2}

_BOTH = ("popular_songs", "top_played")
_SCORE_INPUTS = [
    ("top_played", "position"),
    ("top_played", "track_id"),
    ("popular_songs", "playlist_id"),
    ("popular_songs", "track_id"),
    *((dataset, "track_pop") for dataset in _BOTH),
]
#: Column lineage of ``weekly_chart`` (``medallion.lineage``); ``week_start`` is the partition.
CHART_LINEAGE: dict[str, list[tuple[str, str]]] = {
    "week_start": [],
    **{column: [(d, column) for d in _BOTH] for column in ("track_id", "track", "artist")},
    "playlists": [("popular_songs", "playlist_id"), ("popular_songs", "track_id")],
    "best_position": [("popular_songs", "position")],
    "top_rank": [("top_played", "position")],
    "track_pop": [(d, "track_pop") for d in _BOTH],
    "score": _SCORE_INPUTS,
    "rank": [*_SCORE_INPUTS, ("popular_songs", "position")],
    "rank_change": [*_SCORE_INPUTS, ("popular_songs", "position")],
    "is_new": [(d, "track_id") for d in _BOTH],
}

SCHEMA = pa.schema(
    [
        ("week_start", pa.timestamp("us")),  # the week's Monday, at midnight
        ("track_id", pa.large_string()),
        ("track", pa.large_string()),
        ("artist", pa.large_string()),
        ("playlists", pa.int64()),  # configured playlists listing it that week (0: top only)
        ("best_position", pa.int64()),  # nullable: lowest 0-based position in those playlists
        ("top_rank", pa.int64()),  # nullable: 1-based rank in top_played (1 = most played)
        ("track_pop", pa.int64()),  # nullable: Spotify popularity 0–100
        ("score", pa.float64()),
        ("rank", pa.int64()),  # 1-based chart rank within the week
        ("rank_change", pa.int64()),  # nullable: previous week's rank − this rank (+ = climbed)
        ("is_new", pa.bool_()),  # not in the previous kept week's chart (every track in the first)
    ]
)
NULLABLE_INTEGERS = ("best_position", "top_rank", "track_pop", "rank_change")

_LISTED = pa.schema(
    [
        ("week_start", pa.timestamp("us")),
        ("playlist_id", pa.large_string()),
        ("track_id", pa.large_string()),
        ("track", pa.large_string()),
        ("artist", pa.large_string()),
        ("track_pop", pa.int64()),
        ("position", pa.int64()),
        ("row_order", pa.int64()),
    ]
)
_PLAYED = _LISTED.remove(_LISTED.get_field_index("playlist_id"))


def weekly_chart(weeks: Sequence[tuple[date, pa.Table, pa.Table]]) -> pa.Table:
    """One row per kept week × track found in that week's ``popular_songs`` or ``top_played``,
    ordered by week then rank. ``weeks`` are ``(week_start, popular_songs, top_played)`` in any
    order; each week once."""
    starts = [_midnight(week_start) for week_start, _, _ in weeks]
    if len(set(starts)) != len(starts):
        raise ValueError("weekly_chart: a week is given more than once")
    if not weeks:
        return mark_nullable(SCHEMA.empty_table(), NULLABLE_INTEGERS)
    listed = pa.concat_tables(
        _part(start, popular, _LISTED, "popular_songs")
        for start, (_, popular, _) in zip(starts, weeks, strict=True)
    )
    played = pa.concat_tables(
        _part(start, top, _PLAYED, "top_played")
        for start, (_, _, top) in zip(starts, weeks, strict=True)
    )
    kept = pa.table({"week_start": pa.array(sorted(starts), type=pa.timestamp("us"))})
    connection = connect()
    try:
        connection.register("listed", listed)
        connection.register("played", played)
        connection.register("kept", kept)
        table = connection.sql(_CHART_SQL).to_arrow_table()
    finally:
        connection.close()
    return mark_nullable(table.select(SCHEMA.names).cast(SCHEMA), NULLABLE_INTEGERS)


_CHART_SQL = f"""
WITH weeks AS (
    SELECT week_start, lag(week_start) OVER (ORDER BY week_start) AS previous_week FROM kept
),
in_playlists AS (
    SELECT week_start, track_id,
        count(DISTINCT playlist_id) AS playlists,
        min(position) AS best_position,
        max(track_pop) AS track_pop,
        arg_min(track, row_order) AS track,
        arg_min(artist, row_order) AS artist
    FROM listed GROUP BY week_start, track_id
),
in_top AS (
    SELECT week_start, track_id,
        min(position) + 1 AS top_rank,
        max(track_pop) AS track_pop,
        arg_min(track, row_order) AS track,
        arg_min(artist, row_order) AS artist
    FROM played GROUP BY week_start, track_id
),
playlists_per_week AS (
    SELECT week_start, count(DISTINCT playlist_id) AS n FROM listed GROUP BY week_start
),
top_per_week AS (
    SELECT week_start, count(DISTINCT track_id) AS n FROM played GROUP BY week_start
),
tracks AS (
    SELECT
        coalesce(t.week_start, p.week_start) AS week_start,
        coalesce(t.track_id, p.track_id) AS track_id,
        coalesce(t.track, p.track) AS track,
        coalesce(t.artist, p.artist) AS artist,
        coalesce(p.playlists, 0) AS playlists,
        p.best_position,
        t.top_rank,
        greatest(t.track_pop, p.track_pop) AS track_pop
    FROM in_top t FULL OUTER JOIN in_playlists p
        ON t.week_start = p.week_start AND t.track_id = p.track_id
),
scored AS (
    SELECT tracks.*,
        round(
            {WEIGHTS["played"]} * coalesce((tw.n - top_rank + 1) / tw.n, 0)
            + {WEIGHTS["listed"]} * coalesce(playlists / nullif(pw.n, 0), 0)
            + {WEIGHTS["popularity"]} * coalesce(track_pop / 100, 0),
            6
        ) AS score
    FROM tracks
    LEFT JOIN top_per_week tw USING (week_start)
    LEFT JOIN playlists_per_week pw USING (week_start)
),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY week_start
        ORDER BY score DESC, top_rank ASC NULLS LAST, playlists DESC,
            best_position ASC NULLS LAST, track_id ASC
    ) AS rank
    FROM scored
)
SELECT r.*,
    prev.rank - r.rank AS rank_change,
    prev.track_id IS NULL AS is_new
FROM ranked r
JOIN weeks w USING (week_start)
LEFT JOIN ranked prev ON prev.week_start = w.previous_week AND prev.track_id = r.track_id
ORDER BY r.week_start, r.rank
"""


def _midnight(day: date) -> datetime:
    return datetime.combine(date(day.year, day.month, day.day), time())


def _part(start: datetime, table: pa.Table, schema: pa.Schema, name: str) -> pa.Table:
    """The columns the chart needs from one week's silver table, with its week and row order."""
    needed = [f.name for f in schema if f.name not in ("week_start", "row_order")]
    missing = [column for column in needed if column not in table.column_names]
    if missing:
        raise ValueError(f"weekly_chart: {name} lacks columns {missing}")
    rows = table.num_rows
    columns = {
        "week_start": pa.repeat(pa.scalar(start, pa.timestamp("us")), rows),
        **{column: table.column(column) for column in needed},
        "row_order": pa.array(range(rows), type=pa.int64()),
    }
    return pa.table(columns).select(schema.names).cast(schema)
