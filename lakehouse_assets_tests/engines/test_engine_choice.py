"""``LAKEHOUSE_ENGINES`` is parsed and checked when the code location loads, before any I/O: a
typo, an unknown engine, a source without engine-neutral layers or an engine the deployment
cannot reach fails the load with a message naming the setting."""

import pytest

from lakehouse_assets import settings
from lakehouse_assets.engines.choice import (
    Engine,
    EngineChoice,
    check_available,
    parse_engine_choice,
)
from lakehouse_assets.settings import SettingsError


def test_one_engine_for_every_source_that_offers_it() -> None:
    choice = parse_engine_choice("Spark")
    assert choice.of_layer("wordpress_api", "silver") is Engine.SPARK
    assert choice.of_layer("wordpress_api", "gold") is Engine.SPARK
    assert choice.of_layer("itunes", "silver") is Engine.DUCKDB  # not offered: stays on DuckDB


def test_per_source_choices_and_athena_runs_gold_only() -> None:
    choice = parse_engine_choice(" wordpress_api = athena , *=duckdb ")
    assert choice.of_layer("wordpress_api", "gold") is Engine.ATHENA
    assert choice.of_layer("wordpress_api", "silver") is Engine.DUCKDB
    assert parse_engine_choice("") == EngineChoice()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sparkk", "names engine 'sparkk'"),
        ("wordpress_api=presto", "source 'wordpress_api' names engine 'presto'"),
        ("itunes=spark", "source 'itunes' cannot run on spark"),
        ("wordpress_api=spark,wordpress_api=duckdb", "named twice"),
        ("wordpress_api,itunes=duckdb", "'wordpress_api' is not source=engine"),
        ("wordpress_api", "names engine 'wordpress_api'"),
    ],
)
def test_a_bad_choice_names_the_setting(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=settings.ENGINES_VAR) as raised:
        parse_engine_choice(text)
    assert message in str(raised.value)


def test_athena_needs_aws() -> None:
    with pytest.raises(SettingsError, match="athena runs on LAKEHOUSE_ENV=aws only"):
        check_available(parse_engine_choice("wordpress_api=athena"), settings.Deployment.LOCAL)
    check_available(parse_engine_choice("wordpress_api=athena"), settings.Deployment.AWS)


def test_the_code_location_refuses_a_bad_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from lakehouse_assets.definitions import build_definitions

    monkeypatch.setenv(settings.ENGINES_VAR, "wordpress_api=athena")
    with pytest.raises(SettingsError, match="athena runs on LAKEHOUSE_ENV=aws only"):
        build_definitions(settings.Deployment.LOCAL)
