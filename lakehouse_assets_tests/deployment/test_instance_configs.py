"""Both instance files are valid for the installed Dagster, and the `aws` one stays in step.

`deploy/dagster.aws.yaml` cannot be started here (it needs S3 and ECS), so it is checked the
way Dagster itself checks it at startup: against the instance schema, and each configurable
class (S3 compute logs, ECS run launcher) against its own config schema with the environment
variables resolved. Its shared sections must equal `deploy/dagster.yaml`, which the PostgreSQL
deployment tests do run, so a fix to one file cannot silently miss the other.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

# Validating a dagster.yaml against the instance schema has no public API.
from dagster._config import process_config, resolve_to_config_type  # noqa: TID251
from dagster._core.instance.config import dagster_instance_config  # noqa: TID251

from lakehouse_assets_tests.deployment.deployment import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
AWS_ONLY = {"compute_logs", "run_launcher"}
ENV = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "lakehouse-dagster-logs",
    "AWS_REGION": "eu-west-1",
}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def deployment_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.aws.yaml"])
def test_instance_file_matches_the_instance_schema(name: str, tmp_path: Path):
    shutil.copyfile(DEPLOY / name, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_retries"] == {
        "enabled": True,
        "max_retries": 2,
        "retry_on_asset_or_op_failure": False,
    }
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "source", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert config["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}


def test_aws_file_is_the_deployment_file_plus_s3_logs_and_ecs():
    local, aws = load("dagster.yaml"), load("dagster.aws.yaml")
    assert set(aws) - set(local) == AWS_ONLY
    assert {key: value for key, value in aws.items() if key not in AWS_ONLY} == local


@pytest.mark.parametrize("section", sorted(AWS_ONLY))
def test_aws_classes_accept_their_config(section: str):
    entry = load("dagster.aws.yaml")[section]
    cls = getattr(importlib.import_module(entry["module"]), entry["class"])
    result = process_config(resolve_to_config_type(cls.config_type()), entry["config"])
    assert result.success, result.errors
    if section == "compute_logs":
        assert result.value is not None
        assert result.value["bucket"] == "lakehouse-dagster-logs"
        assert result.value["region"] == "eu-west-1"
