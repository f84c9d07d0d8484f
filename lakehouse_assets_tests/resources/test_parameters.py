"""The local parameters file: YAML lists or comma strings for StringLists, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.resources.parameters import LocalParametersResource


def resource(tmp_path: Path, text: str) -> LocalParametersResource:
    path = tmp_path / "parameters.yaml"
    path.write_text(text, encoding="utf-8")
    return LocalParametersResource(parameters_file=str(path))


def test_string_list_from_yaml_list_or_comma_string(tmp_path: Path) -> None:
    params = resource(tmp_path, "/a: [x, ' y ']\n/b: 'x, y,,z'\n/c: plain\n")
    assert params.get_list("/a") == ["x", "y"]
    assert params.get_list("/b") == ["x", "y", "z"]
    assert params.get_string("/c") == "plain"
    assert params.get_string_or("/missing", "fallback") == "fallback"


def test_missing_parameters_are_all_named(tmp_path: Path) -> None:
    params = resource(tmp_path, "/a: 1\n/secret: hunter2\n")
    with pytest.raises(ConfigurationError) as raised:
        params.fetch(["/a", "/zeta", "/beta"])
    assert "parameter(s) missing" in str(raised.value) and str(raised.value).endswith(
        "/beta, /zeta"
    )


def test_bad_files_fail_without_echoing_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        resource(tmp_path, "/secret: [hunter2\n").fetch(["/secret"])
    with pytest.raises(ConfigurationError, match="must be a mapping"):
        resource(tmp_path, "- hunter2\n").fetch(["/x"])
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalParametersResource(parameters_file=str(tmp_path / "nope.yaml")).fetch(["/x"])


def test_packaged_sample_lists_the_sample_endpoints() -> None:
    urls = LocalParametersResource().get_list("/wordpress/amazonwebshark/api/mysqlendpoints")
    assert [u.rsplit("/", 2)[-2] for u in urls] == [
        "posts_a8f3k",
        "statistics_pages_q7x2d",
        "terms_k3m9p",
    ]
