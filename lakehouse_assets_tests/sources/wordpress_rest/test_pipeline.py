"""``wordpress_rest``, declared in YAML only, end to end against the sample WordPress 6.x site
over real HTTP: silver rows and values against an expectation computed here from the site's
own records; gold ``posts_with_terms``; an incremental second run that asks only for posts
modified after the newest ``modified_gmt`` loaded minus the lag and merges them by id; and a
failed run that leaves the cursor where it was."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from lakehouse_assets import settings
from lakehouse_assets.components.resource import RestApiResource
from lakehouse_assets.components.sample_wordpress_v2 import WordPressV2Site, generate_site, serve
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets_tests.components.declared import failures, run_job, table, use_local_lake

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SOURCE = "wordpress_rest"
LAG = timedelta(hours=1)


class FlakySite(WordPressV2Site):
    """The sample site, but posts answer 500 while ``failing``."""

    failing = False

    def respond(self, path: str, query: Any, origin: str | None = None) -> Any:
        if self.failing and path.endswith("/posts"):
            self.requests.append((path, {k: v[-1] for k, v in query.items()}))
            return 500, {"Content-Type": "application/json"}, b'{"code":"internal"}'
        return super().respond(path, query, origin)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sample = FlakySite(generate_site(posts=230, pages=7, tags=30, seed=11))
    with serve(sample) as origin:
        root = use_local_lake(
            tmp_path, monkeypatch, {"/wordpress/rest/base_url": f"{origin}/wp-json/wp/v2"}
        )
        defs = build_definitions(
            settings.Deployment.LOCAL, {"rest_api": RestApiResource(max_attempts=1)}
        )
        yield sample, root, defs


def gmt(text: str) -> pd.Timestamp:
    return pd.Timestamp(datetime.fromisoformat(text).replace(tzinfo=UTC))


def expected_posts(site: WordPressV2Site) -> pd.DataFrame:
    rows = sorted(site.collections["posts"], key=lambda p: p["id"])
    return pd.DataFrame(
        {
            "id": [p["id"] for p in rows],
            "title": [p["title"]["rendered"] for p in rows],
            "date": [pd.Timestamp(p["date"]) for p in rows],
            "modified_gmt": [gmt(p["modified_gmt"]) for p in rows],
            "author": [p["author"] for p in rows],
            "categories": [p["categories"] for p in rows],
            "tags": [p["tags"] for p in rows],
        }
    )


def expected_gold(site: WordPressV2Site) -> list[dict[str, Any]]:
    names = {
        kind: {t["id"]: t["name"] for t in site.collections[kind]}
        for kind in ("categories", "tags", "users")
    }
    return [
        {
            "post_id": p["id"],
            "post_title": p["title"]["rendered"],
            "post_date": pd.Timestamp(p["date"]),
            "author_name": names["users"][p["author"]],
            "category_names": [names["categories"][i] for i in p["categories"]],
            "tag_names": [names["tags"][i] for i in p["tags"]],
        }
        for p in sorted(site.collections["posts"], key=lambda p: p["id"])
    ]


def check_against_site(site: WordPressV2Site, root: Path) -> None:
    posts = table(root, "silver", SOURCE, "posts")
    expected = expected_posts(site)
    assert str(posts["id"].dtype) == "int64" and str(posts["author"].dtype) == "int64"
    assert str(posts["date_gmt"].dtype) == "datetime64[us, UTC]"
    assert posts["id"].tolist() == expected["id"].tolist()
    assert posts["title"].tolist() == expected["title"].tolist()
    assert posts["date"].tolist() == expected["date"].tolist()
    assert posts["modified_gmt"].tolist() == expected["modified_gmt"].tolist()
    assert [list(v) for v in posts["categories"]] == expected["categories"].tolist()
    assert [list(v) for v in posts["tags"]] == expected["tags"].tolist()
    gold = table(root, "gold", SOURCE, "posts_with_terms")
    assert gold.columns.tolist() == [
        "post_id",
        "post_title",
        "post_date",
        "author_name",
        "category_names",
        "tag_names",
    ]
    got = [
        {**row, "category_names": list(row["category_names"]), "tag_names": list(row["tag_names"])}
        for row in gold.to_dict("records")
    ]
    assert got == expected_gold(site)


def test_declared_source_end_to_end(site: tuple[FlakySite, Path, dg.Definitions]) -> None:
    sample, root, defs = site
    result = run_job(defs, SOURCE)
    assert result.success, failures(result)
    check_against_site(sample, root)
    for dataset, records in sample.collections.items():
        assert len(table(root, "silver", SOURCE, dataset)) == len(records)
    # HTML entities arrive as WordPress renders them; no 400 past the end is taken for data.
    titles = table(root, "silver", SOURCE, "posts")["title"]
    assert titles.str.contains("&amp;|&#8216;", regex=True).any()
    pages = [q.get("page", "1") for q in sample.requests_to("posts")]
    assert pages == ["1", "2", "3"]  # 230 posts: X-WP-TotalPages says 3
    assert all(q["per_page"] == "100" and "_fields" in q for q in sample.requests_to("posts"))
    tags = table(root, "silver", SOURCE, "categories")
    assert tags["name"].tolist()[1] == "News &amp; Views"


def test_incremental_run_asks_only_for_changes_and_merges_by_id(
    site: tuple[FlakySite, Path, dg.Definitions],
) -> None:
    sample, root, defs = site
    instance = dg.DagsterInstance.ephemeral()
    started = time.monotonic()
    assert run_job(defs, SOURCE, instance).success
    full_seconds = time.monotonic() - started
    full_requests = len(sample.requests)
    newest = max(gmt(p["modified_gmt"]) for p in sample.collections["posts"])
    assert sample.requests_to("posts")[0].get("modified_after") is None  # the first load

    edited_at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    sample.modify_post(7, edited_at, title="Edited: Caf&eacute; &amp; more")
    added = sample.add_post(edited_at + timedelta(minutes=5), "A new post", [2, 1], [101])
    sample.requests.clear()
    started = time.monotonic()
    second = run_job(defs, SOURCE, instance)
    incremental_seconds = time.monotonic() - started
    assert second.success, failures(second)

    asked = sample.requests_to("posts")
    cursor = (newest - LAG).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(q.get("modified_after"), q.get("page", "1")) for q in asked] == [(cursor, "1")]
    posts = table(root, "silver", SOURCE, "posts")
    assert len(posts) == 231
    assert posts.set_index("id").loc[7, "title"] == "Edited: Caf&eacute; &amp; more"
    assert posts.set_index("id").loc[added["id"], "title"] == "A new post"
    check_against_site(sample, root)
    materialization = instance.get_latest_materialization_event(
        dg.AssetKey(["silver", SOURCE, "posts"])
    )
    assert materialization is not None and materialization.asset_materialization is not None
    metadata = materialization.asset_materialization.metadata
    assert metadata["rows_inserted"].value == 1
    assert metadata["rows_previous"].value == 230
    print(  # the figures the change's notes quote
        f"\nfull refresh: {full_requests} requests, {full_seconds:.2f}s; incremental day: "
        f"{len(sample.requests)} requests ({len(asked)} to posts), {incremental_seconds:.2f}s"
    )

    # A failed run does not move the cursor: the next run asks from the same point.
    sample.requests.clear()
    sample.failing = True
    assert not run_job(defs, SOURCE, instance).success
    sample.failing = False
    assert run_job(defs, SOURCE, instance).success
    after_second = (edited_at + timedelta(minutes=5) - LAG).strftime("%Y-%m-%dT%H:%M:%SZ")
    cursors = [q.get("modified_after") for q in sample.requests_to("posts")]
    # (the failed run's step is retried twice on the transient 500: three asks, then the next run)
    assert cursors == [after_second] * 4
    assert len(table(root, "silver", SOURCE, "posts")) == 231
