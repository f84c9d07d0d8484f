"""The in-process transport behaves like a real one for the client: plain and streamed reads,
paging, and the sample built only when a request reaches it."""

from __future__ import annotations

from pathlib import Path

import requests

from lakehouse_assets.resources.json_api import JsonArrayClient
from lakehouse_assets.resources.sample_transport import SampleSiteAdapter
from lakehouse_assets.sources.wordpress_api.paging import WORDPRESS_PAGING
from lakehouse_assets.sources.wordpress_api.sample_site import (
    API_PATH,
    SAMPLE_HOST,
    generate_sample_tables,
    sample_site,
)

BASE = f"http://{SAMPLE_HOST}{API_PATH}"


def session(built: list[int]) -> requests.Session:
    def build() -> object:
        built.append(1)
        return sample_site(page_size=100)

    mounted = requests.Session()
    mounted.mount(f"http://{SAMPLE_HOST}/", SampleSiteAdapter(build))  # type: ignore[arg-type]
    return mounted


def test_the_sample_is_built_on_the_first_request_only() -> None:
    built: list[int] = []
    client = session(built)
    assert built == []
    client.get(f"{BASE}terms_k3m9p/")
    client.get(f"{BASE}posts_a8f3k/")
    assert built == [1]


def test_streamed_and_plain_reads_give_the_same_body() -> None:
    client = session([])
    plain = client.get(f"{BASE}terms_k3m9p/").content
    with client.get(f"{BASE}terms_k3m9p/", stream=True) as response:
        streamed = b"".join(response.iter_content(7))
    assert plain == streamed and plain.startswith(b"[")


def test_the_client_downloads_every_page_of_the_sample(tmp_path: Path) -> None:
    download = JsonArrayClient(session([])).download(
        "wordpress_api",
        "statistics_pages",
        f"{BASE}statistics_pages_q7x2d/",
        tmp_path / "o",
        paging=WORDPRESS_PAGING,
    )
    assert download.rows == len(generate_sample_tables()["statistics_pages"])
    assert download.pages > 1
