"""Endpoint URLs the platform refuses to request, checked before any request is made."""

from __future__ import annotations

import pytest

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.resources.url_policy import check_endpoint_url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[fd00:ec2::254]/latest/",
        "http://[fe80::1]/x",
        "http://metadata.google.internal/computeMetadata/v1/",
        "file:///etc/passwd",
        "ftp://example.com/posts_a1/",
        "gopher://127.0.0.1/",
        "http://user:pass@127.0.0.1/posts_a1/",
        "http://0.0.0.0/posts_a1/",
        "http:///posts_a1/",
    ],
)
def test_forbidden_urls_are_rejected(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_endpoint_url(url, what="wordpress_api/posts", resolve=False)
    assert str(raised.value).startswith("wordpress_api/posts: ")
    assert "pass" not in str(raised.value) and "169.254" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/posts_a1/", "https://example.com/wp-json/v1/posts_a1/"]
)
def test_ordinary_urls_pass(url: str) -> None:
    check_endpoint_url(url, what="wordpress_api/posts", resolve=False)


def test_hostname_resolving_to_link_local_is_rejected() -> None:
    # localhost resolves on every machine; pretend the allow-list is empty and check a literal.
    check_endpoint_url("http://localhost:1/posts_a1/", what="w/p")
    with pytest.raises(ConfigurationError):
        check_endpoint_url("http://169.254.1.1:1/posts_a1/", what="w/p")


def test_allow_list_exempts_a_host_for_local_development() -> None:
    check_endpoint_url("http://169.254.10.10/x/", what="w/p", allowed_hosts=["169.254.10.10"])
