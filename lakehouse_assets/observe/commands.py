"""The ``lakehouse`` subcommands that look at the data rather than make it: sql, report,
schema.

Kept here so ``cli.py`` only registers them (``add_observe_commands``) and hands the parsed
arguments over (``run_observe_command``).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from pathlib import Path

OBSERVE_COMMANDS = ("sql", "report", "schema")


def add_observe_commands(commands: argparse._SubParsersAction) -> None:
    sql = commands.add_parser(
        "sql",
        help="query the catalog in SQL (DuckDB over the local lake; Athena on aws)",
        description="Tables: lakehouse_<layer>.<source>__<dataset> (as in Glue), <source>__"
        "<dataset> in --layer's database, and locally <layer>_<source>_<dataset>. Without a "
        "query, statements ending with ';' are read from stdin.",
    )
    sql.add_argument("query", nargs="?", help="one SQL statement (default: read stdin)")
    sql.add_argument("--layer", default="gold", choices=("bronze", "silver", "gold"))
    sql.add_argument("--out", type=Path, help="write the result to FILE.csv or FILE.parquet")
    sql.add_argument("--max-rows", type=int, default=100, help="rows printed (default 100)")
    report = commands.add_parser(
        "report", help="runs with their AWS/HTTP usage and estimated cost, and a chart"
    )
    report.add_argument("--since", default="7d", help="how far back: 7d, 36h, 90m (default 7d)")
    report.add_argument("--region", help="price region (default: AWS_REGION, else us-east-1)")
    report.add_argument(
        "--chart", type=Path, help="write an HTML chart of the runs (default: none)"
    )
    schema = commands.add_parser(
        "schema", help="a dataset's schema history in each layer (versions and what changed)"
    )
    schema.add_argument("dataset", help="SOURCE/DATASET, e.g. wordpress_api/posts")


def parse_since(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text)
    if not match:
        raise ValueError(f"--since {text!r}: use a number with d, h or m (7d, 36h, 90m)")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})


def run_observe_command(args: argparse.Namespace) -> int:
    """Runs ``sql`` or ``report``; a bad setting or argument is one line on stderr, exit 2."""
    from lakehouse_assets.errors import ConfigurationError

    try:
        if args.command == "sql":
            from lakehouse_assets.observe.sql import run_sql

            return run_sql(args.query, layer=args.layer, out=args.out, max_rows=args.max_rows)
        if args.command == "schema":
            from lakehouse_assets.observe.schema import run_schema

            return run_schema(args.dataset)
        from lakehouse_assets.observe.report import run_report

        return run_report(parse_since(args.since), region=args.region, chart=args.chart)
    except (ValueError, ConfigurationError) as exc:
        sys.stderr.write(f"lakehouse: {exc}\n")
        return 2
