"""Ownership and tags shared by every WordPress asset (shown and filterable in the UI)."""

from __future__ import annotations

from lakehouse_assets.sources.wordpress_api.datasets import SOURCE

OWNERS = ["team:data-engineering"]

#: Concurrency pool of every WordPress asset: a deployment (deploy/dagster.yaml) lets one run
#: of the source hold it at a time, however the run was launched (job, schedule, UI).
POOL = SOURCE


def asset_tags(layer: str) -> dict[str, str]:
    return {"layer": layer, "source": SOURCE}
