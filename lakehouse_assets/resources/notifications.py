"""Alerts: an SNS topic per layer on AWS; the Dagster log plus an outbox file locally."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from lakehouse_assets import settings


class NotificationsResource(dg.ConfigurableResource, ABC):
    """Publishes an alert to the topic of a layer, or the pipeline topic when ``layer`` is None."""

    @abstractmethod
    def publish(self, layer: str | None, subject: str, message: dict[str, Any]) -> str:
        """Deliver the alert; returns a message id. Raises if it could not be delivered."""


class LocalNotificationsResource(NotificationsResource):
    """Appends alerts as JSON lines to ``{LAKEHOUSE_ROOT}/_alerts/outbox.jsonl`` and logs them."""

    outbox_path: str | None = None

    def outbox(self) -> str:
        if self.outbox_path:
            return str(settings.resolve_path(self.outbox_path))
        return str(settings.lakehouse_root() / "_alerts" / "outbox.jsonl")

    def publish(self, layer: str | None, subject: str, message: dict[str, Any]) -> str:
        topic = layer or "pipeline"
        sent_at = datetime.now(UTC).isoformat()
        record = {"topic": topic, "subject": subject, "message": message, "sent_at": sent_at}
        path = settings.resolve_path(self.outbox())
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        dg.get_dagster_logger().warning(f"alert [{topic}] {subject}")
        return f"local-{sent_at}"
