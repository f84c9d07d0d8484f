"""What ``lakehouse run`` starts: each source's runs now, the same ones its automation would start.

- A scheduled source (a partitioned job tagged with the source) runs its current partition
  (today, this week), or the partition asked for.
- A landed-file source evaluates its landing sensors as the daemon would, and executes each run
  they request with the sensor's name and run key as tags. A later sensor tick therefore starts
  none of them again (the daemon skips run keys it finds among the sensor's runs), and a second
  ``lakehouse run`` skips them too. Then the source's own job (silver and gold) runs once.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

#: Tags of a run started here: which process runs it, so a run killed with it can be told apart
#: from one still going.
TAG_PID = "lakehouse/pid"
TAG_HOST = "lakehouse/host"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
PARTITION_TAG = "dagster/partition"
LANDING_SENSOR_PREFIX = "landing__"
MAX_TICKS = 10_000


@dataclass
class PlannedRun:
    """One run to execute: its job, partition and tags."""

    job_name: str
    partition: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    label: str = ""


def fresh_resources() -> dict[str, Any]:
    """The deployment's resources, built now: the code location's own instances cache what
    they read (bucket names, the store's root) for the process, and a long-lived process
    running ``lakehouse run`` several times (a test, a notebook) may have changed settings."""
    from lakehouse_assets import settings
    from lakehouse_assets.deployments import RESOURCES

    return RESOURCES[settings.deployment()]()


class SourceBusyError(RuntimeError):
    """Another ``lakehouse run`` of the source is in progress."""


def source_names(defs: dg.Definitions) -> list[str]:
    """Every source of the code location, in the order its jobs are defined."""
    names: dict[str, None] = {}
    for job in defs.jobs or []:
        source = (job.tags or {}).get("source")
        if source:
            names.setdefault(source, None)
    return list(names)


def _jobs_of(defs: dg.Definitions, source: str) -> list[Any]:
    return [job for job in defs.jobs or [] if (job.tags or {}).get("source") == source]


def landing_sensors(defs: dg.Definitions, source: str) -> list[dg.SensorDefinition]:
    prefix = f"{LANDING_SENSOR_PREFIX}{source}__"
    return [s for s in defs.sensors or [] if s.name.startswith(prefix)]


class RunConfigurationError(ValueError):
    """The deployment's configuration cannot run anything (a bad or missing bucket name)."""


def check_configuration(resources: dict[str, Any]) -> None:
    """Read and validate the lake's bucket names before a run is planned, so a mistake there is
    one line from ``lakehouse run`` rather than a failed run per source, with stack traces and
    alerts, that has already read its inputs."""
    from lakehouse_assets.errors import ConfigurationError
    from lakehouse_assets.resources.lake import LakeResource

    lake = resources.get("lake")
    if isinstance(lake, LakeResource):
        try:
            lake.bucket("raw")
        except ConfigurationError as exc:
            raise RunConfigurationError(exc.description or str(exc)) from None


def scheduled_run(defs: dg.Definitions, source: str, partition: str | None) -> PlannedRun | None:
    """The source's partitioned job for ``partition`` (default: the current one)."""
    job_name = f"{source}_job"
    if not any(job.name == job_name for job in _jobs_of(defs, source)):
        return None
    partitions = defs.resolve_job_def(job_name).partitions_def
    if partitions is None:
        return None
    key = partition or _current(partitions)
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition) and (
        key not in partitions.get_partition_keys()
    ):
        raise ValueError(
            f"{source}: partition {key!r} is not one of this job's partitions "
            f"({partitions.get_first_partition_key()} … {partitions.get_last_partition_key()})"
        )
    return PlannedRun(job_name, key, label=f"{source} {key}")


def _current(partitions: dg.PartitionsDefinition) -> str:
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        key = partitions.get_last_partition_key()
        if key is not None:
            return key
    raise ValueError("no current partition")


def landed_runs(
    defs: dg.Definitions, instance: dg.DagsterInstance, source: str, resources: dict[str, Any]
) -> Iterator[PlannedRun]:
    """Every run the source's landing sensors request now and no earlier run already made
    (the sensors evaluated with ``resources``, the deployment's as :func:`fresh_resources`
    builds them)."""
    for sensor in landing_sensors(defs, source):
        cursor: str | None = None
        for _ in range(MAX_TICKS):
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=resources, sensor_name=sensor.name
            ) as context:
                result = sensor(context)
            if not isinstance(result, dg.SensorResult):
                break
            for change in result.dynamic_partitions_requests or []:
                if isinstance(change, dg.AddDynamicPartitionsRequest):
                    instance.add_dynamic_partitions(
                        change.partitions_def_name, list(change.partition_keys)
                    )
            requests = list(result.run_requests or [])
            if not requests:
                break
            job_name = str(sensor.job_name)
            for request in requests:
                if request.run_key and _already_run(instance, sensor.name, request.run_key):
                    continue
                yield PlannedRun(
                    job_name,
                    request.partition_key,
                    {
                        **dict(request.tags or {}),
                        SENSOR_NAME_TAG: sensor.name,
                        RUN_KEY_TAG: request.run_key or "",
                    },
                    label=f"{source} {request.partition_key or request.run_key}",
                )
            if result.cursor == cursor:
                break
            cursor = result.cursor


def land_packaged_samples(resources: dict[str, Any], source: str) -> list[str]:
    """On the local default running its packaged parameters, land the source's sample files
    (what that deployment provides); elsewhere nothing is landed."""
    from lakehouse_assets import settings
    from lakehouse_assets.definitions import LANDED_DATASETS
    from lakehouse_assets.medallion.landing import land_samples

    if settings.deployment() is not settings.Deployment.LOCAL:
        return []
    if settings.parameters_file() != settings.packaged_parameters_file():
        return []
    lake = resources["lake"]
    placed: list[str] = []
    for landed in LANDED_DATASETS:
        if landed.source.name == source:
            placed += land_samples(lake, landed)
    return placed


def _already_run(instance: dg.DagsterInstance, sensor_name: str, run_key: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}))
    return any(run.tags.get(SENSOR_NAME_TAG) == sensor_name for run in runs)


def refresh_run(defs: dg.Definitions, source: str) -> PlannedRun | None:
    """The source's own unpartitioned job (silver and gold of a landed-file source)."""
    job_name = f"{source}_job"
    for job in _jobs_of(defs, source):
        if job.name == job_name and defs.resolve_job_def(job_name).partitions_def is None:
            return PlannedRun(job_name, label=f"{source} tables")
    return None


def own_tags() -> dict[str, str]:
    return {TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname()}


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs this host started that stay STARTED/STARTING although their process is gone
    (a ``kill -9``): they would otherwise show as running forever. Returns their ids."""
    from lakehouse_assets.lake.staging import process_alive

    host = socket.gethostname()
    failed = []
    for run in instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={TAG_HOST: host},
        )
    ):
        pid = run.tags.get(TAG_PID, "")
        if pid.isdigit() and not process_alive(int(pid)):
            instance.report_run_failed(
                run, f"the process running it (pid {pid}) ended without finishing it"
            )
            failed.append(run.run_id)
    return failed


@contextmanager
def source_lock(home: Path, source: str) -> Iterator[None]:
    """One ``lakehouse run`` of a source at a time on this Dagster home; a second one fails at
    once (``SourceBusyError``) instead of mixing its inputs with the first's."""
    directory = home / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{source}.lock"
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SourceBusyError(
                f"{source}: another `lakehouse run` of this source is in progress ({holder}); "
                "not started"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
