"""Raw history: one immutable JSON snapshot per ingestion, never overwritten.

Keys sort by day, then time:
``{source}/{dataset}/ingest_date=YYYY-MM-DD/{dataset}_{UTC stamp}_{run}.json``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lakehouse_assets.lake.object_store import ObjectInfo, ObjectStore

STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
KEY_PATTERN = re.compile(r"_(?P<stamp>\d{8}T\d{12}Z)_[0-9a-z]+\.json$")


def snapshot_key(source: str, dataset: str, ingest_date: str, moment: datetime, run_id: str) -> str:
    """Key of a new snapshot for partition ``ingest_date`` fetched at ``moment``."""
    moment = moment.astimezone(UTC)
    run = re.sub(r"[^0-9a-z]", "", run_id.lower())[:8] or "local"
    return (
        f"{source}/{dataset}/ingest_date={ingest_date}/"
        f"{dataset}_{moment.strftime(STAMP_FORMAT)}_{run}.json"
    )


def ingested_at(key: str) -> datetime | None:
    match = KEY_PATTERN.search(key)
    if not match:
        return None
    return datetime.strptime(match.group("stamp"), STAMP_FORMAT).replace(tzinfo=UTC)


def latest_snapshot(
    store: ObjectStore, bucket: str, source: str, dataset: str, ingest_date: str | None = None
) -> ObjectInfo | None:
    """The newest snapshot of a dataset, or of one ingestion day (keys sort by time)."""
    prefix = f"{source}/{dataset}/ingest_date="
    if ingest_date is not None:
        prefix = f"{prefix}{ingest_date}/"
    newest: ObjectInfo | None = None
    for info in store.list(bucket, prefix):
        if KEY_PATTERN.search(info.key) and (newest is None or info.key > newest.key):
            newest = info
    return newest
