"""Shared fixtures: a fixture WordPress site over real loopback HTTP and an isolated local lake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER
from lakehouse_assets.sources.wordpress_api.sample_site import (
    JsonTableSite,
    generate_sample_tables,
    serve,
)

SEGMENTS = {
    "posts": "posts_a8f3k",
    "statistics_pages": "statistics_pages_q7x2d",
    "terms": "terms_k3m9p",
}


def fixture_tables() -> dict[str, list[dict[str, str]]]:
    """A small site with the quirks the contract names, on top of generated rows."""
    tables = generate_sample_tables(posts=30, days=45, seed=7)
    posts = tables["posts"]
    posts.append(
        {
            **posts[0],
            "ID": "901",
            "post_title": "Caf&eacute; &amp; Ümlaut — ✓",
            "post_type": "post",
            "post_status": "draft",
            "post_date_gmt": "0000-00-00 00:00:00",
            "post_modified": "2024-02-30 10:00:00",  # impossible: nulled and counted
        }
    )
    posts.append({**posts[1], "ID": "902", "post_type": "posts"})  # not exactly "post"
    posts.append({**posts[2], "ID": "903", "post_type": "Post"})
    posts.append(dict(posts[-3]))  # exact duplicate row of 901
    stats = tables["statistics_pages"]
    next_id = max(int(r["page_id"]) for r in stats) + 1
    for offset, post_id in enumerate(["901", "901", "902", "903"]):
        stats.append(
            {
                "page_id": str(next_id + offset),
                "uri": f"/p/{post_id}/",
                "type": "post",
                "date": f"2026-10-0{offset + 1}",
                "count": str(10 + offset),
                "id": post_id,
            }
        )
    return tables


@dataclass
class FixtureSite:
    site: JsonTableSite
    base_url: str
    tables: dict[str, list[dict[str, str]]]

    def urls(self) -> list[str]:
        return self.site.endpoint_urls(self.base_url)

    def set_table(self, dataset: str, rows: list[dict[str, str]] | tuple[int, bytes]) -> None:
        self.site.tables[SEGMENTS[dataset]] = rows  # type: ignore[index]


@pytest.fixture
def fixture_site() -> Iterator[FixtureSite]:
    tables = fixture_tables()
    site = JsonTableSite({SEGMENTS[name]: rows for name, rows in tables.items()}, page_size=250)
    with serve(site) as base_url:
        yield FixtureSite(site, base_url, tables)


def write_parameters(path: Path, endpoints: list[str] | str) -> Path:
    values = {
        ENDPOINTS_PARAMETER: endpoints,
        **{settings.PARAMETER_NAMES.bucket(layer): f"test-{layer}" for layer in settings.LAYERS},
    }
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


@dataclass
class LocalLake:
    root: Path
    parameters_file: Path

    def bucket_dir(self, layer: str) -> Path:
        return self.root / f"test-{layer}"

    def table_dir(self, layer: str, dataset: str, source: str = "wordpress_api") -> Path:
        return self.bucket_dir(layer) / source / dataset


@pytest.fixture
def local_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture_site: FixtureSite
) -> LocalLake:
    """LAKEHOUSE_ROOT and the parameters file in tmp_path, endpoints at the fixture site."""
    root = tmp_path / "lake"
    parameters = write_parameters(tmp_path / "parameters.yaml", fixture_site.urls())
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.setenv(settings.ROOT_VAR, str(root))
    monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(parameters))
    monkeypatch.setenv(settings.STEP_RETRY_DELAY_VAR, "0.05")
    return LocalLake(root, parameters)


def run_wordpress_job(
    instance: dg.DagsterInstance | None = None,
    partition: str | None = None,
    asset_selection: list[dg.AssetKey] | None = None,
    **overrides: object,
) -> dg.ExecuteInProcessResult:
    """The WordPress graph in-process on the local deployment for one day (default: today),
    as `lakehouse run` does."""
    from lakehouse_assets.definitions import build_definitions

    defs = build_definitions(settings.Deployment.LOCAL, overrides)
    job = defs.resolve_job_def("wordpress_api_job")
    assert job.partitions_def is not None
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        partition_key=partition or job.partitions_def.get_last_partition_key(),
        asset_selection=asset_selection,
    )


def step_errors(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step → the user-facing error text (class and message) of its failure."""
    from lakehouse_assets.automation.alerts import error_summary

    errors = {}
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            cls, message = error_summary(event.step_failure_data.error)
            errors[event.step_key or ""] = f"{cls}: {message}"
    return errors
