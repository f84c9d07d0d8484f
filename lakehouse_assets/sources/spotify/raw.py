"""Raw layer: each weekly ingestion keeps every API page as received, in one snapshot per dataset.

A snapshot is a JSON array of ``{"playlist_id", "page", "response"}`` objects (``playlist_id``
only for playlists), ``response`` being the page's body byte for byte, so what the API sent
can always be read again, whatever silver makes of it.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.medallion.raw import (
    SNAPSHOT_KEY_METADATA,
    check_partition,
    extract_retry_policy,
    new_snapshot,
    reuse_kept_snapshot,
)
from lakehouse_assets.observe.usage import step_usage_metadata
from lakehouse_assets.resources.lake import LakeResource
from lakehouse_assets.resources.paging import Page
from lakehouse_assets.resources.parameters import ParametersResource
from lakehouse_assets.resources.secrets import SecretsResource
from lakehouse_assets.settings import PipelineSettings
from lakehouse_assets.sources.spotify.client import SpotifyClient
from lakehouse_assets.sources.spotify.datasets import (
    BASE_URL_PARAMETER,
    DEFAULTS,
    PLAYLISTS_PARAMETER,
    POPULAR_SONGS,
    SECRET_ID_PARAMETER,
    SPOTIFY,
    TOKEN_URL_PARAMETER,
    TOP_PLAYED,
)
from lakehouse_assets.sources.spotify.resource import SpotifyApiResource


def playlist_ids(parameters: ParametersResource) -> list[str]:
    ids = parameters.get_list(PLAYLISTS_PARAMETER)
    if not ids:
        raise ConfigurationError(f"spotify: parameter {PLAYLISTS_PARAMETER} lists no playlist")
    return ids


def api_client(
    parameters: ParametersResource, secrets: SecretsResource, spotify_api: SpotifyApiResource
) -> SpotifyClient:
    """The client, its URLs from parameters and its credentials from the secret they name."""
    value = {name: parameters.get_string_or(name, default) for name, default in DEFAULTS.items()}
    secret_id = value[SECRET_ID_PARAMETER]
    return spotify_api.api_client(
        secrets.get_json(secret_id),
        base_url=value[BASE_URL_PARAMETER],
        token_url=value[TOKEN_URL_PARAMETER],
        secret_id=secret_id,
    )


def write_pages(path: Path, pages: Iterable[tuple[str | None, Page]]) -> tuple[int, int]:
    """Write ``(playlist id, page)`` pairs as the snapshot array; returns (pages, bytes)."""
    count = 0
    with open(path, "wb") as out:
        out.write(b"[")
        for playlist_id, page in pages:
            head: dict[str, Any] = {"page": page.number}
            if playlist_id is not None:
                head = {"playlist_id": playlist_id, **head}
            opening = json.dumps(head)[:-1].encode() + b', "response": '
            out.write((b"," if count else b"") + opening + page.body + b"}")
            count += 1
        out.write(b"]")
        size = out.tell()
    return count, size


def read_pages(path: Path) -> list[dict[str, Any]]:
    value = json.loads(path.read_bytes())
    return value if isinstance(value, list) else []


def build_raw_asset(
    dataset: str, partitions: dg.WeeklyPartitionsDefinition, pipeline: PipelineSettings
) -> dg.AssetsDefinition:
    retry_policy = extract_retry_policy(pipeline)

    @dg.asset(
        key=SPOTIFY.key("raw", dataset),
        description=f"Raw Web API pages of {dataset}, as received, kept per ingestion week.",
        partitions_def=partitions,
        retry_policy=retry_policy,
        **SPOTIFY.asset_options("raw", kinds=("json", "raw")),
    )
    def raw_pages(
        context: dg.AssetExecutionContext,
        parameters: ParametersResource,
        lake: LakeResource,
        secrets: SecretsResource,
        spotify_api: SpotifyApiResource,
    ) -> dg.MaterializeResult:
        if not check_partition(partitions, context.partition_key, f"spotify/{dataset}"):
            return reuse_kept_snapshot(context, lake, SPOTIFY.name, dataset)
        ids = playlist_ids(parameters) if dataset == POPULAR_SONGS.name else []
        client = api_client(parameters, secrets, spotify_api)
        lake.bucket("raw")  # every bucket name validated before the first request
        pages: Iterable[tuple[str | None, Page]]
        if dataset == POPULAR_SONGS.name:
            pages = ((i, page) for i in ids for page in client.iter_playlist_pages(i))
        else:
            pages = ((None, page) for page in client.iter_top_track_pages())
        with new_snapshot(context, lake, SPOTIFY.name, dataset, retry_policy) as snapshot:
            count, size = write_pages(snapshot.path, pages)
        key = snapshot.key
        store = lake.object_store()
        return dg.MaterializeResult(
            metadata={
                **step_usage_metadata(),
                "dagster/uri": dg.MetadataValue.path(store.uri(lake.bucket("raw"), key)),
                SNAPSHOT_KEY_METADATA: key,
                "pages": count,
                "playlists": len(ids),
                "token_requests": client.token_requests,
                "size_bytes": size,
                "reused_kept_snapshot": False,
            }
        )

    return raw_pages


def build_raw_assets(
    partitions: dg.WeeklyPartitionsDefinition, pipeline: PipelineSettings
) -> list[dg.AssetsDefinition]:
    return [build_raw_asset(d.name, partitions, pipeline) for d in (POPULAR_SONGS, TOP_PLAYED)]
