"""A synthetic WordPress site at a chosen scale, with the packaged sample's quirks.

Rows are encoded straight to JSON page bodies (no list of dicts is ever held), so millions of
statistics rows cost seconds and a few hundred megabytes in the serving process. The quirks are
the sample's (:mod:`lakehouse_assets.sources.wordpress_api.sample_site`): every value a string,
``0000-00-00 00:00:00`` GMT dates on drafts, HTML entities and non-ASCII titles, post types that
are not exactly "post" (``postcard``), and one statistics row written twice. Pages follow
WordPress (``page`` parameter, ``X-WP-Total`` / ``X-WP-TotalPages``, 400 past the end).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lakehouse_assets.bench import DEFAULT_PAGE_SIZE, DEFAULT_POSTS, DEFAULT_STATISTICS_ROWS
from lakehouse_assets.sources.wordpress_api.sample_site import (
    API_PATH,
    SAMPLE_ENDPOINTS,
    JsonTableSite,
    is_published_content,
    post_created,
    sample_post,
)

DEFAULT_DAYS = 730
END = date(2026, 10, 31)
JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
SEGMENTS = {name: segment for segment, name in SAMPLE_ENDPOINTS.items()}


@dataclass
class PagedTable:
    """A table as encoded JSON rows, served in pages; only the last page's rows are kept."""

    page_size: int
    pages: list[bytes] = field(default_factory=list)
    rows: int = 0
    size_bytes: int = 0
    _tail: list[bytes] = field(default_factory=list)

    def extend(self, encoded_rows: list[bytes]) -> None:
        """Append rows (each one encoded JSON object), re-encoding only the last page."""
        if self._tail:
            self.size_bytes -= len(self.pages.pop())
        rows = self._tail + encoded_rows
        self.rows += len(encoded_rows)
        start = 0
        while start < len(rows):
            chunk = rows[start : start + self.page_size]
            body = b"[" + b",".join(chunk) + b"]"
            self.pages.append(body)
            self.size_bytes += len(body)
            start += self.page_size
            self._tail = chunk if len(chunk) < self.page_size else []


