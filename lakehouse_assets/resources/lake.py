"""The lake: layer buckets (named by parameters) on an object store."""

from __future__ import annotations

from abc import ABC, abstractmethod

import dagster as dg
from pydantic import PrivateAttr

from lakehouse_assets import settings
from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectStore
from lakehouse_assets.resources.parameters import ParametersResource


class LakeResource(dg.ConfigurableResource, ABC):
    """Layer buckets on an object store; bucket names come from the parameters."""

    parameters: ParametersResource

    _buckets: dict[str, str] | None = PrivateAttr(default=None)

    @abstractmethod
    def object_store(self) -> ObjectStore:
        """The store holding the layer buckets."""

    def bucket(self, layer: str) -> str:
        if self._buckets is None:
            names = settings.PARAMETER_NAMES
            self._buckets = {
                layer_: self.parameters.get_string_or(names.bucket(layer_), default)
                for layer_, default in settings.DEFAULT_BUCKETS.items()
            }
        return self._buckets[layer]

    def table_uri(self, address: TableAddress) -> str:
        """Where the table's dataset lies: ``pandas.read_parquet`` reads it as one table."""
        return self.object_store().uri(self.bucket(address.layer), address.prefix)


class LocalLakeResource(LakeResource):
    """The lake as a directory tree: ``{root}/{bucket}/{source}/{dataset}/…``."""

    root: str | None = None

    _store: LocalObjectStore | None = PrivateAttr(default=None)

    def object_store(self) -> ObjectStore:
        if self._store is None:
            root = settings.lakehouse_root() if not self.root else settings.resolve_path(self.root)
            self._store = LocalObjectStore(root)
        return self._store
