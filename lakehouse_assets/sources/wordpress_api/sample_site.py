"""A deterministic offline WordPress site that answers like the real PHP/MySQL endpoints.

Every value is a string (as PHP serialises MySQL rows), drafts carry ``0000-00-00 00:00:00``
GMT dates, titles hold HTML entities and non-ASCII text, and post types include page, attachment,
revision and a custom type whose name starts with "post". Large tables are paged the WordPress
way (``page`` query parameter, ``X-WP-Total`` / ``X-WP-TotalPages`` headers, 400 past the end).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from lakehouse_assets.resources.sample_transport import serve_sample, site_handle

SAMPLE_HOST = "wordpress.sample.invalid"
API_PATH = "/wp-json/lakehouse-sample/v1/"
ZERO_DATE = "0000-00-00 00:00:00"

#: endpoint path segment (name + random suffix, as the real site has) → table
SAMPLE_ENDPOINTS = {
    "posts_a8f3k": "posts",
    "statistics_pages_q7x2d": "statistics_pages",
    "terms_k3m9p": "terms",
}

Row = dict[str, str]


@dataclass
class JsonTableSite:
    """Serves tables as JSON arrays at ``{API_PATH}{segment}/``, paged when a table is large."""

    #: segment → rows, or a canned (status, body) answer for bad-input fixtures
    tables: Mapping[str, list[Row] | tuple[int, bytes]]
    page_size: int | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def respond(
        self, path: str, query: Mapping[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        segment = path[len(API_PATH) :].strip("/") if path.startswith(API_PATH) else None
        if segment is None or segment not in self.tables:
            return _json(404, {"code": "rest_no_route", "message": "No route was found"})
        table = self.tables[segment]
        if isinstance(table, tuple):
            status, body = table
            return status, {"Content-Type": "application/json; charset=UTF-8"}, body
        if not self.page_size or len(table) <= self.page_size:
            return _json(200, table, self.extra_headers)
        total_pages = -(-len(table) // self.page_size)
        try:
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            page = 0
        if page < 1 or page > total_pages:
            return _json(400, {"code": "rest_post_invalid_page_number", "message": "Invalid page"})
        rows = table[(page - 1) * self.page_size : page * self.page_size]
        headers = {"X-WP-Total": str(len(table)), "X-WP-TotalPages": str(total_pages)}
        return _json(200, rows, {**headers, **self.extra_headers})

    def endpoint_urls(self, base_url: str) -> list[str]:
        return [f"{base_url.rstrip('/')}{API_PATH}{segment}/" for segment in self.tables]


def _json(
    status: int, value: Any, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return status, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}, body


TITLE_WORDS = [
    "Data",
    "Lakehouse",
    "Pipelines",
    "S3",
    "Athena",
    "Glue",
    "Costs",
    "Python",
    "Power BI",
    "Step Functions",
    "Lambda",
    "Parquet",
    "SQL",
    "Notes",
    "Review",
    "Automation",
]
TITLE_QUIRKS = [
    "Tips &amp; Tricks",
    "&#8216;Quoted&#8217; Thoughts",
    "Café Überblick — résumé",
    "Shark 🦈 Week",
    "Ça va? Ñandú naïve",
    "Costs &lt;$5 a Month",
    "日本語のタイトル",
]
POST_TYPE_WEIGHTS = [
    ("post", 45),
    ("page", 8),
    ("attachment", 20),
    ("revision", 20),
    ("postcard", 7),
]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def sample_post(rng: random.Random, post_id: int, start: datetime, days: int) -> Row:
    """One ``wp_posts`` row as PHP serialises it, created within ``days`` after ``start``.

    Posts numbered below ``post_id`` are its possible parents (attachments and revisions).
    Shared by the packaged sample and the benchmark's synthetic site, so both carry the same
    quirks and draw the same random numbers for the same seed.
    """
    types, weights = zip(*POST_TYPE_WEIGHTS, strict=True)
    post_type = rng.choices(types, weights)[0]
    created = start + timedelta(minutes=rng.randrange(days * 24 * 60))
    modified = created + timedelta(minutes=rng.randrange(60 * 24 * 30))
    words = rng.sample(TITLE_WORDS, 3)
    title = " ".join(words)
    if rng.random() < 0.25:
        title = f"{title}: {rng.choice(TITLE_QUIRKS)}"
    status = {"attachment": "inherit", "revision": "inherit"}.get(post_type, "publish")
    if post_type in ("post", "page") and rng.random() < 0.15:
        status = rng.choice(["draft", "draft", "private"])
    parent = 0
    if post_type in ("attachment", "revision") and post_id > 1:
        parent = rng.choice(range(1, post_id))
    slug = "-".join(w.lower().replace(" ", "-") for w in words) + f"-{post_id}"
    date_gmt = ZERO_DATE if status == "draft" else _stamp(created - timedelta(hours=1))
    return {
        "ID": str(post_id),
        "post_author": str(rng.choice([1, 1, 2, 3])),
        "post_date": _stamp(created),
        "post_date_gmt": date_gmt,
        "post_content": f"<p>{title}</p><!-- wp:paragraph -->",
        "post_title": title,
        "post_excerpt": "",
        "post_status": status,
        "comment_status": rng.choice(["open", "closed"]),
        "ping_status": "closed",
        "post_password": "",
        "post_name": slug if status != "draft" else "",
        "to_ping": "",
        "pinged": "",
        "post_modified": _stamp(modified),
        "post_modified_gmt": _stamp(modified - timedelta(hours=1)),
        "post_content_filtered": "",
        "post_parent": str(parent),
        "guid": f"https://{SAMPLE_HOST}/?p={post_id}",
        "menu_order": "0",
        "post_type": post_type,
        "post_mime_type": "image/png" if post_type == "attachment" else "",
        "comment_count": str(rng.randrange(0, 12) if post_type == "post" else 0),
    }


def is_published_content(post: Row) -> bool:
    """Published posts and pages: the rows WP Statistics counts views for."""
    return post["post_status"] == "publish" and post["post_type"] in ("post", "page", "postcard")


def post_created(post: Row) -> datetime:
    return datetime.strptime(post["post_date"], "%Y-%m-%d %H:%M:%S")


def generate_sample_tables(
    *, posts: int = 160, end: date = date(2026, 10, 31), days: int = 730, seed: int = 20241
) -> dict[str, list[Row]]:
    """The sample site's MySQL tables as PHP would serialise them (deterministic for a seed)."""
    rng = random.Random(seed)
    start = datetime.combine(end - timedelta(days=days), datetime.min.time())
    post_rows = [sample_post(rng, post_id, start, days) for post_id in range(1, posts + 1)]
    published = [
        (int(p["ID"]), p["post_type"], post_created(p), p["post_name"])
        for p in post_rows
        if is_published_content(p)
    ]

    statistics: list[Row] = []
    for day_offset in range(days + 1):
        day = (start + timedelta(days=day_offset)).date()
        home_visits = rng.randrange(5, 60)
        statistics.append(_stat_row(len(statistics) + 1, "/", "home", day, home_visits, 0))
        for post_id, post_type, created, slug in published:
            if created.date() <= day and rng.random() < 0.35:
                visits = rng.randrange(1, 40)
                kind = "page" if post_type == "page" else "post"
                statistics.append(
                    _stat_row(len(statistics) + 1, f"/{slug}/", kind, day, visits, post_id)
                )
    # WP Statistics occasionally writes the same row twice; silver removes it.
    statistics.append(dict(statistics[len(statistics) // 2]))

    term_names = ["Uncategorized", "News &amp; Views", "AWS", "Python", "Données", "Power BI"]
    terms = [
        {"term_id": str(i), "name": name, "slug": name.lower().replace(" ", "-"), "term_group": "0"}
        for i, name in enumerate(term_names, start=1)
    ]
    return {"posts": post_rows, "statistics_pages": statistics, "terms": terms}


def _stat_row(row_id: int, uri: str, kind: str, day: date, count: int, post_id: int) -> Row:
    return {
        "page_id": str(row_id),
        "uri": uri,
        "type": kind,
        "date": day.isoformat(),
        "count": str(count),
        "id": str(post_id),
    }


def sample_site(page_size: int | None = 5000) -> JsonTableSite:
    """The packaged sample, under the endpoint names the packaged parameters file lists."""
    tables = generate_sample_tables()
    return JsonTableSite(
        {segment: tables[name] for segment, name in SAMPLE_ENDPOINTS.items()}, page_size
    )


@contextmanager
def serve(site: JsonTableSite, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``site`` over real HTTP on loopback; yields the base URL, stops on exit."""
    with serve_sample(site_handle(site), host, port) as origin:
        yield origin
