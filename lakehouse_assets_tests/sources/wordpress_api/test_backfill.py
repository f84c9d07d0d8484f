"""Daily snapshot partitions: past days are rebuilt from kept raw snapshots, identically, with
one version per day kept in history and the newest one as the current table."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from lakehouse_assets.lake.layout import raw_snapshot_key as snapshot_key
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake, run_wordpress_job, step_errors

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


def keep_snapshot(lake: LocalLake, dataset: str, day: str, rows: list[dict[str, str]]) -> Path:
    """A raw snapshot as the daily ingestion of ``day`` left it."""
    moment = datetime.fromisoformat(f"{day}T07:00:05+00:00").astimezone(UTC)
    key = snapshot_key("wordpress_api", dataset, day, moment, "orig0001")
    path = lake.bucket_dir("raw") / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def kept_history(lake: LocalLake, site: FixtureSite) -> None:
    """Three days of history: each day a few more page views and one post retitled."""
    for index, day in enumerate(DAYS):
        posts = [dict(r) for r in site.tables["posts"]]
        for post in posts:
            post["post_title"] = f"{post['post_title']} as of {day}"
        stats = site.tables["statistics_pages"][: len(site.tables["statistics_pages"]) - 3 + index]
        keep_snapshot(lake, "posts", day, posts)
        keep_snapshot(lake, "statistics_pages", day, stats)
        keep_snapshot(lake, "terms", day, site.tables["terms"])


def gold_versions(lake: LocalLake) -> dict[str, pd.DataFrame]:
    history = lake.table_dir("gold", "statistics_postname") / "_snapshots"
    return {p.name: pd.read_parquet(p / "data.parquet") for p in sorted(history.iterdir())}


def test_backfill_of_three_past_days_rebuilds_the_original_gold(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    kept_history(local_lake, fixture_site)
    for day in DAYS:  # the original daily runs
        result = run_wordpress_job(partition=day)
        assert result.success, step_errors(result)
        raw_meta = result.asset_materializations_for_node("raw__wordpress_api__posts")[0].metadata
        assert raw_meta["reused_kept_snapshot"].value is True
    original = gold_versions(local_lake)
    current = pd.read_parquet(local_lake.table_dir("gold", "statistics_postname"))
    assert list(original) == DAYS
    frames = list(original.values())  # each day's version differs from the others
    assert not any(a.equals(b) for i, a in enumerate(frames) for b in frames[i + 1 :])
    pd.testing.assert_frame_equal(current, original[DAYS[-1]])

    for layer in ("bronze", "silver", "gold"):  # lose every derived table
        shutil.rmtree(local_lake.bucket_dir(layer))

    from lakehouse_assets.cli import main

    assert main(["backfill", "--start", DAYS[0], "--end", DAYS[-1]]) == 0
    rebuilt = gold_versions(local_lake)
    assert list(rebuilt) == DAYS
    for day in DAYS:
        pd.testing.assert_frame_equal(rebuilt[day], original[day])
        assert not rebuilt[day].duplicated().any()
    pd.testing.assert_frame_equal(
        pd.read_parquet(local_lake.table_dir("gold", "statistics_postname")), original[DAYS[-1]]
    )
    assert rebuilt[DAYS[1]].post_title.str.endswith(f" as of {DAYS[1]}").all()


def test_backfilling_an_old_day_does_not_move_the_current_table_back(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    kept_history(local_lake, fixture_site)
    assert run_wordpress_job().success  # today's ingestion, fetched from the site
    today_gold = pd.read_parquet(local_lake.table_dir("gold", "statistics_postname"))
    result = run_wordpress_job(partition=DAYS[0])
    assert result.success
    meta = result.asset_materializations_for_node("gold__wordpress_api__statistics_postname")[0]
    assert meta.metadata["is_current_table"].value is False
    pd.testing.assert_frame_equal(
        pd.read_parquet(local_lake.table_dir("gold", "statistics_postname")), today_gold
    )


def test_a_past_day_without_a_kept_snapshot_fails_clearly(local_lake: LocalLake) -> None:
    errors = step_errors(run_wordpress_job(partition="2025-06-01"))
    assert errors["raw__wordpress_api__posts"] == (
        "SourceError: wordpress_api/posts: no raw snapshot was kept for 2025-06-01: the source "
        "serves only current data, so a past day can be rebuilt only from a snapshot ingested "
        "that day"
    )
    assert not (local_lake.bucket_dir("gold")).exists()


@pytest.mark.parametrize("partition", [DAYS[0]])
def test_rerunning_a_day_replaces_its_version_without_duplicates(
    local_lake: LocalLake, fixture_site: FixtureSite, partition: str
) -> None:
    kept_history(local_lake, fixture_site)
    assert run_wordpress_job(partition=partition).success
    first = gold_versions(local_lake)[partition]
    assert run_wordpress_job(partition=partition).success
    versions = gold_versions(local_lake)
    assert list(versions) == [partition]
    pd.testing.assert_frame_equal(versions[partition], first)
