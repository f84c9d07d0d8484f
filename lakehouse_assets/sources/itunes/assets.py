"""The iTunes assets: one bronze partition per landed export, silver ``tracks`` from the newest
export, gold ``play_history`` rebuilt from every kept export.

Silver and gold read bronze partitions straight from the lake (not as Dagster inputs: a
quarantined file leaves its partition empty, and an export is chosen by its own date, which
only the files know). Each bronze file records its export date and landing time in its schema
metadata, so choosing the newest reads footers only.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse_assets.errors import ConfigurationError, DataContractError
from lakehouse_assets.lake.layout import TABLE_FILE, TableAddress
from lakehouse_assets.lake.object_store import ObjectInfo
from lakehouse_assets.medallion.checks import volume_check
from lakehouse_assets.medallion.engine import constant_text
from lakehouse_assets.medallion.landing import ParsedFile
from lakehouse_assets.medallion.layers import fail_if_shrunk, volume_spec
from lakehouse_assets.medallion.lineage import lineage_metadata
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.sources.itunes.datasets import (
    DATE_ORDER_PARAMETER,
    DEFAULT_DATE_ORDER,
    ITUNES,
    TRACKS,
)
from lakehouse_assets.sources.itunes.exports import export_date, parse_export
from lakehouse_assets.sources.itunes.gold import (
    PLAY_HISTORY_LINEAGE,
    Export,
    newest_export,
    play_history_table,
)
from lakehouse_assets.sources.itunes.silver import DATE_ORDERS, tracks_table

EXPORT_METADATA = b"lakehouse.itunes.export"
#: Silver and gold follow new exports on a deployment (the automation sensor starts them once the
#: bronze runs are done); quarantined files, whose partitions stay empty, do not hold them back.
ON_NEW_EXPORTS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


def parse(body: bytes, info: ObjectInfo, processed_at: datetime) -> ParsedFile:
    """A landed export as its bronze partition: every column as text, plus ingestion columns."""
    table = parse_export(body, info.key)
    landed_at = datetime.fromtimestamp(info.last_modified, UTC)
    day = export_date(info.key, landed_at)
    rows = table.num_rows
    table = table.append_column(
        "_ingested_at", pa.array([processed_at] * rows, pa.timestamp("us", tz="UTC"))
    )
    table = table.append_column("_source_file", constant_text(info.key, rows))
    described = {
        "export_date": day.isoformat(),
        "landed_at": landed_at.isoformat(),
        "key": info.key,
    }
    table = table.replace_schema_metadata({EXPORT_METADATA: json.dumps(described)})
    return ParsedFile(
        table, {"export_date": day.isoformat(), "landed_at": landed_at.isoformat(), "rows": rows}
    )


@dataclass(frozen=True)
class KeptExport:
    key: str  # the bronze object holding it
    export_date: str
    landed_at: str
    source_key: str


def kept_exports(lake: LakeResource) -> list[KeptExport]:
    """Every export in bronze, described from its footer."""
    store = lake.object_store()
    bucket = lake.bucket("bronze")
    address = TableAddress("bronze", ITUNES.name, TRACKS.schema.name)
    kept = []
    for info in store.list(bucket, address.prefix):
        if not info.key.endswith(f"/{TABLE_FILE}"):
            continue
        with store.local_copy(bucket, info.key) as path:
            described = (pq.read_schema(path).metadata or {}).get(EXPORT_METADATA)
        if described is None:
            continue
        value = json.loads(described)
        kept.append(KeptExport(info.key, value["export_date"], value["landed_at"], value["key"]))
    return kept


def read_export(lake: LakeResource, kept: KeptExport) -> pa.Table:
    store = lake.object_store()
    with store.local_copy(lake.bucket("bronze"), kept.key) as path:
        return pq.read_table(path)


def date_order(parameters: ParametersResource) -> str:
    order = parameters.get_string_or(DATE_ORDER_PARAMETER, DEFAULT_DATE_ORDER).strip().upper()
    if order not in DATE_ORDERS:
        raise ConfigurationError(
            f"itunes: parameter {DATE_ORDER_PARAMETER} must be one of {', '.join(DATE_ORDERS)}"
        )
    return order


def as_export(kept: KeptExport, tracks: pa.Table) -> Export:
    return Export(
        export_date=datetime.fromisoformat(kept.export_date).date(),
        landed_at=datetime.fromisoformat(kept.landed_at),
        tracks=tracks,
        key=kept.source_key,
    )


def no_exports() -> DataContractError:
    return DataContractError(
        "silver", ITUNES.name, "tracks", "no export has reached bronze yet: land one first"
    )


def shrink_warning(
    context: dg.AssetExecutionContext, volume: dg.AssetCheckResult, chosen: KeptExport
) -> dg.AssetCheckResult:
    """The volume check of silver ``tracks``, as a warning: the contract makes silver the
    newest export, and an export is a whole, deliberate snapshot (a damaged file never gets
    this far: it is quarantined), so a far smaller one is shown, not blocked."""
    if volume.passed:
        return volume
    context.log.warning(
        f"silver itunes/tracks: {volume.description} (export {chosen.source_key}); published, "
        "as the newest export always is"
    )
    return volume._replace(severity=dg.AssetCheckSeverity.WARN)


def build_silver_tracks() -> dg.AssetsDefinition:
    key = ITUNES.key("silver", "tracks")

    @dg.asset(
        key=key,
        deps=[TRACKS.source.key("bronze", "tracks")],
        description="The newest iTunes export (by export date, then landing time), typed: one "
        "row per export line in file order (a far smaller one too: the volume check only warns). "
        "Location never leaves bronze.",
        check_specs=volume_spec(key, None),
        automation_condition=ON_NEW_EXPORTS,
        **ITUNES.asset_options("silver"),
    )
    def tracks(
        context: dg.AssetExecutionContext, lake: LakeResource, parameters: ParametersResource
    ) -> Iterator[object]:
        order = date_order(parameters)
        kept = {k.source_key: k for k in kept_exports(lake)}
        if not kept:
            raise no_exports()
        newest = newest_export([as_export(k, pa.table({})) for k in kept.values()])
        chosen = kept[newest.key]
        table, report = tracks_table(read_export(lake, chosen), order)
        # Exactly the contract's columns: ingestion columns stay in bronze.
        table = table.drop_columns([c for c in table.column_names if c.startswith("_")])
        yield shrink_warning(context, volume_check(context, lake, key, table.num_rows), chosen)
        yield dg.Output(
            table,
            metadata={
                "export": chosen.source_key,
                "export_date": chosen.export_date,
                "exports_kept": len(kept),
                "date_order": order,
                **report.metadata(),
            },
        )

    return tracks


def build_gold_play_history() -> dg.AssetsDefinition:
    key = ITUNES.key("gold", "play_history")

    @dg.asset(
        key=key,
        deps=[ITUNES.key("silver", "tracks")],
        description="Plays per track per export date, with the change since the most recent "
        "earlier export listing the track; rebuilt from every kept export.",
        check_specs=volume_spec(key, None),
        automation_condition=ON_NEW_EXPORTS,
        **ITUNES.asset_options("gold"),
    )
    def play_history(
        context: dg.AssetExecutionContext, lake: LakeResource, parameters: ParametersResource
    ) -> Iterator[object]:
        order = date_order(parameters)
        kept = kept_exports(lake)
        if not kept:
            raise no_exports()
        exports = [as_export(k, tracks_table(read_export(lake, k), order)[0]) for k in kept]
        table = play_history_table(exports)
        volume = volume_check(context, lake, key, table.num_rows)
        yield volume
        fail_if_shrunk(volume, "gold", ITUNES.name, "play_history")
        yield dg.Output(
            table,
            metadata={"exports": len(exports), **lineage_metadata(ITUNES, PLAY_HISTORY_LINEAGE)},
        )

    return play_history
