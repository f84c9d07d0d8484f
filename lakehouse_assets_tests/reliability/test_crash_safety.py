"""`lakehouse run --source wordpress_api` killed with ``kill -9`` mid-write at each layer, run
twice for one partition, and run twice at once, as a user runs it (a subprocess over real HTTP).

What is pinned down: a kill leaves the previous tables readable (pandas and DuckDB globs) and no
temp file under any table prefix; the next run marks the killed run failed, removes what the
kill left (the bucket's ``_staging/`` temp file, the step's staging folder) and succeeds with
exactly a clean run's rows. A partition run twice gives identical tables; of two runs at once
one wins and the other fails at once with one line, touching nothing.

The kill lands mid-write deterministically: raw is killed while the fault server holds its
download half-sent; bronze, silver and gold while a test-only ``sitecustomize``
(``stall_hook/``, on the subprocess's PYTHONPATH only) holds the store's first temp-file copy
into that bucket's ``_staging/`` half-written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets_tests.reliability.fault_server import FaultServer, fault_server
from lakehouse_assets_tests.reliability.harness import (
    STALL_HOOK,
    Lakehouse,
    WordPressSite,
    assert_tables_equal,
    kill_group,
    parameters,
    read_tables,
    staging_leftovers,
    temp_files_under_tables,
    tree,
    wait_for,
    wordpress_site,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: (A full refresh: the site serves the same bytes as for the baseline, which a daily run would
#: keep rather than write again; these runs must write every layer to be killed mid-write.)
RUN = ("run", "--source", "wordpress_api", "--full-refresh")
MARKED = re.compile(r"^run (\S+) was left running by a killed process: marked failed$", re.M)


@dataclass
class Baseline:
    """A lake after one clean run: the previous tables every case starts from."""

    site: WordPressSite
    lake: Lakehouse
    tables: dict[tuple[str, str], pd.DataFrame]


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


@pytest.fixture(scope="module")
def baseline(server: FaultServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    with wordpress_site(server) as site:
        lake = Lakehouse.create(tmp_path_factory.mktemp("baseline"), parameters(site.urls()))
        done = lake.run(*RUN)
        assert done.returncode == 0, done.explain()
        yield Baseline(site, lake, read_tables(lake))


def run_status(lake: Lakehouse, run_id: str) -> dg.DagsterRunStatus:
    with dg.DagsterInstance.from_config(str(lake.base / "home")) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        return run.status


@pytest.mark.parametrize("layer", ["raw", "bronze", "silver", "gold"])
def test_a_run_killed_mid_write_leaves_the_previous_tables_and_the_next_run_recovers(
    baseline: Baseline, tmp_path: Path, layer: str
) -> None:
    lake = baseline.lake.copy(tmp_path / "lake")
    held_raw = lake.root / "test-raw" / "wordpress_api" / "statistics_pages"
    before_raw = tree(held_raw)
    marker = tmp_path / "stalled"
    if layer == "raw":
        baseline.site.hold("statistics_pages")
        held_before = len(baseline.site.requests_for("statistics_pages"))
        process = lake.start(*RUN)
        wait_for(
            lambda: (
                len(baseline.site.requests_for("statistics_pages")) > held_before
                and any(lake.tmp.glob("lakehouse-stage-*/snapshot.json"))
            ),
            "the raw download to be half-written",
        )
    else:
        served = baseline.site.tables["posts"]
        if layer == "gold":  # gold holds no ingestion columns: the same rows are the same bytes,
            # which are not written again; a retitled post makes the killed run write gold
            baseline.site.set_table("posts", [dict(r, post_title="Retitled") for r in served])
        staging = lake.root / f"test-{layer}" / "_staging"
        process = lake.start(
            *RUN,
            PYTHONPATH=str(STALL_HOOK),
            RELIABILITY_STALL_DIR=str(staging),
            RELIABILITY_STALL_MARKER=str(marker),
        )
        try:
            wait_for(marker.exists, f"a {layer} write to be half-done")
        finally:
            baseline.site.set_table("posts", served)
    kill_group(process)
    baseline.site.release()

    # Killed mid-write: the partial write is where no reader looks; the old tables read as before.
    leftovers = staging_leftovers(lake)
    temp = [Path(p) for p in leftovers if "/_staging/" in p]
    if layer == "raw":
        assert temp == [] and len(leftovers) == 1, leftovers  # the half-downloaded snapshot
    else:
        (half,) = temp  # half a Parquet file, really written, only in that bucket's _staging/
        assert half.parent == lake.root / f"test-{layer}" / "_staging"
        assert half.stat().st_size > 0
    assert temp_files_under_tables(lake) == []
    if layer == "gold":  # (bronze and silver posts were published retitled before the kill)
        retitled = {t: f for t, f in read_tables(lake).items() if t[1] == "posts"}
        assert all((f.post_title == "Retitled").all() for f in retitled.values())
        assert_tables_equal(lake, {**baseline.tables, **retitled})
    else:
        assert_tables_equal(lake, baseline.tables)
    if layer == "raw":
        assert tree(held_raw) == before_raw  # no snapshot of the held download, whole or partial
    for snapshot in (lake.root / "test-raw").rglob("*.json"):
        json.loads(snapshot.read_bytes())  # every raw snapshot kept is whole

    # The next run: the killed run marked failed, leftovers reaped, a clean run's rows.
    done = lake.run(*RUN)
    assert done.returncode == 0, done.explain()
    (killed,) = MARKED.findall(done.stdout)
    assert run_status(lake, killed) == dg.DagsterRunStatus.FAILURE
    assert staging_leftovers(lake) == []
    assert temp_files_under_tables(lake) == []
    assert_tables_equal(lake, baseline.tables)
    for snapshot in (lake.root / "test-raw").rglob("*.json"):
        json.loads(snapshot.read_bytes())
    assert "Traceback" not in done.stderr


def test_the_same_partition_run_twice_gives_identical_tables(
    baseline: Baseline, tmp_path: Path
) -> None:
    lake = baseline.lake.copy(tmp_path / "lake")
    partition = re.search(r"for (\d{4}-\d{2}-\d{2}) succeeded", _first_summary(lake))
    assert partition is not None
    done = lake.run(*RUN, "--partition", partition.group(1))
    assert done.returncode == 0, done.explain()
    assert_tables_equal(lake, baseline.tables)
    for (layer, dataset), frame in read_tables(lake).items():
        pd.testing.assert_frame_equal(
            frame.drop(columns=_ingestion(frame)), _kept(baseline, layer, dataset)
        )
    silver_posts = read_tables(lake)[("silver", "posts")]
    assert silver_posts["ID"].is_unique
    # Raw is history: both ingestions kept, each its own snapshot.
    assert len(list((lake.root / "test-raw" / "wordpress_api" / "posts").rglob("*.json"))) == 2


def test_two_runs_at_once_one_wins_and_the_other_fails_with_one_line(
    baseline: Baseline, tmp_path: Path
) -> None:
    lake = baseline.lake.copy(tmp_path / "lake")
    held = baseline.site.hold("posts")
    seen = len(baseline.site.requests_for("posts"))
    first = lake.start(*RUN)
    try:
        wait_for(lambda: len(baseline.site.requests_for("posts")) > seen, "the first run's fetch")
        before = tree(lake.root)
        second = lake.run(*RUN)
        assert second.returncode == 1, second.explain()
        assert second.stderr.strip().splitlines() == [
            f"wordpress_api: another `lakehouse run` of this source is in progress "
            f"(pid {first.pid}); not started"
        ]
        assert len(baseline.site.requests_for("posts")) == seen + 1  # the loser fetched nothing
        assert tree(lake.root) == before  # and wrote nothing
        held.set()
        stdout, stderr = first.communicate(timeout=120)
    finally:
        baseline.site.release()
        if first.poll() is None:
            kill_group(first)
    assert first.returncode == 0, stdout + stderr
    assert "succeeded" in stdout
    assert temp_files_under_tables(lake) == []
    assert_tables_equal(lake, baseline.tables)


def _first_summary(lake: Lakehouse) -> str:
    with dg.DagsterInstance.from_config(str(lake.base / "home")) as instance:
        (run,) = instance.get_runs()
        return f"for {run.tags['dagster/partition']} succeeded"


def _ingestion(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("_")]


def _kept(baseline: Baseline, layer: str, dataset: str) -> pd.DataFrame:
    frame = baseline.tables[(layer, dataset)]
    return frame.drop(columns=_ingestion(frame))
