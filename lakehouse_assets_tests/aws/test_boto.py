"""The shared boto3 configuration: attempts mean what they say, endpoints resolve in one order.

botocore's ``retries={"max_attempts": N}`` makes N+1 calls; the resource's ``max_attempts`` is the
total (sent as ``total_max_attempts``), measured here against a loopback server that always
answers 500. Endpoints: per-service field, then the shared field, then botocore's own
``AWS_ENDPOINT_URL_<SERVICE>`` / ``AWS_ENDPOINT_URL`` variables.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from botocore.exceptions import ClientError

from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets_tests.aws.conftest import CREDENTIALS
from lakehouse_assets_tests.http_fixtures import serving


@pytest.fixture
def failing_endpoint() -> Iterator[tuple[str, list[str]]]:
    """A loopback endpoint answering every request with HTTP 500; records the requests."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.path)
            body = b'{"__type": "InternalServerError", "message": "down"}'
            self.send_response(500)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        yield origin, seen


def _resource(**fields: object) -> AwsClientsResource:
    return AwsClientsResource(
        region_name="eu-west-2",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.integration
@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_is_the_total_number_of_calls(
    failing_endpoint: tuple[str, list[str]], attempts: int
) -> None:
    url, seen = failing_endpoint
    ssm = _resource(endpoint_url=url, max_attempts=attempts).client("ssm")
    with pytest.raises(ClientError, match="InternalServerError"):
        ssm.get_parameters(Names=["/x"])
    assert len(seen) == attempts


def test_endpoint_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1001")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", "http://127.0.0.1:1002")
    from_env = _resource()
    assert from_env.client("sqs").meta.endpoint_url == "http://127.0.0.1:1001"
    assert from_env.client("sns").meta.endpoint_url == "http://127.0.0.1:1002"
    configured = _resource(
        endpoint_url="http://127.0.0.1:2001", service_endpoint_urls={"s3": "http://127.0.0.1:2002"}
    )
    assert configured.client("sns").meta.endpoint_url == "http://127.0.0.1:2001"
    assert configured.client("s3").meta.endpoint_url == "http://127.0.0.1:2002"
    config = configured.botocore_config()
    assert config.retries == {"total_max_attempts": 5, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout) == (10.0, 60.0)
