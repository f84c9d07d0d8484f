"""The whole WordPress graph, materialized in-process from a fixture site served over HTTP.

Gold is compared with an expectation computed independently from the fixture rows (plain
Python, no pandas), and every failure mode checks that the last good tables stay readable.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake, run_wordpress_job, step_errors

GOLD_COLUMNS = [
    "post_ID",
    "post_title",
    "post_status",
    "post_parent",
    "post_type",
    "post_date",
    "post_date_year",
    "post_date_month",
    "post_date_day",
    "statistics_id",
    "statistics_date",
    "statistics_count",
    "statistics_date_year",
    "statistics_date_month",
    "statistics_date_day",
]


def expected_gold(tables: dict[str, list[dict[str, str]]]) -> list[dict[str, object]]:
    """The contract, computed by hand: posts (type exactly "post") ⋈ statistics on ID = id."""
    posts = {int(r["ID"]): r for r in tables["posts"]}  # the fixture only repeats exact rows
    stats = {int(r["page_id"]): r for r in tables["statistics_pages"]}
    rows = []
    for post_id, post in posts.items():
        if post["post_type"] != "post":
            continue
        posted = datetime.strptime(post["post_date"], "%Y-%m-%d %H:%M:%S")
        for stat_id, stat in stats.items():
            if int(stat["id"]) != post_id:
                continue
            day = datetime.strptime(stat["date"], "%Y-%m-%d")
            rows.append(
                {
                    "post_ID": post_id,
                    "post_title": post["post_title"],
                    "post_status": post["post_status"],
                    "post_parent": int(post["post_parent"]),
                    "post_type": "post",
                    "post_date": posted,
                    "post_date_year": posted.year,
                    "post_date_month": posted.month,
                    "post_date_day": posted.day,
                    "statistics_id": stat_id,
                    "statistics_date": day,
                    "statistics_count": int(stat["count"]),
                    "statistics_date_year": day.year,
                    "statistics_date_month": day.month,
                    "statistics_date_day": day.day,
                }
            )
    return sorted(rows, key=lambda r: (r["post_ID"], r["statistics_date"], r["statistics_id"]))


def read_gold(lake: LocalLake) -> pd.DataFrame:
    return pd.read_parquet(lake.table_dir("gold", "statistics_postname"))


def as_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    records = frame.to_dict("records")
    for record in records:
        for name, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[name] = value.to_pydatetime()
    return records


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_digests(lake: LocalLake) -> dict[str, str]:
    files = sorted(lake.root.glob("test-*/wordpress_api/*/data.parquet"))
    return {str(p.relative_to(lake.root)): digest(p) for p in files if "test-raw" not in str(p)}


def materialization(result: dg.ExecuteInProcessResult, *path: str) -> dict[str, object]:
    events = result.asset_materializations_for_node("__".join(path))
    assert len(events) == 1
    return {k: v.value for k, v in events[0].metadata.items()}


def test_whole_graph_matches_independent_expectation(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    result = run_wordpress_job()
    assert result.success, step_errors(result)

    gold = read_gold(local_lake)
    assert list(gold.columns) == GOLD_COLUMNS
    ints = [
        c
        for c in GOLD_COLUMNS
        if c not in ("post_title", "post_status", "post_type", "post_date", "statistics_date")
    ]
    assert {c: str(gold[c].dtype) for c in ints} == {c: "int64" for c in ints}
    assert str(gold["post_date"].dtype).startswith("datetime64")
    assert str(gold["statistics_date"].dtype).startswith("datetime64")
    expected = expected_gold(fixture_site.tables)
    assert len(expected) > 100
    assert as_records(gold) == expected
    # Draft with a zero GMT date and an entity-laden title is kept verbatim; "posts"/"Post" are not.
    assert set(gold.loc[gold.post_ID == 901, "post_title"]) == {"Caf&eacute; &amp; Ümlaut — ✓"}
    assert not gold.post_ID.isin([902, 903]).any()

    meta = materialization(result, "gold", "wordpress_api", "statistics_postname")
    assert meta["dagster/row_count"] == len(expected)
    assert meta["dagster/uri"] == str(local_lake.table_dir("gold", "statistics_postname"))
    columns = meta["dagster/column_schema"].columns
    assert [c.name for c in columns] == GOLD_COLUMNS
    assert (columns[0].description, columns[9].description) == (
        "posts.ID",
        "statistics_pages.page_id",
    )
    assert "| post_ID | post_title |" in str(meta["preview"])

    posts_meta = materialization(result, "silver", "wordpress_api", "posts")
    assert posts_meta["duplicate_rows_removed"] == 1
    assert posts_meta["impossible_dates_nulled"] == {"post_modified": 2}  # counted before dedupe
    assert posts_meta["zero_dates_nulled"]["post_date_gmt"] >= 1  # type: ignore[index]
    assert "post_password" not in str(posts_meta["preview"])
    checks = result.get_asset_check_evaluations()
    # 6 on each silver table, volume on gold, volume + schema_drift (WARN) on each bronze
    assert len(checks) == 25 and all(c.passed for c in checks)


def test_rerun_gives_identical_gold_and_a_second_raw_snapshot(local_lake: LocalLake) -> None:
    assert run_wordpress_job().success
    first = read_gold(local_lake)
    assert run_wordpress_job().success
    pd.testing.assert_frame_equal(read_gold(local_lake), first)
    snapshots = sorted((local_lake.bucket_dir("raw") / "wordpress_api/posts").rglob("*.json"))
    assert len(snapshots) == 2
    assert snapshots[0].read_bytes() == snapshots[1].read_bytes()
    assert all(p.parent.name.startswith("ingest_date=") for p in snapshots)


def test_failing_bronze_keeps_previous_silver_and_gold(local_lake: LocalLake) -> None:
    assert run_wordpress_job().success
    before = table_digests(local_lake)
    # A newer raw snapshot that is corrupt (e.g. truncated by a crashed copy).
    newest = max((local_lake.bucket_dir("raw") / "wordpress_api/posts").rglob("*.json"))
    stamp = newest.name.split("_")[1]
    corrupt = newest.with_name(newest.name.replace(stamp, "99991231T000000000000Z"))
    corrupt.write_bytes(newest.read_bytes()[:-40])

    selection = [
        dg.AssetKey(["bronze", "wordpress_api", "posts"]),
        dg.AssetKey(["silver", "wordpress_api", "posts"]),
        dg.AssetKey(["gold", "wordpress_api", "statistics_postname"]),
    ]
    result = run_wordpress_job(asset_selection=selection)
    assert not result.success
    errors = step_errors(result)
    assert list(errors) == ["bronze__wordpress_api__posts"]
    assert errors["bronze__wordpress_api__posts"].startswith(
        "SourceError: wordpress_api/posts: page 1 is not valid JSON at line 1 column "
    )
    assert table_digests(local_lake) == before
    assert len(read_gold(local_lake)) > 0


@pytest.mark.parametrize(
    ("rows", "failed_check", "metadata"),
    [
        ([{"ID": "", "post_type": "post"}], "unique_non_null_keys", {"null_keys": 1}),
        ([{"ID": "abc"}], "typed_integers", {"failing_rows": 1}),
        ([{"post_date": "yesterday"}], "parseable_dates", {"failing_rows": 1}),
        ("drop post_type", "expected_columns", {"missing_columns": "post_type"}),
        ("empty", "non_empty", {"rows": 0}),
    ],
)
def test_failing_silver_check_prevents_gold(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    monkeypatch: pytest.MonkeyPatch,
    rows: object,
    failed_check: str,
    metadata: dict[str, object],
) -> None:
    assert run_wordpress_job().success
    # An empty reply is stopped by bronze's volume guard (test_volume_guard.py); accepted
    # here, so silver's own check is what stops it.
    monkeypatch.setenv(settings.ACCEPT_SHRINK_VAR, "1")
    before = table_digests(local_lake)
    posts = [dict(r) for r in fixture_site.tables["posts"]]
    if rows == "drop post_type":
        for row in posts:
            row.pop("post_type")
    elif rows == "empty":
        posts = []
    else:
        posts[0].update(rows[0])  # type: ignore[index]
    fixture_site.set_table("posts", posts)

    result = run_wordpress_job()
    assert not result.success
    errors = step_errors(result)
    assert list(errors) == ["silver__wordpress_api__posts"]
    assert errors["silver__wordpress_api__posts"].startswith(
        "DataContractError: silver wordpress_api/posts: failed check(s) "
    )
    evaluations = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == "posts"
    }
    assert not evaluations[failed_check].passed
    for name, value in metadata.items():
        assert evaluations[failed_check].metadata[name].value == value
    assert not result.asset_materializations_for_node("gold__wordpress_api__statistics_postname")
    after = table_digests(local_lake)
    for table in ("silver/wordpress_api/posts", "gold/wordpress_api/statistics_postname"):
        name = f"test-{table.split('/')[0]}/{'/'.join(table.split('/')[1:])}/data.parquet"
        assert after[name] == before[name]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ((500, b"Internal Server Error"), "HTTP 500 on page 1 after 2 attempts"),
        ((404, b'{"code":"rest_no_route"}'), "HTTP 404 on page 1"),
        ((200, b'[{"ID": "1", "post_title": "trunc'), "page 1 is not valid JSON at line 1"),
        ((200, b"<html><body>Database error</body></html>"), "looks like an HTML page"),
    ],
)
def test_bad_endpoint_fails_raw_naming_the_dataset_and_keeps_tables(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    answer: tuple[int, bytes],
    problem: str,
) -> None:
    assert run_wordpress_job().success
    before = table_digests(local_lake)
    raw_before = sorted((local_lake.bucket_dir("raw") / "wordpress_api/posts").rglob("*"))
    fixture_site.set_table("posts", answer)
    from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource

    instance = dg.DagsterInstance.ephemeral()
    client = WordPressApiResource(max_attempts=2, backoff_seconds=0.01)
    result = run_wordpress_job(instance, wordpress_api=client)
    errors = step_errors(result)
    assert list(errors) == ["raw__wordpress_api__posts"]
    assert errors["raw__wordpress_api__posts"].startswith("SourceError: wordpress_api/posts: ")
    assert problem in errors["raw__wordpress_api__posts"]
    # The other datasets refresh; posts and everything built from it keep the last good tables.
    after = table_digests(local_lake)
    for name in (
        "test-bronze/wordpress_api/posts",
        "test-silver/wordpress_api/posts",
        "test-gold/wordpress_api/statistics_postname",
    ):
        assert after[f"{name}/data.parquet"] == before[f"{name}/data.parquet"]
    assert not result.asset_materializations_for_node("gold__wordpress_api__statistics_postname")
    assert sorted((local_lake.bucket_dir("raw") / "wordpress_api/posts").rglob("*")) == raw_before
    event_log = json.dumps([str(e) for e in instance.all_logs(result.run_id)])
    assert fixture_site.base_url not in event_log


def test_secret_in_endpoint_url_never_reaches_the_event_log(
    local_lake: LocalLake, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    from lakehouse_assets_tests.conftest import write_parameters

    secret = "tok3n-5ecret-value"
    write_parameters(
        local_lake.parameters_file, [f"{u}?api_key={secret}" for u in fixture_site.urls()]
    )
    instance = dg.DagsterInstance.ephemeral()
    assert run_wordpress_job(instance).success
    fixture_site.set_table("terms", (503, b"down"))
    failed = run_wordpress_job(instance)
    assert not failed.success
    for run in (r.run_id for r in instance.get_runs()):
        text = "\n".join(str(entry) for entry in instance.all_logs(run))
        assert secret not in text and "api_key" not in text


def test_declared_dataset_without_endpoint_fails_and_undeclared_is_a_warning(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    from lakehouse_assets_tests.conftest import write_parameters

    urls = [u for u in fixture_site.urls() if "terms" not in u]
    write_parameters(
        local_lake.parameters_file, [*urls, f"{fixture_site.base_url}/wp-json/x/comments_9k2/"]
    )
    instance = dg.DagsterInstance.ephemeral()
    result = run_wordpress_job(instance)
    assert step_errors(result) == {
        "raw__wordpress_api__terms": "ConfigurationError: wordpress_api/terms: no endpoint in "
        "parameter /wordpress/amazonwebshark/api/mysqlendpoints maps to this dataset"
    }
    warnings = [
        e.user_message
        for e in instance.all_logs(result.run_id)
        if "no declared dataset" in e.user_message
    ]
    assert warnings and "'comments'" in warnings[0]
    assert result.asset_materializations_for_node("gold__wordpress_api__statistics_postname")


def test_link_local_endpoint_is_refused_before_any_request(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    from lakehouse_assets_tests.conftest import write_parameters

    urls = [
        u if "posts" not in u else "http://169.254.169.254/latest/posts_a1/"
        for u in fixture_site.urls()
    ]
    write_parameters(local_lake.parameters_file, urls)
    errors = step_errors(run_wordpress_job())
    assert errors["raw__wordpress_api__posts"] == (
        "ConfigurationError: wordpress_api/posts: endpoint resolves to a link-local, metadata "
        "or reserved address"
    )
