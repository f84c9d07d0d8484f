"""The WordPress API client: the live site over HTTP, plus the packaged sample when enabled."""

from __future__ import annotations

import requests

from lakehouse_assets.resources.http_api import HttpApiResource
from lakehouse_assets.resources.sample_transport import SampleSiteAdapter


class WordPressApiResource(HttpApiResource):
    """Requests WordPress endpoints; the packaged sample answers at its reserved host locally."""

    serve_packaged_sample: bool = False

    def mount_transports(self, session: requests.Session) -> None:
        if self.serve_packaged_sample:
            from lakehouse_assets.sources.wordpress_api.sample_site import SAMPLE_HOST, sample_site

            session.mount(f"http://{SAMPLE_HOST}/", SampleSiteAdapter(sample_site))

    def exempt_hosts(self) -> list[str]:
        if self.serve_packaged_sample:
            from lakehouse_assets.sources.wordpress_api.sample_site import SAMPLE_HOST

            return [*self.allowed_hosts, SAMPLE_HOST]
        return list(self.allowed_hosts)
