"""Dataset names derived from endpoint URLs, and resolution of declared datasets to endpoints."""

from __future__ import annotations

import pytest

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.sources.wordpress_api.endpoints import derive_dataset_name, resolve_endpoints

DECLARED = ["posts", "statistics_pages", "terms"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/wp-json/wpdata/v1/posts_a8f3k/", "posts"),
        ("https://example.com/wp-json/wpdata/v1/posts_a8f3k", "posts"),
        ("https://example.com/wp-json/wpdata/v1/statistics_pages_q7x2d/", "statistics_pages"),
        ("https://example.com/wp-json/wpdata/v1/statistics_pages/", "statistics_pages"),
        ("https://example.com/wp-json/wpdata/v1/Posts_A8F3K/?token=x", "posts"),
        ("  https://example.com/a/terms_00000/  ", "terms"),
        ("https://example.com/a/comments_zz91k/", "comments"),
        ("https://example.com/a/wp_postmeta_abc12/", "wp_postmeta"),
        ("https://example.com/a/statistics_visitor_9x/", "statistics_visitor"),
    ],
)
def test_name_is_last_segment_without_random_suffix(url: str, name: str) -> None:
    assert derive_dataset_name(url, DECLARED) == name


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a/..%2F..%2Fgold/",
        "https://example.com/a/../",
        "https://example.com/",
        "https://example.com/a/posts%00_x1/",
        "https://example.com/a/1posts_x1/",
    ],
)
def test_unsafe_segments_are_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        derive_dataset_name(url, DECLARED)


def test_resolution_maps_declared_and_reports_undeclared() -> None:
    urls = [
        "https://e.com/v1/posts_a1/",
        "https://e.com/v1/comments_b2/",
        "https://e.com/v1/statistics_pages_c3/",
    ]
    resolved = resolve_endpoints(urls, DECLARED)
    assert resolved.urls == {"posts": urls[0], "statistics_pages": urls[2]}
    assert resolved.undeclared == ["comments"]


def test_two_endpoints_for_one_dataset_fail_without_naming_urls() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_endpoints(["https://e.com/posts_a1/?k=SECRET", "https://e.com/posts_b2/"], DECLARED)
    assert str(raised.value) == "dataset posts: more than one endpoint maps to it"


def test_bad_endpoint_is_reported_by_position_not_url() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_endpoints(["https://e.com/posts_a1/", "https://SECRET.e.com/../"], DECLARED)
    assert "endpoint #2" in str(raised.value) and "SECRET" not in str(raised.value)
