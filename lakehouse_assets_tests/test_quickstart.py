"""The README's main command, run as a user runs it: every source on the embedded default.

It must exit 0, print a succeeding run per source, and leave each source's tables readable at
their contract locations; a second `./dev run` processes no landed file twice.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
GOLD = {
    "wordpress_api": "statistics_postname",
    "spotify": "weekly_chart",
    "itunes": "play_history",
    "wordpress_rest": "posts_with_terms",
}


def dev_run(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DAGSTER_"))}
    env.update({"LAKEHOUSE_ROOT": str(tmp_path / "lake"), "DAGSTER_HOME": str(tmp_path / "home")})
    result = subprocess.run(
        ["./dev", "run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_dev_run_runs_every_source_and_prints_a_summary(tmp_path: Path) -> None:
    out = dev_run(tmp_path).stdout
    assert "FAILED" not in out
    assert "checks: 25/25 passed" in out  # wordpress_api: every check of every layer
    lake = tmp_path / "lake"
    gold_dir = lake / "data-lakehouse-gold/wordpress_api/statistics_postname"
    gold = pd.read_parquet(gold_dir)
    assert len(gold) > 1000 and set(gold.post_type) == {"post"}
    line = next(
        x for x in out.splitlines() if x.startswith("gold/wordpress_api/statistics_postname")
    )
    assert line.split()[1] == str(len(gold)) and line.split()[2] == str(gold_dir)
    for source, table in GOLD.items():
        assert len(pd.read_parquet(lake / f"data-lakehouse-gold/{source}/{table}")) > 0, source
    tracks = pd.read_parquet(lake / "data-lakehouse-silver/itunes/tracks")
    assert "location" not in {c.lower() for c in tracks.columns}
    enriched = pd.read_parquet(lake / "data-lakehouse-silver/transactions/enriched")
    assert enriched["transaction_id"].notna().all() and len(enriched) > 0
    assert "dagster dev" in out

    again = dev_run(tmp_path).stdout
    assert "itunes: nothing new has landed" in again
    assert "transactions: nothing new has landed" in again
