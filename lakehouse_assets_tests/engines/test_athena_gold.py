"""Gold on Athena: the SQL it runs, and the file it makes of what Athena writes.

What runs for real: sqlglot (DuckDB → Trino, and each result parsed as Trino), DuckDB executing
the Athena SQL transpiled back from Trino over real silver tables (the WordPress pipeline on
a fixture site, and hand-written silver files with the contract's edge cases), awswrangler and
boto3 talking HTTP to a moto server (the workgroup, the query, S3, Glue).

What is simulated, because moto records a query but runs no SQL and writes no files:
- Athena's execution: the CTAS's SELECT is run by DuckDB, which is not Trino (silver's column
  names are lowered in the views it reads, as Glue stores them);
- Athena's output: the part files are written by pyarrow the way Athena's Parquet writer
  lays them out as far as this code cares (lowercase names, INT96 timestamps, several files in
  no particular row order, extensionless names) and put under the staging prefix by the test.
A query that ends FAILED or CANCELLED cannot be produced on moto and is not exercised here.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from lakehouse_assets.engines.athena import (
    AthenaGoldJob,
    athena_sql,
    ctas_sql,
    join_part_files,
    join_staged_parts,
    run_athena_gold,
    staging_prefix,
    staging_table_name,
)
from lakehouse_assets.errors import DataContractError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.s3_lake import S3LakeResource
from lakehouse_assets.resources.aws.ssm import SsmParametersResource
from lakehouse_assets.sources.wordpress_api.statistics_postname import (
    gold_query,
    gold_schema,
    write_gold_file,
)
from lakehouse_assets_tests.aws.conftest import (  # noqa: F401
    Stack,
    aws_environment,
    make_stack,
    moto_endpoint,
)
from lakehouse_assets_tests.conftest import LocalLake, run_wordpress_job

SOURCE, DATASET = "wordpress_api", "statistics_postname"
SILVER, GOLD = "lakehouse_silver", "lakehouse_gold"
INPUTS = {"posts": "wordpress_api__posts", "statistics": "wordpress_api__statistics_pages"}
REGION = "eu-west-3"
PREFIX = "athena-gold-lh"
WORKGROUP = "lakehouse-gold-test"


def wordpress_job(query: str | None = None) -> AthenaGoldJob:
    return AthenaGoldJob(
        source=SOURCE,
        dataset=DATASET,
        query=query or gold_query("posts", "statistics"),
        inputs=INPUTS,
        schema=gold_schema(),
    )


# --- silver tables ---------------------------------------------------------------------------


POSTED = pd.Timestamp("2024-03-05 10:00:00")


def _post(
    post_id: int | None,
    post_type: str | None,
    posted: pd.Timestamp | None = POSTED,
    **values: object,
) -> dict[str, object]:
    return {
        "ID": post_id,
        "post_author": 1,
        "post_date": posted,
        "post_content": "<p>body</p>",
        "post_title": f"title {post_id}",
        "post_status": "publish",
        "post_parent": 0,
        "post_type": post_type,
        "post_date_year": None if posted is None else posted.year,
        "post_date_month": None if posted is None else posted.month,
        "post_date_day": None if posted is None else posted.day,
        **values,
    }


def _stat(page_id: int, post_id: int | None, day: str | None, count: int) -> dict[str, object]:
    date = None if day is None else pd.Timestamp(day)
    return {
        "page_id": page_id,
        "uri": f"/p/{post_id}/",
        "type": "post",
        "date": date,
        "count": count,
        "id": post_id,
        "date_year": None if date is None else date.year,
        "date_month": None if date is None else date.month,
        "date_day": None if date is None else date.day,
    }


POSTS_SCHEMA = pa.schema(
    [
        ("ID", pa.int64()),
        ("post_author", pa.int64()),
        ("post_date", pa.timestamp("us")),
        ("post_content", pa.large_string()),
        ("post_title", pa.large_string()),
        ("post_status", pa.large_string()),
        ("post_parent", pa.int64()),
        ("post_type", pa.large_string()),
        ("post_date_year", pa.int64()),
        ("post_date_month", pa.int64()),
        ("post_date_day", pa.int64()),
    ]
)
STATISTICS_SCHEMA = pa.schema(
    [
        ("page_id", pa.int64()),
        ("uri", pa.large_string()),
        ("type", pa.large_string()),
        ("date", pa.timestamp("us")),
        ("count", pa.int64()),
        ("id", pa.int64()),
        ("date_year", pa.int64()),
        ("date_month", pa.int64()),
        ("date_day", pa.int64()),
    ]
)


def write_edge_case_silver(directory: Path) -> tuple[Path, Path]:
    """Silver posts and statistics with what the contract must get right: post_type exactly
    "post" ('Post', 'post ', 'posts' and null excluded), null dates (sorted last), posts without
    statistics, statistics without a post or with a null id, ties on the date, text with quotes
    and non-ASCII."""
    posts = [
        _post(1, "post"),
        _post(2, "Post"),
        _post(3, "post "),
        _post(4, "posts"),
        _post(5, None),
        _post(6, "post", None),  # null date, still joined
        _post(7, "post"),  # no statistics
        _post(
            8,
            "post",
            pd.Timestamp("2023-12-31 23:59:59"),
            post_title="Café “quoted” 'x' ✓",
            post_parent=7,
        ),
        _post(None, "post"),  # null id: joins nothing
    ]
    statistics = [
        _stat(100, 1, "2024-04-02", 3),
        _stat(101, 1, "2024-04-01", 5),
        _stat(103, 1, "2024-04-01", 1),  # same day as 101: statistics_id decides
        _stat(102, 1, None, 9),  # null date: last for its post
        _stat(104, 2, "2024-04-01", 2),
        _stat(105, 3, "2024-04-01", 2),
        _stat(106, 4, "2024-04-01", 2),
        _stat(107, 5, "2024-04-01", 2),
        _stat(108, 6, "2024-04-03", 4),
        _stat(109, 8, "2024-04-01", 0),
        _stat(110, 99, "2024-04-01", 8),  # no such post
        _stat(111, None, "2024-04-01", 8),  # null id
    ]
    posts_path, statistics_path = directory / "posts.parquet", directory / "statistics.parquet"
    pq.write_table(pa.Table.from_pylist(posts, schema=POSTS_SCHEMA), posts_path)
    pq.write_table(pa.Table.from_pylist(statistics, schema=STATISTICS_SCHEMA), statistics_path)
    return posts_path, statistics_path


@pytest.fixture(params=["pipeline", "edge_cases"])
def silver(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """(posts, statistics) silver files: the WordPress pipeline's, run locally on the fixture
    site, or the hand-written edge cases."""
    if request.param == "edge_cases":
        return write_edge_case_silver(tmp_path)
    lake: LocalLake = request.getfixturevalue("local_lake")
    result = run_wordpress_job()
    assert result.success
    return (
        lake.table_dir("silver", "posts") / "data.parquet",
        lake.table_dir("silver", "statistics_pages") / "data.parquet",
    )


def as_frame(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    """The table under the contract's names (matched case-insensitively) and types."""
    names = {name.lower(): name for name in schema.names}
    renamed = table.rename_columns([names[name.lower()] for name in table.column_names])
    return renamed.select(schema.names).cast(schema).to_pandas()


