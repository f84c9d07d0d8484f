"""`lakehouse schema SOURCE/DATASET`: a dataset's schema history, read from its materializations.

Why: a source that adds or drops a field changes what every reader sees; the history says when
each version first appeared and what changed, per layer, without anything kept beside the data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_assets.cli import main
from lakehouse_assets_tests.conftest import FixtureSite, LocalLake


def test_a_new_and_a_dropped_field_make_a_second_schema_version(
    local_lake: LocalLake,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "wordpress_api"]) == 0
    terms = [dict(row, description="new field") for row in fixture_site.tables["terms"]]
    for row in terms:
        row.pop("term_group")  # a declared column gone: silver's check blocks it
    fixture_site.set_table("terms", terms)
    assert main(["run", "--source", "wordpress_api"]) == 1
    capsys.readouterr()

    assert main(["schema", "wordpress_api/terms"]) == 0
    out = capsys.readouterr().out
    bronze, silver = out.split("silver/wordpress_api/terms: ")
    assert bronze.startswith("bronze/wordpress_api/terms: 2 schema version(s)")
    assert "    added: description string" in bronze
    assert "    removed: term_group" in bronze
    # silver kept its last good table: one version, never the broken one
    assert silver.startswith("1 schema version(s)")
    assert "term_group int64" in silver

    assert main(["schema", "wordpress_api"]) == 2
    assert "name a dataset as SOURCE/DATASET" in capsys.readouterr().err
