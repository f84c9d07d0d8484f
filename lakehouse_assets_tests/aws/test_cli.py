"""``lakehouse bootstrap`` and ``lakehouse local-aws``: a user gets a working aws deployment on a
local endpoint from two commands, and bootstrapping twice changes nothing."""

import re

import boto3
import pytest

from lakehouse_assets.cli import main
from lakehouse_assets.infra.bootstrap import StackNames
from lakehouse_assets.infra.local_aws import local_aws

pytestmark = pytest.mark.integration


def test_bootstrap_command_is_idempotent(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    args = ["bootstrap", "--endpoint-url", moto_endpoint, "--region", "sa-east-1"]
    args += ["--bucket-prefix", "cli-lakehouse", "--topic-prefix", "cli-lakehouse"]
    args += ["--wordpress-endpoint", "https://example.org/wp-json/x/posts_a1/"]
    args += ["--endpoints-secure", "--spotify-playlist", "p0bECwHFAdOG6U81frmPNt"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "created  s3://cli-lakehouse-gold" in first
    # What the transactions and Spotify sources read, by default.
    assert "created  secret lakehouse/spotify" in first
    assert "created  parameter /spotify/api/playlists" in first
    assert "created  dynamodb table customer-activity" in first
    assert "created  parameter /wordpress/amazonwebshark/api/mysqlendpoints" in first
    assert "created  glue database lakehouse_gold" in first
    assert "existing" not in first
    assert "example.org" not in first  # values are never printed
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "created" not in second
    assert len(re.findall(r"^existing ", second, re.MULTILINE)) == len(first.splitlines())
    ssm = boto3.client(
        "ssm",
        endpoint_url=moto_endpoint,
        region_name="sa-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    parameter = ssm.get_parameter(
        Name="/wordpress/amazonwebshark/api/mysqlendpoints", WithDecryption=True
    )["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == (
        "SecureString",
        "https://example.org/wp-json/x/posts_a1/",
    )
    # An operator's credentials are never overwritten by a later bootstrap.
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=moto_endpoint,
        region_name="sa-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    secrets.put_secret_value(SecretId="lakehouse/spotify", SecretString='{"client_id": "set"}')
    assert main(args) == 0
    assert "existing secret lakehouse/spotify" in capsys.readouterr().out
    value = secrets.get_secret_value(SecretId="lakehouse/spotify")["SecretString"]
    assert value == '{"client_id": "set"}'


def test_bootstrap_can_leave_out_the_sources(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    args = ["bootstrap", "--endpoint-url", moto_endpoint, "--region", "ap-northeast-2"]
    args += ["--bucket-prefix", "cli-bare-lakehouse", "--no-transactions", "--no-spotify"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "created  s3://cli-bare-lakehouse-raw" in out
    assert "secret" not in out and "/spotify/" not in out and "dynamodb" not in out


def test_local_aws_serves_a_bootstrapped_endpoint_and_stops() -> None:
    names = StackNames(bucket_prefix="local-lakehouse")
    with local_aws(port=0, region="af-south-1", names=names) as local:
        environment = local.environment()
        assert environment["LAKEHOUSE_ENV"] == "aws"
        assert environment["AWS_ENDPOINT_URL"] == local.endpoint_url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", local.endpoint_url)
        s3 = boto3.client(
            "s3",
            endpoint_url=local.endpoint_url,
            region_name=local.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        # moto's state is per process: the session's server shares it, so look at ours only.
        buckets = sorted(
            b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("local-")
        )
        assert buckets == [
            f"local-lakehouse-{layer}" for layer in ("bronze", "gold", "raw", "silver")
        ]
        assert [url.rsplit("/", 2)[1] for url in local.wordpress_endpoints] == [
            "posts_a8f3k",
            "statistics_pages_q7x2d",
            "terms_k3m9p",
        ]
        endpoint = local.endpoint_url
    with pytest.raises(Exception):  # noqa: B017 (any connection error: the server is gone)
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="eu-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=__import__("botocore.config").config.Config(
                retries={"total_max_attempts": 1}, connect_timeout=2
            ),
        ).list_buckets()
