"""Spotify pages as received → bronze rows and the silver tables ``popular_songs``/``top_played``.

Spotify's rows are nested JSON entries, not the flat text rows the shared typing engine types:
a playlist entry wraps its track under ``item`` (or the deprecated ``track``), may be null, a
local file or an episode, and since 2026 may lack ``popularity``. The rules that turn one entry
into one silver row (or into a counted reason for leaving it out) are this source's own, so they
live here, as pure functions of the parsed pages.

Bronze keeps every entry, including the ones silver leaves out: one row per entry, its
top-level fields as text (nested objects as JSON, via the shared ``as_text``), after the entry's
place — ``playlist_id`` (popular_songs only), ``page`` (0-based index of the page in the run)
and ``position`` (as in silver). A null entry is a row whose entry fields are all null.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lakehouse_assets.lake.parquet import mark_nullable
from lakehouse_assets.medallion.bronze import as_text

#: Why an entry is left out: null (the entry, or its track), a local file (``is_local`` on the
#: entry or the track, or a ``spotify:local:`` URI), not a track (an episode: ``type`` other
#: than ``track``, the legacy flags, or an episode URI; a missing ``type`` is a track), or
#: malformed (a track object without a text ``id`` or an integer ``duration_ms``).
REASONS = ("null", "local", "not_track", "malformed")

TRACK_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("artist", pa.large_string()),
    ("track", pa.large_string()),
    ("track_pop", pa.int64()),
    ("duration_ms", pa.int64()),
    ("album_nm", pa.large_string()),
    ("album_dt", pa.large_string()),
    ("album_dt_precision", pa.large_string()),
    ("track_id", pa.large_string()),
    ("artists", pa.large_string()),
    ("position", pa.int64()),
)
POPULAR_SONGS_SCHEMA = pa.schema([*TRACK_COLUMNS, ("playlist_id", pa.large_string())])
TOP_PLAYED_SCHEMA = pa.schema(TRACK_COLUMNS)
#: Integer columns that can hold nulls: they read back as pandas' ``Int64``.
NULLABLE_INTEGERS = ("track_pop",)

Json = Mapping[str, Any]
Page = Mapping[str, Any]


@dataclass
class SpotifyReport:
    """What silver kept and left out, for the asset's metadata."""

    pages: int = 0
    entries: int = 0
    rows: int = 0
    #: reason → entries left out (every reason listed, zeros included)
    left_out: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    #: playlist id → reason → entries left out (popular_songs only)
    left_out_by_playlist: dict[str, dict[str, int]] = field(default_factory=dict)
    #: rows whose track came without ``popularity`` (development-mode apps no longer get it):
    #: their ``track_pop`` is null
    without_popularity: int = 0
    #: entries read from the deprecated ``track`` field because they had no ``item``
    from_deprecated_track: int = 0
    #: entries whose ``item`` and ``track`` disagree (``item`` was used)
    item_track_differ: int = 0

    def leave_out(self, reason: str, playlist_id: str | None) -> None:
        self.left_out[reason] += 1
        if playlist_id is not None:
            self.left_out_by_playlist[playlist_id][reason] += 1

    def metadata(self) -> dict[str, Any]:
        """JSON-ready metadata: counts, and playlist ids as keys."""
        out: dict[str, Any] = {
            "pages": self.pages,
            "entries": self.entries,
            "rows": self.rows,
            "left_out": dict(self.left_out),
            "left_out_total": sum(self.left_out.values()),
            "without_popularity": self.without_popularity,
            "from_deprecated_track": self.from_deprecated_track,
            "item_track_differ": self.item_track_differ,
        }
        if self.left_out_by_playlist:
            out["left_out_by_playlist"] = {k: dict(v) for k, v in self.left_out_by_playlist.items()}
        return out


def popular_songs_table(
    pages_by_playlist: Sequence[tuple[str, Sequence[Page]]],
) -> tuple[pa.Table, SpotifyReport]:
    """Silver ``popular_songs``: playlists in the given (configured) order, entries in API
    order, ``position`` the entry's index in its playlist, and its ``playlist_id``."""
    report = SpotifyReport()
    columns: dict[str, list[Any]] = {name: [] for name in POPULAR_SONGS_SCHEMA.names}
    for playlist_id, pages in pages_by_playlist:
        report.left_out_by_playlist.setdefault(playlist_id, dict.fromkeys(REASONS, 0))
        for _page, position, entry in _entries(pages, playlist_id, report):
            track, local_entry = _playlist_track(entry, report)
            if _keep(track, report, playlist_id, local_entry):
                _append(columns, track, position, report)
                columns["playlist_id"].append(playlist_id)
    return _table(columns, POPULAR_SONGS_SCHEMA), report


def top_played_table(pages: Sequence[Page]) -> tuple[pa.Table, SpotifyReport]:
    """Silver ``top_played``: the user's top tracks in API order, ``position`` the 0-based rank
    (0 = most played)."""
    report = SpotifyReport()
    columns: dict[str, list[Any]] = {name: [] for name in TOP_PLAYED_SCHEMA.names}
    for _page, position, track in _entries(pages, None, report):
        if _keep(track, report, None):
            _append(columns, track, position, report)
    return _table(columns, TOP_PLAYED_SCHEMA), report


