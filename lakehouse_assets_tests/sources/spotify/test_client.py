"""The Spotify client against a fake accounts service + Web API on loopback: one token serves
many calls and is renewed on expiry or one 401, pages follow ``next`` with ``limit`` never above
50, 429/5xx are retried within bounds, a missing playlist is named by id, the user's top tracks
use the refresh-token grant, and no secret reaches an error, a traceback, a repr or a log line."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pydantic
import pytest
import requests

from lakehouse_assets.errors import ConfigurationError, SourceError
from lakehouse_assets.resources.http_client import HttpClient, RetrySettings
from lakehouse_assets.sources.spotify.client import SpotifyClient, SpotifyCredentials
from lakehouse_assets.sources.spotify.resource import SpotifyApiResource
from lakehouse_assets_tests.reliability.fault_server import (
    FaultServer,
    Received,
    Reply,
    fault_server,
)

CLIENT_ID = "client-id-0001"
CLIENT_SECRET = "cl1ent-s3cret-value"
REFRESH = "refr3sh-token-value"
ROTATED = "rotat3d-refresh-token"
PLAYLIST = "3cEYpjA9oz9GiPac4AsH4n"
OTHER = "4dFZqkB0pa0HjQbd5BtI5o"


@dataclass
class FakeSpotify:
    """The accounts service and the Web API, with the state a test inspects or changes."""

    server: FaultServer
    expires_in: int = 3600
    playlists: dict[str, list[Any]] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    top: list[Any] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token → "app" | "user"
    issued: list[str] = field(default_factory=list)
    refresh_token: str = REFRESH
    rotate_to: str | None = None
    failures: deque[Reply] = field(default_factory=deque)
    next_limit: int | None = None  # a next link asking for this limit instead of ours
    limits: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.server.base_url}/v1"

    @property
    def token_url(self) -> str:
        return f"{self.server.base_url}/api/token"

    def token_requests(self) -> list[Received]:
        return [r for r in self.server.received if r.path == "/api/token"]

    def token(self, request: Received) -> Reply:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.method != "POST" or request.headers.get("authorization") != f"Basic {expected}":
            return Reply(400, b'{"error":"invalid_client","error_description":"Invalid client"}')
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        kind = {"client_credentials": "app", "refresh_token": "user"}.get(
            form.get("grant_type", "")
        )
        if kind == "user" and form.get("refresh_token") != self.refresh_token:
            return Reply(400, b'{"error":"invalid_grant","error_description":"Invalid refresh"}')
        if kind is None:
            return Reply(400, b'{"error":"unsupported_grant_type"}')
        token = f"{kind}-access-{len(self.issued) + 1}-t0k3n"
        self.tokens[token] = kind
        self.issued.append(token)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        answer["expires_in"] = self.expires_in
        if kind == "user" and self.rotate_to:
            self.refresh_token = answer["refresh_token"] = self.rotate_to
        return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def api(self, request: Received) -> Reply:
        if self.failures:
            return self.failures.popleft()
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        kind = self.tokens.get(bearer)
        if kind is None:
            return Reply(401, b'{"error":{"status":401,"message":"Invalid access token"}}')
        limit = int(request.query.get("limit", ["20"])[0])
        self.limits.append(limit)
        if limit > 50:
            return Reply(400, b'{"error":{"status":400,"message":"Invalid limit"}}')
        offset = int(request.query.get("offset", ["0"])[0])
        parts = request.path.strip("/").split("/")
        if parts[1:3] == ["me", "top"]:
            if kind != "user":
                return Reply(403, b'{"error":{"status":403,"message":"Insufficient client scope"}}')
            return self.page(self.top, request.path, offset, limit, "&time_range=short_term")
        playlist = parts[2]
        if playlist in self.forbidden:
            return Reply(403, b'{"error":{"status":403,"message":"Forbidden"}}')
        if playlist not in self.playlists:
            return Reply(404, b'{"error":{"status":404,"message":"Resource not found"}}')
        return self.page(self.playlists[playlist], request.path, offset, limit)

    def page(self, rows: list[Any], path: str, offset: int, limit: int, extra: str = "") -> Reply:
        after = offset + limit
        asked = self.next_limit or limit
        following = f"{self.server.base_url}{path}?offset={after}&limit={asked}{extra}"
        answer = {
            "href": f"{self.server.base_url}{path}",
            "items": rows[offset:after],
            "limit": limit,
            "offset": offset,
            "total": len(rows),
            "next": following if after < len(rows) else None,
        }
        return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})


def entries(count: int, prefix: str = "t") -> list[dict[str, Any]]:
    return [{"item": {"id": f"{prefix}{i}", "name": f"Song {i}"}} for i in range(count)]


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    with fault_server() as server:
        fake = FakeSpotify(server, playlists={PLAYLIST: entries(120), OTHER: entries(3, "o")})
        server.route("/api/token", fake.token)
        server.route("/v1/", fake.api)
        yield fake


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(
    spotify: FakeSpotify,
    *,
    sleeps: Sleeps | None = None,
    clock: Clock | None = None,
    budget: float = 30.0,
    refresh: str | None = REFRESH,
) -> SpotifyClient:
    retry = RetrySettings(max_attempts=3, backoff_seconds=0.1, max_total_wait_seconds=budget)
    http = HttpClient(
        requests.Session(),
        timeout_seconds=5.0,
        retry=retry,
        sleep=sleeps if sleeps is not None else Sleeps(),
        clock=clock or Clock(),
    )
    credentials = SpotifyCredentials(CLIENT_ID, CLIENT_SECRET, refresh)
    return SpotifyClient(http, credentials, base_url=spotify.base_url, token_url=spotify.token_url)


def item_ids(pages: list[Any]) -> list[str]:
    return [entry["item"]["id"] for page in pages for entry in page.json()["items"]]


def api_requests(spotify: FakeSpotify) -> list[Received]:
    return [r for r in spotify.server.received if r.path.startswith("/v1/")]


def test_one_token_serves_every_page_of_every_playlist(spotify: FakeSpotify) -> None:
    spotify_client = client(spotify)
    first = list(spotify_client.iter_playlist_pages(PLAYLIST))
    second = list(spotify_client.iter_playlist_pages(OTHER))
    assert item_ids(first) == [f"t{i}" for i in range(120)]
    assert item_ids(second) == ["o0", "o1", "o2"]
    (token_request,) = spotify.token_requests()
    assert parse_qs(token_request.body.decode()) == {"grant_type": ["client_credentials"]}
    assert spotify_client.token_requests == 1
    assert {r.headers["authorization"] for r in api_requests(spotify)} == {
        f"Bearer {spotify.issued[0]}"
    }


def test_pages_follow_next_and_are_kept_verbatim(spotify: FakeSpotify) -> None:
    pages = list(client(spotify).iter_playlist_pages(PLAYLIST))
    assert [p.number for p in pages] == [1, 2, 3]
    assert [
        r.query["offset"][0] if "offset" in r.query else "0" for r in api_requests(spotify)
    ] == [
        "0",
        "50",
        "100",
    ]
    assert all(r.query["limit"] == ["50"] for r in api_requests(spotify))
    again = spotify.page(spotify.playlists[PLAYLIST], f"/v1/playlists/{PLAYLIST}/items", 50, 50)
    assert pages[1].body == again.body  # the bytes as sent


def test_limit_is_never_above_50(spotify: FakeSpotify) -> None:
    spotify.next_limit = 100  # a next link asking for more than the API allows
    assert len(item_ids(list(client(spotify).iter_playlist_pages(PLAYLIST)))) == 120
    assert spotify.limits == [50, 50, 50]
    http = HttpClient(requests.Session())
    credentials = SpotifyCredentials(CLIENT_ID, CLIENT_SECRET)
    with pytest.raises(ConfigurationError, match="page_limit must be 1 to 50"):
        SpotifyClient(http, credentials, page_limit=51)
    with pytest.raises(pydantic.ValidationError):
        SpotifyApiResource(page_limit=51)


def test_an_expired_token_is_renewed_before_use(spotify: FakeSpotify) -> None:
    spotify.expires_in = 120  # renewed 60 s early: good for 60 s on the client's clock
    clock = Clock()
    spotify_client = client(spotify, clock=clock)
    list(spotify_client.iter_playlist_pages(OTHER))
    clock.now += 59
    list(spotify_client.iter_playlist_pages(OTHER))
    assert len(spotify.token_requests()) == 1
    clock.now += 2
    list(spotify_client.iter_playlist_pages(OTHER))
    assert len(spotify.token_requests()) == 2
    assert api_requests(spotify)[-1].headers["authorization"] == f"Bearer {spotify.issued[1]}"


def test_one_401_gets_a_new_token_and_the_page_again(spotify: FakeSpotify) -> None:
    spotify_client = client(spotify)
    pages = spotify_client.iter_playlist_pages(PLAYLIST)
    next(pages)
    spotify.tokens.clear()  # revoked server-side
    assert len(item_ids([*pages])) == 70
    assert len(spotify.token_requests()) == 2
    assert [r.query.get("offset", ["0"])[0] for r in api_requests(spotify)] == [
        "0",
        "50",
        "50",
        "100",
    ]


def test_a_401_with_a_new_token_too_fails_after_one_refresh(spotify: FakeSpotify) -> None:
    spotify.failures.extend([Reply(401, b"{}"), Reply(401, b"{}")])
    with pytest.raises(SourceError) as raised:
        list(client(spotify).iter_playlist_pages(PLAYLIST))
    assert str(raised.value) == (
        f"spotify/popular_songs: HTTP 401 on page 1 of playlist {PLAYLIST}, even with a new token"
    )
    assert len(spotify.token_requests()) == 2


def test_429_waits_as_retry_after_asks(spotify: FakeSpotify) -> None:
    spotify.failures.append(Reply(429, b"", {"Retry-After": "3"}))
    sleeps = Sleeps()
    assert len(item_ids(list(client(spotify, sleeps=sleeps).iter_playlist_pages(OTHER)))) == 3
    assert sleeps == [3.0]


def test_429_beyond_the_budget_fails_carrying_the_wait(spotify: FakeSpotify) -> None:
    spotify.failures.append(Reply(429, b"", {"Retry-After": "900"}))
    sleeps = Sleeps()
    with pytest.raises(SourceError) as raised:
        list(client(spotify, sleeps=sleeps, budget=30).iter_playlist_pages(OTHER))
    assert raised.value.transient and raised.value.retry_after_seconds == 900.0
    assert sleeps == [] and len(api_requests(spotify)) == 1


def test_503_then_success_backs_off(spotify: FakeSpotify) -> None:
    spotify.failures.extend([Reply(503, b"down"), Reply(502, b"")])
    sleeps = Sleeps()
    assert len(item_ids(list(client(spotify, sleeps=sleeps).iter_playlist_pages(OTHER)))) == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


@pytest.mark.parametrize(("status", "reason"), [(404, "not found"), (403, "not accessible")])
def test_a_missing_or_closed_playlist_is_named_by_id(
    spotify: FakeSpotify, status: int, reason: str
) -> None:
    missing = "0000000000000000000000"
    if status == 403:
        spotify.forbidden.add(missing)
    with pytest.raises(SourceError) as raised:
        list(client(spotify).iter_playlist_pages(missing))
    assert str(raised.value) == (
        f"spotify/popular_songs: playlist {missing}: HTTP {status} on page 1 ({reason} with these"
        " credentials)"
    )
    assert raised.value.transient is False
    assert "127.0.0.1" not in str(raised.value) and "/v1/" not in str(raised.value)


def test_a_playlist_id_that_is_not_an_id_is_refused_before_any_request(
    spotify: FakeSpotify,
) -> None:
    with pytest.raises(ConfigurationError, match="is not a Spotify id"):
        client(spotify).iter_playlist_pages("../../me/top/tracks")
    assert spotify.server.received == []


def test_top_tracks_use_the_refresh_token_grant(spotify: FakeSpotify) -> None:
    spotify.top = entries(60, "top")
    spotify.rotate_to = ROTATED
    spotify_client = client(spotify)
    pages = list(spotify_client.iter_top_track_pages())
    assert item_ids(pages) == [f"top{i}" for i in range(60)]
    (token_request,) = spotify.token_requests()
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
    }
    first = api_requests(spotify)[0]
    assert first.path == "/v1/me/top/tracks"
    assert first.query == {"time_range": ["short_term"], "limit": ["50"]}
    spotify.tokens.clear()  # the rotated refresh token is the one used from now on
    list(spotify_client.iter_top_track_pages())
    assert parse_qs(spotify.token_requests()[1].body.decode())["refresh_token"] == [ROTATED]


def test_top_tracks_need_a_refresh_token(spotify: FakeSpotify) -> None:
    with pytest.raises(ConfigurationError, match="no refresh_token"):
        client(spotify, refresh=None).iter_top_track_pages()


def test_a_next_link_to_another_host_is_refused_and_gets_no_token(spotify: FakeSpotify) -> None:
    with fault_server() as other:
        spotify.failures.append(
            Reply(200, json.dumps({"items": [], "next": f"{other.base_url}/v1/x"}).encode())
        )
        with pytest.raises(SourceError, match="next link refused after page 1"):
            list(client(spotify).iter_playlist_pages(PLAYLIST))
        assert other.received == []


def test_the_resource_builds_a_client_from_the_secret(spotify: FakeSpotify) -> None:
    resource = SpotifyApiResource(backoff_seconds=0.01)
    secret = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    built = resource.api_client(secret, base_url=spotify.base_url, token_url=spotify.token_url)
    assert item_ids(list(built.iter_playlist_pages(OTHER))) == ["o0", "o1", "o2"]
    with pytest.raises(ConfigurationError, match="secret lakehouse/spotify: no client_secret"):
        resource.api_client(
            {"client_id": CLIENT_ID},
            base_url=spotify.base_url,
            token_url=spotify.token_url,
            secret_id="lakehouse/spotify",
        )
    with pytest.raises(ConfigurationError, match="spotify base_url: "):
        resource.api_client(secret, base_url="http://169.254.169.254/v1")


def test_no_secret_reaches_errors_tracebacks_reprs_or_logs(
    spotify: FakeSpotify, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    def failing(run: Any) -> None:
        with pytest.raises(SourceError) as raised:
            run()
        texts.append(str(raised.value))
        texts.append("".join(traceback.format_exception(raised.value)))

    good = client(spotify)
    pages = list(good.iter_playlist_pages(PLAYLIST))
    spotify.tokens.clear()
    list(good.iter_top_track_pages())  # a 401-free user grant, then ...
    spotify.failures.extend([Reply(401, b"{}"), Reply(401, b"{}")])
    failing(lambda: list(good.iter_playlist_pages(OTHER)))
    failing(lambda: list(good.iter_playlist_pages("0000000000000000000000")))
    wrong = SpotifyCredentials(CLIENT_ID, "wr0ng-" + CLIENT_SECRET, REFRESH)
    bad = SpotifyClient(
        HttpClient(requests.Session()),
        wrong,
        base_url=spotify.base_url,
        token_url=spotify.token_url,
    )
    failing(lambda: list(bad.iter_playlist_pages(OTHER)))
    spotify.refresh_token = "something-else"
    fresh = client(spotify)
    failing(lambda: list(fresh.iter_top_track_pages()))
    echo = f'{{"access_token": "{CLIENT_SECRET}", "expires_in": "x" '  # truncated JSON
    spotify.server.routes["/api/token"] = lambda r: Reply(200, echo.encode())
    failing(lambda: list(client(spotify).iter_playlist_pages(OTHER)))

    assert "invalid_client" in texts[4] and "invalid_grant" in texts[6]
    texts += [repr(good), repr(bad), repr(wrong), repr(pages), repr(pages[0].request)]
    texts += [r.getMessage() for r in caplog.records]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets = [CLIENT_SECRET, REFRESH, basic, "something-else", *spotify.issued]
    leaks = [(s, t) for t in texts for s in secrets if s in t]
    assert leaks == []
    assert any("access token refused" in r.getMessage() for r in caplog.records)
