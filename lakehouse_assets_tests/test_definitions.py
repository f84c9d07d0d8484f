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
DATASETS = ["posts", "statistics_pages", "terms"]
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
        assert graph.get_check_spec(check_key).blocking, check_key  # type: ignore[attr-defined]
    assert {k: sorted(v) for k, v in checks.items()} == {
        **{f"silver/wordpress_api/{d}": sorted([*SILVER_CHECKS, "volume"]) for d in DATASETS},
        **{f"bronze/wordpress_api/{d}": ["volume"] for d in DATASETS},
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