def duckdb_gold(posts: Path, statistics: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The DuckDB engine's gold file and its frame (the reference)."""
    out = tmp_path / "duckdb-gold.parquet"
    write_gold_file(posts, statistics, out)
    return out, as_frame(pq.read_table(out), gold_schema())


def run_as_athena(trino_sql: str, posts: Path, statistics: Path) -> pa.Table:
    """Trino SQL, transpiled back to DuckDB by sqlglot, over the silver files as Glue presents
    them: ``"lakehouse_silver"."wordpress_api__posts"`` with lowercase column names."""
    connection = duckdb.connect()
    try:
        connection.execute(f'CREATE SCHEMA "{SILVER}"')
        for table, path in ((INPUTS["posts"], posts), (INPUTS["statistics"], statistics)):
            columns = ", ".join(f'"{n}" AS "{n.lower()}"' for n in pq.read_schema(path).names)
            source = f"read_parquet('{path}')"
            connection.execute(
                f'CREATE VIEW "{SILVER}"."{table}" AS SELECT {columns} FROM {source}'
            )
        (duck_sql,) = sqlglot.transpile(trino_sql, read="trino", write="duckdb")
        return connection.sql(duck_sql).to_arrow_table()
    finally:
        connection.close()


def write_trino_like_parts(table: pa.Table, directory: Path, parts: int = 3) -> list[Path]:
    """``table`` as Athena's writers leave it: lowercase names, INT96 timestamps, rows in no
    order (reversed), split over several extensionless files."""
    directory.mkdir(parents=True, exist_ok=True)
    lowered = table.rename_columns([name.lower() for name in table.column_names])
    shuffled = lowered.take(pa.array(range(lowered.num_rows - 1, -1, -1), pa.int64()))
    size = -(-shuffled.num_rows // parts) if shuffled.num_rows else 0
    paths = []
    for index in range(parts):
        chunk = shuffled.slice(index * size, size) if size else shuffled
        path = directory / f"20261201_000000_0000{index}_abcde_{uuid.uuid4()}"
        pq.write_table(chunk, path, compression="zstd", use_deprecated_int96_timestamps=True)
        paths.append(path)
    return paths


def ctas_select(ctas: str) -> str:
    create = sqlglot.parse_one(ctas, read="trino")
    assert isinstance(create, exp.Create)
    return create.expression.sql(dialect="trino")


# --- the SQL ---------------------------------------------------------------------------------


def test_athena_sql_is_trino_over_the_silver_glue_tables() -> None:
    sql = athena_sql(wordpress_job(), database=SILVER)
    tree = sqlglot.parse_one(sql, read="trino")
    assert isinstance(tree, exp.Select)
    assert sorted((t.db, t.name) for t in tree.find_all(exp.Table)) == [
        (SILVER, "wordpress_api__posts"),
        (SILVER, "wordpress_api__statistics_pages"),
    ]
    assert tree.named_selects == gold_schema().names
    assert "read_parquet" not in sql.lower()
    assert [o.sql(dialect="trino") for o in tree.args["order"].expressions] == [
        '"post_ID" ASC',  # Trino sorts nulls last by default, as the DuckDB query asks
        '"statistics_date" ASC',
        '"statistics_id" ASC',
    ]


def test_ctas_writes_zstd_parquet_to_the_staging_location_without_sorting() -> None:
    location = "s3://gold-bucket/_staging/wordpress_api/statistics_postname/run-1/"
    sql = ctas_sql(
        wordpress_job(),
        database=SILVER,
        staging_table="staging__x",
        location=location,
        staging_database=GOLD,
    )
    create = sqlglot.parse_one(sql, read="trino")
    assert isinstance(create, exp.Create)
    assert (create.kind, create.this.db, create.this.name) == ("TABLE", GOLD, "staging__x")
    properties = [p.sql(dialect="trino") for p in create.args["properties"].expressions]
    assert properties == [
        "format='PARQUET'",
        "write_compression='ZSTD'",
        f"external_location='{location}'",
    ]
    assert sql.startswith(
        f'CREATE TABLE "{GOLD}"."staging__x" WITH (format=\'PARQUET\', '
        f"write_compression='ZSTD', external_location='{location}') AS SELECT "
    )
    # Athena's part files keep no order: the sort happens when they are joined.
    assert create.expression.args.get("order") is None
    assert athena_sql(wordpress_job(), database=SILVER).startswith(ctas_select(sql))


def test_athena_sql_over_real_silver_is_the_duckdb_gold(
    silver: tuple[Path, Path], tmp_path: Path
) -> None:
    posts, statistics = silver
    _, expected = duckdb_gold(posts, statistics, tmp_path)
    assert len(expected) > 0
    actual = run_as_athena(athena_sql(wordpress_job(), database=SILVER), posts, statistics)
    assert [n.lower() for n in actual.column_names] == [n.lower() for n in gold_schema().names]
    pd.testing.assert_frame_equal(as_frame(actual, gold_schema()), expected)


def test_the_edge_cases_reference_is_the_contract(tmp_path: Path) -> None:
    """What both engines are compared with: exactly "post", joined on the id, sorted by post,
    then date (nulls last), then statistics id."""
    _, expected = duckdb_gold(*write_edge_case_silver(tmp_path), tmp_path)
    assert list(zip(expected["post_ID"], expected["statistics_id"], strict=True)) == [
        (1, 101),
        (1, 103),
        (1, 100),
        (1, 102),
        (6, 108),
        (8, 109),
    ]
    assert expected["post_date"].isna().tolist() == [False] * 4 + [True, False]
    assert expected["post_title"].iloc[-1] == "Café “quoted” 'x' ✓"


def test_ctas_part_files_join_into_the_duckdb_gold_file(
    silver: tuple[Path, Path], tmp_path: Path
) -> None:
    """The CTAS's SELECT (no ORDER BY), its rows as Athena-like part files, joined."""
    posts, statistics = silver
    reference, expected = duckdb_gold(posts, statistics, tmp_path)
    job = wordpress_job()
    ctas = ctas_sql(job, database=SILVER, staging_table="t", location="s3://b/_staging/x/")
    parts = write_trino_like_parts(
        run_as_athena(ctas_select(ctas), posts, statistics), tmp_path / "parts"
    )
    assert pq.read_schema(parts[0]).field("post_date").type == pa.timestamp("ns")  # INT96
    out = tmp_path / "athena-gold.parquet"
    assert join_part_files(parts, job, out) == len(expected)
    assert pq.read_schema(out).remove_metadata().equals(gold_schema())
    pd.testing.assert_frame_equal(as_frame(pq.read_table(out), gold_schema()), expected)
    # The whole file as pandas reads it (nullable integer marks included) is the reference's.
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference))


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            gold_query("posts", "comments"),
            "the gold SQL reads comments: an Athena job reads only its inputs (posts, statistics)",
        ),
        (
            gold_query("posts", "other_db.statistics"),
            "the gold SQL reads other_db.statistics",
        ),
        (
            gold_query("posts", "statistics").replace(
                'ORDER BY "post_ID"', "ORDER BY p.post_date_gmt"
            ),
            "the gold SQL orders by p.post_date_gmt",
        ),
        (
            gold_query("posts", "statistics").replace('AS "post_ID"', 'AS "post_id_renamed"'),
            "the gold SQL selects ['post_id_renamed', ",
        ),
        (
            gold_query("posts", "statistics").replace(
                'p."post_title" AS', 'quantile(p."post_title", 0.5) AS'
            ),
            "the gold SQL has no Athena (Trino) form: no trino form of the SQL: Presto does not "
            "support exact quantiles",
        ),
        ("SELECT FROM WHERE (", "the gold SQL does not parse as DuckDB SQL"),
    ],
)
def test_sql_athena_cannot_run_the_same_way_fails_naming_the_dataset(
    query: str, problem: str
) -> None:
    with pytest.raises(DataContractError) as raised:
        ctas_sql(wordpress_job(query), database=SILVER, staging_table="t", location="s3://b/x/")
    assert str(raised.value.description).startswith(f"gold {SOURCE}/{DATASET}: {problem}")


