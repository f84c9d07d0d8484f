"""The ``lakehouse`` command: run the pipeline with a readable summary, serve the sample site."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_JOB = "wordpress_api_job"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _dagster_home() -> Path:
    """DAGSTER_HOME, or ``.dagster_home`` here so `dagster dev` later shows the same runs."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run(job_name: str) -> int:
    home = _dagster_home()
    import dagster as dg

    from lakehouse_assets.definitions import defs
    from lakehouse_assets.run_summary import summarize

    started = time.monotonic()
    job = defs.resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET_LOGS
        )
        summary = summarize(result, instance)
        if not result.success:
            summary.alerts_sent = _alert(result.run_id, instance, defs)
    print(summary.render(elapsed=time.monotonic() - started, dagster_home=home))
    return 0 if result.success else 1


def _alert(run_id: str, instance: object, defs: object) -> list[str]:
    """No daemon runs the alert sensor here: publish the failure alerts directly."""
    from lakehouse_assets.automation.alerts import alerts_for_run, publish_alerts

    run = instance.get_run_by_id(run_id)  # type: ignore[attr-defined]
    notifications = defs.resources["notifications"]  # type: ignore[attr-defined]
    alerts = alerts_for_run(run, instance)  # type: ignore[arg-type]
    publish_alerts(notifications, alerts)
    return [alert.subject for alert in alerts]


def serve_sample(port: int) -> int:
    from lakehouse_assets.sources.wordpress_api.sample_site import sample_site, serve

    site = sample_site()
    with serve(site, port=port) as base_url:
        print("Sample WordPress site on", base_url)
        for url in site.endpoint_urls(base_url):
            print("  ", url)
        print("Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="materialize every asset of a job and summarize")
    run_parser.add_argument("--job", default=DEFAULT_JOB)
    site_parser = commands.add_parser(
        "sample-site", help="serve the packaged WordPress sample over real HTTP on loopback"
    )
    site_parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.job)
    return serve_sample(args.port)


if __name__ == "__main__":
    sys.exit(main())
