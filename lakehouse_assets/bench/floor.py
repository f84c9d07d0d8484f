"""The floor: only the unavoidable work, with the fastest tools at hand, no framework.

Download every page (one ``requests`` session) and keep the raw JSON, parse it into Arrow
columns (DuckDB's JSON reader, every column as text), write bronze Parquet (pyarrow, zstd), type
silver in one DuckDB query per table (casts, date parts, one row per key), join gold, write each
table as Parquet. Tables stay in memory between layers. No validation pass, no checks, no
per-value error reporting, no metadata, no atomic publishing, no orchestration: what is left is
the cost of the data itself.
"""

from __future__ import annotations

from pathlib import Path

from lakehouse_assets.bench.measure import Stages
from lakehouse_assets.medallion.datasets import DatasetSchema


def download(session: object, url: str, path: Path) -> int:
    """Every WordPress page of ``url`` into one JSON array file; returns the bytes written."""
    first = session.get(url, timeout=60)  # type: ignore[attr-defined]
    first.raise_for_status()
    pages = int(first.headers.get("X-WP-TotalPages") or 1)
    with open(path, "wb") as out:
        if pages == 1:
            out.write(first.content)
            return out.tell()
        out.write(b"[")
        for page in range(1, pages + 1):
            response = first
            if page > 1:
                response = session.get(url, params={"page": page}, timeout=60)  # type: ignore[attr-defined]
                response.raise_for_status()
            inner = response.content.strip()[1:-1]
            if page > 1 and inner:
                out.write(b",")
            out.write(inner)
        out.write(b"]")
        return out.tell()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def silver_sql(schema: DatasetSchema, columns: list[str]) -> str:
    typed = []
    parts = []
    for column in columns:
        if column in schema.integers:
            typed.append(f"TRY_CAST({_q(column)} AS BIGINT) AS {_q(column)}")
        elif column in schema.datetimes:
            typed.append(f"TRY_CAST({_q(column)} AS TIMESTAMP) AS {_q(column)}")
            parts += [
                f"CAST({_q(column)} AS DATE) AS {_q(column + '_todate')}",
                f"year({_q(column)}) AS {_q(column + '_year')}",
                f"month({_q(column)}) AS {_q(column + '_month')}",
                f"day({_q(column)}) AS {_q(column + '_day')}",
            ]
        else:
            typed.append(_q(column))
    order = ", ".join(f"{_q(c)} DESC NULLS LAST" for c in schema.latest_by) or "1"
    key = ", ".join(_q(c) for c in schema.key)
    return (
        f"WITH typed AS (SELECT {', '.join(typed)} FROM bronze_{schema.name}) "
        f"SELECT *, {', '.join(parts) or 'NULL AS _none'} FROM typed "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1 ORDER BY {key}"
    )


GOLD_SQL = """
SELECT p."ID" AS post_ID, p.post_title, p.post_status, p.post_parent, p.post_type, p.post_date,
       p.post_date_year AS post_date_year, p.post_date_month AS post_date_month,
       p.post_date_day AS post_date_day, s.page_id AS statistics_id, s.date AS statistics_date,
       s.count AS statistics_count, s.date_year AS statistics_date_year,
       s.date_month AS statistics_date_month, s.date_day AS statistics_date_day
FROM silver_posts p JOIN silver_statistics_pages s ON p."ID" = s.id
WHERE p.post_type = 'post'
ORDER BY post_ID, statistics_date, statistics_id
"""


def run_floor(
    urls: dict[str, str], schemas: dict[str, DatasetSchema], out: Path, stages: Stages
) -> dict[str, int]:
    """Raw files, bronze/silver/gold Parquet under ``out``; returns rows per table."""
    import duckdb
    import pyarrow.parquet as pq
    import requests

    for layer in ("raw", "bronze", "silver", "gold"):
        (out / layer).mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    rows: dict[str, int] = {}
    with stages.stage("download"):
        session = requests.Session()
        for name, url in urls.items():
            download(session, url, out / "raw" / f"{name}.json")
    with stages.stage("bronze"):
        for name in urls:
            source = (
                f"read_json('{out / 'raw' / name}.json', format='array', sample_size=2048, "
                "dateformat='~%j~', timestampformat='~%j~')"
            )
            names = [r[0] for r in connection.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
            text = ", ".join(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" for c in names)
            bronze = connection.sql(f"SELECT {text} FROM {source}").to_arrow_table()
            pq.write_table(bronze, out / "bronze" / f"{name}.parquet", compression="zstd")
            connection.register(f"bronze_{name}", bronze)
    with stages.stage("silver"):
        for name in urls:
            names = [r[0] for r in connection.sql(f"DESCRIBE bronze_{name}").fetchall()]
            silver = connection.sql(silver_sql(schemas[name], names)).to_arrow_table()
            connection.unregister(f"bronze_{name}")
            pq.write_table(silver, out / "silver" / f"{name}.parquet", compression="zstd")
            connection.register(f"silver_{name}", silver)
            rows[name] = silver.num_rows
    with stages.stage("gold"):
        gold = connection.sql(GOLD_SQL).to_arrow_table()
        pq.write_table(gold, out / "gold" / "statistics_postname.parquet", compression="zstd")
    connection.close()
    return rows
