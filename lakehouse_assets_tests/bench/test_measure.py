"""Memory figures are the measured process's own."""

from __future__ import annotations

import subprocess
import sys

CHILD = "from lakehouse_assets.bench.measure import peak_rss_bytes; print(peak_rss_bytes())"


def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    """Regression: ``ru_maxrss`` of a vfork+exec child carries its parent's peak (the bench
    runner holds the served site: the 10x run reported 2.4 GB for a 1.5 GB pipeline)."""
    held = bytearray(400 * 2**20)
    for offset in range(0, len(held), 4096):  # touch every page: resident in this process
        held[offset] = 1
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=60
    )
    assert int(out.stdout) < 200 * 2**20 < len(held)


def test_the_memory_target_is_1_gib_at_the_default_scale_and_2_gib_above() -> None:
    from lakehouse_assets.bench import DEFAULT_STATISTICS_ROWS
    from lakehouse_assets.bench.runner import peak_rss_limit

    assert peak_rss_limit(DEFAULT_STATISTICS_ROWS) == 2**30
    assert peak_rss_limit(10 * DEFAULT_STATISTICS_ROWS) == 2 * 2**30
