"""Schema contracts with drift detection, through the real assets.

Pins down: on WordPress (the fixture site, the local lake, one instance across runs) a new
column is accepted into bronze and silver and reported (``schema_change`` metadata, the WARN
check ``schema_drift`` that passes, no alert); a key collision is deduplicated and counted; a
removed declared column and a type change (``ID`` → ``"abc"``) block silver with a check naming
the column and the change against the last accepted schema, keep the last good silver and gold
readable with pandas, copy the raw snapshot to ``quarantine/`` with its reason (raw unchanged),
and alert the silver topic once however often the same snapshot is rerun: the first blocked
run's failure alert names the drift and the quarantined copy, reruns send none (as for every
failed run). On the shop's landed files a new column is accepted and reported and a
removed one is quarantined. ``lakehouse schema`` marks accepted and blocked versions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets.automation.alerts import alerts_for_run
from lakehouse_assets.cli import main
from lakehouse_assets.sources.shop.datasets import CUSTOMERS, ORDERS
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake, run_wordpress_job, step_errors
from lakehouse_assets_tests.sources.shop.test_landing import GOOD_ORDERS, Lake, lake  # noqa: F401


def outbox(root: Path) -> list[dict[str, Any]]:
    path = root / "_alerts" / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def drift_alerts(root: Path) -> list[dict[str, Any]]:
    return [a for a in outbox(root) if a["message"]["alert"] == "schema_drift"]


def metadata_of(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in materialization.metadata.items()}


def evaluations(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    return {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == asset
    }


def raw_files(local_lake: LocalLake, dataset: str) -> dict[str, bytes]:
    base = local_lake.bucket_dir("raw") / "wordpress_api" / dataset
    return {p.name: p.read_bytes() for p in sorted(base.rglob("*.json"))}


def test_a_new_column_is_accepted_and_reported(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    with dg.instance_for_test() as instance:
        assert run_wordpress_job(instance).success
        terms = [dict(row, description="new field") for row in fixture_site.tables["terms"]]
        fixture_site.set_table("terms", terms)
        result = run_wordpress_job(instance)
        assert result.success

    bronze = metadata_of(result, "bronze__wordpress_api__terms")
    change = bronze["schema_change"]
    assert change["added"] == {"description": "string"}
    assert (change["removed"], change["retyped"], change["missing_declared"]) == ({}, {}, [])
    assert change["compared_with"].startswith("wordpress_api/terms/ingest_date=")
    drift = evaluations(result, "bronze/wordpress_api/terms")["schema_drift"]
    assert drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert drift.description.startswith("added description (string) (compared with the last ")
    unchanged = evaluations(result, "bronze/wordpress_api/posts")["schema_drift"]
    assert unchanged.description.startswith("no change from the last accepted schema")
    silver = metadata_of(result, "silver__wordpress_api__terms")
    assert silver["schema_status"] == "accepted" and "description" in silver["bronze_schema"]
    table = pd.read_parquet(local_lake.table_dir("silver", "terms"))
    assert set(table["description"]) == {"new field"}
    assert outbox(local_lake.root) == []
    assert not (local_lake.bucket_dir("raw") / "quarantine").exists()


def _drop_term_group(site: FixtureSite) -> str:
    rows = [dict(r) for r in site.tables["terms"]]
    for row in rows:
        row.pop("term_group")
    site.set_table("terms", rows)
    return "terms"


def _posts_id_abc(site: FixtureSite) -> str:
    rows = [dict(r) for r in site.tables["posts"]]
    rows[0]["ID"] = "abc"
    site.set_table("posts", rows)
    return "posts"


def _terms_key_collision(site: FixtureSite) -> str:
    rows = [dict(r) for r in site.tables["terms"]]
    rows[1]["term_id"] = rows[0]["term_id"]  # a different term under the same key
    site.set_table("terms", rows)
    return "terms"


@pytest.mark.parametrize(
    ("change", "checks", "named"),
    [
        (_drop_term_group, ["expected_columns"], "removed declared column(s) term_group (declared "
         "int64, present in the accepted one), compared with the last accepted schema (raw "
         "snapshot wordpress_api/terms/ingest_date="),
        (_posts_id_abc, ["unique_non_null_keys", "typed_integers"], "ID: type changed, 1 "
         "value(s) no longer parse as int64 (e.g. ['abc']; accepted as int64), compared with "
         "the last accepted schema (raw "
         "snapshot wordpress_api/posts/ingest_date="),
    ],
    ids=["removed-column", "type-change"],
)  # fmt: skip
def test_a_breaking_change_blocks_silver_quarantines_the_snapshot_and_alerts_once(
    local_lake: LocalLake, fixture_site: FixtureSite, change: Any, checks: list[str], named: str
) -> None:
    """(``ID`` → ``"abc"`` also leaves that row without a key: both checks say so.)"""
    check = checks[-1]
    with dg.instance_for_test() as instance:
        assert run_wordpress_job(instance).success
        gold_before = pd.read_parquet(local_lake.table_dir("gold", "statistics_postname"))
        dataset = change(fixture_site)
        silver_before = pd.read_parquet(local_lake.table_dir("silver", dataset))
        raw_before = raw_files(local_lake, dataset)

        blocked = run_wordpress_job(instance)
        assert not blocked.success
        node = f"silver__wordpress_api__{dataset}"
        error = step_errors(blocked)[node]
        assert error.startswith(
            f"DataContractError: silver wordpress_api/{dataset}: failed check(s) "
            f"{', '.join(checks)}; previous table kept; schema drift: "
        )
        assert f"schema drift: {checks[0]}: " in error  # (the summary is cut at 500 characters)
        evaluation = evaluations(blocked, f"silver/wordpress_api/{dataset}")[check]
        assert not evaluation.passed and evaluation.description.startswith(named)
        new = sorted(set(raw_files(local_lake, dataset)) - set(raw_before))
        assert len(new) == 1  # this run's snapshot; the earlier ones untouched
        assert {k: v for k, v in raw_files(local_lake, dataset).items() if k in raw_before} == (
            raw_before
        )
        snapshot_name = new[0]

        # The same snapshot again (bronze and silver rerun on it), then once more.
        keys = [dg.AssetKey([layer, "wordpress_api", dataset]) for layer in ("bronze", "silver")]
        for _ in range(2):
            again = run_wordpress_job(instance, asset_selection=keys)
            assert not again.success
            assert list(step_errors(again)) == [node]
        # The first blocked run alerts as every failed run does; reruns of the snapshot do not.
        (failure,) = alerts_for_run(blocked.dagster_run, instance)
        assert (failure.layer, failure.message["alert"]) == ("silver", "failure")
        assert alerts_for_run(again.dagster_run, instance) == []

    # The last good tables stay current and readable.
    pd.testing.assert_frame_equal(
        pd.read_parquet(local_lake.table_dir("silver", dataset)), silver_before
    )
    gold = pd.read_parquet(local_lake.table_dir("gold", "statistics_postname"))
    pd.testing.assert_frame_equal(gold, gold_before)

    quarantine = local_lake.bucket_dir("raw") / "quarantine" / "wordpress_api" / dataset
    copy = quarantine / snapshot_name
    assert copy.read_bytes() == raw_files(local_lake, dataset)[snapshot_name]
    reason = json.loads((quarantine / f"{snapshot_name}.reason.json").read_text("utf-8"))
    assert reason["failed_checks"] == sorted(checks)
    assert reason["reason"].startswith("schema drift blocked silver: ")
    assert f"{check}: {named}" in reason["reason"]
    assert reason["source_key"].endswith(f"/{snapshot_name}")
    assert reason["asset"] == f"silver/wordpress_api/{dataset}"
    markers = sorted(p.name for p in quarantine.glob("*.alerted.json"))
    assert [m.split(".")[-4] for m in markers] == sorted(checks)  # one per snapshot and check
    assert all(m.startswith(f"{snapshot_name}.") for m in markers)

    # One alert for three runs on one snapshot: the first blocked run's failure alert, to the
    # silver topic, naming the drift and where the snapshot went (reruns send none, above).
    assert drift_alerts(local_lake.root) == []
    message = failure.message
    assert message["failed_checks"] == [f"silver/wordpress_api/{dataset}:{c}" for c in checks]
    assert message["quarantine_keys"] == [f"quarantine/wordpress_api/{dataset}/{snapshot_name}"]
    assert message["drift"][f"silver/wordpress_api/{dataset}:{check}"].startswith(named)
    assert message["run_id"] == blocked.dagster_run.run_id


def test_lakehouse_schema_marks_accepted_and_blocked_versions(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "wordpress_api"]) == 0
    _drop_term_group(fixture_site)
    assert main(["run", "--source", "wordpress_api"]) == 1
    capsys.readouterr()
    assert main(["run", "--source", "wordpress_api"]) == 1  # the same data again: no alert
    capsys.readouterr()
    # One alert per blocked snapshot: the second blocked run fetched a byte-identical snapshot,
    # so bronze kept the table built from the first one, whose drift was alerted already.
    assert [a["message"]["alert"] for a in outbox(local_lake.root)] == ["failure"]
    assert all("drift" in a["message"] for a in outbox(local_lake.root))

    assert main(["schema", "wordpress_api/terms"]) == 0
    out = capsys.readouterr().out
    bronze, silver = out.split("silver/wordpress_api/terms: ")
    v1, v2 = bronze.split("  v2: ")
    assert "    status: accepted in silver (1 snapshot(s) accepted, 0 blocked)" in v1
    assert "    removed: term_group" in v2
    # (two blocked runs, one snapshot: the second's identical bytes kept the first's bronze)
    assert "    status: blocked in silver (0 snapshot(s) accepted, 1 blocked by " in v2
    assert "expected_columns" in v2
    assert silver.startswith("1 schema version(s)")
    assert "    status: accepted (published)" in silver


def test_landed_file_new_column_is_accepted_and_reported(lake: Lake) -> None:  # noqa: F811
    first = [{k: v for k, v in row.items() if k != "note"} for row in GOOD_ORDERS]
    lake.land(ORDERS, "orders-001.json", json.dumps(first).encode())
    (run,) = lake.process(ORDERS)
    assert run.success
    metadata = metadata_of(run, "bronze__shop__orders")
    assert metadata["schema_change"]["compared_with"] == "nothing accepted yet"

    lake.land(ORDERS, "orders-002.json", json.dumps(GOOD_ORDERS).encode())  # brings "note"
    (run,) = lake.process(ORDERS)
    assert run.success
    metadata = metadata_of(run, "bronze__shop__orders")
    change = metadata["schema_change"]
    assert change["added"] == {"note": "undeclared"}
    assert (change["removed"], change["retyped"], change["missing_declared"]) == ({}, {}, [])
    assert metadata["source_schema"]["note"] == "undeclared"
    assert metadata["ignored_columns"] == ["note"]
    assert [r["order_id"] for r in lake.rows(ORDERS, "orders-002.json")] == [1, 3, 2]
    assert lake.alerts() == []


def test_landed_file_missing_a_declared_column_is_quarantined(lake: Lake) -> None:  # noqa: F811
    lake.land(CUSTOMERS, "good.csv", b"customer_id,name,country,signup_date\n1,Ann,GB,\n")
    lake.land(CUSTOMERS, "dropped.csv", b"customer_id,name,signup_date\n2,Bo,2026-01-01\n")
    runs = lake.process(CUSTOMERS)
    assert [r.success for r in runs] == [True, True]
    copy, reason = lake.quarantined(CUSTOMERS, "dropped.csv")
    assert copy.startswith(b"customer_id,name,signup_date")
    assert reason["reason"] == "missing column(s): country"
    assert [a["message"]["reason"] for a in lake.alerts()] == ["missing column(s): country"]
    assert [r["customer_id"] for r in lake.rows(CUSTOMERS, "good.csv")] == [1]
    assert not lake.bronze(CUSTOMERS, "dropped.csv").exists()


def test_a_key_collision_is_deduplicated_deterministically_and_reported(
    local_lake: LocalLake, fixture_site: FixtureSite
) -> None:
    """Duplicate ids are not a breaking change: the last row wins, and the collision is
    counted on the key check (a source that should never repeat a key shows it there)."""
    with dg.instance_for_test() as instance:
        assert run_wordpress_job(instance).success
        _terms_key_collision(fixture_site)
        result = run_wordpress_job(instance)
        assert result.success
        (check,) = [
            e
            for e in result.get_asset_check_evaluations()
            if e.asset_key.path[-1] == "terms" and e.check_name == "unique_non_null_keys"
        ]
        assert check.passed
        assert check.metadata["key_collisions"].value == 1
    terms = pd.read_parquet(local_lake.table_dir("silver", "terms"))
    assert terms["term_id"].is_unique
