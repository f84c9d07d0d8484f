"""The README's main command, run as a user runs it: it must exit 0 and leave a gold table."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_dev_run_materializes_everything_and_prints_a_summary(tmp_path: Path) -> None:
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
    out = result.stdout
    assert "succeeded" in out and "checks: 22/22 passed" in out
    gold_dir = tmp_path / "lake/data-lakehouse-gold/wordpress_api/statistics_postname"
    gold = pd.read_parquet(gold_dir)
    assert len(gold) > 1000 and set(gold.post_type) == {"post"}
    line = next(
        x for x in out.splitlines() if x.startswith("gold/wordpress_api/statistics_postname")
    )
    assert line.split()[1] == str(len(gold)) and line.split()[2] == str(gold_dir)
    assert "dagster dev" in out
