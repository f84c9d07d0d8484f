"""The sample Spotify answers like the real service, over real HTTP with plain ``requests``.

Pins down: the token grants (client credentials, refresh token) and their 400s, Bearer checks
(no token, unknown, expired → 401), ``limit`` above 50 → 400, paging by absolute ``next`` URLs
to the end, 404 for unknown and editorial playlists, top tracks needing the user token (403 for
an app token), scripted 429s, the 2026 quirks present in the packaged data, the same sample for
the same seed, its parameters and secret, the in-process adapter, and a 3 × 1,000-entry timing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from lakehouse_assets.sources.spotify.sample_api import (
    SAMPLE_BASE_URL,
    SAMPLE_CLIENT_ID,
    SAMPLE_CLIENT_SECRET,
    SAMPLE_REFRESH_TOKEN,
    SAMPLE_SECRET,
    SAMPLE_SIZES,
    SAMPLE_TOKEN_URL,
    SampleSpotify,
    mount_sample,
    sample_api,
    sample_parameters,
    serve,
)
from lakehouse_assets.sources.spotify.silver import popular_songs_table

pytestmark = pytest.mark.integration

CREDENTIALS = (SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET)


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    api: SampleSpotify
    origin: str
    clock: Clock

    @property
    def token_url(self) -> str:
        return f"{self.origin}/api/token"

    def url(self, path: str) -> str:
        return f"{self.origin}/v1{path}"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    clock = Clock()
    api = sample_api(clock=clock)
    with serve(api) as origin:
        yield Served(api, origin, clock)


def app_token(served: Served) -> str:
    answer = requests.post(
        served.token_url, auth=CREDENTIALS, data={"grant_type": "client_credentials"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def user_token(served: Served) -> str:
    answer = requests.post(
        served.token_url,
        auth=CREDENTIALS,
        data={"grant_type": "refresh_token", "refresh_token": SAMPLE_REFRESH_TOKEN},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def all_pages(url: str, token: str, session: Any = requests) -> list[dict[str, Any]]:
    pages = []
    while url:
        answer = session.get(url, headers=bearer(token), timeout=10)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        url = pages[-1]["next"]
    return pages


def test_client_credentials_grant(served: Served) -> None:
    answer = requests.post(
        served.token_url, auth=CREDENTIALS, data={"grant_type": "client_credentials"}, timeout=10
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600


def test_refresh_token_grant_carries_the_scope(served: Served) -> None:
    answer = requests.post(
        served.token_url,
        auth=CREDENTIALS,
        data={"grant_type": "refresh_token", "refresh_token": SAMPLE_REFRESH_TOKEN},
        timeout=10,
    )
    assert answer.status_code == 200
    assert "user-top-read" in answer.json()["scope"].split()


@pytest.mark.parametrize(
    ("auth", "form", "error"),
    [
        ((SAMPLE_CLIENT_ID, "wrong"), {"grant_type": "client_credentials"}, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, "invalid_client"),
        (CREDENTIALS, {"grant_type": "refresh_token", "refresh_token": "x"}, "invalid_grant"),
        (CREDENTIALS, {}, "unsupported_grant_type"),
        (CREDENTIALS, {"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_bad_token_requests_are_400(
    served: Served, auth: tuple[str, str] | None, form: dict[str, str], error: str
) -> None:
    answer = requests.post(served.token_url, auth=auth, data=form, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_client_credentials_in_the_form_are_accepted_too(served: Served) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": SAMPLE_CLIENT_ID,
        "client_secret": SAMPLE_CLIENT_SECRET,
    }
    assert requests.post(served.token_url, data=form, timeout=10).status_code == 200


def test_paging_follows_absolute_next_urls_to_the_end(served: Served) -> None:
    token = app_token(served)
    for playlist_id, size in zip(served.api.playlist_ids, SAMPLE_SIZES, strict=True):
        pages = all_pages(served.url(f"/playlists/{playlist_id}/items?limit=50"), token)
        assert len(pages) == -(-size // 50)
        assert [p["offset"] for p in pages] == list(range(0, size, 50))
        assert all(p["total"] == size and p["limit"] == 50 for p in pages)
        assert sum(len(p["items"]) for p in pages) == size
        for page in pages[:-1]:
            assert page["next"].startswith(f"{served.origin}/v1/playlists/{playlist_id}/items?")
        assert pages[0]["previous"] is None and pages[-1]["next"] is None


def test_default_limit_is_20_and_other_parameters_stay_in_next(served: Served) -> None:
    playlist_id = served.api.playlist_ids[1]
    url = served.url(f"/playlists/{playlist_id}/items?market=GB")
    page = requests.get(url, headers=bearer(app_token(served)), timeout=10).json()
    assert page["limit"] == 20 and len(page["items"]) == 20
    assert page["next"] == served.url(
        f"/playlists/{playlist_id}/items?offset=20&limit=20&market=GB"
    )


@pytest.mark.parametrize("limit", ["51", "0", "fifty"])
def test_limit_out_of_range_is_400(served: Served, limit: str) -> None:
    playlist_id = served.api.playlist_ids[0]
    url = served.url(f"/playlists/{playlist_id}/items?limit={limit}")
    answer = requests.get(url, headers=bearer(app_token(served)), timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": {"status": 400, "message": "Invalid limit"}}


@pytest.mark.parametrize("playlist_id", ["0000000000000000000000", "37i9dQZF1DXcBWIGoYBM5M"])
def test_unknown_and_editorial_playlists_are_404(served: Served, playlist_id: str) -> None:
    url = served.url(f"/playlists/{playlist_id}/items?limit=50")
    answer = requests.get(url, headers=bearer(app_token(served)), timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == 404


def test_tokens_are_checked_and_expire(served: Served) -> None:
    url = served.url(f"/playlists/{served.api.playlist_ids[0]}/items?limit=50")
    assert requests.get(url, timeout=10).json() == {
        "error": {"status": 401, "message": "No token provided"}
    }
    answer = requests.get(url, headers=bearer("not-a-token"), timeout=10)
    assert answer.status_code == 401
    token = app_token(served)
    assert requests.get(url, headers=bearer(token), timeout=10).status_code == 200
    served.clock.now += 3600
    try:
        answer = requests.get(url, headers=bearer(token), timeout=10)
    finally:
        served.clock.now -= 3600
    assert answer.status_code == 401
    assert answer.json() == {"error": {"status": 401, "message": "The access token expired"}}


def test_top_tracks_need_the_user_token(served: Served) -> None:
    url = served.url("/me/top/tracks?time_range=short_term&limit=50")
    answer = requests.get(url, headers=bearer(app_token(served)), timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}

    pages = all_pages(url, user_token(served))
    items = [t for p in pages for t in p["items"]]
    assert len(pages) == 1 and len(items) == 30 == pages[0]["total"]
    assert all(t["type"] == "track" and "item" not in t and t["id"] for t in items)
    assert len({t["id"] for t in items}) == 30


def test_scripted_rate_limit_answers_429_with_retry_after(served: Served) -> None:
    url = served.url(f"/playlists/{served.api.playlist_ids[0]}/items?limit=50")
    token = app_token(served)
    served.api.fail_next(429, retry_after=2, path_prefix="/v1/")
    answer = requests.get(url, headers=bearer(token), timeout=10)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    assert requests.get(url, headers=bearer(token), timeout=10).status_code == 200


def entries_of(api: SampleSpotify) -> list[Any]:
    return [e for entries in api.playlists.values() for e in entries]


def test_the_packaged_data_carries_the_2026_quirks() -> None:
    api = sample_api()
    for entries in api.playlists.values():
        assert 20 <= len(entries) <= 80
        assert None in entries
        present = [e for e in entries if e is not None]
        assert any("item" in e and "track" in e and e["item"] != e["track"] for e in present)
        assert any("item" not in e and e.get("track") for e in present)
        assert any(e.get("item", "x") is None for e in present)
        assert any(e["is_local"] for e in present)
        assert any(not e["is_local"] and (e.get("item") or {}).get("is_local") for e in present)
        assert any((e.get("item") or {}).get("type") == "episode" for e in present)
        ids = [(e.get("item") or e.get("track") or {}).get("id") for e in present]
        tracks = [i for i in ids if i]
        assert len(tracks) > len(set(tracks))  # a track listed twice
    items = [
        e.get("item") or e.get("track")
        for e in entries_of(api)
        if e and (e.get("item") or e.get("track") or {}).get("type") == "track"
    ]
    tracks = [t for t in items if t["id"]]  # local files have no id
    assert any("popularity" not in t for t in tracks)
    assert any(t.get("popularity") == 0 for t in tracks)
    assert {t["album"]["release_date_precision"] for t in tracks} == {"day", "month", "year"}
    assert {len(t["album"]["release_date"]) for t in tracks} == {4, 7, 10}
    assert any(len(t["artists"]) > 1 for t in tracks)
    assert any(not t["name"].isascii() for t in tracks)
    assert any(not a["name"].isascii() for t in tracks for a in t["artists"])


def test_the_same_seed_gives_the_same_sample() -> None:
    first, second = sample_api(), sample_api()
    assert json.dumps(first.playlists) == json.dumps(second.playlists)
    assert json.dumps(first.top_tracks) == json.dumps(second.top_tracks)
    assert json.dumps(sample_api(seed=7).playlists) != json.dumps(first.playlists)


def test_parameters_and_secret_match_the_sample() -> None:
    parameters = sample_parameters()
    assert parameters == {
        "/spotify/api/playlists": sample_api().playlist_ids,
        "/spotify/api/base_url": "http://api.spotify.sample.invalid/v1",
        "/spotify/accounts/token_url": "http://accounts.spotify.sample.invalid/api/token",
        "/spotify/secret_id": "lakehouse/spotify",
    }
    assert sample_parameters(origin="http://127.0.0.1:5")["/spotify/api/base_url"] == (
        "http://127.0.0.1:5/v1"
    )
    assert json.loads(SAMPLE_SECRET) == {
        "client_id": SAMPLE_CLIENT_ID,
        "client_secret": SAMPLE_CLIENT_SECRET,
        "refresh_token": SAMPLE_REFRESH_TOKEN,
    }


def test_the_in_process_adapter_answers_at_the_reserved_hosts() -> None:
    session = requests.Session()
    adapter = mount_sample(session)
    answer = session.post(
        SAMPLE_TOKEN_URL, auth=CREDENTIALS, data={"grant_type": "client_credentials"}, timeout=10
    )
    token = answer.json()["access_token"]
    playlist_id = sample_parameters()["/spotify/api/playlists"][2]
    pages = all_pages(f"{SAMPLE_BASE_URL}/playlists/{playlist_id}/items?limit=50", token, session)
    assert [p["offset"] for p in pages] == [0, 50]
    assert pages[0]["next"].startswith(f"{SAMPLE_BASE_URL}/playlists/{playlist_id}/items?")
    assert adapter.service.requests_seen[0] == "POST /api/token"
    assert all(SAMPLE_CLIENT_SECRET not in seen for seen in adapter.service.requests_seen)


def test_three_playlists_of_a_thousand_entries_fetch_and_type_quickly() -> None:
    started = time.perf_counter()
    session = requests.Session()
    api = sample_api(playlists=3, entries_per_playlist=1000, seed=11)
    mount_sample(session, api)
    token = session.post(
        SAMPLE_TOKEN_URL, auth=CREDENTIALS, data={"grant_type": "client_credentials"}, timeout=10
    ).json()["access_token"]
    pages = [
        (p, all_pages(f"{SAMPLE_BASE_URL}/playlists/{p}/items?limit=50", token, session))
        for p in api.playlist_ids
    ]
    fetched = time.perf_counter()
    table, report = popular_songs_table(pages)
    typed = time.perf_counter()
    print(f"3 x 1000 entries: fetch {fetched - started:.2f}s, silver {typed - fetched:.3f}s")
    assert report.pages == 60 and report.entries == 3000
    assert table.num_rows == 3000 - sum(report.left_out.values())
    assert typed - started < 20
