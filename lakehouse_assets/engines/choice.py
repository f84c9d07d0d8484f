"""Which engine each layer of each source runs on, parsed and checked before any I/O.

``LAKEHOUSE_ENGINES`` is either one engine for every source that offers it (``spark``) or a
comma-separated list of ``source=engine`` (``wordpress_api=spark``), optionally with ``*=engine``
for the rest. ``spark`` runs a source's silver and gold; ``athena`` runs its gold (silver stays on
DuckDB: Athena reports no typing counts back). A source that does not offer an engine it is
given fails the code location's load with the reason, rather than running on another one.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from lakehouse_assets.settings import ENGINES_VAR, Deployment, SettingsError


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"
    ATHENA = "athena"


#: The layers each engine runs when it is chosen for a source.
LAYERS_OF = {
    Engine.DUCKDB: ("silver", "gold"),
    Engine.SPARK: ("silver", "gold"),
    Engine.ATHENA: ("gold",),
}
#: Sources whose silver and gold are written engine-neutrally, and the engines they offer.
OFFERED: Mapping[str, frozenset[Engine]] = {
    "wordpress_api": frozenset(Engine),
}
DEFAULT_KEY = "*"


@dataclass(frozen=True)
class EngineChoice:
    """The parsed setting: an engine per source, and one for every other source."""

    default: Engine = Engine.DUCKDB
    per_source: Mapping[str, Engine] = field(default_factory=dict)

    def of_source(self, source: str) -> Engine:
        chosen = self.per_source.get(source)
        if chosen is not None:
            return chosen
        # A blanket choice applies only where it is offered; elsewhere DuckDB stays.
        return self.default if self.default in OFFERED.get(source, ()) else Engine.DUCKDB

    def of_layer(self, source: str, layer: str) -> Engine:
        """The engine running ``layer`` of ``source`` (DuckDB where the choice has no layer)."""
        engine = self.of_source(source)
        return engine if layer in LAYERS_OF[engine] else Engine.DUCKDB


def _engine(text: str, where: str) -> Engine:
    try:
        return Engine(text.strip().lower())
    except ValueError:
        choices = ", ".join(e.value for e in Engine)
        raise SettingsError(
            f"{ENGINES_VAR}: {where} names engine {text.strip()!r}; expected one of {choices}"
        ) from None


def parse_engine_choice(text: str) -> EngineChoice:
    """``LAKEHOUSE_ENGINES`` as an :class:`EngineChoice`; an unknown engine, an unknown source or
    an engine a source does not offer raise :class:`SettingsError` naming the setting."""
    text = (text or "").strip()
    if not text:
        return EngineChoice()
    if "=" not in text and "," not in text:
        return EngineChoice(default=_engine(text, "the setting"))
    default = Engine.DUCKDB
    per_source: dict[str, Engine] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        source, separator, name = item.partition("=")
        source = source.strip()
        if not separator or not source:
            raise SettingsError(f"{ENGINES_VAR}: {item!r} is not source=engine")
        engine = _engine(name, f"source {source!r}")
        if source == DEFAULT_KEY:
            default = engine
            continue
        if source in per_source:
            raise SettingsError(f"{ENGINES_VAR}: source {source!r} is named twice")
        offered = OFFERED.get(source)
        if engine is not Engine.DUCKDB and (offered is None or engine not in offered):
            sources = ", ".join(sorted(OFFERED)) or "none"
            raise SettingsError(
                f"{ENGINES_VAR}: source {source!r} cannot run on {engine.value} "
                f"(sources with engine-neutral silver and gold: {sources})"
            )
        per_source[source] = engine
    return EngineChoice(default, per_source)


def check_available(choice: EngineChoice, deployment: Deployment) -> None:
    """Fail the load, with what to do, when a chosen engine cannot run on ``deployment``:
    Athena needs AWS; Spark on a laptop needs pyspark (``pip install 'lakehouse_assets[spark]'``)
    and a Java runtime."""
    chosen = {choice.of_source(source) for source in OFFERED}
    if deployment is Deployment.LOCAL and Engine.ATHENA in chosen:
        raise SettingsError(f"{ENGINES_VAR}: athena runs on LAKEHOUSE_ENV=aws only")
    if deployment is Deployment.LOCAL and Engine.SPARK in chosen:
        if importlib.util.find_spec("pyspark") is None:
            raise SettingsError(
                f"{ENGINES_VAR}: spark needs pyspark here: pip install 'lakehouse_assets[spark]'"
            )
        if shutil.which("java") is None:
            raise SettingsError(f"{ENGINES_VAR}: spark needs a Java 17+ runtime on the PATH")
