"""The one place that reads the deployment environment.

Everything here is read at call time, never at import time, so importing the package needs
neither AWS nor any particular environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Deployment(StrEnum):
    LOCAL = "local"
    AWS = "aws"


DEPLOYMENT_VAR = "LAKEHOUSE_ENV"
ROOT_VAR = "LAKEHOUSE_ROOT"
PARAMETERS_FILE_VAR = "LAKEHOUSE_PARAMETERS_FILE"
ALLOWED_HOSTS_VAR = "LAKEHOUSE_ALLOWED_HOSTS"
UI_URL_VAR = "LAKEHOUSE_UI_URL"
TIMEZONE_VAR = "LAKEHOUSE_TIMEZONE"
HISTORY_START_VAR = "LAKEHOUSE_HISTORY_START"
STEP_RETRY_DELAY_VAR = "LAKEHOUSE_STEP_RETRY_DELAY"

DEFAULT_ROOT = ".lakehouse"
LAYERS = ("raw", "bronze", "silver", "gold")


def deployment() -> Deployment:
    """The selected deployment; `local` unless LAKEHOUSE_ENV says otherwise."""
    value = os.environ.get(DEPLOYMENT_VAR, Deployment.LOCAL.value).strip().lower() or "local"
    try:
        return Deployment(value)
    except ValueError:
        choices = ", ".join(d.value for d in Deployment)
        raise ValueError(f"{DEPLOYMENT_VAR}={value!r} is not one of: {choices}") from None


def lakehouse_root() -> Path:
    """Directory of the local lake (absolute, so runs in other working dirs agree)."""
    return Path(os.environ.get(ROOT_VAR) or DEFAULT_ROOT).expanduser().resolve()


@dataclass(frozen=True)
class PipelineSettings:
    """When and how pipelines run: schedules' timezone, first day of kept history, retries."""

    timezone: str = "Europe/London"
    history_start: str = "2024-01-01"
    #: Schedules start running on a deployment; on a laptop they wait to be switched on.
    running: bool = False
    #: First wait of a step's RetryPolicy (doubled each retry, with jitter).
    step_retry_delay_seconds: float = 30.0


def pipeline_settings(selected: Deployment | None = None) -> PipelineSettings:
    selected = selected or deployment()
    return PipelineSettings(
        timezone=os.environ.get(TIMEZONE_VAR) or PipelineSettings.timezone,
        history_start=os.environ.get(HISTORY_START_VAR) or PipelineSettings.history_start,
        running=selected is Deployment.AWS,
        step_retry_delay_seconds=float(
            os.environ.get(STEP_RETRY_DELAY_VAR) or PipelineSettings.step_retry_delay_seconds
        ),
    )


def ui_base_url() -> str:
    """Base URL of the Dagster UI, for links in alerts."""
    return (os.environ.get(UI_URL_VAR) or "http://127.0.0.1:3000").rstrip("/")


def resolve_path(value: str) -> Path:
    return Path(value).expanduser().resolve()


def packaged_parameters_file() -> Path:
    return Path(__file__).parent / "sample" / "parameters.yaml"


def parameters_file() -> Path:
    """Local parameters file: LAKEHOUSE_PARAMETERS_FILE, or the packaged sample."""
    configured = os.environ.get(PARAMETERS_FILE_VAR)
    return Path(configured).expanduser().resolve() if configured else packaged_parameters_file()


@dataclass(frozen=True)
class ParameterNames:
    """Parameter Store names the platform reads (defaults from the original stack)."""

    bucket_prefix: str = "/s3/lakehouse/name/"
    wordpress_endpoints: str = "/wordpress/amazonwebshark/api/mysqlendpoints"
    sns_layer_prefix: str = "/sns/data/lakehouse/"
    sns_pipeline_failure: str = "/sns/pipeline/failure"

    def bucket(self, layer: str) -> str:
        return f"{self.bucket_prefix}{layer}"

    def topic(self, layer: str) -> str:
        return f"{self.sns_layer_prefix}{layer}"


PARAMETER_NAMES = ParameterNames()
DEFAULT_BUCKETS = {layer: f"data-lakehouse-{layer}" for layer in LAYERS}
