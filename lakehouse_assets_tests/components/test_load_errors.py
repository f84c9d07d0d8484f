"""A bad declaration fails when the code location loads, with a message naming the YAML file,
the line and the field (or the gold SQL file and what is wrong with it), never in a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_assets import settings
from lakehouse_assets.components.loading import DeclarationLoadError, declared_sources
from lakehouse_assets_tests.components.declared import declaration, write_defs

PAGE = "{type: page_number, total_pages_header: X-Total-Pages}"


def load_error(module: str) -> str:
    with pytest.raises(DeclarationLoadError) as raised:
        declared_sources(settings.pipeline_settings(settings.Deployment.LOCAL), module)
    return str(raised.value)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_unknown_column_type_names_file_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = declaration("page_number", PAGE).replace("name: string", "name: text")
    module = write_defs(tmp_path, monkeypatch, text)
    message = load_error(module)
    yaml_path = tmp_path / "packages" / module / "source" / "defs.yaml"
    assert f"{yaml_path}:{line_of(text, 'name: text')}" in message
    assert "datasets.0.columns.name.type" in message
    assert "'text' is not one of" in message


def test_unknown_paginator_and_key_column_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = declaration("page_number", "{type: pages_by_number}")
    module = write_defs(tmp_path, monkeypatch, text)
    message = load_error(module)
    assert f"defs.yaml:{line_of(text, 'paginator:')}" in message
    assert "datasets.0.paginator" in message and "pages_by_number" in message

    text = declaration("page_number", PAGE).replace("key: [id]", "key: [ID]")
    message = load_error(write_defs(tmp_path, monkeypatch, text))
    assert "datasets.0" in message and "key names undeclared column(s) ['ID']" in message
    assert "defs.yaml:" in message


def test_missing_sql_file_and_bad_gold_sql_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gold = (
        "  gold:\n    - name: summary\n      description: A summary.\n"
        "      inputs: [items]\n      sql_file: summary.sql\n"
    )
    text = declaration("page_number", PAGE) + gold
    message = load_error(write_defs(tmp_path, monkeypatch, text))
    assert "defs.yaml: gold[0] (summary): sql_file 'summary.sql' is not a file here" in message

    module = write_defs(tmp_path, monkeypatch, text, summary__sql="SELECT id, colour FROM items")
    message = load_error(module)
    assert "summary.sql (gold[0].sql_file of" in message and "colour" in message


def test_the_packaged_declaration_loads() -> None:
    defs = declared_sources(settings.pipeline_settings(settings.Deployment.LOCAL))
    assert [job.name for job in defs.jobs or []] == ["wordpress_rest_job"]