def test_part_files_with_other_columns_are_refused(tmp_path: Path) -> None:
    table = pa.table({"post_id": pa.array([1], pa.int64())})
    (part,) = write_trino_like_parts(table, tmp_path / "parts", parts=1)
    with pytest.raises(DataContractError, match=r"Athena wrote columns \['post_id'\], expected"):
        join_part_files([part], wordpress_job(), tmp_path / "out.parquet")


# --- on the local AWS endpoint -----------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(moto_endpoint: str) -> Stack:  # noqa: F811
    """The bootstrapped stack, plus what CloudFormation adds for Athena (moto's CloudFormation
    has no AWS::Athena::WorkGroup): the results bucket and the workgroup."""
    stack = make_stack(moto_endpoint, REGION, PREFIX, [])
    stack.client("s3").create_bucket(
        Bucket=f"{PREFIX}-athena-results",
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )
    stack.client("athena").create_work_group(
        Name=WORKGROUP,
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": f"s3://{PREFIX}-athena-results/results/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            "EnforceWorkGroupConfiguration": False,
        },
    )
    return stack


@pytest.fixture
def on_aws(moto_endpoint: str) -> Iterator[tuple[AwsClientsResource, S3LakeResource]]:  # noqa: F811
    """The resources as the aws deployment builds them (endpoint from ``AWS_ENDPOINT_URL``)."""
    with aws_environment(moto_endpoint, REGION):
        aws = AwsClientsResource(region_name=REGION)
        yield aws, S3LakeResource(aws=aws, parameters=SsmParametersResource(aws=aws))


