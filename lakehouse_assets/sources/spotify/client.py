"""The Spotify Web API client: access tokens (client-credentials, or refresh-token for the user's
top tracks) cached until they expire, one refresh on a 401, and ``next``-link paging, each page
handed over verbatim so the raw layer can keep it.

Built on the platform's :class:`HttpClient` rather than spotipy: spotipy brings its own session
and urllib3 ``Retry`` (redirects followed, no body deadline, its own 429 sleeping), caches tokens
in a file by default and puts request details in exception text; here the URL policy, deadlines,
retry budget and secret-free errors are the same as for every other source, and the raw pages
stay byte-for-byte as received.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import HTTPBasicAuth

from lakehouse_assets.errors import ConfigurationError, SourceError
from lakehouse_assets.resources.http_client import RETRYABLE_STATUSES, HttpClient
from lakehouse_assets.resources.paging import NextUrlPaging, Page, PageRequest, iter_pages

SOURCE = "spotify"
PLAYLIST_DATASET = "popular_songs"
TOP_TRACKS_DATASET = "top_played"
DEFAULT_BASE_URL = "https://api.spotify.com/v1"
DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
#: The Web API's largest page; larger limits are refused by the API.
MAX_PAGE_LIMIT = 50
CLIENT_CREDENTIALS = "client_credentials"
REFRESH_TOKEN = "refresh_token"
TIME_RANGES = ("short_term", "medium_term", "long_term")
_SPOTIFY_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_ERROR_CODE = re.compile(r"[a-z_]{1,40}")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpotifyCredentials:
    """The app's client id and secret and, for the user's top tracks, a refresh token.

    The secret and the refresh token are left out of ``repr``.
    """

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_secret(
        cls, value: Mapping[str, Any], secret_id: str = "spotify credentials"
    ) -> SpotifyCredentials:
        """From the secret's JSON object (``client_id``, ``client_secret``, ``refresh_token``)."""
        missing = [k for k in ("client_id", "client_secret") if not _text(value.get(k))]
        if missing:
            raise ConfigurationError(f"secret {secret_id}: no {' or '.join(missing)}")
        refresh = value.get("refresh_token")
        if refresh is not None and not _text(refresh):
            raise ConfigurationError(f"secret {secret_id}: refresh_token is not a string")
        return cls(value["client_id"], value["client_secret"], refresh or None)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float


