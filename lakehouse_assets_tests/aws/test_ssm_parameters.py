"""Parameters from SSM Parameter Store over HTTP: types, batching, missing names, no values leaked.

``GetParameters`` answers missing names in ``InvalidParameters`` instead of raising, and takes ten
names per call; SecureStrings come back decrypted. A missing parameter fails naming it, and the
error never carries a value.
"""

from __future__ import annotations

from typing import Any

import boto3
import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.ssm import SsmParametersResource, platform_parameter_names
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER
from lakehouse_assets_tests.aws.conftest import (
    CREDENTIALS,
    aws_environment,
    make_stack,
    run_wordpress_job,
)

pytestmark = pytest.mark.integration

REGION = "us-west-1"
ENDPOINTS = ENDPOINTS_PARAMETER
SECURE_VALUE = "https://example.org/wp-json/x/posts_a1/?token=ssm-secure-5e1d"


@pytest.fixture(scope="module")
def parameters(moto_endpoint: str) -> dict[str, Any]:
    ssm = boto3.client(
        "ssm",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    values: dict[str, Any] = {f"/test/string/{i:02d}": f"value-{i}" for i in range(20)}
    for name, value in values.items():
        ssm.put_parameter(Name=name, Value=value, Type="String")
    ssm.put_parameter(Name="/test/list", Value="a, b,c", Type="StringList")
    ssm.put_parameter(Name="/test/secure", Value=SECURE_VALUE, Type="SecureString")
    values["/test/list"] = ["a", "b", "c"]
    values["/test/secure"] = SECURE_VALUE
    return values


def _resource(
    moto_endpoint: str, prefetch: list[str] | None = None
) -> tuple[SsmParametersResource, list[int]]:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    sizes: list[int] = []
    aws.client("ssm").meta.events.register(
        "provide-client-params.ssm.GetParameters",
        lambda params, **kwargs: sizes.append(len(params["Names"])),
    )
    return SsmParametersResource(aws=aws, prefetch=prefetch or []), sizes


def test_string_stringlist_and_securestring(parameters: dict[str, Any], moto_endpoint: str) -> None:
    resource, sizes = _resource(moto_endpoint)
    names = list(parameters)
    assert dict(resource.fetch(names)) == parameters
    assert sizes == [10, 10, 2]  # GetParameters takes at most ten names
    assert resource.get_list("/test/list") == ["a", "b", "c"]
    assert resource.get_string("/test/secure") == SECURE_VALUE
    assert resource.get_string("/test/string/07") == "value-7"
    assert sizes == [10, 10, 2]  # cached for the run


def test_the_platforms_parameters_come_in_one_call(moto_endpoint: str) -> None:
    resource, sizes = _resource(moto_endpoint, prefetch=[*platform_parameter_names(), ENDPOINTS])
    assert resource.get_string_or(settings.PARAMETER_NAMES.bucket("raw"), "x") == "x"
    resource.lookup([settings.PARAMETER_NAMES.topic("gold"), ENDPOINTS])
    assert sizes == [10]


def test_missing_parameter_fails_naming_it_without_values(
    parameters: dict[str, Any], moto_endpoint: str
) -> None:
    resource, _ = _resource(moto_endpoint)
    with pytest.raises(ConfigurationError) as missing:
        resource.fetch(["/test/secure", "/test/absent", "/test/list"])
    assert str(missing.value) == "parameter(s) missing from SSM Parameter Store: /test/absent"
    assert resource.get_string_or("/test/absent", "fallback") == "fallback"
    assert resource.lookup(["/test/absent"]) == {}


def test_unreadable_parameters_fail_naming_them(moto_endpoint: str) -> None:
    resource, _ = _resource(moto_endpoint)
    with pytest.raises(ConfigurationError) as invalid:
        resource.fetch(["not a valid name!"])
    text = str(invalid.value)
    assert text.startswith("parameter(s) ")
    assert "not a valid name!" in text


def test_a_run_without_the_endpoints_parameter_fails_naming_it(moto_endpoint: str) -> None:
    stack = make_stack(moto_endpoint, "ap-south-1", "nop-lakehouse", urls=[])
    with aws_environment(moto_endpoint, "ap-south-1"):
        result, _ = run_wordpress_job(
            build_definitions(settings.Deployment.AWS),
            dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    assert not result.success
    errors = {
        e.step_key: e.step_failure_data.error.message.strip().splitlines()[0]
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_FAILURE and e.step_failure_data.error
    }
    assert sorted(errors) == [
        f"raw__wordpress_api__{d}" for d in ("posts", "statistics_pages", "terms")
    ]
    for message in errors.values():
        assert f"parameter(s) missing from SSM Parameter Store: {ENDPOINTS}" in message
    assert stack.keys("raw") == []  # failed before any I/O
