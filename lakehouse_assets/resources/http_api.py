"""An HTTP API client as a resource: timeout, retries, deadlines, redirects and the endpoint
policy in config, one ``requests.Session`` per client."""

from __future__ import annotations

from typing import Any

import dagster as dg
import requests

from lakehouse_assets import __version__
from lakehouse_assets.resources.http_client import HttpClient, RetrySettings
from lakehouse_assets.resources.json_api import JsonArrayClient
from lakehouse_assets.resources.url_policy import check_endpoint_url


class HttpApiResource(dg.ConfigurableResource):
    """One ``requests.Session`` per client, with a per-read timeout, a deadline per request
    (and optionally per download), bounded retries and policy-checked redirects."""

    timeout_seconds: float = 30.0
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_retry_wait_seconds: float = 120.0
    #: Wall-clock limit for one request, body included (a trickling body cannot hold a run).
    request_deadline_seconds: float = 120.0
    #: Wall-clock limit for every page of one download together (None: no overall limit). Half
    #: the jobs' one-hour ``dagster/max_runtime``: a download that slow fails its step, naming
    #: the dataset, while the run still has time to say so, instead of being stopped mid-step.
    download_deadline_seconds: float | None = 1800.0
    max_redirects: int = 5
    #: Hosts exempt from the address checks (e.g. a development server on an odd address),
    #: and the only other hosts a redirect or next link may lead to.
    allowed_hosts: list[str] = []  # noqa: RUF012 (pydantic copies defaults)

    def mount_transports(self, session: requests.Session) -> None:
        """Hook for subclasses that serve packaged samples in-process."""

    def exempt_hosts(self) -> list[str]:
        return list(self.allowed_hosts)

    def check_url(self, url: str, what: str) -> None:
        check_endpoint_url(url, what=what, allowed_hosts=self.exempt_hosts())

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = f"lakehouse-assets/{__version__}"
        session.headers["Accept"] = "application/json"
        self.mount_transports(session)
        return session

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments of :class:`HttpClient` this configuration gives."""
        return {
            "timeout_seconds": self.timeout_seconds,
            "retry": RetrySettings(
                max_attempts=self.max_attempts,
                backoff_seconds=self.backoff_seconds,
                max_total_wait_seconds=self.max_retry_wait_seconds,
            ),
            "allowed_hosts": self.exempt_hosts(),
            "max_redirects": self.max_redirects,
            "request_deadline_seconds": self.request_deadline_seconds,
        }

    def http_client(self) -> HttpClient:
        """A client for any request (``send``); callers decide what a status means."""
        return HttpClient(self.session(), **self.client_options())

    def client(self) -> JsonArrayClient:
        """A client that downloads paged JSON arrays."""
        return JsonArrayClient(
            self.session(),
            download_deadline_seconds=self.download_deadline_seconds,
            **self.client_options(),
        )
