"""The Spotify contract end to end: ``lakehouse run --source spotify`` against a handcrafted
fake accounts service + Web API over real HTTP on loopback, then the published tables read with
``pandas.read_parquet(<prefix>)``: exactly the contract's columns in order (plus ``_`` extras)
and dtypes, ``item`` winning over ``track``, ``track``-only entries, null / local (entry or
track) / episode entries left out with their places kept as gaps across ``next`` pages,
``track_pop`` null (never 0) without popularity, ``album_dt`` as sent, ``artists`` joined,
configured playlist order, ``top_played`` by rank; a second run of the week replaces silver
and keeps both raw snapshots; a 404 playlist fails the run naming the playlist id; 429
Retry-After and one 401 are survived; the week is the one starting Monday in
``LAKEHOUSE_TIMEZONE``.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.cli import main
from lakehouse_assets_tests.reliability.fault_server import Received, Reply, fault_server
from lakehouse_assets_tests.sources.spotify.test_client import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH,
    FakeSpotify,
)

FIRST = "1aaaaaaaaaaaaaaaaaaaaa"  # configured first, sorts last
SECOND = "0bbbbbbbbbbbbbbbbbbbbb"
MISSING = "9zzzzzzzzzzzzzzzzzzzzz"
COLUMNS = [
    "artist", "track", "track_pop", "duration_ms", "album_nm", "album_dt", "album_dt_precision",
    "track_id", "artists", "position",
]  # fmt: skip
DTYPES = {
    "artist": "str", "track": "str", "track_pop": "Int64", "duration_ms": "int64",
    "album_nm": "str", "album_dt": "str", "album_dt_precision": "str", "track_id": "str",
    "artists": "str", "position": "int64",
}  # fmt: skip
SILVER = Path("data-lakehouse-silver") / "spotify"
RAW = Path("data-lakehouse-raw") / "spotify"


def track(
    track_id: str,
    *artists: str,
    popularity: int | None = 50,
    released: tuple[str, str] = ("1981-12-15", "day"),
    **extra: Any,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": track_id,
        "name": f"Song {track_id}",
        "type": "track",
        "is_local": False,
        "duration_ms": 200_000 + len(track_id),
        "artists": [{"name": a, "id": a.lower(), "type": "artist"} for a in artists or ("X",)],
        "album": {
            "name": f"Album {track_id}",
            "release_date": released[0],
            "release_date_precision": released[1],
        },
        **extra,
    }
    if popularity is not None:
        value["popularity"] = popularity
    return value


EPISODE = {"id": "ep1", "name": "Episode", "type": "episode", "duration_ms": 1000}
A = track("A", "Alpha", "Beta", "Gamma", popularity=0)
B = track("B", "Bravo")
C = track("C", "Charlie", popularity=None, released=("1981", "year"))
D = track("D", "Delta", released=("1981-12", "month"))
E = track("E", "Echo", popularity=71)
FIRST_ENTRIES: list[Any] = [
    {"item": A, "track": B},  # 0: item wins
    None,  # 1
    {"track": C},  # 2: deprecated field only
    {"item": D, "track": D, "is_local": True},  # 3: local on the entry
    {"item": {**E, "is_local": True}},  # 4: local on the track
    {"item": EPISODE, "track": EPISODE},  # 5
    {"item": A},  # 6: listed twice
    {"item": None, "track": None},  # 7
    {"item": D},  # 8
]
SECOND_ENTRIES: list[Any] = [{"item": E}, {"item": B}]
TOP: list[Any] = [E, C, A]


class SmallPages(FakeSpotify):
    """Pages of at most 2 entries, whatever ``limit`` asks (a server may send fewer)."""

    def page(self, rows: list[Any], path: str, offset: int, limit: int, extra: str = "") -> Reply:
        return super().page(rows, path, offset, min(limit, 2), extra)


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    with fault_server() as server:
        fake = SmallPages(server, playlists={FIRST: FIRST_ENTRIES, SECOND: SECOND_ENTRIES})
        fake.top = TOP
        server.route("/api/token", fake.token)
        server.route("/v1/", fake.api)
        yield fake


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spotify: FakeSpotify) -> Path:
    values = yaml.safe_load(settings.packaged_parameters_file().read_text())
    values.update(
        {
            "/spotify/api/playlists": [FIRST, SECOND],
            "/spotify/api/base_url": spotify.base_url,
            "/spotify/accounts/token_url": spotify.token_url,
        }
    )
    (tmp_path / "parameters.yaml").write_text(yaml.safe_dump(values))
    secret = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(tmp_path / "parameters.yaml"))
    monkeypatch.setenv("LAKEHOUSE_SECRET_LAKEHOUSE_SPOTIFY", json.dumps(secret))
    return tmp_path / "lake"


def rows(frame: pd.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    plain = frame.astype(object).where(frame.notna(), None)
    return [tuple(r) for r in plain[list(columns)].itertuples(index=False)]


def test_tables_through_lakehouse_run(lake: Path, spotify: FakeSpotify) -> None:
    assert main(["run", "--source", "spotify"]) == 0
    popular = pd.read_parquet(lake / SILVER / "popular_songs")
    top = pd.read_parquet(lake / SILVER / "top_played")
    assert [c for c in popular.columns if not c.startswith("_")] == [*COLUMNS, "playlist_id"]
    assert [c for c in top.columns if not c.startswith("_")] == COLUMNS
    assert {c: str(popular[c].dtype) for c in COLUMNS} == DTYPES
    assert {c: str(top[c].dtype) for c in COLUMNS} == DTYPES
    assert rows(popular, "track_id", "position", "playlist_id", "track_pop") == [
        ("A", 0, FIRST, 0),
        ("C", 2, FIRST, None),
        ("A", 6, FIRST, 0),
        ("D", 8, FIRST, 50),
        ("E", 0, SECOND, 71),
        ("B", 1, SECOND, 50),
    ]
    first = popular.iloc[0]
    assert (first.artist, first.track, first.artists) == ("Alpha", "Song A", "Alpha, Beta, Gamma")
    assert (first.album_nm, first.duration_ms) == ("Album A", 200_001)
    assert rows(popular, "album_dt", "album_dt_precision")[1:4] == [
        ("1981", "year"),
        ("1981-12-15", "day"),
        ("1981-12", "month"),
    ]
    assert rows(top, "track_id", "position", "track_pop") == [
        ("E", 0, 71),
        ("C", 1, None),
        ("A", 2, 0),
    ]

    # The same week again: silver replaced (never appended), both raw snapshots kept.
    assert main(["run", "--source", "spotify"]) == 0
    assert len(pd.read_parquet(lake / SILVER / "popular_songs")) == 6
    assert len(pd.read_parquet(lake / SILVER / "top_played")) == 3
    for dataset in ("popular_songs", "top_played"):
        snapshots = [p for p in (lake / RAW / dataset).rglob("*") if p.is_file()]
        assert len(snapshots) == 2, snapshots


def test_a_missing_playlist_fails_the_run_naming_its_id(
    lake: Path, spotify: FakeSpotify, capsys: pytest.CaptureFixture[str]
) -> None:
    parameters = lake.parent / "parameters.yaml"
    values = yaml.safe_load(parameters.read_text())
    values["/spotify/api/playlists"] = [FIRST, MISSING]
    parameters.write_text(yaml.safe_dump(values))
    assert main(["run", "--source", "spotify"]) == 1
    out = capsys.readouterr()
    printed = out.out + out.err
    assert MISSING in printed and "404" in printed
    assert spotify.base_url not in printed and "/v1/playlists" not in printed


def test_429_and_one_401_are_survived(lake: Path, spotify: FakeSpotify) -> None:
    times: list[float] = []

    def timed(request: Received) -> Reply:
        times.append(time.monotonic())
        return spotify.api(request)

    spotify.server.route("/v1/", timed)
    spotify.failures.extend(
        [
            Reply(429, b'{"error":{"status":429}}', {"Retry-After": "1"}),
            Reply(401, b'{"error":{"status":401,"message":"The access token expired"}}'),
        ]
    )
    assert main(["run", "--source", "spotify"]) == 0
    assert len(pd.read_parquet(lake / SILVER / "popular_songs")) == 6
    assert times[1] - times[0] >= 1.0  # Retry-After: 1 waited
    assert len(spotify.issued) == 3  # app token, its renewal after the 401, the user token


@pytest.mark.parametrize(
    ("timezone", "now", "week"),
    [
        # Sunday 20:00 UTC is Monday 09:00 in Auckland: that Monday's week.
        ("Pacific/Auckland", datetime(2026, 11, 22, 20, 0, tzinfo=UTC), "2026-11-23"),
        # Monday 03:00 UTC is still Sunday in Los Angeles: the week before.
        ("America/Los_Angeles", datetime(2026, 11, 30, 3, 0, tzinfo=UTC), "2026-11-23"),
    ],
)
def test_the_week_starts_monday_in_the_pipeline_timezone(
    lake: Path, timezone: str, now: datetime, week: str
) -> None:
    # In a process of its own: the code location reads the timezone once, when it is loaded.
    script = (
        "import sys; from datetime import datetime\n"
        "from dagster._core.test_utils import freeze_time\n"
        "from lakehouse_assets.cli import main\n"
        f"with freeze_time(datetime.fromisoformat({now.isoformat()!r})):\n"
        "    sys.exit(main(['run', '--source', 'spotify']))\n"
    )
    env = {**os.environ, settings.TIMEZONE_VAR: timezone}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    for dataset in ("popular_songs", "top_played"):
        assert [p.name for p in (lake / RAW / dataset).iterdir()] == [f"ingest_date={week}"]
        assert [p.name for p in (lake / SILVER / dataset / "_snapshots").iterdir()] == [week]


MINIMAL = "2ccccccccccccccccccccc"
#: Track objects as a terse server (or an older API version) sends them: no ``type``, no
#: ``is_local``, no precision; what says "not a track" or "local" is the URI or a legacy flag.
MINIMAL_ENTRIES: list[Any] = [
    {"item": {"id": "M1", "name": "Minimal", "duration_ms": 1000, "artists": [{"name": "Mo"}],
              "album": {"name": "Mini", "release_date": "2001"}}},
    {"item": {"id": None, "name": "Demo", "duration_ms": 5, "uri": "spotify:local:a:b:Demo:5"}},
    {"item": {"id": "ep9", "name": "Talk", "duration_ms": 9, "uri": "spotify:episode:ep9"}},
    {"track": {"id": "ep8", "name": "Talk", "duration_ms": 9, "episode": True, "track": False}},
    {"item": {"id": "M2", "name": "Second", "duration_ms": 2000, "uri": "spotify:track:M2"}},
]  # fmt: skip


def test_terse_track_objects_and_a_playlist_configured_twice(
    lake: Path, spotify: FakeSpotify
) -> None:
    spotify.playlists[MINIMAL] = MINIMAL_ENTRIES
    parameters = lake.parent / "parameters.yaml"
    values = yaml.safe_load(parameters.read_text())
    values["/spotify/api/playlists"] = [MINIMAL, SECOND, MINIMAL]
    parameters.write_text(yaml.safe_dump(values))
    assert main(["run", "--source", "spotify"]) == 0
    popular = pd.read_parquet(lake / SILVER / "popular_songs")
    assert rows(popular, "playlist_id", "track_id", "position", "track_pop", "artists") == [
        (MINIMAL, "M1", 0, None, "Mo"),
        (MINIMAL, "M2", 4, None, None),
        (SECOND, "E", 0, 71, "Echo"),
        (SECOND, "B", 1, 50, "Bravo"),
        (MINIMAL, "M1", 0, None, "Mo"),
        (MINIMAL, "M2", 4, None, None),
    ]
    assert rows(popular, "album_nm", "album_dt", "album_dt_precision")[0] == ("Mini", "2001", None)
    assert str(popular["track_pop"].dtype) == "Int64"
