"""The session's moto server (shared with the aws tests) and the fault proxy in front of it."""

from collections.abc import Iterator

import pytest

from lakehouse_assets_tests.aws.conftest import moto_endpoint
from lakehouse_assets_tests.reliability.aws_fault_proxy import FaultProxy, fault_proxy

__all__ = ["moto_endpoint"]


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    """A fresh fault proxy forwarding to moto (no faults until a test adds them)."""
    with fault_proxy(moto_endpoint) as running:
        yield running
