"""Silver and gold on Spark (``LAKEHOUSE_ENGINES=wordpress_api=spark``) publish what DuckDB
publishes: row for row, dtype for dtype, with the same silver report and check results.

Real parts only: ``pyspark`` in ``local[2]`` mode as a subprocess the step talks to through
Dagster Pipes (Java 17 on the machine), over the same lake the DuckDB runs use. The hostile
file exercises the contract's text rules on both engines (padded and ``12.0`` integers,
unparseable and impossible values, zero dates, exact duplicates, superseded and null keys,
Unicode whitespace); the benchmark's synthetic site at its default scale (2,000,000 statistics
rows) checks it at size. A Spark job that fails fails its step with the job's own error, and the
failure alert names the silver layer.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets import settings
from lakehouse_assets.automation.alerts import alerts_for_run
from lakehouse_assets.engines.resource import LocalEnginesResource
from lakehouse_assets.engines.spark import spark_silver
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import LocalObjectStore
from lakehouse_assets.lake.table_files import StoredTable
from lakehouse_assets.medallion.datasets import Column, DatasetSchema
from lakehouse_assets.medallion.incremental import SILVER_REPORT
from lakehouse_assets.medallion.silver import write_silver_file
from lakehouse_assets_tests.conftest import (
    LocalLake,
    run_wordpress_job,
    step_errors,
    write_parameters,
)

pytestmark = pytest.mark.integration

SPARK = "wordpress_api=spark"
TABLES = [("silver", d) for d in ("posts", "statistics_pages", "terms")] + [
    ("gold", "statistics_postname")
]


def tables(root: Path) -> dict[tuple[str, str], pd.DataFrame]:
    return {
        (layer, dataset): pd.read_parquet(root / f"test-{layer}" / "wordpress_api" / dataset)
        for layer, dataset in TABLES
    }


def assert_same_tables(ours: dict[Any, pd.DataFrame], theirs: dict[Any, pd.DataFrame]) -> None:
    """Equal frames; the ingestion columns (``_``, which name each run's own snapshot) by type."""
    for name, frame in ours.items():
        other = theirs[name]
        assert list(frame.columns) == list(other.columns), name
        assert [str(t) for t in frame.dtypes] == [str(t) for t in other.dtypes], name
        data = [c for c in frame.columns if not c.startswith("_")]
        pd.testing.assert_frame_equal(frame[data], other[data], check_exact=True, obj=str(name))


def materialization_metadata(result: dg.ExecuteInProcessResult, layer: str, dataset: str) -> Any:
    (materialization,) = result.asset_materializations_for_node(
        f"{layer}__wordpress_api__{dataset}"
    )
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:"
        f"{e.asset_check_evaluation_data.check_name}": e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def run_on(
    engine: str, root: Path, monkeypatch: pytest.MonkeyPatch, **overrides: object
) -> dg.ExecuteInProcessResult:
    monkeypatch.setenv(settings.ROOT_VAR, str(root))
    monkeypatch.setenv(settings.ENGINES_VAR, engine)
    return run_wordpress_job(**overrides)


def test_spark_publishes_what_duckdb_publishes(
    tmp_path: Path, local_lake: LocalLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    duckdb = run_on("", tmp_path / "duckdb", monkeypatch)
    spark = run_on(SPARK, tmp_path / "spark", monkeypatch)
    assert duckdb.success and spark.success, step_errors(spark)
    assert_same_tables(tables(tmp_path / "spark"), tables(tmp_path / "duckdb"))
    assert check_results(spark) == check_results(duckdb)
    for dataset in ("posts", "statistics_pages", "terms"):
        ours = materialization_metadata(spark, "silver", dataset)
        theirs = materialization_metadata(duckdb, "silver", dataset)
        assert ours[SILVER_REPORT] == theirs[SILVER_REPORT], dataset
        # What the Spark job reported through Pipes is on the materialization.
        assert ours["engine"] == "spark" and theirs["engine"] == "duckdb"
        assert ours["spark/rows"] == ours["dagster/row_count"]
        assert ours["spark/seconds"] > 0 and ours["spark/version"].startswith("3.5")
    gold = materialization_metadata(spark, "gold", "statistics_postname")
    assert gold["engine"] == "spark" and gold["spark/rows"] == gold["dagster/row_count"] > 0


HOSTILE = DatasetSchema(
    "hostile",
    "Every text rule at once.",
    (
        Column("id", "int64"),
        Column("count", "int64"),
        Column("seen", "datetime"),
        Column("modified", "datetime"),
        Column("note", "string"),
    ),
    key=("id",),
    latest_by=("modified",),
)
HOSTILE_ROWS = [
    # id, count, seen, modified, note
    ("1", "12", "2024-01-02 03:04:05", "2024-01-01 00:00:00", "plain"),
    (" 2 ", "12.0", "2024-01-02", "2024-01-01", "padded id, zero fraction, bare date"),
    ("3", "1e3", "2024-02-30 10:00:00", "2024-01-01", "unparseable count, impossible date"),
    ("4", "\u00a07\u3000", "0000-00-00 00:00:00", "2024-01-01", "Unicode spaces, zero date"),
    ("5", "", "not a date", "2024-01-01T08:00:00", "empty count, bad date, T separator"),
    ("6", "-0", "2024-01-02 03:04:05.123456", "2024-01-01", "fraction of a second"),
    ("7", "9223372036854775808", "2024-12-31 23:59:59", "2024-01-01", "beyond int64"),
    ("1", "13", "2024-01-03 00:00:00", "2024-01-02 00:00:00", "newer: supersedes id 1"),
    ("1", "11", "2024-01-01 00:00:00", "", "undated: loses to both"),
    ("8", "1", "2024-01-01", "2024-01-01", "exact duplicate"),
    ("8", "1", "2024-01-01", "2024-01-01", "exact duplicate"),
    ("", "5", "2024-01-01", "2024-01-01", "null key"),
    ("", "5", "2024-01-01", "2024-01-01", "null key"),
    ("0", "0", "1970-01-01 00:00:00", "1970-01-01", "the epoch"),
    ("10", "x", "2024-1-2", "2024-01-01", "second bad count, short date"),
]


def write_hostile_bronze(path: Path, rows: list[tuple[str, ...]] = HOSTILE_ROWS) -> None:
    columns = list(zip(*rows, strict=True)) or [[] for _ in HOSTILE.columns]
    names = [c.name for c in HOSTILE.columns]
    table = pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(names, columns, strict=True)}
    )
    table = table.append_column(
        "_ingested_at",
        pa.array(
            [pd.Timestamp("2026-12-01T07:00:00Z")] * table.num_rows, pa.timestamp("us", "UTC")
        ),
    ).append_column(
        "_raw_snapshot",
        pa.array(["wordpress_api/hostile/x.json"] * table.num_rows).dictionary_encode(),
    )
    pq.write_table(table, path)


