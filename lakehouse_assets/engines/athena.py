"""Gold on Athena: the DuckDB gold SQL as an Athena CTAS, its part files joined into one file.

A gold query is written once, in DuckDB's dialect, over its inputs by name. Here its input
tables become the silver Glue tables (``"lakehouse_silver"."wordpress_api__posts"``, replaced on
sqlglot's syntax tree), the SELECT is transpiled to Trino (Athena engine v3) by
:func:`lakehouse_assets.engines.sql.transpile`, and it runs as ``CREATE TABLE … WITH
(external_location = …) AS SELECT …`` into ``_staging/{source}/{dataset}/{run_id}/`` of the gold
bucket (``_``-prefixed: no table prefix contains it and Parquet readers skip it).

What Athena leaves to us, and this module does:

- one file: Athena writes any number of part files, with Glue's lowercase column names
  (``post_ID`` comes back ``post_id``) and its own Parquet types (timestamps may be INT96).
  They are
  read back a batch at a time (DuckDB, spilling beyond its memory limit) under the contract's
  names and Arrow types into the one ``out`` file the lake publishes;
- the order: Athena's writers keep no order across part files, so the query's ``ORDER BY`` is
  applied when the parts are joined (and left out of the CTAS, where it would be sorting for
  nothing — unless a ``LIMIT`` needs it);
- the leftovers: the CTAS's Glue table (in the gold database) and its part files are removed
  whether the step succeeds or fails; a leftover from a killed attempt of the same run is
  removed first (a CTAS needs an empty location).

The workgroup does not enforce its configuration: Athena fails a CTAS naming an
``external_location`` in a workgroup that does. Results are encrypted with SSE-S3 by the request.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from lakehouse_assets.errors import DataContractError
from lakehouse_assets.lake.layout import STAGING_ROOT

if TYPE_CHECKING:
    import dagster as dg
    import pyarrow as pa
    from sqlglot import exp

    from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore
    from lakehouse_assets.resources.aws.boto import AwsClientsResource
    from lakehouse_assets.resources.lake import LakeResource

#: Compression of the part files Athena writes (Athena engine v3 writes ZSTD Parquet).
WRITE_COMPRESSION = "ZSTD"
#: Seconds between two looks at a running query.
POLL_SECONDS = 1.0
#: Athena's StateChangeReason is cut to this many characters in the step's error.
MAX_REASON_CHARS = 2000
#: The layer whose bucket and database receive the CTAS.
LAYER = "gold"


@dataclass(frozen=True)
class AthenaGoldJob:
    """One gold table computed by Athena from silver tables of the Glue catalog."""

    source: str
    dataset: str
    #: DuckDB-dialect SELECT whose table names are the names of ``inputs``.
    query: str
    #: input name → Glue table in the silver database (``wordpress_api__posts``).
    inputs: Mapping[str, str]
    #: the gold file's Arrow schema: names, order and types of the contract.
    schema: pa.Schema

    def error(self, problem: str) -> DataContractError:
        return DataContractError(LAYER, self.source, self.dataset, problem)


def _parse_duckdb(job: AthenaGoldJob) -> exp.Query:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(job.query, read="duckdb")
    except SqlglotError as error:
        raise job.error(f"the gold SQL does not parse as DuckDB SQL: {error}") from None
    if not isinstance(tree, exp.Query):
        raise job.error("the gold SQL is not a SELECT")
    return tree


def _check_output_columns(job: AthenaGoldJob, tree: exp.Query) -> None:
    """The SELECT's columns are the schema's, by name and order (case aside: Glue has none)."""
    selected = [name.lower() for name in tree.named_selects]
    expected = [name.lower() for name in job.schema.names]
    if len(set(expected)) != len(expected):
        raise job.error(
            f"schema columns {job.schema.names} collide in Athena (names are case-insensitive)"
        )
    if selected != expected:
        raise job.error(
            f"the gold SQL selects {tree.named_selects}, not the schema's columns "
            f"{job.schema.names} (in that order)"
        )


def _order_clause(job: AthenaGoldJob, tree: exp.Query) -> exp.Order | None:
    """The outermost ``ORDER BY``, checked to name output columns only (it is applied again to
    the part files, where only those exist)."""
    from sqlglot import exp

    order = tree.args.get("order")
    if order is None:
        return None
    outputs = {name.lower() for name in job.schema.names}
    for column in order.find_all(exp.Column):
        if column.table or column.name.lower() not in outputs:
            raise job.error(
                f"the gold SQL orders by {column.sql(dialect='duckdb')}: Athena's part files are "
                "sorted when joined, so ORDER BY may name output columns only"
            )
    return order


def _with_glue_tables(job: AthenaGoldJob, tree: exp.Query, database: str) -> exp.Query:
    """``tree`` reading ``"database"."glue table"`` for every input named in it."""
    from sqlglot import exp

    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    unknown: list[str] = []
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        if not table.db and not table.catalog and name in ctes:
            continue
        glue_table = job.inputs.get(name) if not table.db and not table.catalog else None
        if not name or glue_table is None:
            parts = (table.catalog, table.db, name)
            unknown.append(".".join(p for p in parts if p) or table.sql(dialect="duckdb"))
            continue
        table.set("this", exp.to_identifier(glue_table, quoted=True))
        table.set("db", exp.to_identifier(database, quoted=True))
    if unknown:
        raise job.error(
            f"the gold SQL reads {', '.join(unknown)}: an Athena job reads only its inputs "
            f"({', '.join(sorted(job.inputs)) or 'none'})"
        )
    return tree


def _parsed_trino(job: AthenaGoldJob, sql: str) -> str:
    """``sql``, checked to parse as Trino (what Athena runs CTAS and SELECT with)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        sqlglot.parse_one(sql, read="trino")
    except SqlglotError as error:
        raise job.error(f"the Athena SQL does not parse as Trino: {error}") from None
    return sql