@pytest.mark.integration
def test_run_sends_the_ctas_to_the_workgroup_and_fails_when_athena_wrote_nothing(
    stack: Stack, on_aws: tuple[AwsClientsResource, S3LakeResource], tmp_path: Path
) -> None:
    aws, lake = on_aws
    job = wordpress_job()
    gold_bucket = stack.bucket("gold")
    output = f"s3://{PREFIX}-athena-results/lakehouse/"
    s3, glue = stack.client("s3"), stack.client("glue")

    @dg.asset(name="gold_on_athena")
    def gold_on_athena(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        # What a killed attempt of this run would have left: a part file and the CTAS's table.
        run_id = context.run.run_id
        s3.put_object(Bucket=gold_bucket, Key=f"{staging_prefix(job, run_id)}left-over", Body=b"x")
        glue.create_table(DatabaseName=GOLD, TableInput={"Name": staging_table_name(job, run_id)})
        rows = run_athena_gold(
            context,
            aws=aws,
            lake=lake,
            workgroup=WORKGROUP,
            output_location=output,
            database_prefix="lakehouse_",
            job=job,
            out=tmp_path / "gold.parquet",
        )
        return dg.MaterializeResult(metadata={"rows": rows})

    result = dg.materialize([gold_on_athena], raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    prefix = f"_staging/{SOURCE}/{DATASET}/{result.run_id}/"
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert f"gold {SOURCE}/{DATASET}: Athena wrote no files under s3://{gold_bucket}/{prefix}" in (
        message
    )

    athena = stack.client("athena")
    (query_id,) = athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    assert f"(query {query_id})" in message
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    table = staging_table_name(job, result.run_id)
    assert execution["Query"] == ctas_sql(
        job,
        database=SILVER,
        staging_table=table,
        location=f"s3://{gold_bucket}/{prefix}",
        staging_database=GOLD,
    )
    create = sqlglot.parse_one(execution["Query"], read="trino")
    assert isinstance(create, exp.Create)
    assert (create.this.db, create.this.name) == (GOLD, table)
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(output)
    assert execution["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_S3"
    }
    assert execution["Status"]["State"] == "SUCCEEDED"
    # Nothing is left behind: neither the killed attempt's leftovers nor the CTAS's table.
    assert [k for k in stack.keys("gold") if k.startswith("_staging/")] == []
    assert [t["Name"] for t in glue.get_tables(DatabaseName=GOLD)["TableList"]] == []


@pytest.mark.integration
def test_part_files_under_the_staging_prefix_become_the_gold_file(
    stack: Stack, on_aws: tuple[AwsClientsResource, S3LakeResource], tmp_path: Path
) -> None:
    """Athena's output simulated: Trino-like part files put under the staging prefix by hand."""
    _, lake = on_aws
    posts, statistics = write_edge_case_silver(tmp_path)
    reference, expected = duckdb_gold(posts, statistics, tmp_path)
    job = wordpress_job()
    ctas = ctas_sql(job, database=SILVER, staging_table="t", location="s3://b/_staging/x/")
    parts = write_trino_like_parts(
        run_as_athena(ctas_select(ctas), posts, statistics), tmp_path / "parts"
    )
    bucket, prefix = stack.bucket("gold"), staging_prefix(job, "join-test")
    s3 = stack.client("s3")
    s3.put_object(Bucket=bucket, Key=prefix, Body=b"")  # a console "folder": not a part
    for part in parts:
        s3.upload_file(str(part), bucket, f"{prefix}{part.name}")
    out = tmp_path / "gold.parquet"
    assert join_staged_parts(lake.object_store(), bucket, prefix, job, out) == len(expected)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference))
    pd.testing.assert_frame_equal(as_frame(pq.read_table(out), gold_schema()), expected)


@pytest.mark.integration
def test_no_part_files_fail_naming_the_dataset(
    stack: Stack, on_aws: tuple[AwsClientsResource, S3LakeResource], tmp_path: Path
) -> None:
    _, lake = on_aws
    bucket, prefix = stack.bucket("gold"), staging_prefix(wordpress_job(), "empty-test")
    with pytest.raises(DataContractError) as raised:
        join_staged_parts(lake.object_store(), bucket, prefix, wordpress_job(), tmp_path / "o")
    assert raised.value.description == (
        f"gold {SOURCE}/{DATASET}: Athena wrote no files under s3://{bucket}/{prefix}"
    )
