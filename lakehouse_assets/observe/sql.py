"""``lakehouse sql``: ask the lake a question in SQL, on a laptop or on AWS, with the same names.

Locally there is no catalog service, so each query gets an in-memory DuckDB whose views are
found by walking the layer buckets (bronze, silver, gold; raw holds JSON snapshots). On ``aws``
the Glue Data Catalog already has every table (the IO manager registers them), so the query
goes to Athena through awswrangler.

Names (the same in both deployments, so a query written on a laptop runs on Athena):
- ``{database}.{source}__{dataset}``, where ``database`` is the layer's Glue database
  (``lakehouse_gold.wordpress_api__statistics_postname``; the prefix is
  ``LAKEHOUSE_GLUE_DATABASE_PREFIX``);
- ``{source}__{dataset}`` alone resolves in the default layer's database (``--layer``, gold);
- locally also ``{layer}_{source}_{dataset}`` (``gold_wordpress_api_statistics_postname``).

A dataset folder reads as: its current ``data.parquet``; else its Hive partitions
(``date=…/``, read with ``hive_partitioning``, the partition column included); else its
disjoint partitions (``{partition}/data.parquet``, unioned by name). ``_``-prefixed folders
(snapshot history, state, staging) are never read, as Parquet readers, Glue and Athena skip them.

Athena: workgroup and result location from the parameters ``/lakehouse/athena/workgroup``
(default ``primary``) and ``/lakehouse/athena/output_location`` (default: the workgroup's);
the query runs with ``ctas_approach``-free ``start_query_execution`` (read-only: no temporary
tables) and its rows are read with ``GetQueryResults``, so the caller needs no read access to
the result bucket.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

WORKGROUP_PARAMETER = "/lakehouse/athena/workgroup"
OUTPUT_LOCATION_PARAMETER = "/lakehouse/athena/output_location"
DATABASE_PREFIX_VAR = "LAKEHOUSE_GLUE_DATABASE_PREFIX"
DEFAULT_DATABASE_PREFIX = "lakehouse_"
SQL_LAYERS = ("bronze", "silver", "gold")
TABLE_FILE = "data.parquet"


class SqlError(ValueError):
    """A query that could not run: its one-line reason (never a credential or URL)."""


def database_prefix() -> str:
    return os.environ.get(DATABASE_PREFIX_VAR) or DEFAULT_DATABASE_PREFIX


@dataclass(frozen=True)
class LakeTable:
    """One dataset folder of a layer bucket and how DuckDB reads it."""

    layer: str
    source: str
    dataset: str
    reader: str  # a DuckDB table function call

    def flat_name(self) -> str:
        return f"{self.layer}_{self.source}_{self.dataset}"

    def catalog_name(self) -> str:
        return f"{self.source}__{self.dataset}"


def _quote(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _visible(path: Path) -> bool:
    return not path.name.startswith(("_", "."))


def _reader(folder: Path) -> str | None:
    current = folder / TABLE_FILE
    if current.is_file():
        return f"read_parquet({_quote(current)})"
    children = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))
    hive = [p for p in children if "=" in p.name and any(p.rglob("*.parquet"))]
    if hive:
        pattern = folder / "*=*" / "*.parquet"
        return f"read_parquet({_quote(pattern)}, hive_partitioning = true, union_by_name = true)"
    parts = [p / TABLE_FILE for p in children if (p / TABLE_FILE).is_file()]
    if parts:
        files = ", ".join(_quote(p) for p in parts)
        return f"read_parquet([{files}], union_by_name = true)"
    return None


def lake_tables(root: Path, buckets: dict[str, str]) -> list[LakeTable]:
    """Every readable dataset of the bronze, silver and gold buckets under ``root``."""
    found = []
    for layer in SQL_LAYERS:
        bucket = root / buckets[layer]
        if not bucket.is_dir():
            continue
        for source in sorted(p for p in bucket.iterdir() if p.is_dir() and _visible(p)):
            for dataset in sorted(p for p in source.iterdir() if p.is_dir() and _visible(p)):
                reader = _reader(dataset)
                if reader is not None:
                    found.append(LakeTable(layer, source.name, dataset.name, reader))
    return found


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class LocalSql:
    """An in-memory DuckDB with a view per lake table (see the module docstring)."""

    def __init__(self, root: Path, buckets: dict[str, str], layer: str = "gold"):
        import duckdb

        self.tables = lake_tables(root, buckets)
        self.connection = duckdb.connect(":memory:")
        prefix = database_prefix()
        for schema in {f"{prefix}{layer}" for layer in SQL_LAYERS}:
            self.connection.execute(f"CREATE SCHEMA {_identifier(schema)}")
        for table in self.tables:
            schema = _identifier(f"{prefix}{table.layer}")
            view = f"SELECT * FROM {table.reader}"
            self.connection.execute(f"CREATE VIEW {_identifier(table.flat_name())} AS {view}")
            self.connection.execute(
                f"CREATE VIEW {schema}.{_identifier(table.catalog_name())} AS {view}"
            )
        self.connection.execute(f"SET search_path = {_quote(f'main,{prefix}{layer}')}")

    def query(self, sql: str) -> pd.DataFrame:
        import duckdb

        try:
            relation = self.connection.sql(sql)
            if relation is None:  # a statement without a result (SET, CREATE …)
                return pd.DataFrame()
            # SUM of BIGINT is HUGEINT, which pandas gets as float: keep counts integers.
            columns = [
                f"CAST({_identifier(c)} AS BIGINT) AS {_identifier(c)}"
                if str(t) == "HUGEINT"
                else _identifier(c)
                for c, t in zip(relation.columns, relation.types, strict=True)
            ]
            return relation.project(", ".join(columns)).df()
        except duckdb.Error as exc:
            raise SqlError(str(exc).splitlines()[0]) from None

    def close(self) -> None:
        self.connection.close()


class AthenaSql:
    """Athena through awswrangler, on the layer's Glue database (see the module docstring)."""

    def __init__(self, aws: Any, parameters: Any, layer: str = "gold"):
        self.aws = aws
        found = parameters.lookup([WORKGROUP_PARAMETER, OUTPUT_LOCATION_PARAMETER])
        self.workgroup = str(found.get(WORKGROUP_PARAMETER) or "primary")
        output = found.get(OUTPUT_LOCATION_PARAMETER)
        self.output_location = str(output) if output else None
        self.database = f"{database_prefix()}{layer}"

    def query(self, sql: str) -> pd.DataFrame:
        import awswrangler as wr
        from botocore.exceptions import BotoCoreError, ClientError

        endpoint = self.aws.endpoint_for("athena")
        if endpoint:
            wr.config.athena_endpoint_url = endpoint
        try:
            execution = wr.athena.start_query_execution(
                sql,
                database=self.database,
                s3_output=self.output_location,
                workgroup=self.workgroup,
                encryption="SSE_S3" if self.output_location else None,
                boto3_session=self.aws.session(),
                wait=True,
            )
        except (ClientError, BotoCoreError, wr.exceptions.QueryFailed) as exc:
            raise SqlError(f"Athena query failed ({type(exc).__name__}: {_reason(exc)})") from None
        return self._results(execution["QueryExecutionId"])

    def _results(self, execution_id: str) -> pd.DataFrame:
        pages = self.aws.client("athena").get_paginator("get_query_results")
        columns: list[dict[str, Any]] = []
        rows: list[list[str | None]] = []
        for page in pages.paginate(QueryExecutionId=execution_id):
            result = page["ResultSet"]
            columns = columns or result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            rows += [[d.get("VarCharValue") for d in row["Data"]] for row in result["Rows"]]
        names = [c.get("Label") or c["Name"] for c in columns]
        if rows and rows[0] == names:  # a SELECT's first row repeats the column names
            rows = rows[1:]
        frame = pd.DataFrame(rows, columns=names or None)
        for column in columns:
            name = column.get("Label") or column["Name"]
            frame[name] = _typed(frame[name], str(column.get("Type", "varchar")).lower())
        return frame


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", ""))[:300]
    return str(exc).splitlines()[0][:300] if str(exc) else ""


