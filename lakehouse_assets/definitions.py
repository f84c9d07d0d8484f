"""The code location: the same assets on either deployment, resources chosen by LAKEHOUSE_ENV."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import failure_alerts
from lakehouse_assets.lake.io_manager import LakeIOManager
from lakehouse_assets.lake.resource import LocalLakeResource
from lakehouse_assets.resources.catalog import LocalCatalogResource
from lakehouse_assets.resources.notifications import LocalNotificationsResource
from lakehouse_assets.resources.parameters import LocalParametersResource
from lakehouse_assets.resources.secrets import EnvironmentSecretsResource
from lakehouse_assets.sources import landing, wordpress_api
from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource


def local_resources() -> dict[str, object]:
    """Embedded default: a directory lake, a YAML parameters file, the packaged sample site."""
    parameters = LocalParametersResource()
    lake = LocalLakeResource(parameters=parameters)
    return {
        "parameters": parameters,
        "lake": lake,
        "io_manager": LakeIOManager(lake=lake, catalog=LocalCatalogResource()),
        "wordpress_api": WordPressApiResource(serve_packaged_sample=True),
        "notifications": LocalNotificationsResource(),
        "secrets": EnvironmentSecretsResource(),
    }


def aws_resources() -> dict[str, object]:
    from lakehouse_assets.resources.aws import aws_resources as build

    return build()


RESOURCES: dict[settings.Deployment, Callable[[], dict[str, object]]] = {
    settings.Deployment.LOCAL: local_resources,
    settings.Deployment.AWS: aws_resources,
}


def build_definitions(
    deployment: settings.Deployment | None = None, overrides: Mapping[str, object] | None = None
) -> dg.Definitions:
    """Definitions for ``deployment`` (default: LAKEHOUSE_ENV); ``overrides`` replace resources."""
    selected = deployment or settings.deployment()
    wordpress = wordpress_api.build(settings.pipeline_settings(selected))
    return dg.Definitions(
        assets=[*wordpress.assets, *landing.ASSETS],
        jobs=[wordpress.job, *landing.JOBS],
        schedules=[wordpress.schedule],
        sensors=[failure_alerts, *landing.SENSORS],
        resources={**RESOURCES[selected](), **(overrides or {})},
    )


defs = build_definitions()
