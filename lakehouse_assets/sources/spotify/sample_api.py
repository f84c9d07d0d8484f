"""A deterministic offline Spotify (accounts service + Web API) that answers like the real one.

The local deployment and the tests need a Spotify that is always there and carries the quirks of
the 2026 Web API, so the client and silver code met here are the code that meets the real service:

- tokens from ``POST /api/token`` (HTTP Basic client credentials; ``client_credentials`` and
  ``refresh_token`` grants), expiring after ``expires_in``; 400 ``invalid_client`` /
  ``invalid_grant`` as the accounts service answers;
- ``GET /v1/playlists/{id}/items`` paged by ``offset``/``limit`` (at most 50, 400 above) with
  absolute ``next`` URLs built from the request's host; 404 for an unknown playlist and for
  Spotify-owned editorial ones (ids starting ``37i9dQZF1``), as new apps get since late 2024;
- ``GET /v1/me/top/tracks`` for a user token only: an app (client-credentials) token has no user
  and no scope, and gets 403 ``Insufficient client scope`` — what the real API answers;
- 401 ``No token provided`` / ``Invalid access token`` / ``The access token expired``; scripted
  429 (with ``Retry-After``) and 5xx answers through :meth:`SampleSpotify.fail_next`.

The data carries the 2026 shapes: entries with both ``item`` and ``track`` (and a few where they
differ: ``item`` is the truth), entries with only the deprecated ``track`` or only ``item``,
null entries and entries whose track is null, local files (flagged on the entry and the track,
or on the track only), episodes (full and track-like), a track listed twice, tracks without
``popularity`` (and one with popularity 0), release dates of every precision, several artists and
non-ASCII names.

It is served two ways: in-process as a ``requests`` transport adapter for the reserved hosts
(``resources.sample_transport.SampleServiceAdapter``: the token endpoint needs the method, the
headers and the body), and over real HTTP on loopback with :func:`serve`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests

from lakehouse_assets.resources.sample_transport import SampleServiceAdapter, serve_sample

SAMPLE_ACCOUNTS_HOST = "accounts.spotify.sample.invalid"
SAMPLE_API_HOST = "api.spotify.sample.invalid"
SAMPLE_HOSTS = (SAMPLE_ACCOUNTS_HOST, SAMPLE_API_HOST)
SAMPLE_BASE_URL = f"http://{SAMPLE_API_HOST}/v1"
SAMPLE_TOKEN_URL = f"http://{SAMPLE_ACCOUNTS_HOST}/api/token"
SAMPLE_SECRET_ID = "lakehouse/spotify"

SAMPLE_CLIENT_ID = "5a3e0c9d1b7f4e2a8c6d0f1e2a3b4c5d"
SAMPLE_CLIENT_SECRET = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SAMPLE_REFRESH_TOKEN = "AQBsampleRefreshTokenForTheLakehouseUserWithUserTopRead0000"
#: The sample's secret as the local deployment puts it in ``LAKEHOUSE_SECRET_LAKEHOUSE_SPOTIFY``.
SAMPLE_SECRET = json.dumps(
    {
        "client_id": SAMPLE_CLIENT_ID,
        "client_secret": SAMPLE_CLIENT_SECRET,
        "refresh_token": SAMPLE_REFRESH_TOKEN,
    }
)
SAMPLE_SEED = 2026
#: Scopes the sample's refresh token was granted.
USER_SCOPE = "user-top-read playlist-read-private"

#: Spotify-owned editorial playlists ("Today's Top Hits", "RapCaviar", …) share this prefix.
EDITORIAL_PREFIX = "37i9dQZF1"
MAX_LIMIT = 50
DEFAULT_LIMIT = 20
TOKEN_LIFETIME = 3600
TIME_RANGES = ("short_term", "medium_term", "long_term")

Answer = tuple[int, dict[str, str], bytes]
Json = dict[str, Any]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(text: str, length: int = 22) -> str:
    number = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(digits)


def _json(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Answer:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body


def _api_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Answer:
    return _json(status, {"error": {"status": status, "message": message}}, headers)


def _accounts_error(error: str, description: str) -> Answer:
    return _json(400, {"error": error, "error_description": description})


@dataclass
class _Token:
    user: bool
    expires_at: float


@dataclass
class _Failure:
    status: int
    path_prefix: str
    retry_after: int | None


class SampleSpotify:
    """The accounts service and Web API over fixed data; thread-safe, so a threaded server can
    answer concurrent requests. :meth:`handle` answers one request."""

    def __init__(
        self,
        playlists: Mapping[str, Sequence[Json | None]],
        top_tracks: Mapping[str, Sequence[Json]],
        *,
        client_id: str = SAMPLE_CLIENT_ID,
        client_secret: str = SAMPLE_CLIENT_SECRET,
        refresh_token: str = SAMPLE_REFRESH_TOKEN,
        token_lifetime: int = TOKEN_LIFETIME,
        clock: Callable[[], float] = time.time,
        seed: int = SAMPLE_SEED,
    ):
        self.playlists = {key: list(entries) for key, entries in playlists.items()}
        self.top_tracks = {key: list(tracks) for key, tracks in top_tracks.items()}
        self.token_lifetime = token_lifetime
        self.clock = clock
        #: ``METHOD path?query`` of every request, in arrival order (never headers or bodies).
        self.requests_seen: list[str] = []
        self._credentials = (client_id, client_secret)
        self._refresh_token = refresh_token
        self._seed = seed
        self._tokens: dict[str, _Token] = {}
        self._issued = 0
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()

    @property
    def playlist_ids(self) -> list[str]:
        return list(self.playlists)

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: int | None = None, path_prefix: str = "/"
    ) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` with ``status`` (429 carries
        ``Retry-After``), as a rate-limited or failing service does, then answer normally."""
        with self._lock:
            self._failures.extend(_Failure(status, path_prefix, retry_after) for _ in range(times))

    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Status, headers and body for one request; ``headers`` keys in any case."""
        parts = urlsplit(url)
        origin = f"{parts.scheme or 'http'}://{parts.netloc}"
        path = parts.path
        lowered = {name.lower(): value for name, value in headers.items()}
        with self._lock:
            self.requests_seen.append(
                f"{method} {path}" + (f"?{parts.query}" if parts.query else "")
            )
            failure = next((f for f in self._failures if path.startswith(f.path_prefix)), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            return self._failure(failure)
        if path == "/api/token":
            if method != "POST":
                return _json(405, {"error": "method_not_allowed"})
            return self._token(lowered, body)
        if not path.startswith("/v1/"):
            return _api_error(404, "Service not found")
        if method != "GET":
            return _api_error(405, "Method not allowed")
        refused = self._authorize(lowered, user_required=path == "/v1/me/top/tracks")
        if refused is not None:
            return refused
        query = parse_qs(parts.query, keep_blank_values=True)
        segments = path.strip("/").split("/")
        if len(segments) == 4 and segments[1] == "playlists" and segments[3] == "items":
            return self._playlist_items(origin, path, segments[2], query)
        if path == "/v1/me/top/tracks":
            return self._top(origin, path, query)
        return _api_error(404, "Service not found")

    # accounts service

    def _token(self, headers: Mapping[str, str], body: bytes) -> Answer:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if (client := _basic_credentials(headers.get("authorization", ""))) is None:
            client = (form.get("client_id", ""), form.get("client_secret", ""))
        if client != self._credentials:
            return _accounts_error("invalid_client", "Invalid client")
        grant = form.get("grant_type")
        if grant is None:
            return _accounts_error("unsupported_grant_type", "grant_type parameter is missing")
        if grant == "client_credentials":
            token = self._issue(user=False)
            return _json(
                200,
                {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime},
            )
        if grant == "refresh_token":
            if form.get("refresh_token") != self._refresh_token:
                return _accounts_error("invalid_grant", "Invalid refresh token")
            token = self._issue(user=True)
            return _json(
                200,
                {
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "scope": USER_SCOPE,
                },
            )
        return _accounts_error(
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or refresh_token",
        )

    def _issue(self, *, user: bool) -> str:
        with self._lock:
            self._issued += 1
            seed = f"{self._seed}:{self._issued}:{user}"
            token = "BQ" + _base62(seed, 42) + _base62(f"{seed}:more", 42)
            self._tokens[token] = _Token(user, self.clock() + self.token_lifetime)
        return token

    # Web API

    def _authorize(self, headers: Mapping[str, str], *, user_required: bool) -> Answer | None:
        authorization = headers.get("authorization", "")
        if not authorization:
            return _api_error(401, "No token provided")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return _api_error(400, "Only valid bearer authentication supported")
        with self._lock:
            token = self._tokens.get(value.strip())
        if token is None:
            return _api_error(401, "Invalid access token")
        if self.clock() >= token.expires_at:
            return _api_error(401, "The access token expired")
        if user_required and not token.user:
            return _api_error(403, "Insufficient client scope")
        return None

    def _playlist_items(
        self, origin: str, path: str, playlist_id: str, query: Mapping[str, list[str]]
    ) -> Answer:
        entries = self.playlists.get(playlist_id)
        if entries is None or playlist_id.startswith(EDITORIAL_PREFIX):
            return _api_error(404, "Resource not found")
        return _paged(origin, path, query, entries)

    def _top(self, origin: str, path: str, query: Mapping[str, list[str]]) -> Answer:
        time_range = query.get("time_range", ["medium_term"])[0]
        if time_range not in self.top_tracks:
            return _api_error(400, "Invalid time range")
        return _paged(origin, path, query, self.top_tracks[time_range])

    def _failure(self, failure: _Failure) -> Answer:
        if failure.status == 429:
            seconds = failure.retry_after if failure.retry_after is not None else 1
            return _api_error(429, "API rate limit exceeded", {"Retry-After": str(seconds)})
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
        messages = {500: "Server error", 502: "Bad gateway", 503: "Service unavailable"}
        return _api_error(failure.status, messages.get(failure.status, "Error"), headers)


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return ("", "")
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


def _paged(origin: str, path: str, query: Mapping[str, list[str]], items: Sequence[Any]) -> Answer:
    """A Spotify paging object over ``items``; other query parameters are kept in its URLs."""
    try:
        limit = int(query.get("limit", [str(DEFAULT_LIMIT)])[0])
    except ValueError:
        return _api_error(400, "Invalid limit")
    if not 1 <= limit <= MAX_LIMIT:
        return _api_error(400, "Invalid limit")
    try:
        offset = int(query.get("offset", ["0"])[0])
    except ValueError:
        return _api_error(400, "Invalid offset")
    if offset < 0:
        return _api_error(400, "Invalid offset")
    others = [(k, v) for k, values in query.items() if k not in ("limit", "offset") for v in values]

    def url(at: int) -> str:
        return f"{origin}{path}?{urlencode([('offset', at), ('limit', limit), *others])}"

    total = len(items)
    page = {
        "href": url(offset),
        "items": list(items[offset : offset + limit]),
        "limit": limit,
        "next": url(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": url(max(offset - limit, 0)) if offset > 0 else None,
        "total": total,
    }
    return _json(200, page)


# The data

ARTIST_NAMES = [
    "Sigrún Ósk",
    "Zoë & the Ñandús",
    "Motörway",
    "Los Días Felices",
    "Åsa Lindqvist",
    "Chloé Mercier",
    "Jürgen Weiß",
    "宇多田ミカ",
    "Karolina Żak",
    "Dvořák Street Band",
    "Ayşe Yılmaz",
    "Søren Kjær",
    "Ирина Волкова",
    "김하늘",
    "Mỹ Linh Trần",
    "The Midnight Loops",
    "Paper Lanterns",
    "Neon Harbour",
    "Grey Atlas",
    "Velvet Static",
    "Low Orbit",
    "Copper Sun",
    "Quiet Engines",
    "Salt & Ember",
    "DJ Kōhai",
    "Fernando Peña",
    "Northbound",
    "Ella Mae Ross",
]
TITLE_WORDS = [
    "Midnight",
    "Summer",
    "Echoes",
    "Neon",
    "River",
    "Gold",
    "Static",
    "Afterglow",
    "Paper",
    "Satellite",
    "Heartbeat",
    "Northern",
    "Lights",
    "Drive",
    "Waves",
    "Fire",
    "Silence",
    "Dreams",
    "Coastline",
    "Velvet",
]
TITLE_QUIRKS = [
    "Déjà Vu",
    "Überall",
    "Niño Perdido",
    "Ça plane",
    "Смотри на меня",
    "夜の街",
    "Señorita (Live)",
    "Naïve — Remix",
    "Sí, Señor",
    "Café 🌙",
]
QUIRKS = (
    "track_only",
    "item_only",
    "differ",
    "null_entry",
    "null_track",
    "local_entry",
    "local_track",
    "episode",
    "episode_as_track",
    "duplicate",
)
#: Besides one of each quirk per playlist, the chance any other entry has one.
QUIRK_RATES = {"track_only": 0.08, "differ": 0.01, "null_entry": 0.01, "local_entry": 0.01}
USER = {
    "external_urls": {"spotify": "https://open.spotify.com/user/lakehouse-sample"},
    "href": f"{SAMPLE_BASE_URL}/users/lakehouse-sample",
    "id": "lakehouse-sample",
    "type": "user",
    "uri": "spotify:user:lakehouse-sample",
}


def _title(rng: random.Random) -> str:
    words = " ".join(rng.sample(TITLE_WORDS, rng.choice([1, 2, 2, 3])))
    if rng.random() < 0.2:
        return (
            rng.choice(TITLE_QUIRKS)
            if rng.random() < 0.5
            else f"{words} · {rng.choice(TITLE_QUIRKS)}"
        )
    return words


def _release(rng: random.Random) -> tuple[str, str]:
    day = date(1965, 1, 1) + timedelta(days=rng.randrange(61 * 365))
    precision = rng.choices(["day", "month", "year"], [70, 10, 20])[0]
    text = {"day": day.isoformat(), "month": day.strftime("%Y-%m"), "year": str(day.year)}
    return text[precision], precision


def _link(kind: str, item_id: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{item_id}"},
        "href": f"{SAMPLE_BASE_URL}/{kind}s/{item_id}",
        "id": item_id,
        "uri": f"spotify:{kind}:{item_id}",
    }


def _artist(name: str) -> Json:
    return {**_link("artist", _base62(f"artist:{name}")), "name": name, "type": "artist"}


def _track(rng: random.Random, number: int) -> Json:
    """One track object as a playlist entry carries it (with the legacy ``episode``/``track``
    flags; top tracks drop them)."""
    track_id = _base62(f"track:{rng.random()}:{number}")
    artists = [
        _artist(n) for n in rng.sample(ARTIST_NAMES, rng.choices([1, 2, 3], [70, 20, 10])[0])
    ]
    release_date, precision = _release(rng)
    album_id = _base62(f"album:{track_id}")
    track: Json = {
        "album": {
            **_link("album", album_id),
            "album_type": rng.choice(["album", "album", "single", "compilation"]),
            "artists": artists[:1],
            "images": [],
            "name": _title(rng),
            "release_date": release_date,
            "release_date_precision": precision,
            "total_tracks": rng.randrange(1, 19),
            "type": "album",
        },
        "artists": artists,
        "disc_number": 1,
        "duration_ms": rng.randrange(95_000, 480_000),
        "episode": False,
        "explicit": rng.random() < 0.15,
        "external_ids": {"isrc": f"QZ{rng.choice('ABCDEFGH')}{rng.randrange(10, 99)}{number:07d}"},
        **_link("track", track_id),
        "is_local": False,
        "is_playable": True,
        "name": _title(rng),
        "preview_url": None,
        "track": True,
        "track_number": rng.randrange(1, 15),
        "type": "track",
    }
    # Development-mode apps no longer receive popularity: a third of the tracks lack the key.
    if rng.random() < 0.65:
        track["popularity"] = rng.randrange(0, 101)
    return track


def _local_track(rng: random.Random, *, flagged_on_track: bool) -> Json:
    """A local file: no ids, a ``spotify:local:`` URI; flagged on the track object, or (an older
    form) only on its entry."""
    title, artist = _title(rng), rng.choice(ARTIST_NAMES)
    album = _title(rng)
    uri = f"spotify:local:{artist}:{album}:{title}:{rng.randrange(120, 400)}".replace(" ", "+")
    return {
        "album": {
            "album_type": None,
            "artists": [],
            "available_markets": [],
            "external_urls": {},
            "href": None,
            "id": None,
            "images": [],
            "name": album,
            "release_date": None,
            "release_date_precision": None,
            "type": "album",
            "uri": None,
        },
        "artists": [
            {"external_urls": {}, "href": None, "id": None, "name": artist, "type": "artist"}
        ],
        "disc_number": 0,
        "duration_ms": rng.randrange(95_000, 480_000),
        "episode": False,
        "explicit": False,
        "external_ids": {},
        "external_urls": {},
        "href": None,
        "id": None,
        **({"is_local": True} if flagged_on_track else {}),
        "name": title,
        "popularity": 0,
        "preview_url": None,
        "track": True,
        "track_number": 0,
        "type": "track",
        "uri": uri,
    }


def _episode(rng: random.Random, number: int, *, track_like: bool) -> Json:
    """An episode: its own object, or the track-like form given to clients that did not ask
    for episodes (show as album, publisher as artist, ``type`` still ``episode``)."""
    episode_id = _base62(f"episode:{rng.random()}:{number}")
    show = {
        **_link("show", _base62(f"show:{episode_id}")),
        "name": "Lakehouse Talk",
        "type": "show",
    }
    release_date, precision = _release(rng)
    common = {
        **_link("episode", episode_id),
        "duration_ms": rng.randrange(900_000, 3_600_000),
        "episode": True,
        "explicit": False,
        "name": f"Episode {number}: {_title(rng)}",
        "track": False,
        "type": "episode",
    }
    if track_like:
        return {
            **common,
            "album": {
                **show,
                "album_type": "show",
                "release_date": release_date,
                "release_date_precision": precision,
            },
            "artists": [{"name": "Lakehouse Podcasts", "type": "show", "id": show["id"]}],
            "is_local": False,
            "popularity": 0,
        }
    return {
        **common,
        "audio_preview_url": None,
        "description": "A talk about data.",
        "language": "en",
        "release_date": release_date,
        "release_date_precision": precision,
        "show": {**show, "publisher": "Lakehouse Podcasts"},
    }


def _stale(track: Json) -> Json:
    """The deprecated ``track`` of an entry whose ``item`` was relinked: an older id, name and
    popularity, as the old field keeps them while the new one carries the truth."""
    old = json.loads(json.dumps(track))
    old_id = _base62(f"stale:{track['id']}")
    old.update(_link("track", old_id))
    old["name"] = f"{track['name']} - 2011 Remaster"
    old["popularity"] = 1
    return old


def _entry(item: Json | None, added_at: str, *, is_local: bool = False, keys: str = "both") -> Json:
    entry: Json = {"added_at": added_at, "added_by": USER, "is_local": is_local}
    if keys in ("both", "item"):
        entry["item"] = item
    if keys in ("both", "track"):
        entry["track"] = item
    entry["primary_color"] = None
    entry["video_thumbnail"] = {"url": None}
    return entry


def _playlist(rng: random.Random, pool: Sequence[Json], size: int, index: int) -> list[Json | None]:
    chosen = rng.sample(range(len(pool)), size)
    forced = dict(zip(rng.sample(range(size), min(size, len(QUIRKS))), QUIRKS, strict=False))
    kinds = [
        forced.get(p) or next((q for q, rate in QUIRK_RATES.items() if rng.random() < rate), "both")
        for p in range(size)
    ]
    plain = [p for p, kind in enumerate(kinds) if kind == "both"]
    start = datetime(2025, 1, 6, 8, 0, 0) + timedelta(days=11 * index)
    entries: list[Json | None] = []
    for position, kind in enumerate(kinds):
        added_at = (start + timedelta(hours=7 * position)).strftime("%Y-%m-%dT%H:%M:%SZ")
        track = pool[chosen[position]]
        number = 10_000 * (index + 1) + position
        if kind == "duplicate" and plain:
            track = pool[chosen[rng.choice(plain)]]
        if kind in ("both", "duplicate"):
            entries.append(_entry(track, added_at))
        elif kind == "track_only":
            entries.append(_entry(track, added_at, keys="track"))
        elif kind == "item_only":
            entries.append(_entry(track, added_at, keys="item"))
        elif kind == "differ":
            entry = _entry(track, added_at)
            entry["track"] = _stale(track)
            entries.append(entry)
        elif kind == "null_entry":
            entries.append(None)
        elif kind == "null_track":
            entries.append(_entry(None, added_at))
        elif kind in ("local_entry", "local_track"):
            # local_entry: flagged on the entry only; local_track: on the track only
            on_entry = kind == "local_entry"
            local = _local_track(rng, flagged_on_track=not on_entry)
            entries.append(_entry(local, added_at, is_local=on_entry))
        else:
            episode = _episode(rng, number, track_like=kind == "episode_as_track")
            entries.append(_entry(episode, added_at))
    return entries


def sample_playlist_ids(count: int = 3) -> list[str]:
    """The sample's playlist ids (22 base62 characters, like Spotify's), whatever the seed."""
    return [_base62(f"lakehouse-sample-playlist-{i}") for i in range(count)]


#: Entries of the packaged sample's playlists (one page, two pages, two full pages at 50).
SAMPLE_SIZES = (23, 57, 80)


def sample_api(
    playlists: int = 3,
    entries_per_playlist: int | None = None,
    seed: int = SAMPLE_SEED,
    *,
    top_tracks: int = 30,
    token_lifetime: int = TOKEN_LIFETIME,
    clock: Callable[[], float] = time.time,
) -> SampleSpotify:
    """The sample Spotify: ``playlists`` playlists (the packaged sizes 23, 57 and 80 entries, or
    ``entries_per_playlist`` each) drawn from one catalogue, so tracks recur across playlists and
    in the top tracks; the same data for the same arguments."""
    rng = random.Random(seed)
    sizes = [
        entries_per_playlist
        if entries_per_playlist is not None
        else SAMPLE_SIZES[i]
        if i < len(SAMPLE_SIZES)
        else 20 + (37 * i) % 61
        for i in range(playlists)
    ]
    pool = [_track(rng, n) for n in range(max(120, int(max(sizes, default=0) * 1.3)))]
    contents = {
        playlist_id: _playlist(rng, pool, size, i)
        for i, (playlist_id, size) in enumerate(
            zip(sample_playlist_ids(playlists), sizes, strict=True)
        )
    }
    listed = list(
        {
            entry["item"]["id"]: entry["item"]
            for entries in contents.values()
            for entry in entries
            if entry
            and entry.get("item")
            and entry["item"].get("type") == "track"
            and entry["item"]["id"]
        }.values()
    )
    # A real 0, which must not be confused with an absent value (track objects are shared, so
    # every entry of that track and the top tracks say the same).
    rated = [t for t in listed if "popularity" in t]
    if rated and not any(t["popularity"] == 0 for t in rated):
        rated[0]["popularity"] = 0
    source = listed if len(listed) >= top_tracks else pool
    top = {
        time_range: [
            {k: v for k, v in t.items() if k not in ("episode", "track")}
            for t in rng.sample(source, min(top_tracks, len(source)))
        ]
        for time_range in TIME_RANGES
    }
    return SampleSpotify(contents, top, token_lifetime=token_lifetime, clock=clock, seed=seed)


def sample_parameters(playlists: int = 3, *, origin: str | None = None) -> dict[str, Any]:
    """The sample's parameters by name; ``origin`` (what :func:`serve` yields) instead of the
    reserved hosts points them at a loopback server."""
    base_url, token_url = SAMPLE_BASE_URL, SAMPLE_TOKEN_URL
    if origin is not None:
        base_url, token_url = f"{origin.rstrip('/')}/v1", f"{origin.rstrip('/')}/api/token"
    return {
        "/spotify/api/playlists": sample_playlist_ids(playlists),
        "/spotify/api/base_url": base_url,
        "/spotify/accounts/token_url": token_url,
        "/spotify/secret_id": SAMPLE_SECRET_ID,
    }


# Serving it


def mount_sample(
    session: requests.Session, api: SampleSpotify | Callable[[], SampleSpotify] = sample_api
) -> SampleServiceAdapter:
    """Route the reserved sample hosts of ``session`` to the in-process sample."""
    adapter = SampleServiceAdapter(api)
    for host in SAMPLE_HOSTS:
        session.mount(f"http://{host}/", adapter)
    return adapter


@contextmanager
def serve(api: SampleSpotify, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``api`` over real HTTP on loopback; yields the origin (``http://127.0.0.1:PORT``:
    the API at ``{origin}/v1``, tokens at ``{origin}/api/token``), stops on exit."""
    with serve_sample(api.handle, host, port) as origin:
        yield origin
