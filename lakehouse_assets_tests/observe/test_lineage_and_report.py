"""Column lineage on gold materializations (each gold column's silver columns, from the gold
modules' mappings), and ``lakehouse report`` over real local runs: the run's usage and cost in
the table and a self-contained SVG chart."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from lakehouse_assets import settings
from lakehouse_assets.cli import main
from lakehouse_assets.medallion.lineage import COLUMN_LINEAGE_METADATA, column_lineage
from lakehouse_assets.sources.itunes.datasets import ITUNES
from lakehouse_assets.sources.itunes.gold import PLAY_HISTORY_LINEAGE, SCHEMA


def lineage(instance: dg.DagsterInstance, key: str) -> dict[str, list[str]]:
    event = instance.get_latest_materialization_event(dg.AssetKey(key.split("/")))
    assert event is not None and event.asset_materialization is not None
    value = event.asset_materialization.metadata[COLUMN_LINEAGE_METADATA].value
    assert isinstance(value, dg.TableColumnLineage)
    return {
        column: [f"{d.asset_key.to_user_string()}.{d.column_name}" for d in deps]
        for column, deps in value.deps_by_column.items()
    }


def test_gold_tables_record_their_column_lineage_and_report_shows_the_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The local default: every source on its packaged sample."""
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(settings.DEPLOYMENT_VAR, "local")
    monkeypatch.setenv(settings.ROOT_VAR, str(tmp_path / "lake"))
    monkeypatch.delenv(settings.PARAMETERS_FILE_VAR, raising=False)
    for source in ("wordpress_api", "itunes", "spotify"):
        assert main(["run", "--source", source]) == 0
    summary = capsys.readouterr().out
    # The packaged site: one request per page of its three endpoints.
    assert "usage: HTTP 5 requests" in summary
    with dg.DagsterInstance.from_config(str(home)) as instance:
        wordpress = lineage(instance, "gold/wordpress_api/statistics_postname")
        assert len(wordpress) == 15
        assert wordpress["post_ID"] == ["silver/wordpress_api/posts.ID"]
        assert wordpress["statistics_id"] == ["silver/wordpress_api/statistics_pages.page_id"]
        assert wordpress["statistics_count"] == ["silver/wordpress_api/statistics_pages.count"]
        itunes = lineage(instance, "gold/itunes/play_history")
        assert "export_date" not in itunes  # from the export's date, no column
        assert itunes["plays"] == ["silver/itunes/tracks.plays"]
        chart = lineage(instance, "gold/spotify/weekly_chart")
        assert chart["top_rank"] == ["silver/spotify/top_played.position"]
        assert chart["track"] == [
            "silver/spotify/popular_songs.track",
            "silver/spotify/top_played.track",
        ]

    out = tmp_path / "runs.html"
    assert main(["report", "--since", "1d", "--region", "eu-west-2", "--chart", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["started", "(UTC)", "run", "job"]
    wordpress_rows = [line for line in table if " wordpress_api_job " in line]
    assert len(wordpress_rows) == 1
    cells = wordpress_rows[0].split()
    # S3 GET PUT LIST HEAD, other AWS, HTTP requests: a local run reaches AWS for nothing.
    assert cells[-8:-2] == ["0", "0", "0", "0", "0", "5"]
    assert cells[-1] == "0.000000"
    assert any("at eu-west-2 list prices of 2025-06-01" in line for line in table)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
    assert page.count('fill="#1b9e77"><title>') >= 2  # HTTP bars of wordpress and spotify


def test_itunes_play_history_lineage_covers_its_columns() -> None:
    """(Its materialization uses the same helper; landing exports is the itunes tests' job.)"""
    deps = column_lineage(ITUNES, PLAY_HISTORY_LINEAGE).deps_by_column
    assert set(PLAY_HISTORY_LINEAGE) == set(SCHEMA.names)
    assert "export_date" not in deps  # from the export's date, no column
    assert [d.column_name for d in deps["plays"]] == ["plays"]
    assert {d.asset_key for c in deps.values() for d in c} == {ITUNES.key("silver", "tracks")}
