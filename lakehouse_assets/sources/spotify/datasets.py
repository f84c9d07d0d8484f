"""What the Spotify source declares: its two datasets and the parameters it reads."""

from __future__ import annotations

from datetime import timedelta

from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.source import Source
from lakehouse_assets.sources.spotify.client import (
    DEFAULT_BASE_URL,
    DEFAULT_TOKEN_URL,
    PLAYLIST_DATASET,
    SOURCE,
    TOP_TRACKS_DATASET,
)

#: Freshness SLA: the weekly run, plus a day.
SPOTIFY = Source(
    SOURCE,
    "Most popular and most played songs from the Spotify Web API, weekly.",
    freshness=timedelta(days=8),
)

PLAYLISTS_PARAMETER = "/spotify/api/playlists"
BASE_URL_PARAMETER = "/spotify/api/base_url"
TOKEN_URL_PARAMETER = "/spotify/accounts/token_url"
SECRET_ID_PARAMETER = "/spotify/secret_id"
DEFAULTS = {
    BASE_URL_PARAMETER: DEFAULT_BASE_URL,
    TOKEN_URL_PARAMETER: DEFAULT_TOKEN_URL,
    SECRET_ID_PARAMETER: "lakehouse/spotify",
}

#: Bronze keeps each entry's fields as text after its place; their names follow the API.
POPULAR_SONGS = DatasetSchema(
    PLAYLIST_DATASET, "Entries of the configured playlists (GET /playlists/{id}/items).", ()
)
TOP_PLAYED = DatasetSchema(
    TOP_TRACKS_DATASET, "The user's most played tracks, short term (GET /me/top/tracks).", ()
)
DATASETS = (POPULAR_SONGS, TOP_PLAYED)
