"""Silver and gold on Spark: the job a step hands to Spark through Dagster Pipes, and what
comes back.

The Spark side (:mod:`lakehouse_assets.engines.spark_job`) knows nothing of datasets: it reads
the inputs, creates the views and writes the output the job spells out in Spark SQL, and reports
row counts, schema and the job's report queries back as Pipes messages. What the SQL says is
decided here, from the same DuckDB SQL the default engine runs, transpiled by sqlglot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

#: Pipes materialization metadata keys the Spark job reports.
PARTS_METADATA = "spark/parts"
REPORTS_METADATA = "spark/reports"
ROWS_METADATA = "spark/rows"
SCHEMA_METADATA = "spark/schema"
SECONDS_METADATA = "spark/seconds"


@dataclass(frozen=True)
class SparkJob:
    """One Spark SQL job: inputs → views → one output table (part files), plus report queries."""

    source: str
    dataset: str
    layer: str
    #: view name → a Parquet file (a local path or ``s3://bucket/key``).
    inputs: Mapping[str, str]
    #: folder the output's part files are written to (local path or ``s3://bucket/prefix/``).
    output_uri: str
    #: Spark SQL of the table written to ``output_uri``, rows in the order they are to be read.
    output_sql: str
    #: (name, Spark SQL) temporary views created in order before the output is written.
    views: Sequence[tuple[str, str]] = ()
    #: name → Spark SQL returning one row; each row is reported back as a dict.
    reports: Mapping[str, str] = field(default_factory=dict)
    #: column added to every input holding the row's position in its file (None: not added).
    row_number: str | None = None
    #: views read more than once, kept (memory, then disk) for the job's length.
    cache: Sequence[str] = ()

    def extras(self) -> dict[str, Any]:
        """The job as Pipes extras (plain JSON; nothing secret goes into a job)."""
        return {
            "source": self.source,
            "dataset": self.dataset,
            "layer": self.layer,
            "inputs": dict(self.inputs),
            "output_uri": self.output_uri,
            "output_sql": self.output_sql,
            "views": [list(view) for view in self.views],
            "reports": dict(self.reports),
            "row_number": self.row_number,
            "cache": list(self.cache),
        }


@dataclass(frozen=True)
class SparkRun:
    """What a finished Spark job reported."""

    #: every metadata entry the job reported (shown on the materialization).
    metadata: Mapping[str, Any]
    #: the output's part files, in read order (local paths or ``s3://`` URIs).
    parts: Sequence[str]
    rows: int
    #: report name → its one row.
    reports: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_materialization(cls, result: dg.MaterializeResult) -> SparkRun:
        metadata: dict[str, Any] = {
            k: getattr(v, "value", v) for k, v in (result.metadata or {}).items()
        }
        return cls(
            metadata=metadata,
            parts=list(metadata.get(PARTS_METADATA) or []),
            rows=int(metadata.get(ROWS_METADATA) or 0),
            reports=dict(metadata.get(REPORTS_METADATA) or {}),
        )


def run_spark_subprocess(
    context: dg.AssetExecutionContext,
    job: SparkJob,
    *,
    command: Sequence[str],
    env: Mapping[str, str],
) -> SparkRun:
    """Run the Spark script as a local process in a Pipes session (what
    ``dg.PipesSubprocessClient`` does, keeping the session so a failed job's own error, which
    it reports as a Pipes message, becomes the step's error)."""
    import subprocess

    with dg.open_pipes_session(
        context=context,
        context_injector=dg.PipesTempFileContextInjector(),
        message_reader=dg.PipesTempFileMessageReader(),
        extras=job.extras(),
    ) as session:
        process = subprocess.Popen(list(command), env={**env, **session.get_bootstrap_env_vars()})
        try:
            returncode = process.wait()
        except BaseException:
            process.terminate()
            process.wait(timeout=30)
            raise
    if returncode != 0:
        raise job_failure(job, session.get_custom_messages(), f"exit code {returncode}")
    results = [r for r in session.get_results() if isinstance(r, dg.MaterializeResult)]
    if not results:
        raise job_failure(job, session.get_custom_messages(), "it reported no table")
    return SparkRun.from_materialization(results[0])


#: A job's reported error is cut to this many characters in the step's error.
MAX_ERROR_CHARS = 2000


def reported_error(messages: Sequence[Any] | None) -> str | None:
    """The error the Spark script reported (its ``{"error": …}`` message), if it did."""
    errors = [m["error"] for m in messages or () if isinstance(m, Mapping) and m.get("error")]
    return str(errors[-1])[:MAX_ERROR_CHARS] if errors else None


def job_failure(job: SparkJob, messages: Sequence[Any], fallback: str) -> Exception:
    """The step's error for a failed Spark job: the job's own error when it reported one."""
    from lakehouse_assets.errors import DataContractError

    reason = reported_error(messages) or fallback
    return DataContractError(job.layer, job.source, job.dataset, f"the Spark job failed: {reason}")


def arrow_key_values(schema: Any) -> dict[bytes, bytes]:
    """The Parquet key-value metadata pyarrow writes for ``schema`` (its ``ARROW:schema``):
    set on Spark's files, they read back with exactly the types the DuckDB engine writes."""
    import io

    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(schema.remove_metadata().empty_table(), buffer)
    buffer.seek(0)
    return dict(pq.read_metadata(buffer).metadata or {})


def silver_key_values(bronze_schema: Any, schema: Any) -> dict[bytes, bytes]:
    """The key-value metadata of the silver file the DuckDB engine writes for a bronze file of
    ``bronze_schema``: the engine run on no rows (its output schema is silver's contract)."""
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    from lakehouse_assets.medallion.silver import write_silver_file

    with tempfile.TemporaryDirectory(prefix="lakehouse-silver-schema-") as work:
        empty, out = Path(work) / "bronze.parquet", Path(work) / "silver.parquet"
        pq.write_table(bronze_schema.empty_table(), empty)
        write_silver_file(empty, out, schema)
        # Types only: which integer columns read as nullable is decided on the real rows.
        return arrow_key_values(pq.read_schema(out).remove_metadata())


def join_parts(parts: Sequence[Any], out: Any, key_values: dict[bytes, bytes]) -> int:
    """Spark's part files (in read order) as the one Parquet file ``out``: their row groups
    copied as they are, under one footer carrying ``key_values``; returns the rows."""
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import mark_nullable_integers
    from lakehouse_assets.lake.parquet_splice import RowGroups, splice

    groups = [RowGroups(p, range(pq.read_metadata(p).num_row_groups)) for p in parts]
    rows = splice(groups, out, key_values)
    mark_nullable_integers(out)
    return rows


def spark_silver(
    context: dg.AssetExecutionContext,
    engines: Any,
    lake: Any,
    source: str,
    schema: Any,
    bronze: Any,
    bronze_path: Any,
    out: Any,
) -> tuple[Any, SparkRun]:
    """Silver of ``schema`` from the bronze table, typed and deduplicated on Spark into the
    Parquet file ``out``: the statements of the DuckDB engine (``silver_statements``), in
    Spark SQL. Returns the report the checks are decided from, and what the job reported."""
    import pyarrow.parquet as pq

    from lakehouse_assets.engines.sql import transpile
    from lakehouse_assets.medallion.silver import (
        ROW,
        report_from_statements,
        silver_statements,
        write_silver_file,
    )

    bronze_schema = pq.read_schema(bronze_path)
    columns = list(bronze_schema.names)
    statements = silver_statements(columns, schema, "bronze")
    reports = {"flags": statements.flags, "dedup": statements.dedup}
    if statements.examples is not None:
        reports["examples"] = statements.examples
    with engines.output_location(context, lake, "silver", source) as output:
        job = SparkJob(
            source=source,
            dataset=schema.name,
            layer="silver",
            inputs={"bronze": engines.input_uri(bronze, bronze_path)},
            output_uri=output,
            output_sql=transpile(statements.output, "spark"),
            views=[(name, transpile(sql, "spark")) for name, sql in statements.views],
            reports={name: transpile(sql, "spark") for name, sql in reports.items()},
            row_number=ROW,
            cache=statements.cache,
        )
        run = engines.run_spark(context, job)
        with engines.local_parts(run.parts) as parts:
            rows = join_parts(parts, out, silver_key_values(bronze_schema, schema))
    if rows == 0:  # no bronze rows: the empty table exactly as the DuckDB engine writes it
        write_silver_file(bronze_path, out, schema)
    report = report_from_statements(
        columns,
        schema,
        rows,
        dict(run.reports["flags"][0]),
        dict(run.reports["dedup"][0]),
        [dict(row) for row in run.reports.get("examples", [])],
    )
    return report, run


def spark_table(
    context: dg.AssetExecutionContext,
    engines: Any,
    lake: Any,
    *,
    layer: str,
    source: str,
    dataset: str,
    query: str,
    inputs: Mapping[str, tuple[Any, Any]],
    arrow_schema: Any,
    out: Any,
) -> SparkRun:
    """A table from a DuckDB query over named input tables (name → (stored table, local
    file)), run on Spark into the Parquet file ``out`` with ``arrow_schema``'s types (gold)."""
    from lakehouse_assets.engines.sql import transpile

    with engines.output_location(context, lake, layer, source) as output:
        job = SparkJob(
            source=source,
            dataset=dataset,
            layer=layer,
            inputs={name: engines.input_uri(*table) for name, table in inputs.items()},
            output_uri=output,
            output_sql=transpile(query, "spark"),
        )
        run = engines.run_spark(context, job)
        with engines.local_parts(run.parts) as parts:
            join_parts(parts, out, arrow_key_values(arrow_schema))
    return run


def spark_metadata(run: SparkRun) -> dict[str, Any]:
    """What the Spark job reported, as the step's materialization metadata (reports aside:
    the checks and the silver report carry them)."""
    return {
        "engine": "spark",
        **{k: v for k, v in run.metadata.items() if k not in (PARTS_METADATA, REPORTS_METADATA)},
    }
