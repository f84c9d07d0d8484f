"""One measured workload in its own process, so its memory and start-up are its own.

``python -m lakehouse_assets.bench.child {pipeline|floor|original} CONFIG.json RESULT.json``.
The pipeline runs the WordPress job through Dagster (the code location's in-process executor,
as ``lakehouse run`` and a deployment's run worker do) on the lake, parameters file and Dagster
home the environment names; the floor and the original approach run their plain scripts. Each
writes its timings and memory as JSON.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from lakehouse_assets.bench.measure import RssSampler, Stages, peak_rss_bytes  # noqa: E402

#: The code location's executor runs every step in this one process, as a deployment's run
#: worker does. (``execute_in_process`` would also keep every step's output table in memory
#: until the run ends, for ``output_for_node``: a test convenience, not what a deployment does.)
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
JOB = "wordpress_api_job"


def run_pipeline(config: dict[str, Any], sampler: RssSampler) -> dict[str, Any]:
    clock = time.perf_counter()
    import dagster as dg

    from lakehouse_assets import definitions  # the code location, as a server loads it

    imported = time.perf_counter() - clock
    clock = time.perf_counter()
    partitions = definitions.resolve_job(JOB).partitions_def
    partition = partitions.get_last_partition_key() if partitions is not None else None
    tags = {"dagster/partition": partition} if partition else None
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            # Rebuilt from the code location's ``defs``, once, as a run worker does (not the
            # definitions built again for each of Dagster's reconstructions).
            dg.build_reconstructable_job("lakehouse_assets.definitions", "resolve_job", (JOB,)),
            instance=instance,
            run_config=RUN_CONFIG,
            tags=tags,
            raise_on_error=False,
        )
        run_seconds = time.perf_counter() - clock
        steps: dict[str, dict[str, Any]] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            step = steps.setdefault(event.step_key, {})
            if event.event_type == dg.DagsterEventType.STEP_START:
                step["start"] = entry.timestamp
            elif event.event_type in (
                dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE,
            ):
                step["end"] = entry.timestamp
                step["success"] = event.event_type == dg.DagsterEventType.STEP_SUCCESS
            elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                metadata = event.event_specific_data.materialization.metadata  # type: ignore[union-attr]
                for name in ("dagster/row_count", "size_bytes"):
                    if name in metadata:
                        step[name] = metadata[name].value
        errors = {}
        if not result.success:
            from lakehouse_assets.automation.alerts import error_summary

            for event in result.all_events:
                if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                    cls, message = error_summary(event.step_failure_data.error)
                    errors[event.step_key or ""] = f"{cls}: {message}"
    assets = {}
    for key, step in steps.items():
        if "start" in step and "end" in step:
            assets[key] = {
                "seconds": step["end"] - step["start"],
                "rows": step.get("dagster/row_count"),
                "output_bytes": step.get("size_bytes"),
                "peak_rss_bytes": sampler.peak_between(step["start"], step["end"]),
                "success": step.get("success", False),
            }
    return {
        "success": result.success,
        "errors": errors,
        "partition": partition,
        "import_seconds": imported,
        "run_seconds": run_seconds,
        "assets": assets,
    }


def _schema(spec: dict[str, Any]) -> Any:
    from lakehouse_assets.medallion.datasets import Column, DatasetSchema

    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
    fields["columns"] = tuple(Column(**column) for column in spec["columns"])
    return DatasetSchema(**fields)


def run_script(kind: str, config: dict[str, Any], sampler: RssSampler) -> dict[str, Any]:
    # The schemas come in the config: importing the sources package would import Dagster.
    schemas = {name: _schema(spec) for name, spec in config["schemas"].items()}
    stages = Stages(sampler)
    out = Path(config["out"])
    clock = time.perf_counter()
    if kind == "floor":
        from lakehouse_assets.bench.floor import run_floor as script
    else:
        from lakehouse_assets.bench.original import run_original as script
    rows = script(config["urls"], schemas, out, stages)
    return {
        "success": True,
        "run_seconds": time.perf_counter() - clock,
        "rows": rows,
        "stages": stages.results,
    }


def main(argv: list[str]) -> int:
    kind, config_path, result_path = argv
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    sampler = RssSampler().start()
    if kind == "pipeline":
        result = run_pipeline(config, sampler)
    else:
        result = run_script(kind, config, sampler)
    sampler.stop()
    result["peak_rss_bytes"] = peak_rss_bytes()
    result["in_process_seconds"] = time.perf_counter() - STARTED
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # The result is written: leave every object to the exit, not to a last pass of the garbage
    # collector over all of them (0.8-1.3 s after a Dagster run here, a little for the scripts).
    gc.freeze()
    sys.exit(status)
