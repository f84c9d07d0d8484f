"""The ``engines`` resource: which engine a layer runs on, and how each engine is reached.

The same key on every deployment, other backends (like every resource in ``deployments``):
locally Spark is a ``pyspark`` subprocess in ``local[N]`` mode reached through Dagster Pipes and
Athena is not available; on ``aws`` Spark is a Glue job (``dagster_aws.pipes.PipesGlueClient``)
and Athena runs gold as a CTAS through awswrangler.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import dagster as dg
from pydantic import Field

from lakehouse_assets.engines.choice import Engine, EngineChoice, parse_engine_choice

if TYPE_CHECKING:
    from lakehouse_assets.engines.athena import AthenaGoldJob
    from lakehouse_assets.engines.spark import SparkJob, SparkRun
    from lakehouse_assets.lake.table_files import StoredTable
    from lakehouse_assets.resources.lake import LakeResource


class EnginesResource(dg.ConfigurableResource):
    """Which engine runs each source's silver and gold (``LAKEHOUSE_ENGINES``)."""

    engines: str = Field(
        default="",
        description="LAKEHOUSE_ENGINES: 'spark', or 'source=engine,…' (duckdb, spark, athena).",
    )

    def choice(self) -> EngineChoice:
        return parse_engine_choice(self.engines)

    def engine(self, source: str, layer: str) -> Engine:
        return self.choice().of_layer(source, layer)

    def run_spark(self, context: dg.AssetExecutionContext, job: SparkJob) -> SparkRun:
        """Run ``job`` on this deployment's Spark and return what it reported."""
        raise NotImplementedError(f"{type(self).__name__} has no Spark")

    def run_athena_gold(
        self,
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        job: AthenaGoldJob,
        out: Path,
    ) -> int:
        """Run ``job``'s gold on Athena into the Parquet file ``out``; returns its rows."""
        raise NotImplementedError(f"{type(self).__name__} has no Athena")

    def input_uri(self, table: StoredTable, local: Path) -> str:
        """How the Spark job reads ``table`` (whose local copy is ``local``)."""
        return str(local)

    @contextmanager
    def output_location(
        self, context: dg.AssetExecutionContext, lake: LakeResource, layer: str, source: str
    ) -> Iterator[str]:
        """Where a Spark job writes its part files; removed afterwards."""
        work = tempfile.mkdtemp(prefix=f"lakehouse-spark-{layer}-{source}-")
        try:
            yield str(Path(work) / "out")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @contextmanager
    def local_parts(self, parts: Sequence[str]) -> Iterator[list[Path]]:
        """The part files a Spark job wrote, as local files (for as long as the block runs)."""
        yield [Path(unquote(urlparse(p).path)) if p.startswith("file:") else Path(p) for p in parts]


class LocalEnginesResource(EnginesResource):
    """Spark as a local ``pyspark`` process (``local[N]``), reached through Dagster Pipes."""

    spark_master: str = Field(default="local[2]", description="Spark master of the local job.")
    spark_driver_memory: str = Field(default="4g", description="spark.driver.memory.")
    spark_shuffle_partitions: int = Field(
        default=8,
        description="spark.sql.shuffle.partitions: a few per local core (Spark's 200 are "
        "meant for a cluster).",
    )

    def run_spark(self, context: dg.AssetExecutionContext, job: SparkJob) -> SparkRun:
        from lakehouse_assets.engines.spark import run_spark_subprocess

        return run_spark_subprocess(
            context,
            job,
            command=[sys.executable, "-m", "lakehouse_assets.engines.spark_job"],
            env={
                **os.environ,
                "PYSPARK_PYTHON": sys.executable,
                # The driver talks to its executors on loopback, whatever the host's name says.
                "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
                "LAKEHOUSE_SPARK_MASTER": self.spark_master,
                "LAKEHOUSE_SPARK_DRIVER_MEMORY": self.spark_driver_memory,
                "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": str(self.spark_shuffle_partitions),
            },
        )
