"""Silver tracks of every kept export → gold ``play_history``: plays per track per export date.

An export is a snapshot of cumulative play counts, so the history is rebuilt from all of them
each time (never appended to): a late-landing or re-landed export then lands in its place and
every delta after it is right again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import pyarrow as pa

from lakehouse_assets.lake.parquet import mark_nullable
from lakehouse_assets.medallion.engine import connect

TRACK_COLUMNS = ("name", "artist", "album", "tracknumber")
#: Column lineage of ``play_history`` (``medallion.lineage``): every kept export typed as silver
#: ``tracks`` is; ``export_date`` comes from the export's key or landing day, no column.
PLAY_HISTORY_LINEAGE: dict[str, list[tuple[str, str]]] = {
    "export_date": [],
    **{column: [("tracks", column)] for column in TRACK_COLUMNS},
    "plays": [("tracks", "plays")],
    "plays_delta": [("tracks", "plays"), *(("tracks", column) for column in TRACK_COLUMNS)],
}
#: Read as pandas ``Int64`` in every file: null the first time a track appears.
NULLABLE = ("plays_delta",)
SCHEMA = pa.schema(
    [
        ("export_date", pa.timestamp("us")),
        ("name", pa.large_string()),
        ("artist", pa.large_string()),
        ("album", pa.large_string()),
        ("tracknumber", pa.int64()),
        ("plays", pa.int64()),
        ("plays_delta", pa.int64()),  # nullable: null the first time a track appears
    ]
)


@dataclass(frozen=True)
class Export:
    """One kept export: its date (``exports.export_date``), when it landed, its silver tracks.

    ``key`` (the landed object's key) only breaks ties between exports of the same date that
    landed at the same instant, so the choice never depends on the order they are passed in.
    """

    export_date: date
    landed_at: datetime
    tracks: pa.Table
    key: str = ""

    def order(self) -> tuple[date, datetime, str]:
        return (self.export_date, self.landed_at, self.key)


def newest_export(exports: Sequence[Export]) -> Export:
    """The export silver ``tracks`` shows: the latest export date, then the latest landing."""
    if not exports:
        raise ValueError("no exports: silver tracks needs at least one landed export")
    return max(exports, key=Export.order)


def one_per_date(exports: Sequence[Export]) -> list[Export]:
    """For each export date the export that landed last, oldest date first."""
    chosen: dict[date, Export] = {}
    for export in exports:
        kept = chosen.get(export.export_date)
        if kept is None or export.order() > kept.order():
            chosen[export.export_date] = export
    return [chosen[day] for day in sorted(chosen)]


def play_history_table(exports: Sequence[Export]) -> pa.Table:
    """One row per export date × track, ordered by date then track (nulls last).

    A track is its name, artist, album and track number, nulls matching nulls. A track listed
    more than once in one export counts once, with its largest plays. ``plays_delta`` is plays
    minus the track's plays in the most recent earlier export that lists it, null the first
    time it appears.
    """
    listed_schema = SCHEMA.remove(SCHEMA.get_field_index("plays_delta"))
    parts = []
    for export in one_per_date(exports):
        day = pa.scalar(datetime.combine(export.export_date, time()), SCHEMA.field(0).type)
        columns = {c: export.tracks.column(c) for c in (*TRACK_COLUMNS, "plays")}
        rows = export.tracks.num_rows
        parts.append(pa.table({"export_date": pa.repeat(day, rows), **columns}).cast(listed_schema))
    if not parts:
        return mark_nullable(SCHEMA.empty_table(), NULLABLE)
    listed = pa.concat_tables(parts)
    track = ", ".join(TRACK_COLUMNS)
    connection = connect()
    try:
        connection.register("listed", listed)
        table = connection.sql(
            f"""WITH per_export AS (
                    SELECT export_date, {track}, max(plays) AS plays
                    FROM listed GROUP BY ALL
                )
                SELECT export_date, {track}, plays,
                    plays - lag(plays) OVER (PARTITION BY {track} ORDER BY export_date)
                        AS plays_delta
                FROM per_export
                ORDER BY export_date, {", ".join(f"{c} ASC NULLS LAST" for c in TRACK_COLUMNS)}"""
        ).to_arrow_table()
    finally:
        connection.close()
    return mark_nullable(table.cast(SCHEMA), NULLABLE)
