"""The Spark side of a silver or gold step: a self-contained PySpark script run through Pipes.

It knows no dataset and imports nothing of ``lakehouse_assets``, so the same file runs as a
local ``pyspark`` subprocess and, uploaded to S3, as an AWS Glue job (Glue 5: Spark 3.5, Python
3.11, ``--additional-python-modules dagster-pipes``). The step sends the job as Pipes extras
(:class:`lakehouse_assets.engines.spark.SparkJob`): Parquet inputs, temporary views and the
output query, all Spark SQL; this script runs them and reports back, as one materialization,
the part files it wrote (in read order), their row count and schema, and each report query's
rows. A failure is reported with its error (the step fails with it) and the script exits 1.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

#: Report rows sent back per report query (they are counts and a few examples).
MAX_REPORT_ROWS = 100


def _pipes() -> Any:
    """Pipes from the environment (subprocess) or from Glue's job arguments."""
    from dagster_pipes import (
        PipesCliArgsParamsLoader,
        PipesDefaultContextLoader,
        PipesDefaultMessageWriter,
        open_dagster_pipes,
    )

    if "--dagster-pipes-context" not in sys.argv:
        return open_dagster_pipes(
            context_loader=PipesDefaultContextLoader(),
            message_writer=PipesDefaultMessageWriter(),
        )
    import boto3
    from dagster_pipes import PipesS3ContextLoader, PipesS3MessageWriter

    s3 = boto3.client("s3")
    return open_dagster_pipes(
        params_loader=PipesCliArgsParamsLoader(),
        context_loader=PipesS3ContextLoader(client=s3),
        message_writer=PipesS3MessageWriter(client=s3),
    )


def _session() -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("lakehouse")
    master = os.environ.get("LAKEHOUSE_SPARK_MASTER")
    if master:  # locally; Glue supplies its own cluster
        builder = builder.master(master).config(
            "spark.driver.memory", os.environ.get("LAKEHOUSE_SPARK_DRIVER_MEMORY", "4g")
        )
    session = (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # A wall-clock datetime is TIMESTAMP_NTZ, as DuckDB's TIMESTAMP: written to Parquet as
        # an instant-free timestamp, read back by pyarrow as timestamp[us] without a zone.
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.ansi.enabled", "false")
        .config(
            "spark.sql.shuffle.partitions",
            os.environ.get("LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS", "200"),
        )
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _plain(value: Any) -> Any:
    """A report value as JSON (timestamps and dates as ISO text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def run(spark: Any, job: dict[str, Any], log: Any) -> dict[str, Any]:
    """Run ``job`` (the step's extras); returns the materialization metadata to report."""
    started = time.monotonic()
    for name, uri in job["inputs"].items():
        frame = spark.read.parquet(uri)
        if job.get("row_number"):
            # The row's position in its file: Spark's counterpart of DuckDB's file_row_number.
            frame = frame.select("*", frame["_metadata.row_index"].alias(job["row_number"]))
        frame.createOrReplaceTempView(name)
    from pyspark import StorageLevel

    cached = []
    for name, sql in job["views"]:
        view = spark.sql(sql)
        if name in job.get("cache", ()):
            view = view.persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(view)
        view.createOrReplaceTempView(name)
    output = job["output_uri"]
    spark.sql(job["output_sql"]).write.mode("overwrite").parquet(output)
    written = spark.read.parquet(output)
    parts = sorted(written.inputFiles(), key=lambda uri: uri.rsplit("/", 1)[-1])
    rows = written.count()
    reports = {
        name: [
            {k: _plain(v) for k, v in row.asDict().items()}
            for row in spark.sql(sql).limit(MAX_REPORT_ROWS).collect()
        ]
        for name, sql in job["reports"].items()
    }
    for view in cached:
        view.unpersist()
    seconds = round(time.monotonic() - started, 3)
    log.info(f"{job['layer']} {job['source']}/{job['dataset']}: {rows} rows in {seconds} s")
    return {
        "spark/parts": {"raw_value": parts, "type": "json"},
        "spark/rows": {"raw_value": rows, "type": "int"},
        "spark/schema": {"raw_value": written.schema.simpleString(), "type": "text"},
        "spark/reports": {"raw_value": reports, "type": "json"},
        "spark/seconds": {"raw_value": seconds, "type": "float"},
        "spark/version": {"raw_value": spark.version, "type": "text"},
    }


def main() -> int:
    with _pipes() as pipes:
        job = pipes.extras
        try:
            metadata = run(_session(), job, pipes.log)
        except Exception as error:  # reported to the step, which fails with it
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            pipes.report_custom_message({"error": f"{type(error).__name__}: {message[:2000]}"})
            pipes.log.error(f"Spark job failed: {type(error).__name__}: {message[:2000]}")
            return 1
        pipes.report_asset_materialization(metadata=metadata)
    return 0


if __name__ == "__main__":
    sys.exit(main())
