"""The HTTP resource declared REST sources request through, with the packaged samples.

Locally the packaged sample sites answer at their reserved ``.invalid`` hosts in-process
(:class:`SampleSiteAdapter`), so a declared source whose base URL parameter points there runs
offline through the same client code as against a real site.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from lakehouse_assets.resources.http_api import HttpApiResource
from lakehouse_assets.resources.sample_transport import SampleSiteAdapter, SiteResponder


def packaged_samples() -> dict[str, Callable[[], SiteResponder]]:
    """Reserved host → factory of the sample site answering there."""
    from lakehouse_assets.components import sample_wordpress_v2

    return {sample_wordpress_v2.SAMPLE_HOST: sample_wordpress_v2.sample_site}


class RestApiResource(HttpApiResource):
    """Requests of declared REST sources; ``serve_packaged_samples`` mounts the samples."""

    serve_packaged_samples: bool = False

    def mount_transports(self, session: requests.Session) -> None:
        if self.serve_packaged_samples:
            for host, factory in packaged_samples().items():
                session.mount(f"http://{host}/", SampleSiteAdapter(factory))

    def exempt_hosts(self) -> list[str]:
        if self.serve_packaged_samples:
            return [*self.allowed_hosts, *packaged_samples()]
        return list(self.allowed_hosts)
