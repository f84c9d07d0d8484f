"""Spotify's bronze, silver and gold: entries as text, the contract's tables per week, a chart.

Silver is rebuilt from the raw pages of its own week (the source's rules need the pages: an
entry's place in its playlist is its page's offset plus its index); bronze keeps every entry as
text for anyone who wants what the API sent. Gold reads every kept week's silver version.
"""

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.lake.layout import TableAddress
from lakehouse_assets.lake.snapshots import kept_snapshots
from lakehouse_assets.medallion.checks import volume_check
from lakehouse_assets.medallion.layers import build_bronze_asset, fail_if_shrunk, volume_spec
from lakehouse_assets.medallion.lineage import lineage_metadata
from lakehouse_assets.medallion.partitions import SNAPSHOT_METADATA
from lakehouse_assets.medallion.raw import snapshot_for_step
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.sources.spotify.datasets import POPULAR_SONGS, SPOTIFY, TOP_PLAYED
from lakehouse_assets.sources.spotify.gold import CHART_LINEAGE, weekly_chart
from lakehouse_assets.sources.spotify.raw import read_pages
from lakehouse_assets.sources.spotify.silver import (
    popular_songs_bronze_rows,
    popular_songs_table,
    top_played_bronze_rows,
    top_played_table,
)

CHART = "weekly_chart"


def pages_by_playlist(snapshot: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The snapshot's pages, one group per configured playlist in the configured (snapshot)
    order: a playlist configured twice is listed twice, each time from its first page (page 1
    starts a group, as does a change of playlist)."""
    grouped: list[tuple[str, list[Any]]] = []
    for page in snapshot:
        playlist_id = str(page.get("playlist_id"))
        if not grouped or grouped[-1][0] != playlist_id or page.get("page") == 1:
            grouped.append((playlist_id, []))
        grouped[-1][1].append(page.get("response"))
    return grouped


def top_pages(snapshot: list[dict[str, Any]]) -> list[Any]:
    return [page.get("response") for page in snapshot]


def _bronze_rows(dataset: str) -> Any:
    def rows(path: Path) -> list[dict[str, Any]]:
        snapshot = read_pages(path)
        if dataset == POPULAR_SONGS.name:
            return list(popular_songs_bronze_rows(pages_by_playlist(snapshot)))
        return list(top_played_bronze_rows(top_pages(snapshot)))

    return rows


def build_bronze_assets(partitions: dg.WeeklyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [
        build_bronze_asset(
            SPOTIFY,
            schema,
            partitions,
            description=f"{schema.description} Every entry's fields as text, after its place.",
            rows_of_snapshot=_bronze_rows(schema.name),
        )
        for schema in (POPULAR_SONGS, TOP_PLAYED)
    ]


def build_silver_asset(
    dataset: str, partitions: dg.WeeklyPartitionsDefinition
) -> dg.AssetsDefinition:
    key = SPOTIFY.key("silver", dataset)
    what = (
        "Tracks of the configured playlists, in playlist then API order"
        if dataset == POPULAR_SONGS.name
        else "The user's most played tracks, by rank"
    )

    @dg.asset(
        key=key,
        deps=[SPOTIFY.key("bronze", dataset)],
        description=f"{what}: the contract's columns; null entries, local files and episodes "
        "left out and counted; track_pop null where the API no longer sends popularity.",
        metadata=SNAPSHOT_METADATA,
        partitions_def=partitions,
        check_specs=volume_spec(key, partitions),
        **SPOTIFY.asset_options("silver"),
    )
    def silver_table(context: dg.AssetExecutionContext, lake: LakeResource) -> Iterator[object]:
        snapshot = snapshot_for_step(context, lake, SPOTIFY.name, dataset)
        with lake.object_store().local_copy(lake.bucket("raw"), snapshot.key) as path:
            pages = read_pages(path)
        if dataset == POPULAR_SONGS.name:
            table, report = popular_songs_table(pages_by_playlist(pages))
        else:
            table, report = top_played_table(top_pages(pages))
        volume = volume_check(context, lake, key, table.num_rows)
        yield volume
        fail_if_shrunk(volume, "silver", SPOTIFY.name, dataset)
        yield dg.Output(
            table, metadata={"raw_snapshot": snapshot.key, **_json_metadata(report.metadata())}
        )

    return silver_table


def _json_metadata(values: dict[str, Any]) -> dict[str, Any]:
    return {k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in values.items()}


def kept_weeks(lake: LakeResource, dataset: str, until: str) -> dict[str, pa.Table]:
    """Every kept weekly version of a silver table up to ``until``, by week."""
    store = lake.object_store()
    bucket = lake.bucket("silver")
    address = TableAddress("silver", SPOTIFY.name, dataset)
    weeks: dict[str, pa.Table] = {}
    for week, key in kept_snapshots(store, bucket, address).items():
        if week <= until:
            with store.local_copy(bucket, key) as path:
                weeks[week] = pq.read_table(path)
    return weeks


def chart_weeks(lake: LakeResource, until: str) -> Sequence[tuple[date, pa.Table, pa.Table]]:
    popular = kept_weeks(lake, POPULAR_SONGS.name, until)
    played = kept_weeks(lake, TOP_PLAYED.name, until)
    return [
        (date.fromisoformat(week), popular[week], played[week])
        for week in sorted(popular.keys() & played.keys())
    ]


def build_gold_chart(partitions: dg.WeeklyPartitionsDefinition) -> dg.AssetsDefinition:
    key = SPOTIFY.key("gold", CHART)

    @dg.asset(
        key=key,
        deps=[SPOTIFY.key("silver", POPULAR_SONGS.name), SPOTIFY.key("silver", TOP_PLAYED.name)],
        description="Which songs are most played and popular week by week: each kept week's "
        "chart (played 50%, listed in playlists 30%, popularity 20%) with the rank change "
        "since the previous kept week.",
        metadata=SNAPSHOT_METADATA,
        partitions_def=partitions,
        check_specs=volume_spec(key, partitions),
        **SPOTIFY.asset_options("gold"),
    )
    def weekly_chart_table(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> Iterator[object]:
        weeks = chart_weeks(lake, context.partition_key)
        table = weekly_chart(weeks)
        volume = volume_check(context, lake, key, table.num_rows)
        yield volume
        fail_if_shrunk(volume, "gold", SPOTIFY.name, CHART)
        yield dg.Output(
            table, metadata={"weeks": len(weeks), **lineage_metadata(SPOTIFY, CHART_LINEAGE)}
        )

    return weekly_chart_table
