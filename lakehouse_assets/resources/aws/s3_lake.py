"""The lake on S3: one bucket per layer, names still from the parameters (as locally)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, PrivateAttr

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.lake.object_store import ObjectStore
from lakehouse_assets.lake.s3_object_store import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    SSE_S3,
    S3ObjectStore,
)
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.lake import LakeResource


class S3LakeResource(LakeResource):
    """Layer buckets on S3; every object written is encrypted (SSE-S3, or SSE-KMS with a key).

    Every bucket parameter must be set: no run on AWS writes to a default bucket name.
    """

    bucket_defaults: ClassVar[bool] = False

    aws: AwsClientsResource
    sse_algorithm: str = Field(default=SSE_S3, description="AES256 (SSE-S3) or aws:kms (SSE-KMS).")
    kms_key_id: str | None = Field(default=None, description="KMS key id/ARN for aws:kms.")
    multipart_threshold_bytes: int = DEFAULT_MULTIPART_THRESHOLD
    part_size_bytes: int = DEFAULT_PART_SIZE

    _store: S3ObjectStore | None = PrivateAttr(default=None)

    def object_store(self) -> ObjectStore:
        if self._store is None:
            try:
                self._store = S3ObjectStore(
                    self.aws.client("s3"),
                    sse_algorithm=self.sse_algorithm,
                    kms_key_id=self.kms_key_id or None,
                    multipart_threshold=self.multipart_threshold_bytes,
                    part_size=self.part_size_bytes,
                )
            except ValueError as exc:
                raise ConfigurationError(f"S3 lake: {exc}") from None
        return self._store
