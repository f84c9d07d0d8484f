"""Bad replies from a source, and secrets, through `lakehouse run` as a user runs it.

Pinned down: an endpoint answering ``[]`` and a statistics reply far smaller than the last are
blocked by the volume check (bronze included), alerted to the local outbox, and the last good
tables stay current (pandas and DuckDB read them unchanged); ``--accept-shrink`` lets the
smaller reply through. An unexpected extra field reaching silver is recorded in its metadata.
A secret scan (the endpoint URL token, the Spotify client secret, refresh token and issued
access tokens) over stdout/stderr, the Dagster home (event log, run config, tags), every lake
file and the alerts finds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets_tests.reliability.fault_server import fault_server
from lakehouse_assets_tests.reliability.harness import (
    Completed,
    Lakehouse,
    WordPressSite,
    assert_tables_equal,
    comparable,
    duckdb_rows,
    parameters,
    read_tables,
    wordpress_site,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

URL_TOKEN = "urltok-6b1f0e9d2c7a"
SPOTIFY_SECRETS = yaml.safe_load(settings.packaged_secrets_file().read_text(encoding="utf-8"))
SPOTIFY = json.loads(SPOTIFY_SECRETS["lakehouse/spotify"])
SECRETS = (URL_TOKEN, SPOTIFY["client_secret"], SPOTIFY["refresh_token"])
ACCESS_TOKEN = re.compile(rb"(?<![0-9A-Za-z])BQ[0-9A-Za-z]{84}(?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def site() -> Iterator[WordPressSite]:
    with fault_server() as server, wordpress_site(server) as served:
        yield served


def outbox(lake: Lakehouse) -> list[dict[str, object]]:
    path = lake.root / "_alerts" / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def secret_hits(lake: Lakehouse, *outputs: Completed) -> list[str]:
    """Every place a secret appears: command output, any file of the lake or the Dagster home."""
    hits = []
    texts = {f"output {i}": (o.stdout + o.stderr).encode() for i, o in enumerate(outputs)}
    for path in lake.base.rglob("*"):
        if path.is_file() and path.name != "parameters.yaml":  # the configuration itself
            texts[str(path.relative_to(lake.base))] = path.read_bytes()
    for where, data in texts.items():
        hits += [f"{where}: secret {i}" for i, s in enumerate(SECRETS) if s.encode() in data]
        hits += [f"{where}: access token" for _ in ACCESS_TOKEN.findall(data)]
    return hits


def test_shrunk_replies_are_blocked_alerted_and_accepted_on_request(
    site: WordPressSite, tmp_path: Path
) -> None:
    packaged = yaml.safe_load(settings.packaged_parameters_file().read_text(encoding="utf-8"))
    spotify = {k: v for k, v in packaged.items() if k.startswith("/spotify/")}
    lake = Lakehouse.create(tmp_path, parameters(site.urls(f"?token={URL_TOKEN}"), **spotify))
    first = lake.run("run", "--source", "wordpress_api")
    assert first.returncode == 0, first.explain()
    good = read_tables(lake)
    stats = site.tables["statistics_pages"]

    # An endpoint answering [] and a statistics reply a tenth of the last one.
    site.set_table("posts", [])
    site.set_table("statistics_pages", stats[: len(stats) // 10])
    blocked = lake.run("run", "--source", "wordpress_api")
    assert blocked.returncode == 1, blocked.explain()
    failed_checks = sorted(re.findall(r"^  FAILED (\S+)$", blocked.stdout, re.M))
    assert failed_checks == [
        "bronze/wordpress_api/posts:volume",
        "bronze/wordpress_api/statistics_pages:volume",
    ]
    alerts = outbox(lake)
    assert [a["topic"] for a in alerts] == ["bronze"]
    (message,) = [a["message"] for a in alerts]
    assert message["failed_checks"] == failed_checks  # type: ignore[index]
    assert str(message["error"]).startswith(  # type: ignore[index]
        "bronze wordpress_api/posts: 0 rows would replace the current 34 (a drop beyond 50%); "
        "previous table kept."
    )
    assert_tables_equal(lake, good)  # the last good tables, current and readable

    # The source really shrank: accepted on request; an extra field reaches silver, recorded.
    site.set_table("posts", site.tables["posts"])
    terms = [{**row, "surprise_field": "x"} for row in site.tables["terms"]]
    site.set_table("terms", terms)
    accepted = lake.run(
        "run", "--source", "wordpress_api", "--source", "spotify", "--accept-shrink"
    )
    assert accepted.returncode == 0, accepted.explain()
    now = read_tables(lake)
    assert len(now[("bronze", "statistics_pages")]) == len(stats) // 10
    assert duckdb_rows(lake.table_dir("silver", "statistics_pages")) < len(stats) // 10 + 1
    assert len(comparable(now[("silver", "posts")])) == len(comparable(good[("silver", "posts")]))
    assert "surprise_field" in now[("bronze", "terms")].columns
    with dg.DagsterInstance.from_config(str(lake.base / "home")) as instance:
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["silver", "wordpress_api", "terms"])
        )
        assert event is not None and event.asset_materialization is not None
        extra = event.asset_materialization.metadata["extra_columns"].value
    assert "surprise_field" in str(extra)

    assert secret_hits(lake, first, blocked, accepted) == []
