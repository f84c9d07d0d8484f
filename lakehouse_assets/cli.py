"""The ``lakehouse`` command: run the pipeline with a readable summary, serve the sample site."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_JOB = "wordpress_api_job"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
IN_PROCESS = {**QUIET_LOGS, "execution": {"config": {"in_process": {}}}}


def _dagster_home() -> Path:
    """DAGSTER_HOME, or ``.dagster_home`` here so `dagster dev` later shows the same runs."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _current_partition(partitions: object) -> str | None:
    """Today's partition of a daily-partitioned job (in its timezone), None if unpartitioned."""
    import dagster as dg

    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return partitions.get_last_partition_key()
    return None


def run_partitions(job_name: str, partitions: list[str | None]) -> int:
    """Run ``job_name`` once per partition in-process and print a summary of each."""
    home = _dagster_home()
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from lakehouse_assets.definitions import defs
    from lakehouse_assets.run_summary import summarize

    # As a deployment's run worker does: every step in this process, outputs not kept in memory
    # after their step (execute_in_process would hold every table until the run ends).
    repository = ReconstructableRepository.for_module(
        "lakehouse_assets.definitions", "defs", working_directory=os.getcwd()
    )
    job = repository.get_reconstructable_job(job_name)
    failed = 0
    with dg.DagsterInstance.get() as instance:
        for partition in partitions:
            started = time.monotonic()
            result = dg.execute_job(
                job,
                instance=instance,
                raise_on_error=False,
                run_config=IN_PROCESS,
                tags={"dagster/partition": partition} if partition else None,
            )
            summary = summarize(result, instance)
            if not result.success:
                failed += 1
                summary.alerts_sent = _alert(result.run_id, instance, defs)
            print(summary.render(elapsed=time.monotonic() - started, dagster_home=home))
    return 1 if failed else 0


def run(job_name: str, partition: str | None) -> int:
    from lakehouse_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    return run_partitions(job_name, [partition or _current_partition(job.partitions_def)])


def backfill(job_name: str, start: str, end: str) -> int:
    """Rebuild past days from kept raw snapshots, one run per day, oldest first."""
    import dagster as dg

    from lakehouse_assets.definitions import defs

    partitions = defs.resolve_job_def(job_name).partitions_def
    if partitions is None:
        print(f"{job_name} is not partitioned", file=sys.stderr)
        return 2
    keys = partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    return run_partitions(job_name, list(keys))


def _alert(run_id: str, instance: object, defs: object) -> list[str]:
    """No daemon runs the alert sensor here: publish the failure alerts directly."""
    from lakehouse_assets.automation.alerts import alert_run_now

    run = instance.get_run_by_id(run_id)  # type: ignore[attr-defined]
    notifications = defs.resources["notifications"]  # type: ignore[attr-defined]
    alerts = alert_run_now(run, instance, notifications)  # type: ignore[arg-type]
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


def _aws_clients(endpoint_url: str | None, region: str | None) -> object:
    from lakehouse_assets.resources.aws.boto import AwsClientsResource

    return AwsClientsResource(endpoint_url=endpoint_url, region_name=region)


def bootstrap_aws(args: argparse.Namespace) -> int:
    """Create the aws deployment's buckets, parameters, topics and Glue databases (idempotent)."""
    from lakehouse_assets.infra.bootstrap import StackNames, bootstrap

    names = StackNames(args.bucket_prefix, args.topic_prefix, args.glue_database_prefix)
    report = bootstrap(
        _aws_clients(args.endpoint_url, args.region),  # type: ignore[arg-type]
        names,
        wordpress_endpoints=args.wordpress_endpoint or [],
        endpoints_secure=args.endpoints_secure,
        kms_key_id=args.kms_key_id,
    )
    for what in report.created:
        print("created ", what)
    for what in report.existing:
        print("existing", what)
    return 0


def local_aws(args: argparse.Namespace) -> int:
    """moto server + sample site on loopback, bootstrapped; prints the variables to export."""
    from lakehouse_assets.infra.local_aws import local_aws as start

    with start(args.port, args.region, serve_sample=not args.no_sample_site) as local:
        print(f"Local AWS endpoint (moto) on {local.endpoint_url}, stack bootstrapped.")
        if local.wordpress_endpoints:
            print("Sample WordPress site endpoints (in the SSM StringList):")
            for url in local.wordpress_endpoints:
                print("  ", url)
        print("In another shell:")
        for name, value in local.environment().items():
            print(f"  export {name}={value}")
        print("  lakehouse run")
        print("Ctrl-C to stop (the local account is discarded).")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0


def _add_aws_commands(commands: argparse._SubParsersAction) -> None:
    boot = commands.add_parser(
        "bootstrap",
        help="create the aws deployment's buckets, parameters, topics, Glue databases (idempotent)",
    )
    boot.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL or AWS)")
    boot.add_argument("--region", help="AWS region (default: boto3's configuration)")
    boot.add_argument("--bucket-prefix", default="data-lakehouse", help="buckets: PREFIX-<layer>")
    boot.add_argument("--topic-prefix", default="lakehouse", help="SNS topics: PREFIX-<layer>")
    boot.add_argument("--glue-database-prefix", default="lakehouse_")
    boot.add_argument(
        "--wordpress-endpoint", action="append", help="endpoint URL (repeat for each dataset)"
    )
    boot.add_argument(
        "--endpoints-secure", action="store_true", help="store the endpoints as a SecureString"
    )
    boot.add_argument("--kms-key-id", help="SSE-KMS key for the buckets' default encryption")
    local = commands.add_parser(
        "local-aws", help="run a local AWS endpoint (moto) with the stack bootstrapped"
    )
    local.add_argument("--port", type=int, default=5000, help="loopback port (0: any free port)")
    local.add_argument("--region", default="eu-west-2")
    local.add_argument("--no-sample-site", action="store_true", help="do not serve the sample")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="materialize every asset of a job and summarize")
    run_parser.add_argument("--job", default=DEFAULT_JOB)
    run_parser.add_argument("--partition", help="day to run (default: today)")
    fill = commands.add_parser(
        "backfill", help="rebuild a range of past days from kept raw snapshots, one run per day"
    )
    fill.add_argument("--job", default=DEFAULT_JOB)
    fill.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    fill.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
    site_parser = commands.add_parser(
        "sample-site", help="serve the packaged WordPress sample over real HTTP on loopback"
    )
    site_parser.add_argument("--port", type=int, default=8765)
    _add_aws_commands(commands)
    from lakehouse_assets.bench.command import add_bench_command, run_bench_command

    add_bench_command(commands)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return run_bench_command(args)
    if args.command == "run":
        return run(args.job, args.partition)
    if args.command == "backfill":
        return backfill(args.job, args.start, args.end)
    if args.command == "bootstrap":
        return bootstrap_aws(args)
    if args.command == "local-aws":
        return local_aws(args)
    return serve_sample(args.port)


if __name__ == "__main__":
    sys.exit(main())
