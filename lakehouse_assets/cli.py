"""The ``lakehouse`` command: run the pipeline with a readable summary, serve the sample site."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from lakehouse_assets.dagster_home import dagster_home

DEFAULT_JOB = "wordpress_api_job"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class UsageError(ValueError):
    """A command line that cannot run; printed as one line, exit status 2."""


def _load_definitions() -> Any:
    """The code location, or a UsageError saying which setting is wrong."""
    from lakehouse_assets.settings import SettingsError

    try:
        from lakehouse_assets.definitions import defs
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    return defs


def execute(planned: list[Any], *, accept_shrink: bool = False, full_refresh: bool = False) -> int:
    """Run each planned run in-process, print its summary; returns how many failed."""
    dagster_home()
    import dagster as dg

    from lakehouse_assets import settings
    from lakehouse_assets.observe.usage import finish_run, start_run
    from lakehouse_assets.run_sources import own_tags
    from lakehouse_assets.run_summary import summarize

    defs = _load_definitions()
    failed = 0
    with dg.DagsterInstance.get() as instance:
        for position, run in enumerate(planned, start=1):
            # As a deployment's run worker does: every step in this process, outputs not kept in
            # memory after their step (execute_in_process would hold every table until the end).
            job = dg.build_reconstructable_job(
                "lakehouse_assets.definitions", "resolve_job", (run.job_name,)
            )
            tags = {**run.tags, **own_tags()}
            if run.partition:
                tags["dagster/partition"] = run.partition
            if accept_shrink:
                tags[settings.ACCEPT_SHRINK_TAG] = "true"
            if full_refresh:
                tags[settings.FULL_REFRESH_TAG] = "true"
            if len(planned) > 1 and sys.stderr.isatty():
                print(f"[{position}/{len(planned)}] {run.label or run.job_name}", file=sys.stderr)
            started = time.monotonic()
            start_run()
            result = dg.execute_job(
                job, instance=instance, raise_on_error=False, run_config=QUIET_LOGS, tags=tags
            )
            summary = summarize(result, instance)
            summary.usage = finish_run(instance, result.run_id)
            if not result.success:
                failed += 1
                summary.alerts_sent = _alert(result.run_id, instance, defs)
            print(summary.render(elapsed=time.monotonic() - started))
    return failed


def run_partitions(
    job_name: str,
    partitions: list[str | None],
    accept_shrink: bool = False,
    full_refresh: bool = False,
) -> int:
    """Run ``job_name`` once per partition in-process and print a summary of each."""
    from lakehouse_assets.run_sources import PlannedRun

    planned = [PlannedRun(job_name, p, label=f"{job_name} {p or ''}") for p in partitions]
    failed = execute(planned, accept_shrink=accept_shrink, full_refresh=full_refresh)
    _print_ui_hint()
    return 1 if failed else 0


def _print_ui_hint() -> None:
    from lakehouse_assets.run_summary import ui_hint

    print(ui_hint(dagster_home()))


def run_job(
    job_name: str, partition: str | None, accept_shrink: bool = False, full_refresh: bool = False
) -> int:
    defs = _load_definitions()
    names = sorted(job.name for job in defs.jobs or [])
    if job_name not in names:
        raise UsageError(f"no job {job_name!r}; choose one of: {', '.join(names)}")
    partitions = defs.resolve_job_def(job_name).partitions_def
    if partitions is not None:
        from lakehouse_assets.run_sources import _current

        key = partition or _current(partitions)
        if key not in partitions.get_partition_keys(dynamic_partitions_store=None):
            raise UsageError(f"{job_name}: {key!r} is not one of its partitions")
        partition = key
    return run_partitions(job_name, [partition], accept_shrink, full_refresh)


def run_sources(
    sources: list[str] | None,
    partition: str | None,
    accept_shrink: bool = False,
    full_refresh: bool = False,
) -> int:
    """Each source's runs now (every source when none is named); exit 0 only if all succeed."""
    home = dagster_home()
    import dagster as dg

    from lakehouse_assets.lake.staging import reap_staging_folders
    from lakehouse_assets.run_sources import (
        RunConfigurationError,
        SourceBusyError,
        check_configuration,
        fail_abandoned_runs,
        fresh_resources,
        land_packaged_samples,
        landed_runs,
        refresh_run,
        scheduled_run,
        source_lock,
        source_names,
    )

    defs = _load_definitions()
    known = source_names(defs)
    chosen = sources or known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise UsageError(f"no source {', '.join(unknown)}; choose from: {', '.join(known)}")
    try:
        resources = fresh_resources()
        check_configuration(resources)
    except RunConfigurationError as exc:
        raise UsageError(str(exc)) from None
    reap_staging_folders()
    failed = 0
    for source in chosen:
        try:
            with source_lock(home, source):
                with dg.DagsterInstance.get() as instance:
                    for run_id in fail_abandoned_runs(instance):
                        print(f"run {run_id} was left running by a killed process: marked failed")
                    try:
                        scheduled = scheduled_run(defs, source, partition)
                    except ValueError as exc:
                        raise UsageError(str(exc)) from None
                    if scheduled is None:
                        land_packaged_samples(resources, source)
                    planned = (
                        [scheduled]
                        if scheduled
                        else list(landed_runs(defs, instance, source, resources))
                    )
                if scheduled is None:
                    refresh = refresh_run(defs, source)
                    if planned:
                        print(f"{source}: {len(planned)} run(s) for what has landed")
                    else:
                        print(f"{source}: nothing new has landed")
                    landing_failed = execute(
                        planned, accept_shrink=accept_shrink, full_refresh=full_refresh
                    )
                    failed += landing_failed
                    if refresh is not None and (planned or _needs_refresh(defs, source, refresh)):
                        failed += execute(
                            [refresh], accept_shrink=accept_shrink, full_refresh=full_refresh
                        )
                else:
                    failed += execute(
                        planned, accept_shrink=accept_shrink, full_refresh=full_refresh
                    )
        except SourceBusyError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
    _print_ui_hint()
    return 1 if failed else 0


