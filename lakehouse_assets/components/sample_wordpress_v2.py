"""An offline WordPress 6.x site answering ``/wp-json/wp/v2/…`` like the real REST API, so the
declared ``wordpress_rest`` source runs locally (``lakehouse run``) and in tests without a site.

What it copies from WordPress, because a client must survive each of them: ``per_page`` (at
most 100, default 10), ``page``, ``X-WP-Total`` / ``X-WP-TotalPages`` and RFC 8288 ``Link``
headers, the 400 ``rest_post_invalid_page_number`` past the last page of posts and pages (terms
and users answer an empty array there), ``_fields`` (dotted paths too), ``modified_after``
(ISO 8601; without an offset it is the site's local time, as WordPress reads it),
``{"rendered": …}`` objects holding HTML entities, and local ``date`` / ``modified`` beside their
``_gmt`` twins. Every request is logged (path and query) so a test can assert what was asked.
It is served in-process at a reserved ``.invalid`` host (:class:`SampleSiteAdapter`) or over
real HTTP (:func:`serve`).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from lakehouse_assets.resources.sample_transport import Answer, Handle, serve_sample

SAMPLE_HOST = "wordpress-rest.sample.invalid"
API_PATH = "/wp-json/wp/v2/"
SAMPLE_BASE_URL = f"http://{SAMPLE_HOST}{API_PATH.rstrip('/')}"
#: The site's timezone (Settings → General): ``date`` is local, ``date_gmt`` UTC.
SITE_OFFSET = timezone(timedelta(hours=1))
MAX_PER_PAGE = 100
COLLECTIONS = ("posts", "pages", "categories", "tags", "users")
#: Collections whose past-the-end page is a 400 (WP_REST_Posts_Controller); others give [].
POST_TYPES = ("posts", "pages")

Record = dict[str, Any]

TITLE_WORDS = (
    "Data Lakehouse Pipelines S3 Athena Glue Costs Python Parquet SQL Notes Review Lambda".split()  # noqa: SIM905
)
TITLE_QUIRKS = (
    "Tips &amp; Tricks",
    "&#8216;Quoted&#8217; Thoughts",
    "Caf&eacute; &#8211; r&eacute;sum&eacute;",
    "Shark 🦈 Week",
    "Costs &lt;$5 a Month",
    "日本語のタイトル",
)


def _local(moment: datetime) -> str:
    return moment.astimezone(SITE_OFFSET).replace(tzinfo=None).isoformat(timespec="seconds")


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _rendered(text: str, protected: bool | None = None) -> dict[str, Any]:
    return {"rendered": text} if protected is None else {"rendered": text, "protected": protected}


@dataclass
class WordPressV2Site:
    """The site's collections (records in WordPress's shape) and the request log."""

    collections: dict[str, list[Record]]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: Announce more pages than there are (a lying server), for tests.
    extra_total_pages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def respond(
        self, path: str, query: Mapping[str, list[str]], origin: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET; ``origin`` is where the site is reached (the
        ``Link`` headers point there)."""
        flat = {name: values[-1] for name, values in query.items()}
        with self._lock:
            self.requests.append((path, flat))
        name = path[len(API_PATH) :].strip("/") if path.startswith(API_PATH) else ""
        if name not in self.collections:
            return _json(404, {"code": "rest_no_route", "message": "No route was found."})
        try:
            per_page = int(flat.get("per_page", "10"))
            page = int(flat.get("page", "1"))
        except ValueError:
            return _invalid_param("per_page/page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _invalid_param("per_page")
        if page < 1:
            return _invalid_param("page")
        with self._lock:
            records = list(self.collections[name])
        if "modified_after" in flat and name in POST_TYPES:
            try:
                after = datetime.fromisoformat(flat["modified_after"].replace("Z", "+00:00"))
            except ValueError:
                return _invalid_param("modified_after")
            after = after.replace(tzinfo=SITE_OFFSET) if after.tzinfo is None else after
            records = [r for r in records if _gmt_of(r["modified_gmt"]) > after]
        if name in POST_TYPES:  # WordPress lists posts newest first by default
            records.sort(key=lambda r: (r["date_gmt"], r["id"]), reverse=True)
        total = len(records)
        pages = -(-total // per_page)
        if page > max(pages, 1) and name in POST_TYPES:
            return _json(
                400,
                {
                    "code": "rest_post_invalid_page_number",
                    "message": "The page number requested is larger than the number of pages "
                    "available.",
                    "data": {"status": 400},
                },
            )
        chosen = records[(page - 1) * per_page : page * per_page]
        if "_fields" in flat:
            wanted = [f.strip() for f in flat["_fields"].split(",") if f.strip()]
            chosen = [_only(record, wanted) for record in chosen]
        headers = {
            "X-WP-Total": str(total),
            "X-WP-TotalPages": str(pages + self.extra_total_pages),
        }
        links = []
        url = f"{origin or f'http://{SAMPLE_HOST}'}{path}"
        if page > 1:
            links.append(f'<{url}?{urlencode({**flat, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{url}?{urlencode({**flat, "page": page + 1})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return _json(200, chosen, headers)

    # Changes, as editors make them (for incremental runs).
    def modify_post(self, post_id: int, at: datetime, title: str | None = None) -> Record:
        with self._lock:
            post = next(p for p in self.collections["posts"] if p["id"] == post_id)
            post["modified"], post["modified_gmt"] = _local(at), _gmt(at)
            if title is not None:
                post["title"] = _rendered(title)
            return post

    def add_post(self, at: datetime, title: str, categories: list[int], tags: list[int]) -> Record:
        with self._lock:
            posts = self.collections["posts"]
            post_id = max(p["id"] for p in [*posts, *self.collections["pages"]]) + 1
            post = _post(post_id, at, at, title, 1, categories, tags)
            posts.append(post)
            return post

    def requests_to(self, collection: str) -> list[dict[str, str]]:
        with self._lock:
            return [q for p, q in self.requests if p.rstrip("/").endswith(f"/{collection}")]


def _gmt_of(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _only(record: Record, wanted: list[str]) -> Record:
    """``_fields``: top-level names, or dotted paths keeping just that part of an object."""
    out: Record = {}
    for path in wanted:
        head, _, rest = path.partition(".")
        if head not in record:
            continue
        if rest and isinstance(record[head], dict):
            inner = _only(record[head], [rest])
            out.setdefault(head, {}).update(inner)
        else:
            out[head] = record[head]
    return out


def _invalid_param(name: str) -> tuple[int, dict[str, str], bytes]:
    return _json(
        400,
        {"code": "rest_invalid_param", "message": f"Invalid parameter(s): {name}", "data": {}},
    )


def _json(
    status: int, value: Any, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return status, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}, body


def _post(
    post_id: int,
    created: datetime,
    modified: datetime,
    title: str,
    author: int,
    categories: list[int],
    tags: list[int],
    kind: str = "post",
) -> Record:
    slug = f"post-{post_id}"
    record: Record = {
        "id": post_id,
        "date": _local(created),
        "date_gmt": _gmt(created),
        "guid": _rendered(f"http://{SAMPLE_HOST}/?p={post_id}"),
        "modified": _local(modified),
        "modified_gmt": _gmt(modified),
        "slug": slug,
        "status": "publish",
        "type": kind,
        "link": f"http://{SAMPLE_HOST}/{slug}/",
        "title": _rendered(title),
        "content": _rendered(f"<p>{title}</p>\n", False),
        "excerpt": _rendered(f"<p>{title} &hellip;</p>\n", False),
        "author": author,
        "featured_media": 0,
        "comment_status": "open",
        "ping_status": "closed",
        "template": "",
        "meta": {"footnotes": ""},
    }
    if kind == "post":
        record.update(sticky=False, format="standard", categories=categories, tags=tags)
    else:
        record.update(parent=0, menu_order=0)
    return record


def generate_site(
    *,
    posts: int = 250,
    pages: int = 12,
    categories: int = 8,
    tags: int = 24,
    users: int = 4,
    seed: int = 6,
    end: datetime = datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
) -> dict[str, list[Record]]:
    """The site's collections, deterministic for a seed (ids shared by posts and pages)."""
    rng = random.Random(seed)
    start = end - timedelta(days=720)
    user_names = ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Ken"]
    people = [
        {
            "id": i,
            "name": user_names[(i - 1) % len(user_names)] + ("" if i <= 5 else f" {i}"),
            "url": "",
            "description": "",
            "link": f"http://{SAMPLE_HOST}/author/user-{i}/",
            "slug": f"user-{i}",
            "avatar_urls": {"24": f"http://{SAMPLE_HOST}/avatar/{i}?s=24"},
            "meta": [],
        }
        for i in range(1, users + 1)
    ]
    category_names = ["Uncategorized", "News &amp; Views", "AWS", "Python", "Données"]
    terms: dict[str, list[Record]] = {}
    for taxonomy, count, prefix in (("category", categories, "c"), ("post_tag", tags, "t")):
        offset = 1 if taxonomy == "category" else 100
        terms[taxonomy] = [
            {
                "id": offset + i,
                "count": 0,
                "description": "",
                "link": f"http://{SAMPLE_HOST}/{prefix}/{offset + i}/",
                "name": (
                    category_names[i]
                    if taxonomy == "category" and i < len(category_names)
                    else f"{'Topic' if taxonomy == 'category' else 'tag'} {offset + i}"
                ),
                "slug": f"{prefix}-{offset + i}",
                "taxonomy": taxonomy,
                **({"parent": 0} if taxonomy == "category" else {}),
                "meta": [],
            }
            for i in range(count)
        ]
    category_ids = [t["id"] for t in terms["category"]]
    tag_ids = [t["id"] for t in terms["post_tag"]]
    records: dict[str, list[Record]] = {"posts": [], "pages": []}
    page_ids = set(rng.sample(range(1, posts + pages + 1), pages))
    for post_id in range(1, posts + pages + 1):
        kind = "page" if post_id in page_ids else "post"
        created = start + timedelta(minutes=rng.randrange(700 * 24 * 60))
        modified = created + timedelta(minutes=rng.randrange(60 * 24 * 10))
        title = " ".join(rng.sample(TITLE_WORDS, 3))
        if rng.random() < 0.3:
            title = f"{title}: {rng.choice(TITLE_QUIRKS)}"
        chosen_categories = rng.sample(category_ids, rng.choice([1, 1, 2]))
        chosen_tags = rng.sample(tag_ids, rng.choice([0, 1, 2, 3]))
        author = rng.randrange(1, users + 1)
        record = _post(
            post_id, created, modified, title, author, chosen_categories, chosen_tags, kind
        )
        records["posts" if kind == "post" else "pages"].append(record)
    for post in records["posts"]:
        for taxonomy, field_name in (("category", "categories"), ("post_tag", "tags")):
            for term in terms[taxonomy]:
                if term["id"] in post[field_name]:
                    term["count"] += 1
    return {
        **records,
        "categories": terms["category"],
        "tags": terms["post_tag"],
        "users": people,
    }


def sample_site() -> WordPressV2Site:
    """The packaged sample the local deployment's ``/wordpress/rest/base_url`` points at."""
    return WordPressV2Site(generate_site())


def _handle(site: Any) -> Handle:
    """``site.respond(path, query, origin)`` as a served sample: links name the host asked."""

    def handle(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if method != "GET":
            return 405, {"Content-Type": "text/plain"}, b"method not allowed"
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return site.respond(parts.path, parse_qs(parts.query), origin)

    return handle


@contextmanager
def serve(site: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``site`` (anything with ``respond(path, query, origin)``) over real HTTP on
    loopback; yields the server's origin, stops on exit."""
    with serve_sample(_handle(site), host, port) as origin:
        yield origin
