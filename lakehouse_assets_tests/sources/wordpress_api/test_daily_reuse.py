"""A daily run over kept history publishes what a from-scratch run of that day publishes, while a
table whose input did not change is kept, not rebuilt.

Four days: new statistics rows; then a late row for an old day, a changed count and an edited
post; then a day on which nothing changed. Terms never change. After each day the current
bronze, silver and gold tables of the incremental lake equal, frame for frame, those of a fresh
lake and instance that ran only that day (ingestion metadata, the ``_`` columns, names the
identical snapshot that first brought a kept row, so it is left out of the comparison).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.lake.layout import raw_snapshot_key
from lakehouse_assets.medallion.reuse import INPUT_FINGERPRINT, REUSED_FROM
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake, run_wordpress_job, step_errors

DAYS = ["2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"]
DATASETS = ("posts", "statistics_pages", "terms")
TABLES = [(layer, d) for layer in ("bronze", "silver") for d in DATASETS] + [
    ("gold", "statistics_postname")
]
Rows = list[dict[str, str]]


def history(site: FixtureSite) -> list[dict[str, Rows]]:
    """Each day's tables as the endpoints served them."""
    posts = [dict(r) for r in site.tables["posts"]]
    stats = [dict(r) for r in site.tables["statistics_pages"]]
    terms = site.tables["terms"]
    base = stats[:-4]
    next_id = max(int(r["page_id"]) for r in stats) + 100
    post_id = next(r["ID"] for r in posts if r["post_type"] == "post")
    new_rows = [
        {**base[-1], "page_id": str(next_id + i), "date": "2026-04-02", "count": str(3 + i)}
        for i in range(2)
    ]
    day2_stats = base + new_rows
    late = {**base[0], "page_id": str(next_id + 5), "date": "2026-01-15", "id": post_id}
    changed = {**new_rows[-1], "count": "99"}  # the day's count, final now
    day3_stats = [*base, new_rows[0], changed, late]
    edited = [dict(r, post_title="Edited title") if r["ID"] == post_id else r for r in posts]
    return [
        {"posts": posts, "statistics_pages": base, "terms": terms},
        {"posts": posts, "statistics_pages": day2_stats, "terms": terms},
        {"posts": edited, "statistics_pages": day3_stats, "terms": terms},
        {"posts": edited, "statistics_pages": day3_stats, "terms": terms},
    ]


def keep_snapshots(root: Path, day: str, tables: dict[str, Rows]) -> None:
    """The raw snapshots the daily ingestion of ``day`` kept (same rows, same bytes)."""
    moment = datetime.fromisoformat(f"{day}T07:00:05+00:00").astimezone(UTC)
    for dataset, rows in tables.items():
        key = raw_snapshot_key("wordpress_api", dataset, day, moment, "orig0001")
        path = root / "test-raw" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows), encoding="utf-8")


def current_tables(root: Path) -> dict[tuple[str, str], pd.DataFrame]:
    tables = {}
    for layer, dataset in TABLES:
        frame = pd.read_parquet(root / f"test-{layer}" / "wordpress_api" / dataset)
        tables[(layer, dataset)] = frame[[c for c in frame.columns if not c.startswith("_")]]
    return tables


def metadata(result: dg.ExecuteInProcessResult, layer: str, dataset: str) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(
        f"{layer}__wordpress_api__{dataset}"
    )
    return {name: value.value for name, value in materialization.metadata.items()}


def reused(result: dg.ExecuteInProcessResult) -> set[tuple[str, str]]:
    return {t for t in TABLES if REUSED_FROM in metadata(result, *t)}