class SyntheticSite(JsonTableSite):
    """Serves :class:`PagedTable` s under the sample's endpoint names."""

    def __init__(self, tables: Mapping[str, PagedTable]):
        super().__init__(tables={})
        self.paged = {SEGMENTS[name]: table for name, table in tables.items()}

    def respond(
        self, path: str, query: Mapping[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        segment = path[len(API_PATH) :].strip("/") if path.startswith(API_PATH) else None
        table = self.paged.get(segment or "")
        if table is None:
            return 404, JSON_HEADERS, b'{"code":"rest_no_route","message":"No route was found"}'
        try:
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            page = 0
        total_pages = max(1, len(table.pages))
        if page < 1 or page > total_pages:
            return 400, JSON_HEADERS, b'{"code":"rest_post_invalid_page_number"}'
        body = table.pages[page - 1] if table.pages else b"[]"
        headers = {
            **JSON_HEADERS,
            "X-WP-Total": str(table.rows),
            "X-WP-TotalPages": str(total_pages),
        }
        return 200, headers, body

    def endpoint_urls(self, base_url: str) -> list[str]:
        return [f"{base_url.rstrip('/')}{API_PATH}{segment}/" for segment in self.paged]

    @property
    def size_bytes(self) -> int:
        return sum(t.size_bytes for t in self.paged.values())

    def table(self, dataset: str) -> PagedTable:
        return self.paged[SEGMENTS[dataset]]


@dataclass
class Published:
    post_id: int
    kind: str  # "post" or "page", as WP Statistics records it
    slug: str
    created: date


@dataclass
class SiteGenerator:
    """Deterministic for a seed; :meth:`next_day` grows the statistics by one day."""

    posts: int = DEFAULT_POSTS
    statistics_rows: int = DEFAULT_STATISTICS_ROWS
    page_size: int = DEFAULT_PAGE_SIZE
    days: int = DEFAULT_DAYS
    seed: int = 20241
    end: date = END
    published: list[Published] = field(default_factory=list)
    next_page_id: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.start = datetime.combine(self.end - timedelta(days=self.days), datetime.min.time())

    def build(self) -> SyntheticSite:
        posts = PagedTable(self.page_size)
        posts.extend(self._posts())
        statistics = PagedTable(self.page_size)
        for batch in self._statistics(self.statistics_rows):
            statistics.extend(batch)
        terms = PagedTable(self.page_size)
        terms.extend(self._terms())
        return SyntheticSite({"posts": posts, "statistics_pages": statistics, "terms": terms})

    def next_day(self, site: SyntheticSite) -> int:
        """One more day of statistics (about the daily average), appended; returns its rows."""
        self.days += 1
        day = (self.start + timedelta(days=self.days)).date()
        rows = max(1, self.statistics_rows // (self.days or 1))
        encoded = [self._stat(day, self.rng.randrange(5, 60), None)]
        encoded += [
            self._stat(day, self.rng.randrange(1, 40), self._pick(day)) for _ in range(rows - 1)
        ]
        site.table("statistics_pages").extend(encoded)
        return len(encoded)

    def _posts(self) -> list[bytes]:
        encoded: list[bytes] = []
        for post_id in range(1, self.posts + 1):
            row = sample_post(self.rng, post_id, self.start, self.days)
            encoded.append(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            if is_published_content(row):
                kind = "page" if row["post_type"] == "page" else "post"
                created = post_created(row).date()
                self.published.append(Published(post_id, kind, row["post_name"], created))
        self.published.sort(key=lambda p: p.created)
        return encoded

    def _pick(self, day: date) -> Published | None:
        """A post published on or before ``day`` (the home page when there is none yet)."""
        lo, hi = 0, len(self.published)
        while lo < hi:  # first post created after ``day``
            mid = (lo + hi) // 2
            if self.published[mid].created <= day:
                lo = mid + 1
            else:
                hi = mid
        return self.published[self.rng.randrange(lo)] if lo else None

    def _stat(self, day: date, visits: int, post: Published | None) -> bytes:
        page_id = self.next_page_id
        self.next_page_id += 1
        if post is None:
            uri, kind, post_id = "/", "home", 0
        else:
            uri, kind, post_id = f"/{post.slug}/", post.kind, post.post_id
        return (
            f'{{"page_id":"{page_id}","uri":"{uri}","type":"{kind}","date":"{day.isoformat()}",'
            f'"count":"{visits}","id":"{post_id}"}}'
        ).encode()

    def _statistics(self, total: int) -> Iterator[list[bytes]]:
        """Exactly ``total`` rows over the days (one a duplicate, as WP Statistics writes), in
        batches of about a page so millions of rows never sit in one list."""
        if total <= 0:
            return
        wanted = total - 1
        middle = wanted // 2
        duplicate = b""
        made = 0
        batch: list[bytes] = []
        rng = self.rng
        for offset in range(self.days + 1):
            day = (self.start + timedelta(days=offset)).date()
            quota = wanted * (offset + 1) // (self.days + 1) - made
            if quota <= 0:
                continue
            batch.append(self._stat(day, rng.randrange(5, 60), None))
            batch += [
                self._stat(day, rng.randrange(1, 40), self._pick(day)) for _ in range(quota - 1)
            ]
            if made <= middle < made + quota:
                duplicate = batch[len(batch) - (made + quota - middle)]
            made += quota
            if len(batch) >= self.page_size:
                yield batch
                batch = []
        yield [*batch, duplicate]

    def _terms(self) -> list[bytes]:
        names = ["Uncategorized", "News &amp; Views", "AWS", "Python", "Données", "Power BI"]
        return [
            json.dumps(
                {
                    "term_id": str(i),
                    "name": name,
                    "slug": name.lower().replace(" ", "-"),
                    "term_group": "0",
                },
                ensure_ascii=False,
            ).encode("utf-8")
            for i, name in enumerate(names, start=1)
        ]