@pytest.mark.parametrize("rows", [HOSTILE_ROWS, []], ids=["hostile", "no rows"])
def test_hostile_text_types_alike_on_both_engines(
    tmp_path: Path, rows: list[tuple[str, ...]]
) -> None:
    bronze = tmp_path / "lake" / "bronze.parquet"
    bronze.parent.mkdir()
    write_hostile_bronze(bronze, rows)
    duckdb_report = write_silver_file(bronze, tmp_path / "duckdb.parquet", HOSTILE)
    address = TableAddress("bronze", "wordpress_api", "hostile")
    stored = StoredTable(address, LocalObjectStore(tmp_path), "lake", "bronze.parquet")
    spark_out = tmp_path / "spark.parquet"

    @dg.asset(name="hostile")
    def on_spark(context: dg.AssetExecutionContext, engines: LocalEnginesResource) -> Any:
        report, _ = spark_silver(
            context, engines, None, "wordpress_api", HOSTILE, stored, bronze, spark_out
        )
        return dg.MaterializeResult(metadata={"report": dg.MetadataValue.json(report.__dict__)})

    result = dg.materialize([on_spark], resources={"engines": LocalEnginesResource()})
    assert result.success
    (materialization,) = result.asset_materializations_for_node("hostile")
    spark_report = materialization.metadata["report"].value
    assert spark_report == duckdb_report.__dict__
    if rows:
        # "1e3", "x" and a number beyond int64
        assert duckdb_report.unparseable_integers == {"count": 3}
        assert duckdb_report.impossible_dates == {"seen": 1}
        assert duckdb_report.zero_dates == {"seen": 1}
    ours, theirs = pd.read_parquet(spark_out), pd.read_parquet(tmp_path / "duckdb.parquet")
    assert dict(ours.dtypes) == dict(theirs.dtypes)
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    assert pq.read_schema(spark_out) == pq.read_schema(tmp_path / "duckdb.parquet")


def test_a_failing_spark_job_fails_the_step_with_its_error_and_alerts_silver(
    tmp_path: Path, local_lake: LocalLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.ENGINES_VAR, SPARK)
    # A driver memory the JVM refuses: Spark never starts, and says why.
    broken = LocalEnginesResource(engines=SPARK, spark_driver_memory="lots")
    instance = dg.DagsterInstance.ephemeral()
    result = run_wordpress_job(instance, engines=broken)
    assert not result.success
    errors = step_errors(result)
    silver = errors["silver__wordpress_api__posts"]
    assert "silver wordpress_api/posts: the Spark job failed:" in silver
    layers = {alert.layer for alert in alerts_for_run(result.dagster_run, instance)}
    assert "silver" in layers and "gold" not in layers


@pytest.mark.slow
def test_spark_equals_duckdb_on_the_benchmark_site_at_default_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse_assets.bench.synthetic import SiteGenerator
    from lakehouse_assets.sources.wordpress_api.sample_site import serve

    site = SiteGenerator().build()
    with serve(site) as base_url:
        parameters = write_parameters(tmp_path / "parameters.yaml", site.endpoint_urls(base_url))
        monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
        monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(parameters))
        duckdb = run_on("", tmp_path / "duckdb", monkeypatch)
        spark = run_on(SPARK, tmp_path / "spark", monkeypatch)
    assert duckdb.success and spark.success, step_errors(spark)
    ours, theirs = tables(tmp_path / "spark"), tables(tmp_path / "duckdb")
    assert len(theirs[("silver", "statistics_pages")]) > 1_900_000
    assert_same_tables(ours, theirs)
    assert check_results(spark) == check_results(duckdb)


def test_a_query_spark_rejects_fails_with_sparks_own_message(tmp_path: Path) -> None:
    from lakehouse_assets.engines.spark import SparkJob

    bronze = tmp_path / "bronze.parquet"
    write_hostile_bronze(bronze)
    job = SparkJob(
        source="wordpress_api",
        dataset="hostile",
        layer="silver",
        inputs={"bronze": str(bronze)},
        output_uri=str(tmp_path / "out"),
        output_sql="SELECT no_such_column FROM bronze",
    )

    @dg.asset(name="hostile")
    def on_spark(context: dg.AssetExecutionContext, engines: LocalEnginesResource) -> Any:
        engines.run_spark(context, job)
        return dg.MaterializeResult()

    result = dg.materialize(
        [on_spark], resources={"engines": LocalEnginesResource()}, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = str(failure.step_failure_data.error.message)
    assert "silver wordpress_api/hostile: the Spark job failed: AnalysisException" in message
    assert "no_such_column" in message
    assert not (tmp_path / "out").exists()  # nothing written
