"""An HTTP JSON API client as a resource: timeout, retries and the endpoint policy in config."""

from __future__ import annotations

import dagster as dg
import requests

from lakehouse_assets import __version__
from lakehouse_assets.resources.json_api import JsonArrayClient, RetrySettings
from lakehouse_assets.resources.url_policy import check_endpoint_url


class HttpApiResource(dg.ConfigurableResource):
    """One ``requests.Session`` per run, with a per-call timeout and bounded retries."""

    timeout_seconds: float = 30.0
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_retry_wait_seconds: float = 120.0
    #: Hosts exempt from the address checks (e.g. a development server on an odd address).
    allowed_hosts: list[str] = []  # noqa: RUF012 (pydantic copies defaults)

    def mount_transports(self, session: requests.Session) -> None:
        """Hook for subclasses that serve packaged samples in-process."""

    def exempt_hosts(self) -> list[str]:
        return list(self.allowed_hosts)

    def check_url(self, url: str, what: str) -> None:
        check_endpoint_url(url, what=what, allowed_hosts=self.exempt_hosts())

    def client(self) -> JsonArrayClient:
        session = requests.Session()
        session.headers["User-Agent"] = f"lakehouse-assets/{__version__}"
        session.headers["Accept"] = "application/json"
        self.mount_transports(session)
        retry = RetrySettings(
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_total_wait_seconds=self.max_retry_wait_seconds,
        )
        return JsonArrayClient(session, timeout_seconds=self.timeout_seconds, retry=retry)
