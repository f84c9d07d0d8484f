"""The code location: every source's definitions merged, resources chosen by LAKEHOUSE_ENV."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import failure_alerts
from lakehouse_assets.automation.freshness import freshness_alerts
from lakehouse_assets.components import declared_sources
from lakehouse_assets.deployments import RESOURCES, local_resources
from lakehouse_assets.engines.choice import check_available, parse_engine_choice
from lakehouse_assets.executors import executor_for
from lakehouse_assets.sources.itunes.datasets import TRACKS as ITUNES_TRACKS
from lakehouse_assets.sources.itunes.definitions import build_definitions as itunes
from lakehouse_assets.sources.shop.datasets import LANDED_DATASETS as SHOP_DATASETS
from lakehouse_assets.sources.shop.definitions import build_definitions as shop
from lakehouse_assets.sources.spotify.definitions import build_definitions as spotify
from lakehouse_assets.sources.transactions.datasets import (
    LANDED_DATASETS as TRANSACTIONS_DATASETS,
)
from lakehouse_assets.sources.transactions.definitions import build_definitions as transactions
from lakehouse_assets.sources.wordpress_api.definitions import build_definitions as wordpress_api

__all__ = ["LANDED_DATASETS", "build_definitions", "defs", "local_resources", "resolve_job"]

#: Every dataset that arrives as landed files (its packaged samples land on the local default).
LANDED_DATASETS = (ITUNES_TRACKS, *SHOP_DATASETS, *TRANSACTIONS_DATASETS)


def build_definitions(
    deployment: settings.Deployment | None = None, overrides: Mapping[str, object] | None = None
) -> dg.Definitions:
    """Definitions for ``deployment`` (default: LAKEHOUSE_ENV); ``overrides`` replace resources."""
    selected = deployment or settings.deployment()
    pipeline = settings.pipeline_settings(selected)
    # A bad engine choice fails the load, before any I/O.
    check_available(parse_engine_choice(settings.engines_setting()), selected)
    return dg.Definitions.merge(
        wordpress_api(pipeline),
        spotify(pipeline),
        itunes(),
        shop(),
        transactions(),
        declared_sources(pipeline),
        dg.Definitions(
            sensors=[failure_alerts, freshness_alerts],
            resources={**RESOURCES[selected](), **(overrides or {})},
            # LAKEHOUSE_EXECUTOR: every step in the run worker's process (default), a process
            # per step, or an ECS task per step (lakehouse_assets/executors.py says when).
            executor=executor_for(settings.executor_setting()),
        ),
    )


defs = build_definitions()


def resolve_job(name: str) -> dg.JobDefinition:
    """A job of the code location by name (how ``lakehouse run`` reconstructs it in-process)."""
    return defs.resolve_job_def(name)
