"""``lakehouse local-aws``: a local AWS endpoint (moto server) with the stack bootstrapped.

Runs moto over real HTTP on a loopback port, and the packaged WordPress sample site beside it,
bootstraps the stack against them and prints the variables that point ``LAKEHOUSE_ENV=aws`` at
them. Everything lives in this process's memory: stopping it discards the "account" (moto keeps
one state per process, shared by every moto server the process runs).
moto is a development dependency (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.infra.bootstrap import BootstrapReport, StackNames, bootstrap
from lakehouse_assets.resources.aws.boto import AwsClientsResource

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class LocalAws:
    endpoint_url: str
    region: str
    report: BootstrapReport
    wordpress_endpoints: list[str]

    def environment(self) -> dict[str, str]:
        """What a shell exports to run the ``aws`` deployment against this endpoint."""
        return {
            "LAKEHOUSE_ENV": "aws",
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            **FAKE_CREDENTIALS,
        }


@contextmanager
def moto_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """moto's threaded server on ``host:port`` (0: a free port); yields its URL, stops on exit."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise ConfigurationError(
            "moto is not installed: pip install -e '.[dev]' (it provides the local endpoint)"
        ) from None
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.stop()


@contextmanager
def local_aws(
    port: int = 0,
    region: str = "eu-west-2",
    *,
    serve_sample: bool = True,
    names: StackNames | None = None,
) -> Iterator[LocalAws]:
    """moto server plus (optionally) the sample site on loopback, with the stack bootstrapped."""
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server(port=port))
        urls: list[str] = []
        if serve_sample:
            from lakehouse_assets.sources.wordpress_api.sample_site import sample_site, serve

            site = sample_site()
            urls = site.endpoint_urls(stack.enter_context(serve(site)))
        aws = AwsClientsResource(
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        report = bootstrap(aws, names or StackNames(), wordpress_endpoints=urls)
        yield LocalAws(endpoint, region, report, urls)
