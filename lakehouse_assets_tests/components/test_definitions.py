"""The code location carries what the ``wordpress_rest`` YAML declares, and nothing else of it:
the asset keys of every layer, each silver table's blocking checks, one job, the daily 07:00
schedule, the source's group, and the resource its requests go through."""

from __future__ import annotations

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions

DATASETS = ("posts", "pages", "categories", "tags", "users")
SILVER_CHECKS = {
    "expected_columns",
    "non_empty",
    "unique_non_null_keys",
    "parseable_dates",
    "typed_integers",
    "typed_values",
    "volume",
}


def test_component_built_assets_checks_and_schedule() -> None:
    defs = build_definitions(settings.Deployment.LOCAL)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys() if k.path[1] == "wordpress_rest"}
    assert keys == {
        *(f"{layer}/wordpress_rest/{d}" for layer in ("raw", "bronze", "silver") for d in DATASETS),
        "gold/wordpress_rest/posts_with_terms",
    }
    checks: dict[str, set[str]] = {}
    for check in graph.asset_check_keys:
        if check.asset_key.path[1] == "wordpress_rest":
            checks.setdefault(check.asset_key.to_user_string(), set()).add(check.name)
    for dataset in DATASETS:
        assert checks[f"silver/wordpress_rest/{dataset}"] == SILVER_CHECKS
    for dataset in ("pages", "categories", "tags", "users"):  # full loads are volume-guarded
        assert checks[f"bronze/wordpress_rest/{dataset}"] == {"volume", "schema_drift"}
    assert "bronze/wordpress_rest/posts" not in checks  # an incremental delta is not
    assert checks["gold/wordpress_rest/posts_with_terms"] == {"volume"}

    gold = graph.get(dg.AssetKey(["gold", "wordpress_rest", "posts_with_terms"]))
    assert {k.to_user_string() for k in gold.parent_keys} == {
        f"silver/wordpress_rest/{d}" for d in ("posts", "categories", "tags", "users")
    }
    assert {graph.get(dg.AssetKey(["raw", "wordpress_rest", d])).group_name for d in DATASETS} == {
        "wordpress_rest"
    }

    schedule = defs.resolve_schedule_def("wordpress_rest_daily")
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.job_name == "wordpress_rest_job"
    assert schedule.execution_timezone == settings.pipeline_settings().timezone
    job = defs.resolve_job_def("wordpress_rest_job")
    assert job.tags["source"] == "wordpress_rest"
    assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
    assert "rest_api" in job.resource_defs