def _typed(values: pd.Series, athena_type: str) -> pd.Series:
    """Athena returns text; give it the column's type (integers nullable, never float)."""
    if athena_type in ("tinyint", "smallint", "integer", "int", "bigint"):
        return pd.to_numeric(values).astype("Int64")
    if athena_type in ("double", "float", "real") or athena_type.startswith("decimal"):
        return pd.to_numeric(values)
    if athena_type == "boolean":
        return values.map({"true": True, "false": False, None: None}).astype("boolean")
    if athena_type.startswith("timestamp") or athena_type == "date":
        return pd.to_datetime(values)
    return values


def statements(text: str) -> Iterator[str]:
    """``text`` split at the semicolons outside quotes and comments, blank statements left out."""
    current: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            current.append(char)
        elif text.startswith("--", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        elif char == ";":
            statement = "".join(current).strip()
            if statement:
                yield statement
            current = []
        else:
            current.append(char)
        index += 1
    statement = "".join(current).strip()
    if statement:
        yield statement


def render(frame: pd.DataFrame, max_rows: int) -> str:
    """The result as an aligned text table, with its row count."""
    count = len(frame)
    if count == 0:
        return (
            "(0 rows)\n" if not len(frame.columns) else f"{' | '.join(frame.columns)}\n(0 rows)\n"
        )
    shown = frame.head(max_rows)
    text = shown.to_string(index=False, na_rep="NULL", max_colwidth=60)
    more = f", first {max_rows} shown" if count > max_rows else ""
    return f"{text}\n({count} row{'s' if count != 1 else ''}{more})\n"


def write_result(frame: pd.DataFrame, out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        raise SqlError(f"--out {out.name}: write .csv or .parquet")
    return f"{len(frame)} row(s) written to {out}\n"


def open_engine(layer: str = "gold") -> LocalSql | AthenaSql:
    """The query engine of the selected deployment (LAKEHOUSE_ENV)."""
    from lakehouse_assets import settings

    if settings.deployment() is settings.Deployment.AWS:
        from lakehouse_assets.resources.aws.boto import AwsClientsResource
        from lakehouse_assets.resources.aws.ssm import SsmParametersResource

        aws = AwsClientsResource()  # region, endpoint and credentials: boto3's own chain
        return AthenaSql(aws, SsmParametersResource(aws=aws, prefetch=[]), layer)
    from lakehouse_assets.resources.lake import LocalLakeResource
    from lakehouse_assets.resources.parameters import LocalParametersResource

    lake = LocalLakeResource(parameters=LocalParametersResource())
    buckets = {layer: lake.bucket(layer) for layer in SQL_LAYERS}
    return LocalSql(settings.lakehouse_root(), buckets, layer)


def run_sql(
    query: str | None,
    *,
    layer: str = "gold",
    out: Path | None = None,
    max_rows: int = 100,
    stdin: IO[str] | None = None,
    write: Callable[[str], Any] | None = None,
) -> int:
    """``lakehouse sql``: one query, or (no query) statements read from stdin; exit status."""
    write = write or sys.stdout.write
    engine = open_engine(layer)
    source = stdin or sys.stdin
    failed = 0
    try:
        if query is not None:
            texts: Iterator[str] = iter([query])
        elif source.isatty():
            texts = _prompt(source, write, engine)
        else:
            texts = statements(source.read())
        for text in texts:
            try:
                frame = engine.query(text)
                write(write_result(frame, out) if out else render(frame, max_rows))
            except SqlError as exc:
                failed += 1
                write(f"error: {exc}\n")
    finally:
        if isinstance(engine, LocalSql):
            engine.close()
    return 1 if failed else 0


def _prompt(source: IO[str], write: Callable[[str], Any], engine: Any) -> Iterator[str]:
    """Statements typed at a prompt, each ending with ``;`` (an empty line or EOF ends)."""
    if isinstance(engine, LocalSql):
        names = ", ".join(t.flat_name() for t in engine.tables) or "none (run a source first)"
        write(f"tables: {names}\n")
    buffer = ""
    while True:
        write("sql> " if not buffer else "...> ")
        line = source.readline()
        if not line or (not line.strip() and not buffer):
            write("\n")
            return
        buffer += line
        if buffer.rstrip().endswith(";"):
            yield from statements(buffer)
            buffer = ""