def test_daily_runs_equal_full_runs_and_keep_unchanged_tables(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    days = history(fixture_site)
    instance = dg.DagsterInstance.ephemeral()
    expected_reuse: list[set[tuple[str, str]]] = [
        set(),
        {(layer, d) for layer in ("bronze", "silver") for d in ("posts", "terms")},
        {("bronze", "terms"), ("silver", "terms")},
        set(TABLES),
    ]
    for index, (day, tables) in enumerate(zip(DAYS, days, strict=True)):
        keep_snapshots(local_lake.root, day, tables)
        before = {
            t: (local_lake.table_dir(*t) / "data.parquet").stat().st_mtime_ns
            for t in expected_reuse[index]
        }
        result = run_wordpress_job(instance, partition=day)
        assert result.success, step_errors(result)
        assert reused(result) == expected_reuse[index], day
        for table in expected_reuse[index]:
            meta = metadata(result, *table)
            assert meta[REUSED_FROM] == DAYS[index - 1]
            assert meta["dagster/row_count"] > 0
            # the current table was kept, not written again
            assert (local_lake.table_dir(*table) / "data.parquet").stat().st_mtime_ns == before[
                table
            ]
        for table in set(TABLES) - expected_reuse[index]:
            assert INPUT_FINGERPRINT in metadata(result, *table)
        incremental = current_tables(local_lake.root)

        fresh = tmp_path / f"full-{day}"  # a from-scratch run of that day alone
        monkeypatch.setenv(settings.ROOT_VAR, str(fresh))
        keep_snapshots(fresh, day, tables)
        full_run = run_wordpress_job(dg.DagsterInstance.ephemeral(), partition=day)
        assert full_run.success, step_errors(full_run)
        assert reused(full_run) == set()
        monkeypatch.setenv(settings.ROOT_VAR, str(local_lake.root))
        for table, frame in current_tables(fresh).items():
            pd.testing.assert_frame_equal(incremental[table], frame, obj=f"{day} {table}")

    gold = incremental[("gold", "statistics_postname")]
    assert (gold.post_title == "Edited title").any()
    assert 99 in gold.statistics_count.tolist()


def test_the_same_rows_in_other_bytes_are_rebuilt_and_a_backfill_is_never_kept(
    local_lake: LocalLake, fixture_site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reuse is decided on the snapshot's bytes, only for a day that becomes current, and
    never in a full refresh."""
    tables = history(fixture_site)[0]
    instance = dg.DagsterInstance.ephemeral()
    keep_snapshots(local_lake.root, DAYS[1], tables)
    assert run_wordpress_job(instance, partition=DAYS[1]).success
    spaced = local_lake.root / "test-raw" / "wordpress_api" / "terms" / f"ingest_date={DAYS[2]}"
    keep_snapshots(local_lake.root, DAYS[2], tables)
    (snapshot,) = spaced.iterdir()
    snapshot.write_text(json.dumps(tables["terms"], indent=1), encoding="utf-8")
    result = run_wordpress_job(instance, partition=DAYS[2])
    assert result.success, step_errors(result)
    assert ("bronze", "terms") not in reused(result)
    assert ("bronze", "posts") in reused(result)
    # an older day than the current one is rebuilt into its own history entry
    keep_snapshots(local_lake.root, DAYS[0], tables)
    backfill = run_wordpress_job(instance, partition=DAYS[0])
    assert backfill.success, step_errors(backfill)
    assert reused(backfill) == set()
    again = run_wordpress_job(instance, partition=DAYS[2])
    assert reused(again) == set(TABLES)
    monkeypatch.setenv(settings.FULL_REFRESH_VAR, "1")  # `lakehouse run --full-refresh`'s tag
    full = run_wordpress_job(instance, partition=DAYS[2])
    assert full.success, step_errors(full)
    assert reused(full) == set()


def test_fingerprints_follow_the_code_that_builds_a_layer() -> None:
    from lakehouse_assets.medallion import bronze, silver
    from lakehouse_assets.medallion.reuse import code_version, fingerprint

    assert code_version(bronze) != code_version(silver)
    assert code_version(bronze) == code_version(bronze)
    assert fingerprint("a", "bc") != fingerprint("ab", "c")


def fetched_days(site: FixtureSite) -> list[dict[str, Rows]]:
    """Daily states of the site as its endpoints serve them, statistics in pages of 40."""
    posts = [dict(r) for r in site.tables["posts"]]
    stats = [dict(r) for r in site.tables["statistics_pages"]]
    post_id = next(r["ID"] for r in posts if r["post_type"] == "post")
    next_id = max(int(r["page_id"]) for r in stats) + 1
    day_a = stats[:200]
    day_b = stats[:200] + [dict(r, page_id=str(next_id + i)) for i, r in enumerate(stats[:15])]
    day_c = [dict(r) for r in day_b]
    day_c[205]["count"] = "77"  # a count that moved on the last pages
    day_c.append({**stats[3], "page_id": str(next_id + 40), "date": "2026-01-02", "id": post_id})
    edited = [dict(r, post_title="Edited") if r["ID"] == post_id else r for r in posts]
    day_d = [dict(r) for r in day_c]
    day_d[1]["count"] = "5"  # a count on the first page: nothing repeats
    day_e = [*day_d, dict(day_d[7], count="1")]  # an old key listed again, last
    day_f = [*day_e, dict(day_e[-1], page_id=str(next_id + 41), referrer="x")]  # a new column
    return [
        {"posts": posts, "statistics_pages": day_a},
        {"posts": posts, "statistics_pages": day_b},
        {"posts": edited, "statistics_pages": day_c},
        {"posts": edited, "statistics_pages": day_d},
        {"posts": edited, "statistics_pages": day_d},
        {"posts": edited, "statistics_pages": day_e},
        {"posts": edited, "statistics_pages": day_f},
    ]


def test_fetched_days_parse_only_the_pages_that_changed(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixture_site.site.page_size = 40
    instance = dg.DagsterInstance.ephemeral()
    # The first page each day's bronze parsed again (None: all of them), and whether silver
    # typed only those rows: not once an old key comes again after them (it must be merged).
    spliced_pages = [None, 5, 5, None, None, 5, None]
    silver_spliced = [False, True, True, False, False, False, False]
    for day, (tables, first_changed, silver_too) in enumerate(
        zip(fetched_days(fixture_site), spliced_pages, silver_spliced, strict=True)
    ):
        for dataset, rows in tables.items():
            fixture_site.set_table(dataset, rows)
        result = run_wordpress_job(instance)
        assert result.success, step_errors(result)
        bronze = metadata(result, "bronze", "statistics_pages")
        incremental = bronze.get("incremental")
        if first_changed is None:
            assert incremental is None, day
        else:
            assert isinstance(incremental, dict)
            assert incremental["first_changed_page"] == first_changed
            assert incremental["rows_kept"] == 40 * first_changed
            assert incremental["rows_kept"] + incremental["rows_parsed"] == len(
                tables["statistics_pages"]
            )
        silver = metadata(result, "silver", "statistics_pages").get("incremental")
        if not silver_too:
            assert silver is None, day
        else:
            assert isinstance(silver, dict) and isinstance(incremental, dict)
            assert silver["rows_typed"] == incremental["rows_parsed"]
            assert silver["rows_kept"] == len(tables["statistics_pages"]) - silver["rows_typed"]
        if day == 4:
            assert reused(result) == set(TABLES)
        incremental_tables = current_tables(local_lake.root)

        fresh = tmp_path / f"full-{day}"
        monkeypatch.setenv(settings.ROOT_VAR, str(fresh))
        full_run = run_wordpress_job(dg.DagsterInstance.ephemeral())
        assert full_run.success, step_errors(full_run)
        monkeypatch.setenv(settings.ROOT_VAR, str(local_lake.root))
        for table, frame in current_tables(fresh).items():
            pd.testing.assert_frame_equal(incremental_tables[table], frame, obj=f"{day} {table}")


def test_lakehouse_run_full_refresh_rebuilds_what_a_daily_run_keeps(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lakehouse_assets.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "wordpress_api"]) == 0
    assert main(["run", "--source", "wordpress_api"]) == 0
    assert main(["run", "--source", "wordpress_api", "--full-refresh"]) == 0
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(
            dg.AssetKey(["silver", "wordpress_api", "terms"]), limit=3
        ).records
        runs = {r.run_id: instance.get_run_by_id(r.run_id) for r in records}
    newest_first = [r.asset_materialization.metadata for r in records]  # type: ignore[union-attr]
    assert REUSED_FROM not in newest_first[0] and REUSED_FROM in newest_first[1]
    assert REUSED_FROM not in newest_first[2]
    full = runs[records[0].run_id]
    assert full is not None and full.tags[settings.FULL_REFRESH_TAG] == "true"


def test_a_current_table_its_build_did_not_publish_is_rebuilt_not_kept(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    """A run killed between publishing a table and recording it leaves a table no recorded
    build describes: it is never kept or built upon."""
    tables = history(fixture_site)[0]
    instance = dg.DagsterInstance.ephemeral()
    keep_snapshots(local_lake.root, DAYS[1], tables)
    assert run_wordpress_job(instance, partition=DAYS[1]).success
    current = local_lake.table_dir("bronze", "terms") / "data.parquet"
    stray = pd.read_parquet(current).head(2)  # what the killed run published
    stray.to_parquet(current, index=False)
    keep_snapshots(local_lake.root, DAYS[2], tables)
    result = run_wordpress_job(instance, partition=DAYS[2])
    assert result.success, step_errors(result)
    assert ("bronze", "terms") not in reused(result)
    assert ("bronze", "posts") in reused(result)
    assert len(pd.read_parquet(current)) == len(tables["terms"])
