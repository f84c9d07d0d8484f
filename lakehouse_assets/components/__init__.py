"""Declared sources: a REST API described in YAML (a Dagster component in a defs folder)
gets the whole medallion pipeline without Python of its own."""

from lakehouse_assets.components.component import RestSourceComponent
from lakehouse_assets.components.loading import DEFS_MODULE, declared_sources

__all__ = ["DEFS_MODULE", "RestSourceComponent", "declared_sources"]
