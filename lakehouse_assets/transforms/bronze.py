"""Raw JSON rows → bronze: every field kept, every value as text, plus ingestion metadata.

Keeping values as text makes every snapshot's schema the same whatever the endpoint sends
(PHP strings today, numbers tomorrow), so no Parquet file can disagree on a column's type;
silver owns typing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa


def as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def bronze_table(rows: list[dict[str, Any]], ingested_at: datetime, snapshot: str) -> pa.Table:
    """All columns in first-seen order (missing values null), then the ingestion columns."""
    columns: dict[str, None] = {}
    for row in rows:
        for name in row:
            columns.setdefault(name, None)
    arrays = {
        name: pa.array([as_text(row.get(name)) for row in rows], type=pa.string())
        for name in columns
    }
    count = len(rows)
    arrays["_ingested_at"] = pa.array([ingested_at] * count, type=pa.timestamp("us", tz="UTC"))
    arrays["_raw_snapshot"] = pa.array([snapshot] * count, type=pa.string())
    return pa.table(arrays)