def _needs_refresh(defs: Any, source: str, refresh: Any) -> bool:
    """Whether the source's silver and gold need their job although nothing new landed: they
    were never built, or its latest run failed (a blocked check, a lookup that was down)."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        keys = [
            key
            for key in defs.resolve_asset_graph().get_all_asset_keys()
            if key.path[1] == source and key.path[0] in ("silver", "gold")
        ]
        if any(instance.get_latest_materialization_event(key) is None for key in keys):
            return True
        latest = instance.get_runs(filters=dg.RunsFilter(job_name=refresh.job_name), limit=1)
        return bool(latest) and latest[0].status == dg.DagsterRunStatus.FAILURE


def backfill(job_name: str, start: str, end: str) -> int:
    """Rebuild past days from kept raw snapshots, one run per day, oldest first."""
    import dagster as dg

    defs = _load_definitions()
    partitions = defs.resolve_job_def(job_name).partitions_def
    if partitions is None:
        raise UsageError(f"{job_name} is not partitioned")
    try:
        keys = partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    except Exception:  # Dagster raises its own errors for keys outside the partitions
        raise UsageError(f"{job_name}: {start} … {end} is not a range of its partitions") from None
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
    """Create the aws deployment's buckets, parameters, topics, Glue databases and what the
    transactions and Spotify sources read (idempotent; secrets are never overwritten)."""
    from lakehouse_assets.infra.bootstrap import StackNames, bootstrap

    names = StackNames(args.bucket_prefix, args.topic_prefix, args.glue_database_prefix)
    report = bootstrap(
        _aws_clients(args.endpoint_url, args.region),  # type: ignore[arg-type]
        names,
        wordpress_endpoints=args.wordpress_endpoint or [],
        endpoints_secure=args.endpoints_secure,
        kms_key_id=args.kms_key_id,
        transactions=not args.no_transactions,
        spotify=not args.no_spotify,
        spotify_playlists=args.spotify_playlist or [],
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
        help="create the aws deployment's buckets, parameters, topics, Glue databases and the "
        "sources' secrets and lookups (idempotent)",
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
    boot.add_argument(
        "--spotify-playlist", action="append", help="Spotify playlist id (repeat for each)"
    )
    boot.add_argument(
        "--no-transactions",
        action="store_true",
        help="skip the transactions source's table, log group, secret and parameters",
    )
    boot.add_argument(
        "--no-spotify", action="store_true", help="skip the Spotify source's secret and parameters"
    )
    local = commands.add_parser(
        "local-aws", help="run a local AWS endpoint (moto) with the stack bootstrapped"
    )
    local.add_argument("--port", type=int, default=5000, help="loopback port (0: any free port)")
    local.add_argument("--region", default="eu-west-2")
    local.add_argument("--no-sample-site", action="store_true", help="do not serve the sample")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run",
        help="run sources now (every source by default) as their schedules and sensors would",
    )
    run_parser.add_argument(
        "--source", action="append", help="a source to run (repeatable; default: every source)"
    )
    run_parser.add_argument("--job", help="run one job instead (see the error for the choices)")
    run_parser.add_argument("--partition", help="partition to run (default: the current one)")
    run_parser.add_argument(
        "--accept-shrink",
        action="store_true",
        help="let tables be replaced by far smaller ones (the source really shrank)",
    )
    run_parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every table from its raw snapshot (no table kept, no pages skipped)",
    )
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
    from lakehouse_assets.observe.commands import OBSERVE_COMMANDS, add_observe_commands

    add_observe_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return run_bench_command(args)
    if args.command in OBSERVE_COMMANDS:
        from lakehouse_assets.observe.commands import run_observe_command

        return run_observe_command(args)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"lakehouse: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        if args.job:
            return run_job(args.job, args.partition, args.accept_shrink, args.full_refresh)
        return run_sources(args.source, args.partition, args.accept_shrink, args.full_refresh)
    if args.command == "backfill":
        return backfill(args.job, args.start, args.end)
    if args.command == "bootstrap":
        return bootstrap_aws(args)
    if args.command == "local-aws":
        return local_aws(args)
    return serve_sample(args.port)


if __name__ == "__main__":
    sys.exit(main())
