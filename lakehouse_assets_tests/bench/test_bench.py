"""`lakehouse bench` at a small scale: the report's shape, and that the three implementations
(the pipeline through Dagster, the floor script, the original pandas approach) build the same
gold table from the same served site. Timings are not asserted: they belong to the machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse_assets.bench.synthetic import SiteGenerator
from lakehouse_assets.cli import main

ASSETS = [
    f"{layer}/wordpress_api/{dataset}"
    for layer in ("raw", "bronze", "silver")
    for dataset in ("posts", "statistics_pages", "terms")
] + ["gold/wordpress_api/statistics_postname"]


def test_generator_serves_exactly_the_rows_asked_for_with_the_samples_quirks() -> None:
    generator = SiteGenerator(posts=300, statistics_rows=4321, page_size=1000, days=60)
    site = generator.build()
    stats = site.table("statistics_pages")
    rows = [row for page in stats.pages for row in json.loads(page)]
    assert len(rows) == stats.rows == 4321 and len(stats.pages) == 5
    assert all(isinstance(v, str) for row in rows for v in row.values())
    page_ids = [row["page_id"] for row in rows]
    assert len(page_ids) - len(set(page_ids)) == 1  # one row written twice, as WP Statistics does
    posts = [row for page in site.table("posts").pages for row in json.loads(page)]
    assert len(posts) == 300
    assert {"post", "postcard", "page"} <= {p["post_type"] for p in posts}
    assert any(p["post_date_gmt"] == "0000-00-00 00:00:00" for p in posts)
    status, headers, _ = site.respond("/wp-json/lakehouse-sample/v1/statistics_pages_q7x2d/", {})
    assert (status, headers["X-WP-Total"], headers["X-WP-TotalPages"]) == (200, "4321", "5")
    past_end = {"page": ["6"]}
    assert site.respond("/wp-json/lakehouse-sample/v1/statistics_pages_q7x2d/", past_end)[0] == 400
    added = generator.next_day(site)
    assert added > 0 and site.table("statistics_pages").rows == 4321 + added
    last = json.loads(site.table("statistics_pages").pages[-1])
    assert last[-1]["date"] > rows[-2]["date"]


@pytest.mark.integration
@pytest.mark.slow
def test_bench_smoke_reports_every_asset_and_the_same_gold_three_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--posts",
            "200",
            "--statistics-rows",
            "5000",
            "--page-size",
            "1000",
            "--json",
            str(report_path),
            "--workdir",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["scale"]["statistics_rows"] == 5000 and report["scale"]["posts"] == 200
    assert list(report["pipeline"]["assets"]) == ASSETS
    for name, asset in report["pipeline"]["assets"].items():
        assert asset["seconds"] > 0 and asset["peak_rss_bytes"] > 0, name
    assert report["pipeline"]["assets"]["silver/wordpress_api/statistics_pages"]["rows"] == 4999
    for kind in ("pipeline", "floor", "original"):
        assert report[kind]["process_seconds"] > 0 and report[kind]["peak_rss_bytes"] > 0
    assert set(report["floor"]["stages"]) == {"download", "bronze", "silver", "gold"}
    assert report["incremental"]["new_rows"] > 0
    assert report["import"]["seconds"] > 0
    assert set(report["ratios"]) >= {
        "ours_over_floor",
        "original_over_ours",
        "incremental_over_full",
    }
    assert report["gold"]["rows"] > 0
    assert report["gold"]["equals_floor"] is True
    assert report["gold"]["equals_original"] is True
    assert list(report["incremental"]["assets"]) == ASSETS
    storage = report["storage_per_day"]
    assert storage["raw_bytes"] > storage["derived_bytes"] > 0
    assert storage["total_bytes"] == storage["raw_bytes"] + storage["derived_bytes"]
    assert set(report["targets"]) == {
        "ours_over_floor",
        "floor_is_a_floor",
        "original_over_ours",
        "peak_rss",
        "incremental_over_full",
        "import_seconds",
    }
    out = capsys.readouterr().out
    assert "gold/wordpress_api/statistics_postname" in out and "ratios:" in out
    assert "incremental steps: " in out and "storage per day: raw " in out
    assert list(tmp_path.iterdir()) == [report_path]  # temporary lakes removed
