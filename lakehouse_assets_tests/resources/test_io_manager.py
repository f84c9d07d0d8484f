"""The IO manager publishes files steps streamed (StagedTable) and hands out stored ones
(StoredTable), with the same atomicity and metadata as for tables in memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.deployments import local_resources
from lakehouse_assets.lake.parquet import write_parquet
from lakehouse_assets.lake.staging import STAGING_PREFIX
from lakehouse_assets.lake.table_files import StagedTable, StoredTable, staged_table
from lakehouse_assets_tests.conftest import LocalLake


def staging_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*")}


@dg.asset(key=["bronze", "demo", "numbers"])
def streamed_numbers() -> StagedTable:
    with staged_table() as staged:
        write_parquet(pa.table({"n": list(range(10)), "secret": ["x"] * 10}), staged.path)
    return staged


@dg.asset(
    key=["silver", "demo", "doubled"], ins={"numbers": dg.AssetIn(["bronze", "demo", "numbers"])}
)
def doubled(numbers: StoredTable) -> pa.Table:
    with numbers.local_path() as path:
        table = pq.read_table(path, columns=["n"])
    return pa.table({"n": [2 * n for n in table.column("n").to_pylist()]})


@dg.asset(key=["silver", "demo", "broken"], deps=[["bronze", "demo", "numbers"]])
def broken() -> StagedTable:
    with staged_table() as staged:
        staged.path.write_bytes(b"half a file")
        raise RuntimeError("failed while writing")
    return staged  # pragma: no cover


def test_staged_table_is_published_as_is_and_its_staging_removed(local_lake: LocalLake) -> None:
    before = staging_dirs()
    result = dg.materialize([streamed_numbers, doubled], resources=local_resources())
    assert result.success
    published = local_lake.bucket_dir("bronze") / "demo" / "numbers" / "data.parquet"
    assert pq.read_table(published).column("n").to_pylist() == list(range(10))
    doubled_file = local_lake.bucket_dir("silver") / "demo" / "doubled" / "data.parquet"
    assert pq.read_table(doubled_file).column("n").to_pylist() == [2 * n for n in range(10)]
    metadata = result.asset_materializations_for_node("bronze__demo__numbers")[0].metadata
    assert metadata["dagster/row_count"].value == 10
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == ["n", "secret"]
    assert staging_dirs() == before


def test_a_step_failing_while_staging_publishes_nothing_and_leaves_nothing(
    local_lake: LocalLake,
) -> None:
    assert dg.materialize([streamed_numbers], resources=local_resources()).success
    before = staging_dirs()
    result = dg.materialize(
        [streamed_numbers, broken],
        resources=local_resources(),
        selection=[broken],
        raise_on_error=False,
    )
    assert not result.success
    assert not (local_lake.bucket_dir("silver") / "demo" / "broken").exists()
    assert staging_dirs() == before


def test_a_stored_table_input_names_a_missing_table(local_lake: LocalLake) -> None:
    result = dg.materialize(
        [streamed_numbers, doubled],
        resources=local_resources(),
        selection=[doubled],
        raise_on_error=False,
    )
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "bronze demo/numbers has no table yet" in str(failure.step_failure_data.error)
