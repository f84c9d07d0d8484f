"""From the endpoint URLs in Parameter Store to one URL per declared dataset."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.layout import NAME_PATTERN

SUFFIX = re.compile(r"^(?P<name>.+)_(?P<suffix>[a-z0-9]+)$")
ONE_SUFFIX = re.compile(r"(_[a-z0-9]+)?")


def derive_dataset_name(url: str, declared: Iterable[str] = ()) -> str:
    """Dataset name from the URL's last path segment, its random suffix removed.

    ``…/posts_a8f3k/`` → ``posts``. A segment that is a declared name, or a declared name plus
    one ``_suffix``, maps to that name (so ``statistics_pages_q7x2d`` → ``statistics_pages``);
    otherwise the last ``_suffix`` is dropped. Raises ValueError for a segment that is not a
    safe name (``..``, slashes, odd characters), so nothing is ever written outside its prefix.
    """
    segments = [unquote(s) for s in urlsplit(url.strip()).path.split("/") if s]
    if not segments:
        raise ValueError("endpoint URL has no path segment to name a dataset")
    segment = segments[-1].strip().lower()
    for name in sorted(declared, key=len, reverse=True):
        if segment.startswith(name) and ONE_SUFFIX.fullmatch(segment[len(name) :]):
            return name
    match = SUFFIX.match(segment)
    name = match.group("name") if match else segment
    if not NAME_PATTERN.match(name):
        raise ValueError("endpoint path segment is not a valid dataset name")
    return name


@dataclass(frozen=True)
class ResolvedEndpoints:
    urls: dict[str, str]
    undeclared: list[str]


def resolve_endpoints(urls: Sequence[str], declared: Sequence[str]) -> ResolvedEndpoints:
    """Map declared datasets to endpoint URLs; undeclared endpoints are reported, not fetched.

    Errors name datasets and list positions, never URLs (they may hold secrets).
    """
    by_name: dict[str, str] = {}
    undeclared: list[str] = []
    for position, url in enumerate(urls, start=1):
        try:
            name = derive_dataset_name(url, declared)
        except ValueError as exc:
            raise ConfigurationError(f"endpoint #{position}: {exc}") from None
        if name not in declared:
            undeclared.append(name)
            continue
        if name in by_name:
            raise ConfigurationError(f"dataset {name}: more than one endpoint maps to it")
        by_name[name] = url
    return ResolvedEndpoints(by_name, undeclared)