def _select_sql(job: AthenaGoldJob, tree: exp.Query, database: str) -> str:
    """``tree`` (DuckDB) over the Glue tables of ``database``, in Trino SQL."""
    from lakehouse_assets.engines.sql import TranspileError, transpile

    select = _with_glue_tables(job, tree, database)
    try:
        sql = transpile(select.sql(dialect="duckdb"), "trino")
    except TranspileError as error:
        raise job.error(f"the gold SQL has no Athena (Trino) form: {error}") from None
    return _parsed_trino(job, sql)


def athena_sql(job: AthenaGoldJob, *, database: str) -> str:
    """The job's SELECT in Trino SQL over the silver tables of ``database``."""
    tree = _parse_duckdb(job)
    _check_output_columns(job, tree)
    _order_clause(job, tree)
    return _select_sql(job, tree, database)


def ctas_sql(
    job: AthenaGoldJob,
    *,
    database: str,
    staging_table: str,
    location: str,
    staging_database: str | None = None,
) -> str:
    """``CREATE TABLE "staging_database"."staging_table" WITH (format = 'PARQUET', …,
    external_location = location) AS SELECT …`` (Trino SQL) over the silver ``database``; the
    staging table is created in ``staging_database`` (default: ``database``)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    tree = _parse_duckdb(job)
    _check_output_columns(job, tree)
    _order_clause(job, tree)
    if not any(tree.args.get(part) for part in ("limit", "offset", "fetch")):
        tree.set("order", None)  # the part files are sorted when joined
    select = sqlglot.parse_one(_select_sql(job, tree, database), read="trino")
    create = exp.Create(
        kind="TABLE",
        this=exp.table_(staging_table, db=staging_database or database, quoted=True),
        expression=select,
        properties=exp.Properties(
            expressions=[
                exp.FileFormatProperty(this=exp.Literal.string("PARQUET")),
                exp.Property(
                    this=exp.var("write_compression"),
                    value=exp.Literal.string(WRITE_COMPRESSION),
                ),
                exp.Property(this=exp.var("external_location"), value=exp.Literal.string(location)),
            ]
        ),
    )
    try:
        sql = create.sql(dialect="trino", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        raise job.error(f"the Athena CTAS has no Trino form: {error}") from None
    return _parsed_trino(job, sql)


def staging_prefix(job: AthenaGoldJob, run_id: str) -> str:
    """Where the run's CTAS writes in the gold bucket: ``_staging/{source}/{dataset}/{run}/``."""
    run = re.sub(r"[^0-9A-Za-z_-]", "_", run_id) or "run"
    return f"{STAGING_ROOT}/{job.source}/{job.dataset}/{run}/"


def staging_table_name(job: AthenaGoldJob, run_id: str) -> str:
    """The CTAS's Glue table: lowercase letters, digits and underscores, as Glue wants."""
    run = re.sub(r"[^0-9a-z]", "", run_id.lower()) or "run"
    return f"staging__{job.source}__{job.dataset}__{run}"[:255]


def _is_part_file(info: ObjectInfo) -> bool:
    """A data file Athena wrote (not a folder marker or a hidden ``_``/``.`` file)."""
    name = PurePosixPath(info.key).name
    return (
        info.size > 0
        and not info.key.endswith("/")
        and not name.endswith("_$folder$")
        and not name.startswith(("_", "."))
    )


