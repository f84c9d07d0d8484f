"""The Dagster instance home the ``lakehouse`` commands use, made ready on first use."""

from __future__ import annotations

import os
from pathlib import Path


def dagster_home() -> Path:
    """DAGSTER_HOME, or ``.dagster_home`` here so `dagster dev` later shows the same runs."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