def popular_songs_bronze_rows(
    pages_by_playlist: Sequence[tuple[str, Sequence[Page]]],
) -> list[dict[str, str | None]]:
    """Bronze rows of ``popular_songs``: every entry, as text, after its place."""
    rows: list[dict[str, str | None]] = []
    for playlist_id, pages in pages_by_playlist:
        for page, position, entry in _entries(pages, playlist_id, SpotifyReport()):
            place = {"playlist_id": playlist_id, "page": str(page), "position": str(position)}
            rows.append(_bronze_row(place, entry))
    return rows


def top_played_bronze_rows(pages: Sequence[Page]) -> list[dict[str, str | None]]:
    """Bronze rows of ``top_played``: every track object, as text, after its place."""
    return [
        _bronze_row({"page": str(page), "position": str(position)}, entry)
        for page, position, entry in _entries(pages, None, SpotifyReport())
    ]


def _entries(
    pages: Sequence[Page], playlist_id: str | None, report: SpotifyReport
) -> Iterator[tuple[int, int, Any]]:
    """(page index, position, entry) of every entry: position is the page's ``offset`` plus the
    entry's index in the page (the running count where a page has no integer ``offset``)."""
    running = 0
    for index, page in enumerate(pages):
        items = page.get("items") if isinstance(page, Mapping) else None
        if not isinstance(items, list):
            where = f"playlist {playlist_id}" if playlist_id is not None else "top tracks"
            raise ValueError(f"{where}: page {index} is not a paging object (no items list)")
        offset = page.get("offset")
        start = offset if isinstance(offset, int) and not isinstance(offset, bool) else running
        report.pages += 1
        for i, entry in enumerate(items):
            report.entries += 1
            yield index, start + i, entry
        running = start + len(items)


def _playlist_track(entry: Any, report: SpotifyReport) -> tuple[Any, bool]:
    """The track of a playlist entry and whether the entry says ``is_local``: ``item`` when the
    entry has that field (even null: the current API's answer is the truth), else the
    deprecated ``track``."""
    if not isinstance(entry, Mapping):
        return entry, False
    if "item" in entry:
        track = entry["item"]
        if "track" in entry and entry["track"] != track:
            report.item_track_differ += 1
    else:
        track = entry.get("track")
        if "track" in entry:
            report.from_deprecated_track += 1
    return track, entry.get("is_local") is True


def _reason(track: Any, local_entry: bool) -> str | None:
    if track is None:
        return "null"
    if not isinstance(track, Mapping):
        return "malformed"
    uri = track.get("uri")
    uri = uri if isinstance(uri, str) else ""
    if local_entry or track.get("is_local") is True or uri.startswith("spotify:local:"):
        return "local"
    if _not_a_track(track, uri):
        return "not_track"
    track_id, duration = track.get("id"), track.get("duration_ms")
    if not isinstance(track_id, str) or not track_id:
        return "malformed"
    if not isinstance(duration, int) or isinstance(duration, bool):
        return "malformed"
    return None


def _not_a_track(track: Json, uri: str) -> bool:
    """An episode (or another kind of item): said by ``type``, the legacy ``episode``/``track``
    flags or the URI. A track object that omits ``type`` (no flag saying otherwise) is a track:
    the contract leaves out episodes, not objects that leave a field out."""
    kind = track.get("type")
    if kind is not None and kind != "track":
        return True
    if track.get("episode") is True or track.get("track") is False:
        return True
    return bool(uri) and uri.startswith("spotify:") and not uri.startswith("spotify:track:")


def _keep(
    track: Any, report: SpotifyReport, playlist_id: str | None, local_entry: bool = False
) -> bool:
    reason = _reason(track, local_entry)
    if reason is not None:
        report.leave_out(reason, playlist_id)
    return reason is None


def _append(
    columns: dict[str, list[Any]], track: Json, position: int, report: SpotifyReport
) -> None:
    artists = [a for a in track.get("artists") or [] if isinstance(a, Mapping)]
    names = [as_text(a.get("name")) for a in artists]
    album = track.get("album")
    album = album if isinstance(album, Mapping) else {}
    popularity = _popularity(track.get("popularity"))
    if popularity is None:
        report.without_popularity += 1
    columns["artist"].append(names[0] if names else None)
    columns["track"].append(as_text(track.get("name")))
    columns["track_pop"].append(popularity)
    columns["duration_ms"].append(track["duration_ms"])
    columns["album_nm"].append(as_text(album.get("name")))
    columns["album_dt"].append(as_text(album.get("release_date")))
    columns["album_dt_precision"].append(as_text(album.get("release_date_precision")))
    columns["track_id"].append(track["id"])
    columns["artists"].append(", ".join(n for n in names if n is not None) or None)
    columns["position"].append(position)
    report.rows += 1


def _popularity(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _table(columns: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
    table = pa.table(
        {f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema
    )
    return mark_nullable(table, NULLABLE_INTEGERS)


def _bronze_row(place: dict[str, str], entry: Any) -> dict[str, str | None]:
    """Spotify entries and track objects have no fields named ``playlist_id``, ``page`` or
    ``position``; a non-object entry other than null is kept whole in ``value``."""
    row: dict[str, str | None] = dict(place)
    if isinstance(entry, Mapping):
        for key, value in entry.items():
            row.setdefault(str(key), as_text(value))
    elif entry is not None:
        row["value"] = as_text(entry)
    return row
