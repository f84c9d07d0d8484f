"""Usage per step and per run, counted at the client layer: the exact S3 requests by kind, the
other AWS calls and the HTTP requests a small WordPress run makes on the aws deployment (moto
server and a WordPress site over real loopback HTTP). The numbers are a contract: a change that
adds a LIST per table or a PUT per step shows up here, and in the bill."""

from __future__ import annotations

import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.observe.prices import price_table
from lakehouse_assets.observe.usage import (
    METER,
    RUN_MARK,
    USAGE_METADATA,
    add_usage,
    http_requests,
    start_run,
)
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.sources.wordpress_api.sample_site import serve
from lakehouse_assets_tests.aws.conftest import (
    CREDENTIALS,
    aws_environment,
    make_stack,
    run_wordpress_job,
    small_site,
)

pytestmark = pytest.mark.integration

REGION = "ap-southeast-1"


def test_a_clients_requests_are_counted_by_kind_with_their_bytes(moto_endpoint: str) -> None:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="usage-meter", CreateBucketConfiguration={"LocationConstraint": REGION})
    METER.take("test")
    s3.put_object(Bucket="usage-meter", Key="a", Body=b"x" * 1000)
    s3.head_object(Bucket="usage-meter", Key="a")
    assert s3.get_object(Bucket="usage-meter", Key="a")["Body"].read() == b"x" * 1000
    s3.list_objects_v2(Bucket="usage-meter")
    aws.client("sns").list_topics()
    assert METER.take("test") == {
        "aws.s3.PUT": 1,
        "aws.s3.HEAD": 1,
        "aws.s3.GET": 1,
        "aws.s3.LIST": 1,
        "aws.s3.bytes_out": 1000,
        "aws.s3.bytes_in": 1000,
        "aws.sns.calls": 1,
    }


def test_a_small_wordpress_run_makes_exactly_these_requests(moto_endpoint: str) -> None:
    site = small_site()
    with serve(site) as base_url:
        urls = site.endpoint_urls(base_url)
        make_stack(moto_endpoint, REGION, "usage-lakehouse", urls)
        with aws_environment(moto_endpoint, REGION):
            defs = build_definitions(settings.Deployment.AWS)
            with dg.instance_for_test() as instance:
                start_run()
                result, _ = run_wordpress_job(defs, instance)
                total = METER.take(RUN_MARK)
                steps = {
                    event.asset_key.to_user_string(): event.materialization.metadata[
                        USAGE_METADATA
                    ].value
                    for event in result.get_asset_materialization_events()
                    if USAGE_METADATA in event.materialization.metadata
                }
    assert result.success
    requests = {k: v for k, v in total.items() if "bytes" not in k}
    assert requests == {
        "aws.s3.PUT": 17,  # 2 per table (current + kept day) x 7, 1 per raw snapshot x 3
        # 2 per bronze/silver/gold table, none for raw, and 1 per snapshot input loaded (its
        # day may be kept as a reference to another's bytes): 3 for silver, 2 for gold
        "aws.s3.LIST": 19,
        "aws.s3.GET": 8,
        "aws.s3.HEAD": 39,  # (7 of them: does the current table already hold these bytes?)
        "aws.glue.calls": 7,  # one table registration per bronze/silver/gold table
        "aws.ssm.calls": 3,
        "http.wordpress_api/posts.requests": 1,
        "http.wordpress_api/statistics_pages.requests": 1,
        "http.wordpress_api/terms.requests": 1,
    }
    assert total["http.wordpress_api/terms.bytes_in"] == 427  # the site's body, byte for byte
    assert total["aws.s3.bytes_out"] > total["aws.s3.bytes_in"] > 0
    # Every request of the run is on some step (raw steps, which store nothing through the IO
    # manager, are counted on the next step that does).
    assert {k: v for k, v in add_usage(steps.values()).items() if "bytes" not in k} == requests
    gold = steps["gold/wordpress_api/statistics_postname"]
    assert {k: v for k, v in gold.items() if "bytes" not in k} == {
        "aws.s3.GET": 2,
        "aws.s3.HEAD": 6,
        "aws.s3.LIST": 4,
        "aws.s3.PUT": 2,
        "aws.glue.calls": 1,
    }
    assert http_requests(total) == 3
    # (17 PUT + 19 LIST) x $0.005/1000 + (8 GET + 39 HEAD) x $0.0004/1000 + 7 Glue x $1/M
    assert round(price_table("us-east-1").cost(total), 9) == 0.0002058
