"""The Spotify Web API as a resource: the shared HTTP settings plus Spotify's paging and token
options; the packaged offline sample answers at its reserved hosts when enabled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from pydantic import Field

from lakehouse_assets.resources.http_api import HttpApiResource
from lakehouse_assets.sources.spotify.client import (
    DEFAULT_BASE_URL,
    DEFAULT_TOKEN_URL,
    MAX_PAGE_LIMIT,
    SOURCE,
    SpotifyClient,
    SpotifyCredentials,
)


class SpotifyApiResource(HttpApiResource):
    """Builds :class:`SpotifyClient`s; the asset passes the credentials it read from secrets."""

    page_limit: int = Field(default=MAX_PAGE_LIMIT, ge=1, le=MAX_PAGE_LIMIT)
    #: A cached token is renewed this long before the ``expires_in`` it was issued with.
    token_margin_seconds: float = 60.0
    max_pages: int = 1000
    serve_packaged_sample: bool = False

    def mount_transports(self, session: requests.Session) -> None:
        if self.serve_packaged_sample:
            from lakehouse_assets.sources.spotify.sample_api import mount_sample

            mount_sample(session)

    def exempt_hosts(self) -> list[str]:
        if self.serve_packaged_sample:
            from lakehouse_assets.sources.spotify.sample_api import SAMPLE_HOSTS

            return [*self.allowed_hosts, *SAMPLE_HOSTS]
        return list(self.allowed_hosts)

    def api_client(
        self,
        credentials: Mapping[str, Any] | SpotifyCredentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        secret_id: str = "spotify credentials",
    ) -> SpotifyClient:
        """A client for ``base_url``, with tokens from ``token_url``; both pass the URL policy
        first. ``credentials`` is the secret's JSON object (or already parsed)."""
        self.check_url(base_url, f"{SOURCE} base_url")
        self.check_url(token_url, f"{SOURCE} token_url")
        if not isinstance(credentials, SpotifyCredentials):
            credentials = SpotifyCredentials.from_secret(credentials, secret_id)
        return SpotifyClient(
            self.http_client(),
            credentials,
            base_url=base_url,
            token_url=token_url,
            page_limit=self.page_limit,
            token_margin_seconds=self.token_margin_seconds,
            max_pages=self.max_pages,
        )
