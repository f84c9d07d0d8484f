"""Raw history: one immutable JSON snapshot per ingestion, never overwritten.

Keys sort by time: ``{source}/{dataset}/ingest_date=YYYY-MM-DD/{dataset}_{UTC stamp}_{run}.json``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore

STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
KEY_PATTERN = re.compile(r"_(?P<stamp>\d{8}T\d{12}Z)_[0-9a-z]+\.json$")


def snapshot_key(source: str, dataset: str, moment: datetime, run_id: str) -> str:
    moment = moment.astimezone(UTC)
    run = re.sub(r"[^0-9a-z]", "", run_id.lower())[:8] or "local"
    return (
        f"{source}/{dataset}/ingest_date={moment:%Y-%m-%d}/"
        f"{dataset}_{moment.strftime(STAMP_FORMAT)}_{run}.json"
    )


def ingested_at(key: str) -> datetime | None:
    match = KEY_PATTERN.search(key)
    if not match:
        return None
    return datetime.strptime(match.group("stamp"), STAMP_FORMAT).replace(tzinfo=UTC)


def latest_snapshot(
    store: ObjectStore, bucket: str, source: str, dataset: str
) -> ObjectInfo | None:
    """The newest snapshot of a dataset (keys sort by ingestion time)."""
    newest: ObjectInfo | None = None
    for info in store.list(bucket, f"{source}/{dataset}/ingest_date="):
        if KEY_PATTERN.search(info.key) and (newest is None or info.key > newest.key):
            newest = info
    return newest
