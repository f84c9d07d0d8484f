"""The lake: layer buckets (named by parameters) on an object store.

Bucket names are configuration, and a bad one must stop a run before it fetches or writes
anything: all four are read (one parameter call) and checked against S3's bucket naming rules on
first use, which raw assets trigger before their first request. Locally a missing name falls back
to the original stack's default; on AWS there is no default (a production run writing to a
guessed bucket is worse than one that fails naming the parameter).
"""

from __future__ import annotations

import ipaddress
import re
from abc import ABC, abstractmethod
from typing import ClassVar

import dagster as dg
from pydantic import PrivateAttr

from lakehouse_assets import settings
from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.layout import STAGING_ROOT, TableAddress
from lakehouse_assets.lake.object_store import LocalObjectStore, ObjectStore, reap_temp_files
from lakehouse_assets.resources.parameters import ParametersResource

#: S3 general purpose bucket names: 3–63 characters of lowercase letters, digits, dots and
#: hyphens, beginning and ending with a letter or digit.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid S3 bucket name (so also not a safe directory name), or None."""
    if not _BUCKET_NAME.fullmatch(name):
        return (
            "must be 3-63 characters of lowercase letters, digits, dots and hyphens, "
            "beginning and ending with a letter or digit"
        )
    if ".." in name:
        return "must not contain two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "must not be formatted as an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "uses a prefix or suffix S3 reserves"
    return None


def _shown(value: str) -> str:
    """The rejected value, quoted and shortened (bucket names are not secret, but may be long)."""
    return repr(value if len(value) <= 80 else f"{value[:77]}...")


class LakeResource(dg.ConfigurableResource, ABC):
    """Layer buckets on an object store; bucket names come from the parameters."""

    #: Whether a layer whose bucket parameter is missing uses the original stack's bucket name.
    bucket_defaults: ClassVar[bool] = True

    parameters: ParametersResource

    _buckets: dict[str, str] | None = PrivateAttr(default=None)

    @abstractmethod
    def object_store(self) -> ObjectStore:
        """The store holding the layer buckets."""

    def bucket(self, layer: str) -> str:
        """The layer's bucket; every layer's name is read and validated on the first call."""
        if self._buckets is None:
            self._buckets = self._resolve_buckets()
        return self._buckets[layer]

    def _resolve_buckets(self) -> dict[str, str]:
        names = {layer: settings.PARAMETER_NAMES.bucket(layer) for layer in settings.LAYERS}
        found = self.parameters.lookup(list(names.values()))
        missing = [name for name in names.values() if name not in found]
        if missing and not self.bucket_defaults:
            raise ConfigurationError(
                f"bucket parameter(s) missing from {self.parameters.describe()}: "
                f"{', '.join(missing)}"
            )
        buckets: dict[str, str] = {}
        for layer, name in names.items():
            value = found.get(name)
            if value is None:
                buckets[layer] = settings.DEFAULT_BUCKETS[layer]
                continue
            if not isinstance(value, str):
                raise ConfigurationError(f"parameter {name}: a bucket name must be one string")
            problem = bucket_name_problem(value)
            if problem is not None:
                raise ConfigurationError(
                    f"parameter {name}: bucket name {_shown(value)} is not a valid S3 bucket "
                    f"name ({problem})"
                )
            buckets[layer] = value
        return buckets

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
            self.reap_staging()
        return self._store

    def reap_staging(self) -> list[str]:
        """Remove the temp files killed writers left in each bucket's ``_staging/`` folder (a
        live writer's are kept): the first step of the next run clears what a crash left."""
        store = self._store
        if store is None:
            return []
        removed: list[str] = []
        for layer in settings.LAYERS:
            removed += reap_temp_files(store.root / self.bucket(layer) / STAGING_ROOT)
        return removed