def join_part_files(parts: Sequence[Path], job: AthenaGoldJob, out: Path) -> int:
    """The part files as one Parquet file ``out`` with ``job.schema``'s names and types, in the
    order of the job's ``ORDER BY``; returns the rows. Columns are matched by name whatever the
    case (Athena's are lowercase); DuckDB streams the rows a batch at a time."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import write_parquet_batches
    from lakehouse_assets.medallion.engine import (
        ROWS_PER_BATCH,
        connect,
        quote_identifier,
        quote_literal,
        release_memory,
    )

    if not parts:
        raise job.error("Athena wrote no files")
    wanted = {name.lower(): name for name in job.schema.names}
    written: dict[str, str] | None = None
    for part in parts:
        names = pq.read_schema(part).names
        columns = {name.lower(): name for name in names}
        if set(columns) != set(wanted) or len(columns) != len(names):
            raise job.error(
                f"Athena wrote columns {names}, expected {job.schema.names} (case aside)"
            )
        written = written or columns
    assert written is not None
    selected = ", ".join(
        f"{quote_identifier(written[name.lower()])} AS {quote_identifier(name)}"
        for name in job.schema.names
    )
    files = ", ".join(quote_literal(part) for part in parts)
    order = _order_clause(job, _parse_duckdb(job))
    query = f"SELECT * FROM (SELECT {selected} FROM read_parquet([{files}])) AS parts"
    if order is not None:
        query += " " + order.sql(dialect="duckdb")
    release_memory()
    connection = connect(large_strings=False)
    try:
        reader = connection.sql(query).to_arrow_reader(ROWS_PER_BATCH)
        return write_parquet_batches(
            reader, reader.schema, out, lambda batch: batch.cast(job.schema)
        )
    except (duckdb.Error, pa.ArrowException) as error:
        raise job.error(f"Athena's part files do not fit the schema: {error}") from None
    finally:
        connection.close()
        release_memory()


def join_staged_parts(
    store: ObjectStore, bucket: str, prefix: str, job: AthenaGoldJob, out: Path
) -> int:
    """The part files under ``bucket/prefix`` (downloaded, in key order) joined into ``out``."""
    parts = [info for info in store.list(bucket, prefix) if _is_part_file(info)]
    if not parts:
        raise job.error(f"Athena wrote no files under {store.uri(bucket, prefix)}")
    with tempfile.TemporaryDirectory(prefix="lakehouse-athena-") as directory:
        paths = []
        for index, info in enumerate(parts):
            path = Path(directory) / f"part-{index:05d}.parquet"
            store.download(bucket, info.key, path)
            paths.append(path)
        return join_part_files(paths, job, out)


def _query_problem(query_id: str, response: Mapping[str, Any]) -> str:
    status = response.get("Status", {})
    reason = str(status.get("StateChangeReason") or "").strip()[:MAX_REASON_CHARS]
    problem = f"Athena query {query_id} ended {status.get('State', 'UNKNOWN')}"
    return f"{problem}: {reason}" if reason else problem


def run_athena_gold(
    context: dg.AssetExecutionContext,
    *,
    aws: AwsClientsResource,
    lake: LakeResource,
    workgroup: str,
    output_location: str | None,
    database_prefix: str,
    job: AthenaGoldJob,
    out: Path,
) -> int:
    """Run the job as a CTAS in ``workgroup`` and join what it wrote into ``out``; returns the
    rows. A failed or cancelled query, or one that wrote nothing, raises
    :class:`DataContractError` with Athena's reason; the staging table and files are removed."""
    import awswrangler as wr
    from botocore.exceptions import ClientError

    session = aws.session()
    store = lake.object_store()
    bucket = lake.bucket(LAYER)
    run_id = context.run.run_id
    prefix = staging_prefix(job, run_id)
    gold_database = f"{database_prefix}{LAYER}"
    table = staging_table_name(job, run_id)
    sql = ctas_sql(
        job,
        database=f"{database_prefix}silver",
        staging_table=table,
        location=store.uri(bucket, prefix),
        staging_database=gold_database,
    )

    def clean_up() -> None:
        wr.catalog.delete_table_if_exists(
            database=gold_database, table=table, boto3_session=session
        )
        store.delete_prefix(bucket, prefix)

    clean_up()  # what a killed attempt of this run left: a CTAS needs an empty location
    try:
        try:
            query_id = wr.athena.start_query_execution(
                sql,
                workgroup=workgroup,
                s3_output=output_location,
                encryption="SSE_S3",
                boto3_session=session,
            )
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise job.error(
                f"Athena refused the query in workgroup {workgroup!r}: "
                f"{detail.get('Code', '?')}: {str(detail.get('Message', ''))[:MAX_REASON_CHARS]}"
            ) from None
        assert isinstance(query_id, str)
        context.log.info(f"Athena query {query_id} (workgroup {workgroup}) writes {prefix}")
        try:
            wr.athena.wait_query(
                query_id, boto3_session=session, athena_query_wait_polling_delay=POLL_SECONDS
            )
        except (wr.exceptions.QueryFailed, wr.exceptions.QueryCancelled):
            response = wr.athena.get_query_execution(query_id, boto3_session=session)
            raise job.error(_query_problem(query_id, response)) from None
        try:
            rows = join_staged_parts(store, bucket, prefix, job, out)
        except DataContractError as error:
            raise job.error(f"{error.problem} (query {query_id})") from None
        context.log.info(f"Athena query {query_id}: {rows} rows")
        return rows
    finally:
        clean_up()
