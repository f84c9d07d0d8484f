"""One deployment for the PostgreSQL and browser tests: started once, the WordPress graph
materialized on it the two ways users launch it, everything stopped at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lakehouse_assets_tests.deployment.deployment import (
    LOCATION,
    REPO_ROOT,
    REPOSITORY,
    Deployment,
    running_deployment,
)

GROUP = "wordpress_api"
JOB = "wordpress_api_job"
POOL = "wordpress_api"

ASSET_NODES_QUERY = """
query GroupAssets($group: AssetGroupSelector!) {
  assetNodes(group: $group) {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""

# The mutation the UI sends for "Materialize all" on an asset group.
LAUNCH_MUTATION = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""


@dataclass
class MaterializedDeployment:
    deployment: Deployment
    partition: str
    asset_keys: list[list[str]]
    ui_run_id: str  # "Materialize all" from the asset graph
    job_run_id: str  # the WordPress job, as a schedule or `Launchpad` would run it
    statuses: dict[str, str]


def latest_partition() -> str:
    """Today's ingestion partition, the one "Materialize all" offers first."""
    from lakehouse_assets.definitions import build_definitions

    partitions = build_definitions().resolve_job_def(JOB).partitions_def
    assert partitions is not None
    key = partitions.get_last_partition_key()
    assert key is not None
    return key


def materialize_all(deployment: Deployment, partition: str) -> tuple[list[list[str]], str]:
    """Launch every asset of the group (and its checks) for one partition, as the UI's
    "Materialize all" does when one partition is picked in its dialog."""
    group = {
        "groupName": GROUP,
        "repositoryName": REPOSITORY,
        "repositoryLocationName": LOCATION,
    }
    nodes = deployment.graphql(ASSET_NODES_QUERY, {"group": group})["assetNodes"]
    keys = [node["assetKey"] for node in nodes]
    checks: list[dict[str, Any]] = [
        {"assetKey": node["assetKey"], "name": check["name"]}
        for node in nodes
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    ]
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "pipelineName": "__ASSET_JOB",
            "assetSelection": keys,
            "assetCheckSelection": checks,
        },
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    launched = deployment.graphql(LAUNCH_MUTATION, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return [key["path"] for key in keys], launched["run"]["runId"]


@pytest.fixture(scope="session")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MaterializedDeployment]:
    tmp = tmp_path_factory.mktemp("deployment")
    with running_deployment(tmp, REPO_ROOT / "workspace.yaml") as deployment:
        # The deploy step docs/deployment.md prescribes: pools get their limit before any run.
        deployment.dagster("instance", "concurrency", "set", POOL, "1")
        partition = latest_partition()
        asset_keys, ui_run_id = materialize_all(deployment, partition)
        job_run_id = deployment.client().submit_job_execution(
            JOB, tags={"dagster/partition": partition}
        )
        statuses = deployment.wait_for_runs([ui_run_id, job_run_id], timeout=300)
        yield MaterializedDeployment(
            deployment, partition, asset_keys, ui_run_id, job_run_id, statuses
        )
