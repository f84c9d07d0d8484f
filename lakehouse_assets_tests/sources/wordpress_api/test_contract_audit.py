"""Contract audit of ``wordpress_api`` end to end (``lakehouse run``) on a site whose every
value is a string: a zero ``post_date`` and an impossible one become nulls (counted) and the
post stays in gold with null date parts; ``post_type`` "postcard" is not "post"; exact
duplicate rows count once; gold columns and dtypes exactly as the contract lists them."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets.cli import main
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake

pytestmark = pytest.mark.timeout(180)


def post(pid: str, kind: str, posted: str) -> dict[str, str]:
    return {
        "ID": pid, "post_author": "1", "post_date": posted, "post_date_gmt": posted,
        "post_content": "c", "post_title": f"T{pid} &amp; more", "post_excerpt": "",
        "post_status": "publish", "comment_status": "open", "ping_status": "open",
        "post_password": "", "post_name": f"p{pid}", "to_ping": "", "pinged": "",
        "post_modified": "2024-03-06 00:00:00", "post_modified_gmt": "2024-03-06 00:00:00",
        "post_content_filtered": "", "post_parent": "0", "guid": f"g{pid}", "menu_order": "0",
        "post_type": kind, "post_mime_type": "", "comment_count": "0",
    }  # fmt: skip


def stat(page_id: str, post_id: str, day: str, count: str) -> dict[str, str]:
    return {"page_id": page_id, "uri": f"/p{post_id}", "type": "post", "date": day,
            "count": count, "id": post_id}  # fmt: skip


def test_string_values_zero_dates_and_exact_post_type(
    local_lake: LocalLake, fixture_site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(local_lake.root.parent / "home"))
    posts = [
        post("1", "post", "2024-03-04 10:15:00"),
        post("2", "post", "0000-00-00 00:00:00"),
        post("3", "postcard", "2024-03-04 10:15:00"),
        post("4", "post", "2024-02-30 10:00:00"),
    ]
    fixture_site.set_table("posts", [*posts, dict(posts[0])])
    stats = [
        stat("10", "1", "2024-03-05", "5"),
        stat("11", "2", "2024-03-05", "6"),
        stat("12", "3", "2024-03-05", "7"),
        stat("13", "4", "2024-03-05", "8"),
    ]
    fixture_site.set_table("statistics_pages", [*stats, dict(stats[0])])
    fixture_site.set_table("terms", [{"term_id": "1", "name": "n", "slug": "s", "term_group": "0"}])
    assert main(["run", "--source", "wordpress_api"]) == 0

    gold = pd.read_parquet(local_lake.table_dir("gold", "statistics_postname"))
    assert gold.columns.tolist() == [
        "post_ID", "post_title", "post_status", "post_parent", "post_type", "post_date",
        "post_date_year", "post_date_month", "post_date_day", "statistics_id",
        "statistics_date", "statistics_count", "statistics_date_year", "statistics_date_month",
        "statistics_date_day",
    ]  # fmt: skip
    assert gold["post_ID"].tolist() == [1, 2, 4]
    assert gold["post_type"].tolist() == ["post"] * 3
    assert gold["post_title"].tolist()[0] == "T1 &amp; more"
    for column in ("post_ID", "post_parent", "statistics_id", "statistics_count"):
        assert str(gold[column].dtype) == "int64", column
    for column in ("post_date_year", "post_date_month", "post_date_day"):
        assert str(gold[column].dtype) == "Int64", column
        assert gold[column].isna().tolist() == [False, True, True], column
    for column in ("post_date", "statistics_date"):
        assert str(gold[column].dtype).startswith("datetime64"), column
    assert gold["post_date"].tolist()[0] == pd.Timestamp("2024-03-04 10:15:00")
    assert gold["post_date"].isna().tolist() == [False, True, True]
    assert gold["statistics_count"].tolist() == [5, 6, 8]

    silver = pd.read_parquet(local_lake.table_dir("silver", "posts"))
    assert sorted(silver["ID"].tolist()) == [1, 2, 3, 4]
    with dg.DagsterInstance.get() as instance:
        record = instance.fetch_materializations(
            dg.AssetKey(["silver", "wordpress_api", "posts"]), limit=1
        ).records[0]
        assert record.asset_materialization is not None
        text = str({k: v.value for k, v in record.asset_materialization.metadata.items()})
    assert "zero" in text and "impossible" in text
