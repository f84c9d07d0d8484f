"""Contract audit of ``wordpress_rest`` end to end (``lakehouse run``) against a small
WordPress REST API on loopback that pages each endpoint a different way the contract allows.

Pins: every dataset pages by ``X-WP-TotalPages`` *or* ``Link: rel="next"`` — whichever the
server sends (one sends only the header, one only the link, posts a header that overstates the
pages and then the 400 ``rest_post_invalid_page_number``, never taken for data); ``rendered``
fields as text under their own name (HTML entities as sent); date columns timestamps, ids
int64, id lists list<int64>; gold names in the post's id order, an unknown id left out, a post
without tags an empty list; the second run asks with ``modified_after`` = newest
``modified_gmt`` minus the lag and merges by id.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from lakehouse_assets import settings
from lakehouse_assets.cli import main
from lakehouse_assets.components.sample_wordpress_v2 import serve

pytestmark = pytest.mark.timeout(180)
PAGE = 2  # this server's page size, whatever per_page asks


def post(pid: int, title: str, modified: str, categories: list[int], tags: list[int]) -> dict:
    return {
        "id": pid, "date": "2024-03-04T10:15:00", "date_gmt": "2024-03-04T09:15:00",
        "modified": modified, "modified_gmt": modified, "slug": f"p{pid}", "status": "publish",
        "type": "post", "link": f"https://example.com/p{pid}", "guid": {"rendered": f"g{pid}"},
        "title": {"rendered": title}, "content": {"rendered": "<p>x</p>", "protected": False},
        "excerpt": {"rendered": "<p>e</p>", "protected": False}, "author": 7,
        "featured_media": 0, "comment_status": "open", "ping_status": "open", "sticky": False,
        "template": "", "format": "standard", "meta": [], "categories": categories, "tags": tags,
    }  # fmt: skip


class Site:
    def __init__(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {
            "posts": [
                post(1, "Fish &amp; Chips", "2024-03-05T08:00:00", [3, 1, 99], [11]),
                post(2, "Two", "2024-03-06T08:00:00", [1], []),
                post(3, "Three", "2024-03-07T08:00:00", [], [12, 11]),
            ],
            "pages": [],
            "categories": [
                {"id": i, "count": 1, "description": "", "link": "l", "name": f"Cat{i}",
                 "slug": f"c{i}", "taxonomy": "category", "parent": 0, "meta": []}
                for i in (1, 2, 3)
            ],
            "tags": [
                {"id": i, "count": 1, "description": "", "link": "l", "name": f"Tag{i}",
                 "slug": f"t{i}", "taxonomy": "post_tag", "meta": []}
                for i in (11, 12, 13)
            ],
            "users": [{"id": 7, "name": "Ann", "url": "", "description": "", "link": "l",
                       "slug": "ann", "avatar_urls": {}, "meta": []}],
        }  # fmt: skip
        #: How each collection pages: "header" (X-WP-TotalPages only), "link" (Link only),
        #: "lying" (header one page too many, then the 400), "both".
        self.paging = {"posts": "lying", "categories": "link", "tags": "header"}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def respond(self, path: str, query: dict[str, list[str]], origin: str | None = None) -> Any:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        args = {k: v[-1] for k, v in query.items()}
        self.requests.append((name, args))
        rows = self.data.get(name)
        if rows is None:
            return 404, {"Content-Type": "application/json"}, b'{"code":"rest_no_route"}'
        if "modified_after" in args:
            after = datetime.fromisoformat(args["modified_after"]).astimezone(UTC)
            rows = [
                r for r in rows
                if datetime.fromisoformat(r["modified_gmt"]).replace(tzinfo=UTC) > after
            ]  # fmt: skip
        page = int(args.get("page", "1"))
        pages = max(1, -(-len(rows) // PAGE))
        if page > pages:
            body = {"code": "rest_post_invalid_page_number", "message": "bad page"}
            return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
        mode = self.paging.get(name, "both")
        headers = {"Content-Type": "application/json", "X-WP-Total": str(len(rows))}
        if mode in ("header", "both", "lying"):
            headers["X-WP-TotalPages"] = str(pages + (mode == "lying"))
        if mode in ("link", "both") and page < pages:
            rest = {k: v for k, v in args.items() if k != "page"}
            query_text = "&".join(f"{k}={v}" for k, v in {**rest, "page": page + 1}.items())
            headers["Link"] = f'<{origin}{path}?{query_text}>; rel="next"'
        body = json.dumps(rows[(page - 1) * PAGE : page * PAGE]).encode()
        return 200, headers, body


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = Site()
    with serve(site) as origin:
        parameters = tmp_path / "parameters.yaml"
        parameters.write_text(
            yaml.safe_dump({"/wordpress/rest/base_url": f"{origin}/wp-json/wp/v2"}), "utf-8"
        )
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
        monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
        monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
        monkeypatch.setenv(settings.PARAMETERS_FILE_VAR, str(parameters))
        yield site, tmp_path / "lake"


def read(lake: Path, layer: str, dataset: str) -> pd.DataFrame:
    return pd.read_parquet(lake / f"data-lakehouse-{layer}" / "wordpress_rest" / dataset)


def test_every_paging_way_then_incremental(served: tuple[Site, Path]) -> None:
    site, lake = served
    assert main(["run", "--source", "wordpress_rest"]) == 0
    posts = read(lake, "silver", "posts").sort_values("id", ignore_index=True)
    assert posts["id"].tolist() == [1, 2, 3]
    assert read(lake, "silver", "categories")["id"].tolist() == [1, 2, 3]
    assert read(lake, "silver", "tags")["id"].tolist() == [11, 12, 13]
    assert len(read(lake, "silver", "pages")) == 0
    assert posts["title"].tolist() == ["Fish &amp; Chips", "Two", "Three"]
    assert posts["guid"].tolist() == ["g1", "g2", "g3"]
    assert posts["content"].tolist() == ["<p>x</p>"] * 3
    assert str(posts["id"].dtype) == "int64" and str(posts["author"].dtype) == "int64"
    for column in ("date", "date_gmt", "modified", "modified_gmt"):
        assert str(posts[column].dtype).startswith("datetime64"), column
    assert [list(v) for v in posts["categories"]] == [[3, 1, 99], [1], []]
    assert [list(v) for v in posts["tags"]] == [[11], [], [12, 11]]
    pages = [a.get("page", "1") for name, a in site.requests if name == "posts"]
    assert pages == ["1", "2", "3"]  # the header said 3; the 400 ended it

    gold = read(lake, "gold", "posts_with_terms").sort_values("post_id", ignore_index=True)
    assert gold.columns.tolist() == [
        "post_id", "post_title", "post_date", "author_name", "category_names", "tag_names"
    ]  # fmt: skip
    assert [list(v) for v in gold["category_names"]] == [["Cat3", "Cat1"], ["Cat1"], []]
    assert [list(v) for v in gold["tag_names"]] == [["Tag11"], [], ["Tag12", "Tag11"]]
    assert gold["author_name"].tolist() == ["Ann"] * 3
    assert str(gold["post_id"].dtype) == "int64"

    # Post 2 is edited; the next run asks for what changed since newest - 1 h, merges by id.
    site.data["posts"][1] = post(2, "Two, edited", "2024-03-08T08:00:00", [2], [13])
    site.requests.clear()
    assert main(["run", "--source", "wordpress_rest"]) == 0
    asked = [a for name, a in site.requests if name == "posts"]
    assert asked[0]["modified_after"].startswith("2024-03-07T07:00:00")
    posts = read(lake, "silver", "posts").sort_values("id", ignore_index=True)
    assert posts["title"].tolist() == ["Fish &amp; Chips", "Two, edited", "Three"]
    gold = read(lake, "gold", "posts_with_terms").sort_values("post_id", ignore_index=True)
    assert [list(v) for v in gold["tag_names"]] == [["Tag11"], ["Tag13"], ["Tag12", "Tag11"]]


def test_a_minimal_site_without_tags_or_pages(served: tuple[Site, Path]) -> None:
    site, lake = served
    wanted = ("id", "date", "modified_gmt", "title", "author", "categories", "tags")
    site.data["posts"] = [{k: p[k] for k in wanted} for p in site.data["posts"]]
    site.data["tags"] = []
    assert main(["run", "--source", "wordpress_rest"]) == 0
    posts = read(lake, "silver", "posts")
    assert posts["slug"].isna().all() and len(posts) == 3
    gold = read(lake, "gold", "posts_with_terms").sort_values("post_id", ignore_index=True)
    assert [list(v) for v in gold["tag_names"]] == [[], [], []]
    assert [list(v) for v in gold["category_names"]] == [["Cat3", "Cat1"], ["Cat1"], []]
