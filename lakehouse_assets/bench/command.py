"""The ``lakehouse bench`` subcommand: options, progress on stderr, the table on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_bench_command(commands: argparse._SubParsersAction) -> None:
    from lakehouse_assets.bench import DEFAULT_PAGE_SIZE, DEFAULT_POSTS, DEFAULT_STATISTICS_ROWS

    bench = commands.add_parser(
        "bench",
        help="time the pipeline through Dagster against a floor and the original approach",
        description=(
            "Generate a synthetic WordPress site, serve it over loopback HTTP, and run the "
            "pipeline (through Dagster, fresh lake and instance), a floor script and the "
            "original pandas approach on it, each in its own process; report wall time, "
            "rows/s, MB/s and peak RSS, an incremental day, and the code location's import time."
        ),
    )
    bench.add_argument("--posts", type=int, default=DEFAULT_POSTS)
    bench.add_argument("--statistics-rows", type=int, default=DEFAULT_STATISTICS_ROWS)
    bench.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="rows per page")
    bench.add_argument("--repeat", type=int, default=1, help="runs of each workload (medians)")
    bench.add_argument("--json", type=Path, help="also write the report as JSON here")
    bench.add_argument("--no-incremental", action="store_true", help="skip the incremental day")
    bench.add_argument(
        "--no-references", action="store_true", help="skip the floor and the original approach"
    )
    bench.add_argument(
        "--no-original", action="store_true", help="skip the original approach (memory-hungry)"
    )
    bench.add_argument("--workdir", type=Path, help="where temporary lakes go (default: TMPDIR)")
    bench.add_argument(
        "--engines",
        metavar="TEXT",
        help="LAKEHOUSE_ENGINES for the pipeline runs only, e.g. 'wordpress_api=spark' "
        "(default: as the environment sets it)",
    )
    bench.add_argument(
        "--with-dlt",
        action="store_true",
        help="also load the site with dlt (rest_api → Parquet files) as a peer: pip install "
        "'dlt[parquet]'",
    )


def run_bench_command(args: argparse.Namespace) -> int:
    from lakehouse_assets.bench.dlt_peer import available
    from lakehouse_assets.bench.runner import BenchOptions, render, run_bench, write_json
    from lakehouse_assets.engines.choice import parse_engine_choice
    from lakehouse_assets.settings import SettingsError

    if args.with_dlt and not available():
        sys.stderr.write("--with-dlt: dlt is not installed (pip install 'dlt[parquet]')\n")
        return 2
    if args.engines is not None:
        try:
            parse_engine_choice(args.engines)
        except SettingsError as error:
            sys.stderr.write(f"--engines: {error}\n")
            return 2
    options = BenchOptions(
        posts=args.posts,
        statistics_rows=args.statistics_rows,
        page_size=args.page_size,
        repeat=max(1, args.repeat),
        incremental=not args.no_incremental,
        references=not args.no_references,
        original=not args.no_original,
        workdir=args.workdir,
        dlt=args.with_dlt,
        engines=args.engines,
    )
    report = run_bench(options, log=lambda line: print(line, file=sys.stderr, flush=True))  # noqa: T201
    print(render(report))  # noqa: T201
    if args.json:
        write_json(report, args.json)
    return 0
