"""``RestSourceComponent``: a REST source declared in a ``defs.yaml`` becomes a whole medallion
pipeline (raw → bronze → silver → gold, a job, a schedule).

Its attributes are :class:`~lakehouse_assets.components.model.RestSourceSpec`, validated by
Dagster's component loader, which names the YAML file and line of a bad field. What the model
cannot see (a gold SQL file beside the YAML, the query's table and column names) is checked in
``build_defs``, also while the code location loads, naming the file and the field.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from lakehouse_assets import settings
from lakehouse_assets.components.model import RestSourceSpec

#: The pipeline settings of the code location being built (see ``declared_sources``); without
#: one, the environment's.
PIPELINE: ContextVar[settings.PipelineSettings | None] = ContextVar("pipeline", default=None)


class DeclarationError(ValueError):
    """A declaration the model accepts but that cannot work (a missing SQL file, bad SQL)."""


class RestSourceComponent(dg.Component):
    """A REST source declared in YAML: base URL parameter, auth, paged endpoints (children
    too), an incremental cursor, dataset schemas, gold SQL and a schedule."""

    def __init__(self, spec: RestSourceSpec, folder: Path):
        self.spec = spec
        self.folder = folder

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return RestSourceSpec

    @classmethod
    def load(
        cls, attributes: BaseModel | None, context: dg.ComponentLoadContext
    ) -> RestSourceComponent:
        if not isinstance(attributes, RestSourceSpec):
            raise DeclarationError(f"{context.path}: a REST source needs its attributes")
        return cls(attributes, Path(context.path))

    def gold_sql(self) -> dict[str, str]:
        """Each gold table's query, its file read from beside the YAML and planned over empty
        tables of the declared schemas (a wrong name fails now, not in a run)."""
        from lakehouse_assets.components.silver import check_gold_sql, sql_text

        datasets = {d.name: d for d in self.spec.datasets}
        queries: dict[str, str] = {}
        for index, gold in enumerate(self.spec.gold):
            where = f"{self.folder / 'defs.yaml'}: gold[{index}] ({gold.name})"
            if gold.sql_file is not None:
                path = (self.folder / gold.sql_file).resolve()
                if not path.is_relative_to(self.folder.resolve()) or not path.is_file():
                    raise DeclarationError(
                        f"{where}: sql_file {gold.sql_file!r} is not a file here"
                    )
                text = path.read_text(encoding="utf-8")
                where = f"{path} (gold[{index}].sql_file of {self.folder / 'defs.yaml'})"
            else:
                text = gold.sql or ""
            query = sql_text(text)
            try:
                check_gold_sql(query, {name: datasets[name] for name in gold.inputs})
            except Exception as error:  # DuckDB's parser/binder errors say what is wrong
                raise DeclarationError(f"{where}: the query does not plan: {error}") from None
            queries[gold.name] = query
        return queries

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from lakehouse_assets.components.assets import build_source_definitions

        pipeline = PIPELINE.get() or settings.pipeline_settings()
        return build_source_definitions(self.spec, self.gold_sql(), pipeline)
