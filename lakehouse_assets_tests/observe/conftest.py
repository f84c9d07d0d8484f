"""The aws tests' moto server (one per session), for the observe tests that run on aws."""

from lakehouse_assets_tests.aws.conftest import moto_endpoint

__all__ = ["moto_endpoint"]
