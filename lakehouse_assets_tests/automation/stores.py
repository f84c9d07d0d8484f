"""Test helpers for landing: a lake resource over any store, and S3 on a local moto server.

The moto server is real HTTP on a free loopback port (``AWS_ENDPOINT_URL`` points at it), so the
code under test talks to S3 exactly as it would on AWS; no boto3 patching.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from lakehouse_assets import settings
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.parameters import LocalParametersResource

BUCKETS = {layer: f"test-{layer}" for layer in settings.LAYERS}

#: Stores the test lake resource hands out, by id (resources are re-created from config).
STORES: dict[str, ObjectStore] = {}


class StoreLake(LakeResource):
    """The lake resource over a store chosen by the test (local tree, S3, or a failing wrapper)."""

    store_id: str

    def object_store(self) -> ObjectStore:
        return STORES[self.store_id]


def parameters(tmp_path: Path, buckets: dict[str, str] = BUCKETS) -> LocalParametersResource:
    """A parameters file naming the layer buckets (``test-raw`` … ``test-gold`` by default)."""
    path = tmp_path / "parameters.yaml"
    values = {settings.PARAMETER_NAMES.bucket(layer): name for layer, name in buckets.items()}
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return LocalParametersResource(parameters_file=str(path))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MotoS3:
    client: Any  # a boto3 S3 client
    buckets: dict[str, str]  # layer → bucket name (unique to this server's use)


@contextmanager
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    """A moto S3 server on a free loopback port with fresh layer buckets; all removed on exit.

    ``AWS_ENDPOINT_URL`` points every client at the server. moto keeps its state per process, so
    bucket names are unique and emptied afterwards: other tests' servers are never disturbed.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    suffix = uuid.uuid4().hex[:8]
    buckets = {layer: f"test-{layer}-{suffix}" for layer in settings.LAYERS}
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
        for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(variable, raising=False)
        client = boto3.client(
            "s3", config=Config(max_pool_connections=32, retries={"total_max_attempts": 3})
        )
        for bucket in buckets.values():
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
            )
        try:
            yield MotoS3(client, buckets)
        finally:
            for bucket in buckets.values():
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                    if keys:
                        client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
                client.delete_bucket(Bucket=bucket)
    finally:
        server.stop()
