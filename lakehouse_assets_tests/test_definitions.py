"""The code location as users and the UI see it: pins asset keys, groups, checks and jobs,
and proves importing the package has no side effects and needs no AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.settings import Deployment

REPO = Path(__file__).resolve().parents[1]
DRIFT_CHECK = "schema_drift"  # the one non-blocking check (it reports, never blocks)
DATASETS = ["posts", "statistics_pages", "terms"]
SPOTIFY = ["popular_songs", "top_played"]
REST = ["categories", "pages", "posts", "tags", "users"]
WORDPRESS_KEYS = sorted(
    [f"{layer}/wordpress_api/{d}" for layer in ("raw", "bronze", "silver") for d in DATASETS]
    + ["gold/wordpress_api/statistics_postname"]
)
SILVER_CHECKS = [
    "expected_columns",
    "non_empty",
    "parseable_dates",
    "typed_integers",
    "unique_non_null_keys",
]


def wordpress_specs(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): graph.get(key).to_asset_spec()  # type: ignore[attr-defined]
        for key in graph.get_all_asset_keys()
        if key.path[1:2] == ["wordpress_api"]
    }


def test_wordpress_asset_keys_groups_and_lineage() -> None:
    defs = build_definitions(Deployment.LOCAL)
    specs = wordpress_specs(defs)
    assert sorted(specs) == WORDPRESS_KEYS
    assert {spec.group_name for spec in specs.values()} == {"wordpress_api"}
    for key, spec in specs.items():
        assert spec.description, key
        assert spec.owners == ["team:data-engineering"], key
        assert spec.kinds, key
        assert spec.tags["layer"] == key.split("/")[0]
    deps = {k: sorted(d.asset_key.to_user_string() for d in s.deps) for k, s in specs.items()}
    assert deps["bronze/wordpress_api/posts"] == ["raw/wordpress_api/posts"]
    assert deps["silver/wordpress_api/terms"] == ["bronze/wordpress_api/terms"]
    assert deps["gold/wordpress_api/statistics_postname"] == [
        "silver/wordpress_api/posts",
        "silver/wordpress_api/statistics_pages",
    ]


def test_blocking_checks_guard_every_silver_table() -> None:
    graph = build_definitions(Deployment.LOCAL).resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        if check_key.asset_key.path[1] != "wordpress_api":
            continue
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
        blocking = graph.get_check_spec(check_key).blocking  # type: ignore[attr-defined]
        assert blocking == (check_key.name != DRIFT_CHECK), check_key  # drift only reports
    assert {k: sorted(v) for k, v in checks.items()} == {
        **{f"silver/wordpress_api/{d}": sorted([*SILVER_CHECKS, "volume"]) for d in DATASETS},
        **{f"bronze/wordpress_api/{d}": [DRIFT_CHECK, "volume"] for d in DATASETS},
        "gold/wordpress_api/statistics_postname": ["volume"],
    }


def test_jobs_sensors_and_resources() -> None:
    defs = build_definitions(Deployment.LOCAL)
    job = defs.resolve_job_def("wordpress_api_job")
    assert job is not None
    assert (
        defs.resolve_sensor_def("failure_alerts").default_status == dg.DefaultSensorStatus.RUNNING
    )
    keys = {"parameters", "lake", "io_manager", "wordpress_api", "notifications", "secrets"}
    assert keys <= set(defs.resources or {})


def test_both_deployments_offer_the_same_resource_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    local = set(build_definitions(Deployment.LOCAL).resources or {})
    aws = set(build_definitions(Deployment.AWS).resources or {})
    assert local == aws


def test_import_has_no_side_effects_and_needs_no_aws(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAKEHOUSE_"))}
    env.update(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        }
    )
    code = (
        "import lakehouse_assets, lakehouse_assets.definitions as d, os;"
        "assert d.defs is not None;"
        "print(sorted(os.listdir('.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "[]"  # nothing created in the working directory


def test_dagster_definitions_validate_loads_the_workspace() -> None:
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


#: Every source's assets by group (one group, one pipeline in the UI), pinned.
GROUPS = {
    "wordpress_api": WORDPRESS_KEYS,
    "itunes": ["bronze/itunes/tracks", "gold/itunes/play_history", "silver/itunes/tracks"],
    "spotify": sorted(
        [f"{layer}/spotify/{d}" for layer in ("raw", "bronze", "silver") for d in SPOTIFY]
        + ["gold/spotify/weekly_chart"]
    ),
    "transactions": [
        "bronze/transactions/items",
        "bronze/transactions/orders",
        "silver/transactions/enriched",
    ],
    "wordpress_rest": sorted(
        [f"{layer}/wordpress_rest/{d}" for layer in ("raw", "bronze", "silver") for d in REST]
        + ["gold/wordpress_rest/posts_with_terms"]
    ),
    "shop": ["bronze/shop/customers", "bronze/shop/orders"],
}
SCHEDULES = {
    "wordpress_api_daily": ("0 7 * * *", "wordpress_api_job"),
    "spotify_weekly": ("0 7 * * 1", "spotify_job"),
    "wordpress_rest_daily": ("0 7 * * *", "wordpress_rest_job"),
}
SENSORS = {
    "failure_alerts",
    "freshness_alerts",
    "landing__itunes__tracks_sensor",
    "landing__shop__customers_sensor",
    "landing__shop__orders_sensor",
    "landing__transactions__batches_sensor",
}


def test_every_source_is_one_group_with_its_pinned_assets() -> None:
    graph = build_definitions(Deployment.LOCAL).resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name == key.path[1], key  # the group is the source
        groups.setdefault(node.group_name, []).append(key.to_user_string())
    assert {g: sorted(keys) for g, keys in groups.items()} == GROUPS


def test_every_replaced_table_is_guarded_by_blocking_checks() -> None:
    graph = build_definitions(Deployment.LOCAL).resolve_asset_graph()
    checks: dict[str, set[str]] = {}
    for check_key in graph.asset_check_keys:
        blocking = graph.get_check_spec(check_key).blocking  # type: ignore[attr-defined]
        assert blocking == (check_key.name != DRIFT_CHECK), check_key  # drift only reports
        checks.setdefault(check_key.asset_key.to_user_string(), set()).add(check_key.name)
    for key in ("silver/spotify/popular_songs", "gold/itunes/play_history", "silver/itunes/tracks"):
        assert "volume" in checks[key]
    for dataset in REST:
        assert {"unique_non_null_keys", "typed_values", "volume"} <= checks[
            f"silver/wordpress_rest/{dataset}"
        ]


def test_schedules_and_sensors_are_pinned() -> None:
    defs = build_definitions(Deployment.LOCAL)
    schedules = {}
    for schedule in defs.schedules or []:
        resolved = defs.resolve_schedule_def(schedule.name)
        schedules[resolved.name] = (resolved.cron_schedule, resolved.job_name)
        assert resolved.default_status == dg.DefaultScheduleStatus.STOPPED  # off on a laptop
        assert resolved.execution_timezone == "Europe/London"
    assert schedules == SCHEDULES
    assert {sensor.name for sensor in defs.sensors or []} == SENSORS
    for name in SENSORS:
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


def test_schedules_run_on_a_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    defs = build_definitions(Deployment.AWS)
    for name in SCHEDULES:
        status = defs.resolve_schedule_def(name).default_status
        assert status == dg.DefaultScheduleStatus.RUNNING, name
