"""One boto3 configuration for every AWS resource: region, endpoint, credentials and retries.

Reuses dagster_aws's ``ResourceWithBoto3Configuration`` fields (``region_name``, ``endpoint_url``,
``max_attempts``, ``profile_name``, credentials) so they read the same in the UI as dagster_aws's
own resources, and fixes what it leaves ambiguous:

- ``max_attempts`` counts ALL attempts, the initial call included, as its description says: it is
  passed as botocore's ``total_max_attempts``. (botocore's ``max_attempts`` key counts retries
  only, so ``max_attempts=5`` there means six calls.)
- Endpoints: ``service_endpoint_urls`` (per service) beats ``endpoint_url`` (every service); when
  neither is set botocore reads ``AWS_ENDPOINT_URL_<SERVICE>`` and then ``AWS_ENDPOINT_URL`` from
  the environment itself, so a local endpoint needs no configuration here at all.
- Connect and read timeouts are bounded, so a stalled endpoint fails a step instead of hanging it.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field, PrivateAttr

from lakehouse_assets.observe.usage import instrument_session


class AwsClientsResource(ResourceWithBoto3Configuration):
    """Builds boto3 clients (one per service, cached) for the lakehouse's AWS resources."""

    retry_mode: str = Field(
        default="standard", description="botocore retry mode: standard or adaptive."
    )
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    service_endpoint_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Endpoint per service name (e.g. {'s3': 'http://127.0.0.1:5000'}).",
    )

    _session: boto3.session.Session | None = PrivateAttr(default=None)
    _clients: dict[str, Any] = PrivateAttr(default_factory=dict)

    def botocore_config(self) -> Config:
        return Config(
            retries={"total_max_attempts": self.max_attempts, "mode": self.retry_mode},
            connect_timeout=self.connect_timeout_seconds,
            read_timeout=self.read_timeout_seconds,
            s3={"addressing_style": "path"} if self.endpoint_for("s3") else None,
        )

    def endpoint_for(self, service: str) -> str | None:
        return self.service_endpoint_urls.get(service) or self.endpoint_url or None

    def session(self) -> boto3.session.Session:
        if self._session is None:
            self._session = instrument_session(  # usage per step: observe/usage.py
                boto3.session.Session(
                    aws_access_key_id=self.aws_access_key_id,
                    aws_secret_access_key=self.aws_secret_access_key,
                    aws_session_token=self.aws_session_token,
                    region_name=self.region_name,
                    profile_name=self.profile_name,
                )
            )
        return self._session

    def client(self, service: str) -> Any:
        """A client for ``service`` with this configuration (cached for the resource's life)."""
        if service not in self._clients:
            self._clients[service] = self.session().client(
                service,
                endpoint_url=self.endpoint_for(service),
                use_ssl=self.use_ssl,
                verify=self.verify,
                config=self.botocore_config(),
            )
        return self._clients[service]
