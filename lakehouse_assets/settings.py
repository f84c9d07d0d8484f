"""The one place that reads the deployment environment.

Everything here is read at call time, never at import time, so importing the package needs
neither AWS nor any particular environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
MAX_SHRINK_VAR = "LAKEHOUSE_MAX_SHRINK"
ACCEPT_SHRINK_VAR = "LAKEHOUSE_ACCEPT_SHRINK"
DERIVED_HISTORY_DAYS_VAR = "LAKEHOUSE_DERIVED_HISTORY_DAYS"
#: Run tag set by ``lakehouse run --accept-shrink``: this run may replace tables with far
#: smaller ones.
ACCEPT_SHRINK_TAG = "lakehouse/accept_shrink"
FULL_REFRESH_VAR = "LAKEHOUSE_FULL_REFRESH"
#: Which engine runs each source's silver and gold (``lakehouse_assets.engines.choice``).
ENGINES_VAR = "LAKEHOUSE_ENGINES"
#: How a run executes its steps (``lakehouse_assets.executors``).
EXECUTOR_VAR = "LAKEHOUSE_EXECUTOR"
#: How many steps of one run may execute at once (multiprocess and ecs executors).
MAX_CONCURRENT_VAR = "LAKEHOUSE_MAX_CONCURRENT"
#: Run tag set by ``lakehouse run --full-refresh`` (or in the UI's launchpad): every table is
#: rebuilt from its raw snapshot, none kept or built from what changed.
FULL_REFRESH_TAG = "lakehouse/full_refresh"

DEFAULT_ROOT = ".lakehouse"
LAYERS = ("raw", "bronze", "silver", "gold")


class SettingsError(ValueError):
    """An environment setting is invalid; the message names it and says what is expected."""


def deployment() -> Deployment:
    """The selected deployment; `local` unless LAKEHOUSE_ENV says otherwise."""
    value = os.environ.get(DEPLOYMENT_VAR, Deployment.LOCAL.value).strip().lower() or "local"
    try:
        return Deployment(value)
    except ValueError:
        choices = ", ".join(d.value for d in Deployment)
        raise SettingsError(f"{DEPLOYMENT_VAR}={value!r} is not one of: {choices}") from None


def full_refresh(tags: Mapping[str, str]) -> bool:
    """Whether a run with ``tags`` rebuilds everything: its tag, or LAKEHOUSE_FULL_REFRESH=1."""
    flag = (os.environ.get(FULL_REFRESH_VAR) or "").strip().lower() in ("1", "true", "yes")
    return flag or tags.get(FULL_REFRESH_TAG) == "true"


@dataclass(frozen=True)
class VolumeGuard:
    """How far a table may shrink in one replacement before the layer is blocked."""

    max_drop_fraction: float = 0.5
    accepted: bool = False


def volume_guard() -> VolumeGuard:
    """LAKEHOUSE_MAX_SHRINK (a fraction, default 0.5) and LAKEHOUSE_ACCEPT_SHRINK (1/true)."""
    raw = os.environ.get(MAX_SHRINK_VAR)
    fraction = VolumeGuard.max_drop_fraction
    if raw:
        try:
            fraction = float(raw)
        except ValueError:
            fraction = -1.0
        if not 0.0 <= fraction <= 1.0:
            raise SettingsError(f"{MAX_SHRINK_VAR}={raw!r} is not a fraction between 0 and 1")
    accepted = (os.environ.get(ACCEPT_SHRINK_VAR) or "").strip().lower() in ("1", "true", "yes")
    return VolumeGuard(fraction, accepted)


def derived_history_days() -> int | None:
    """LAKEHOUSE_DERIVED_HISTORY_DAYS: how many days of bronze, silver and gold versions to keep
    behind the newest one (a version more than that many days older is removed after each
    publish; 0 keeps only the newest). Unset keeps every version, as before: the raw snapshots
    they are rebuilt from are always kept, so a shorter history is a choice about storage, not
    about what can be recovered, and no deployment loses history by upgrading."""
    raw = (os.environ.get(DERIVED_HISTORY_DAYS_VAR) or "").strip()
    if not raw:
        return None
    try:
        days = int(raw)
    except ValueError:
        days = -1
    if days < 0:
        raise SettingsError(
            f"{DERIVED_HISTORY_DAYS_VAR}={raw!r} is not a whole number of days (0 or more)"
        )
    return days


def engines_setting() -> str:
    """LAKEHOUSE_ENGINES as set (parsed and checked by ``lakehouse_assets.engines.choice``)."""
    return (os.environ.get(ENGINES_VAR) or "").strip()


class ExecutorKind(StrEnum):
    IN_PROCESS = "in_process"
    MULTIPROCESS = "multiprocess"
    ECS = "ecs"


@dataclass(frozen=True)
class ExecutorSetting:
    """How a run executes its steps: which executor, and how many steps at once."""

    kind: ExecutorKind = ExecutorKind.IN_PROCESS
    #: Ignored by ``in_process`` (one step at a time).
    max_concurrent: int = 4


def executor_setting() -> ExecutorSetting:
    """LAKEHOUSE_EXECUTOR (in_process, the default; multiprocess; ecs) and
    LAKEHOUSE_MAX_CONCURRENT (steps of one run at once, default 4), each validated."""
    value = (os.environ.get(EXECUTOR_VAR) or "").strip().lower() or ExecutorSetting.kind.value
    try:
        kind = ExecutorKind(value)
    except ValueError:
        choices = ", ".join(k.value for k in ExecutorKind)
        raise SettingsError(f"{EXECUTOR_VAR}={value!r} is not one of: {choices}") from None
    raw = (os.environ.get(MAX_CONCURRENT_VAR) or "").strip()
    if not raw:
        return ExecutorSetting(kind)
    try:
        steps = int(raw)
    except ValueError:
        steps = 0
    if steps < 1:
        raise SettingsError(
            f"{MAX_CONCURRENT_VAR}={raw!r} is not a whole number of steps (1 or more)"
        )
    return ExecutorSetting(kind, steps)


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
    """The pipeline settings from the environment, each validated (a bad one names itself)."""
    from datetime import date
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    selected = selected or deployment()
    timezone = os.environ.get(TIMEZONE_VAR) or PipelineSettings.timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{TIMEZONE_VAR}={timezone!r} is not an IANA timezone") from None
    history_start = os.environ.get(HISTORY_START_VAR) or PipelineSettings.history_start
    try:
        date.fromisoformat(history_start)
    except ValueError:
        raise SettingsError(f"{HISTORY_START_VAR}={history_start!r} is not YYYY-MM-DD") from None
    delay = os.environ.get(STEP_RETRY_DELAY_VAR) or str(PipelineSettings.step_retry_delay_seconds)
    try:
        delay_seconds = float(delay)
    except ValueError:
        delay_seconds = -1.0
    if delay_seconds < 0:
        raise SettingsError(f"{STEP_RETRY_DELAY_VAR}={delay!r} is not a number of seconds")
    return PipelineSettings(
        timezone=timezone,
        history_start=history_start,
        running=selected is Deployment.AWS,
        step_retry_delay_seconds=delay_seconds,
    )


def ui_base_url() -> str:
    """Base URL of the Dagster UI, for links in alerts."""
    return (os.environ.get(UI_URL_VAR) or "http://127.0.0.1:3000").rstrip("/")


def resolve_path(value: str) -> Path:
    return Path(value).expanduser().resolve()


def packaged_parameters_file() -> Path:
    return Path(__file__).parent / "sample" / "parameters.yaml"


def packaged_secrets_file() -> Path:
    """Credentials of the packaged sample services (only they accept them)."""
    return Path(__file__).parent / "sample" / "secrets.yaml"


def parameters_file() -> Path:
    """Local parameters file: LAKEHOUSE_PARAMETERS_FILE, or the packaged sample."""
    configured = os.environ.get(PARAMETERS_FILE_VAR)
    return Path(configured).expanduser().resolve() if configured else packaged_parameters_file()


@dataclass(frozen=True)
class ParameterNames:
    """Parameter Store names the platform reads (defaults from the original stack)."""

    bucket_prefix: str = "/s3/lakehouse/name/"
    sns_layer_prefix: str = "/sns/data/lakehouse/"
    sns_pipeline_failure: str = "/sns/pipeline/failure"

    def bucket(self, layer: str) -> str:
        return f"{self.bucket_prefix}{layer}"

    def topic(self, layer: str) -> str:
        return f"{self.sns_layer_prefix}{layer}"


PARAMETER_NAMES = ParameterNames()
DEFAULT_BUCKETS = {layer: f"data-lakehouse-{layer}" for layer in LAYERS}
