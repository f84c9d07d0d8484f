"""The original approach, as the Lambda functions did it: pandas all the way.

Each page (one object in the raw bucket) is read with ``pandas.read_json`` and written to
Parquet; silver types with ``pandas.to_numeric`` / ``pandas.to_datetime(errors="coerce")`` and
``drop_duplicates``; gold is a pandas ``merge``. One step after the other, each reading the
previous one's Parquet, as the Step Functions chain of Lambdas did.
"""

from __future__ import annotations

import io
from pathlib import Path

from lakehouse_assets.bench.measure import Stages
from lakehouse_assets.medallion.datasets import DatasetSchema


def run_original(
    urls: dict[str, str], schemas: dict[str, DatasetSchema], out: Path, stages: Stages
) -> dict[str, int]:
    import pandas as pd
    import requests

    rows: dict[str, int] = {}
    with stages.stage("download"):
        session = requests.Session()
        for name, url in urls.items():
            directory = out / "raw" / name
            directory.mkdir(parents=True, exist_ok=True)
            page, pages = 1, 1
            while page <= pages:
                response = session.get(url, params={"page": page}, timeout=60)
                response.raise_for_status()
                pages = int(response.headers.get("X-WP-TotalPages") or 1)
                (directory / f"page-{page:05d}.json").write_bytes(response.content)
                page += 1
    with stages.stage("bronze"):
        for name in urls:
            frames = [
                pd.read_json(io.BytesIO(path.read_bytes()))
                for path in sorted((out / "raw" / name).glob("*.json"))
            ]
            bronze = pd.concat(frames, ignore_index=True)
            (out / "bronze").mkdir(parents=True, exist_ok=True)
            bronze.to_parquet(out / "bronze" / f"{name}.parquet", index=False)
    with stages.stage("silver"):
        (out / "silver").mkdir(parents=True, exist_ok=True)
        for name in urls:
            schema = schemas[name]
            frame = pd.read_parquet(out / "bronze" / f"{name}.parquet")
            for column in schema.integers:
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
            for column in schema.datetimes:
                values = pd.to_datetime(frame[column], errors="coerce", format="mixed")
                frame[column] = values
                frame[f"{column}_year"] = values.dt.year.astype("Int64")
                frame[f"{column}_month"] = values.dt.month.astype("Int64")
                frame[f"{column}_day"] = values.dt.day.astype("Int64")
            frame = frame.drop_duplicates()
            if schema.latest_by:
                frame = frame.sort_values(list(schema.latest_by), kind="stable")
            frame = frame.drop_duplicates(list(schema.key), keep="last")
            frame = frame.sort_values(list(schema.key)).reset_index(drop=True)
            frame.to_parquet(out / "silver" / f"{name}.parquet", index=False)
            rows[name] = len(frame)
    with stages.stage("gold"):
        posts = pd.read_parquet(out / "silver" / "posts.parquet")
        statistics = pd.read_parquet(out / "silver" / "statistics_pages.parquet")
        posts = posts[posts["post_type"] == "post"]
        joined = posts.merge(statistics, left_on="ID", right_on="id", how="inner")
        gold = pd.DataFrame(
            {
                "post_ID": joined["ID"],
                "post_title": joined["post_title"],
                "post_status": joined["post_status"],
                "post_parent": joined["post_parent"],
                "post_type": joined["post_type"],
                "post_date": joined["post_date"],
                "post_date_year": joined["post_date_year"],
                "post_date_month": joined["post_date_month"],
                "post_date_day": joined["post_date_day"],
                "statistics_id": joined["page_id"],
                "statistics_date": joined["date"],
                "statistics_count": joined["count"],
                "statistics_date_year": joined["date_year"],
                "statistics_date_month": joined["date_month"],
                "statistics_date_day": joined["date_day"],
            }
        )
        gold = gold.sort_values(["post_ID", "statistics_date", "statistics_id"])
        (out / "gold").mkdir(parents=True, exist_ok=True)
        gold.to_parquet(out / "gold" / "statistics_postname.parquet", index=False)
    return rows