class SpotifyClient:
    """Pages of playlists' items and of the user's top tracks, as the Web API sends them.

    ``token_requests`` counts the token endpoint's answers (for metadata and tests).
    """

    def __init__(
        self,
        http: HttpClient,
        credentials: SpotifyCredentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        page_limit: int = MAX_PAGE_LIMIT,
        token_margin_seconds: float = 60.0,
        max_pages: int = 1000,
    ):
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ConfigurationError(f"{SOURCE}: page_limit must be 1 to {MAX_PAGE_LIMIT}")
        self._http = http
        self._credentials = credentials
        self._refresh_token = credentials.refresh_token
        self._base_url = base_url.rstrip("/")
        self._token_url = token_url
        self.page_limit = page_limit
        self.token_margin_seconds = token_margin_seconds
        self._paging = NextUrlPaging(next_field="next", items_field="items", max_pages=max_pages)
        self._tokens: dict[str, _Token] = {}
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"SpotifyClient(page_limit={self.page_limit})"

    def iter_playlist_pages(self, playlist_id: str) -> Iterator[Page]:
        """Every page of ``GET {base_url}/playlists/{id}/items``, following ``next``.

        A 404 or 403 fails naming the playlist id (not found, or not open to this app).
        """
        if not _SPOTIFY_ID.fullmatch(playlist_id):
            raise ConfigurationError(
                f"{SOURCE}/{PLAYLIST_DATASET}: playlist id {playlist_id[:64]!r} is not a Spotify"
                " id (letters and digits)"
            )
        url = f"{self._base_url}/playlists/{quote(playlist_id)}/items"
        query = {"limit": str(self.page_limit)}
        return self._pages(
            PLAYLIST_DATASET, url, query, CLIENT_CREDENTIALS, f"playlist {playlist_id}"
        )

    def iter_top_track_pages(self, time_range: str = "short_term") -> Iterator[Page]:
        """Every page of ``GET {base_url}/me/top/tracks`` for the user of the refresh token."""
        if time_range not in TIME_RANGES:
            raise ConfigurationError(f"{SOURCE}/{TOP_TRACKS_DATASET}: unknown time_range")
        if self._refresh_token is None:
            raise ConfigurationError(
                f"{SOURCE}/{TOP_TRACKS_DATASET}: the credentials have no refresh_token (a user"
                " token with the user-top-read scope is needed)"
            )
        url = f"{self._base_url}/me/top/tracks"
        query = {"time_range": time_range, "limit": str(self.page_limit)}
        return self._pages(TOP_TRACKS_DATASET, url, query, REFRESH_TOKEN, "top tracks")

    def _pages(
        self, dataset: str, url: str, query: Mapping[str, str], grant: str, what: str
    ) -> Iterator[Page]:
        def fetch(request: PageRequest, number: int) -> requests.Response:
            return self._get(dataset, request.url, number, grant, what)

        first = f"{url}?{urlencode(query)}"
        for page in iter_pages(self._http, SOURCE, dataset, first, self._paging, fetch=fetch):
            page.items(self._paging.items_field)  # an object with an items array, or an error
            yield page

    def _get(self, dataset: str, url: str, number: int, grant: str, what: str) -> requests.Response:
        """One page with a bearer token; a 401 gets a new token and one more try."""
        url = self._capped_limit(url)
        for renewed in (False, True):
            headers = {"Authorization": f"Bearer {self._token(dataset, grant)}"}
            response = self._http.send(SOURCE, dataset, "GET", url, page=number, headers=headers)
            if response.status_code != 401:
                break
            self._tokens.pop(grant, None)
            if renewed:
                raise SourceError(
                    SOURCE, dataset, f"HTTP 401 on page {number} of {what}, even with a new token"
                )
            log.info(
                "%s/%s: access token refused (HTTP 401); requesting a new one", SOURCE, dataset
            )
        if response.status_code in (403, 404):
            reason = "not found" if response.status_code == 404 else "not accessible"
            raise SourceError(
                SOURCE,
                dataset,
                f"{what}: HTTP {response.status_code} on page {number} ({reason} with these"
                " credentials)",
            )
        return response

    def _capped_limit(self, url: str) -> str:
        """``url`` with its ``limit`` no larger than ours (a server's next link may ask more)."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        capped = []
        for name, value in query:
            if name == "limit" and (not value.isdigit() or int(value) > self.page_limit):
                value = str(self.page_limit)
            capped.append((name, value))
        if capped == query:
            return url
        return urlunsplit(parts._replace(query=urlencode(capped)))

    def _token(self, dataset: str, grant: str) -> str:
        """A cached access token for ``grant``, or a new one from the token endpoint."""
        cached = self._tokens.get(grant)
        if cached is not None and self._http.clock() < cached.expires_at:
            return cached.value
        data = {"grant_type": grant}
        if grant == REFRESH_TOKEN and self._refresh_token is not None:
            data["refresh_token"] = self._refresh_token
        auth = HTTPBasicAuth(self._credentials.client_id, self._credentials.client_secret)
        response = self._http.send(
            SOURCE, dataset, "POST", self._token_url, data=data, auth=auth, label="token request"
        )
        self.token_requests += 1
        if response.status_code != 200:
            code = _error_code(response)
            raise SourceError(
                SOURCE,
                dataset,
                f"token request ({grant} grant) refused: HTTP {response.status_code}{code}",
                transient=response.status_code in RETRYABLE_STATUSES,
            )
        token, expires_in, refresh = _token_fields(response)
        if token is None:
            raise SourceError(SOURCE, dataset, "token response has no access_token")
        if refresh is not None:  # the accounts service may rotate the refresh token
            self._refresh_token = refresh
        lifetime = max(0.0, expires_in - self.token_margin_seconds)
        self._tokens[grant] = _Token(token, self._http.clock() + lifetime)
        log.debug("%s/%s: new access token (%s grant)", SOURCE, dataset, grant)
        return token


def _error_code(response: requests.Response) -> str:
    """`` (invalid_client)`` from an OAuth error body, or "" (only a plain code is quoted)."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({code})" if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else ""


def _token_fields(response: requests.Response) -> tuple[str | None, float, str | None]:
    """Access token, lifetime in seconds (3600 if unsaid) and a rotated refresh token, if any.

    Parse errors are not chained: a JSON error holds the body, and the body holds the token.
    """
    try:
        value = response.json()
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return None, 0.0, None
    token = value.get("access_token")
    expires = value.get("expires_in", 3600)
    refresh = value.get("refresh_token")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        expires = 3600
    return (
        token if _text(token) else None,
        float(expires),
        refresh if _text(refresh) else None,
    )
