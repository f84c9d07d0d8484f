"""``lakehouse sql``: the rows a real ``lakehouse run`` published, by every documented name,
printed, written to a file or read from stdin; how each lake layout reads (current table,
Hive and disjoint partitions, ``_`` folders skipped); and on aws the Athena request (database,
workgroup, result location from the parameters) with moto's seeded results read back."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from lakehouse_assets.cli import main
from lakehouse_assets.observe.sql import (
    OUTPUT_LOCATION_PARAMETER,
    WORKGROUP_PARAMETER,
    LocalSql,
    lake_tables,
    run_sql,
    statements,
)
from lakehouse_assets_tests.aws.conftest import CREDENTIALS, aws_environment, make_stack
from lakehouse_assets_tests.conftest import LocalLake

QUERY = "SELECT post_ID, statistics_count FROM {table} WHERE post_ID = 901 ORDER BY statistics_date"


@pytest.fixture
def ran(local_lake: LocalLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalLake:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "wordpress_api"]) == 0
    return local_lake


def test_sql_answers_over_a_real_run_by_every_name(
    ran: LocalLake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    names = (
        "gold_wordpress_api_statistics_postname",
        "lakehouse_gold.wordpress_api__statistics_postname",
        "wordpress_api__statistics_postname",
    )
    for name in names:
        assert main(["sql", QUERY.format(table=name)]) == 0
        # Post 901 (a fixture quirk) has two statistics rows, counts 10 and 11.
        assert capsys.readouterr().out.split("\n") == [
            " post_ID  statistics_count",
            "     901                10",
            "     901                11",
            "(2 rows)",
            "",
        ]
    out = tmp_path / "views.parquet"
    query = QUERY.format(table="gold_wordpress_api_statistics_postname")
    assert main(["sql", query, "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"2 row(s) written to {out}\n"
    assert pd.read_parquet(out).to_dict("list") == {
        "post_ID": [901, 901],
        "statistics_count": [10, 11],
    }
    gold = pd.read_parquet(ran.table_dir("gold", "statistics_postname"))
    silver_posts = pd.read_parquet(ran.table_dir("silver", "posts"))
    assert main(["sql", "--layer", "silver", "SELECT count(*) AS n FROM wordpress_api__posts"]) == 0
    assert capsys.readouterr().out.split("\n")[1].strip() == str(len(silver_posts))
    assert main(["sql", "SELECT sum(statistics_count) AS views FROM gold.x"]) == 1
    assert "Catalog Error" in capsys.readouterr().out
    script = io.StringIO(
        "SELECT count(*) AS n FROM gold_wordpress_api_statistics_postname;\n"
        "-- a comment; with a semicolon\nSELECT 'a;b' AS s;"
    )
    lines: list[str] = []
    assert run_sql(None, stdin=script, write=lines.append) == 0
    assert [line.split() for line in lines] == [
        ["n", str(len(gold)), "(1", "row)"],
        ["s", "a;b", "(1", "row)"],
    ]


def write(path: Path, rows: dict[str, list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)


def test_each_layout_reads_as_one_table_and_underscore_folders_are_skipped(
    tmp_path: Path,
) -> None:
    buckets = {layer: f"b-{layer}" for layer in ("bronze", "silver", "gold")}
    gold = tmp_path / "b-gold" / "src"
    write(gold / "current" / "data.parquet", {"x": [1, 2]})
    write(gold / "current" / "_snapshots" / "2024-01-01" / "data.parquet", {"x": [9]})
    write(gold / "weekly" / "2024-01-01" / "data.parquet", {"x": [1]})
    write(gold / "weekly" / "2024-01-08" / "data.parquet", {"x": [2], "y": ["new"]})
    silver = tmp_path / "b-silver" / "src"
    write(silver / "hive" / "date=2024-03-04" / "data.parquet", {"id": [1, 2]})
    write(silver / "hive" / "date=2024-03-05" / "data.parquet", {"id": [3]})
    write(silver / "_state" / "hive" / "state.parquet", {"id": [0]})
    write(tmp_path / "b-silver" / "_staging" / "t" / "data.parquet", {"id": [0]})
    tables = {t.flat_name() for t in lake_tables(tmp_path, buckets)}
    assert tables == {"gold_src_current", "gold_src_weekly", "silver_src_hive"}
    engine = LocalSql(tmp_path, buckets)
    try:
        assert engine.query("SELECT x FROM src__current ORDER BY x")["x"].tolist() == [1, 2]
        weekly = engine.query("SELECT x, coalesce(y, '-') AS y FROM gold_src_weekly ORDER BY x")
        assert weekly.values.tolist() == [[1, "-"], [2, "new"]]
        hive = engine.query(
            "SELECT CAST(date AS VARCHAR) AS d, count(*) AS n "
            "FROM lakehouse_silver.src__hive GROUP BY 1 ORDER BY 1"
        )
        assert hive.values.tolist() == [["2024-03-04", 2], ["2024-03-05", 1]]
    finally:
        engine.close()


def test_statements_split_outside_quotes_and_comments() -> None:
    text = "select ';' as a; -- x; y\nselect \"b;c\" from t;;  "
    assert list(statements(text)) == ["select ';' as a", 'select "b;c" from t']


REGION = "ca-central-1"


def test_athena_gets_the_layer_database_workgroup_and_output_location(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack(moto_endpoint, REGION, "sql-lakehouse", [])
    athena = stack.client("athena")
    athena.create_work_group(Name="lakehouse", Configuration={})
    ssm = stack.client("ssm")
    ssm.put_parameter(Name=WORKGROUP_PARAMETER, Value="lakehouse", Type="String")
    output = "s3://sql-lakehouse-athena/results/"
    ssm.put_parameter(Name=OUTPUT_LOCATION_PARAMETER, Value=output, Type="String")
    columns = [
        {"Name": "post_title", "Label": "post_title", "Type": "varchar"},
        {"Name": "views", "Label": "views", "Type": "bigint"},
    ]
    rows = [["post_title", "views"], ["Glue Notes", "5309"], ["Athena Costs", "5166"]]
    seeded = {
        "account_id": "123456789012",
        "region": REGION,
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": columns,
            }
        ],
    }
    seed = requests.post(f"{moto_endpoint}/moto-api/static/athena/query-results", json=seeded)
    assert seed.status_code == 201
    query = (
        "SELECT post_title, SUM(statistics_count) AS views "
        "FROM wordpress_api__statistics_postname GROUP BY 1 ORDER BY 2 DESC LIMIT 2"
    )
    capsys.readouterr()
    with aws_environment(moto_endpoint, REGION):
        assert main(["sql", query]) == 0
    assert capsys.readouterr().out.split("\n") == [
        "  post_title  views",
        "  Glue Notes   5309",
        "Athena Costs   5166",
        "(2 rows)",
        "",
    ]
    client = boto3.client(
        "athena",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    ids = client.list_query_executions(WorkGroup="lakehouse")["QueryExecutionIds"]
    assert len(ids) == 1
    execution = client.get_query_execution(QueryExecutionId=ids[0])["QueryExecution"]
    assert execution["Query"] == query
    assert execution["QueryExecutionContext"]["Database"] == "lakehouse_gold"
    assert execution["WorkGroup"] == "lakehouse"
    # As Athena reports it: the result object under the configured location.
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{output}{ids[0]}.csv"
