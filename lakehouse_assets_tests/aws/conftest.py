"""The aws deployment against a local AWS endpoint: moto in server mode over real loopback HTTP.

Nothing patches boto3: the code under test builds its clients exactly as on AWS and finds the
endpoint through ``AWS_ENDPOINT_URL``, as a deployment would. One moto server serves the whole
session; scenarios stay apart by region (SSM, SNS, SQS, Glue are per region) and bucket prefix
(bucket names are global), so tests can run in any order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.infra.bootstrap import BootstrapReport, StackNames, bootstrap
from lakehouse_assets.infra.local_aws import moto_server
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.sources.wordpress_api.sample_site import (
    JsonTableSite,
    generate_sample_tables,
    serve,
)

SEGMENTS = {
    "posts": "posts_a8f3k",
    "statistics_pages": "statistics_pages_q7x2d",
    "terms": "terms_k3m9p",
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
CLEARED = (
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_MAX_ATTEMPTS",
    "LAKEHOUSE_S3_SSE",
    "LAKEHOUSE_S3_KMS_KEY_ID",
    "LAKEHOUSE_GLUE_DATABASE_PREFIX",
    "LAKEHOUSE_ALLOWED_HOSTS",
    settings.PARAMETERS_FILE_VAR,
)


def moto_client(endpoint: str, region: str, service: str) -> Any:
    """A boto3 client for ``service`` on the moto endpoint, in ``region``."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's threaded server on a free loopback port, for the whole session."""
    with moto_server(port=0) as endpoint:
        yield endpoint


@contextmanager
def aws_environment(endpoint: str, region: str) -> Iterator[None]:
    """The variables a deployment sets, pointing at ``endpoint`` (restored afterwards)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEARED:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_DEFAULT_REGION", region)
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv(settings.DEPLOYMENT_VAR, "aws")
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        yield


def small_site(**overrides: list[dict[str, str]] | tuple[int, bytes]) -> JsonTableSite:
    """The generated WordPress tables, kept small; ``overrides`` replace whole tables."""
    tables: dict[str, Any] = generate_sample_tables(posts=40, days=60)
    tables.update(overrides)
    return JsonTableSite({SEGMENTS[name]: rows for name, rows in tables.items()}, page_size=500)


@dataclass
class Stack:
    """One bootstrapped deployment in one region of the moto endpoint."""

    endpoint: str
    region: str
    names: StackNames
    report: BootstrapReport
    urls: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return moto_client(self.endpoint, self.region, service)

    def bucket(self, layer: str) -> str:
        return self.names.bucket(layer)

    def keys(self, layer: str) -> list[str]:
        pages = (
            self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket(layer))
        )
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def subscribe_queue(self, layer: str) -> str:
        """An SQS queue subscribed to the layer's topic (``pipeline`` for the failure topic)."""
        sqs, sns = self.client("sqs"), self.client("sns")
        url = sqs.create_queue(QueueName=f"alerts-{layer}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.report.topic_arns[layer], Protocol="sqs", Endpoint=arn)
        return url

    def receive(self, queue_url: str) -> list[dict[str, Any]]:
        """Every SNS envelope waiting in the queue (Subject, Message, TopicArn, …)."""
        sqs = self.client("sqs")
        envelopes: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return envelopes
            for message in batch:
                envelopes.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def make_stack(
    endpoint: str,
    region: str,
    bucket_prefix: str,
    urls: list[str],
    *,
    endpoints_secure: bool = False,
) -> Stack:
    aws = AwsClientsResource(
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    names = StackNames(bucket_prefix=bucket_prefix)
    report = bootstrap(aws, names, wordpress_endpoints=urls, endpoints_secure=endpoints_secure)
    return Stack(endpoint, region, names, report, urls)


@pytest.fixture(scope="module")
def sample_site_urls() -> Iterator[list[str]]:
    """The small generated site over real loopback HTTP."""
    site = small_site()
    with serve(site) as base_url:
        yield site.endpoint_urls(base_url)


def run_wordpress_job(
    defs: dg.Definitions, instance: dg.DagsterInstance, *, raise_on_error: bool = True
) -> tuple[dg.ExecuteInProcessResult, str | None]:
    """The WordPress job for its newest partition (today) when partitioned, as the schedule runs
    it; returns the result and the partition key (None when the job is not partitioned)."""
    job = defs.resolve_job_def("wordpress_api_job")
    partition = job.partitions_def.get_last_partition_key() if job.partitions_def else None
    result = job.execute_in_process(
        instance=instance, partition_key=partition, raise_on_error=raise_on_error
    )
    return result, partition


def table_keys(dataset: str, partition: str | None, source: str = "wordpress_api") -> list[str]:
    """Contract keys of a table: the current ``data.parquet`` (and the day's kept version)."""
    keys = [f"{source}/{dataset}/data.parquet"]
    if partition is not None:
        keys.append(f"{source}/{dataset}/_snapshots/{partition}/data.parquet")
    return sorted(keys)
