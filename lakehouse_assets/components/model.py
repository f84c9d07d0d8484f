"""The YAML a declared REST source is written in, as pydantic models.

Every field is checked when the code location loads: Dagster's component loader turns a
``ValidationError`` here into a message naming the YAML file, line and field, so a typo in a
declaration fails before any run rather than in one. Models forbid unknown keys (``dg.Model``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import BeforeValidator, Field, field_validator, model_validator

from lakehouse_assets.lake.layout import NAME_PATTERN
from lakehouse_assets.medallion.datasets import COLUMN_TYPES

#: Column types a declared dataset may use: the platform's, plus JSON text and integer/text lists.
DECLARED_TYPES = (*COLUMN_TYPES, "json", "list<int64>", "list<string>")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _name(kind: str, value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"{kind} {value!r} must be lower-case letters, digits and underscores")
    return value


# --- auth ------------------------------------------------------------------------------------
class NoAuth(dg.Model):
    type: Literal["none"] = "none"


class BearerAuth(dg.Model):
    """``Authorization: Bearer <secret text>``."""

    type: Literal["bearer"]
    secret: str


class ApiKeyAuth(dg.Model):
    """The secret's text in a header (default ``X-API-Key``) or a query parameter."""

    type: Literal["api_key"]
    secret: str
    header: str | None = None
    query_param: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> ApiKeyAuth:
        if self.header and self.query_param:
            raise ValueError("give header or query_param, not both")
        if not self.header and not self.query_param:
            self.header = "X-API-Key"
        return self


class BasicAuth(dg.Model):
    """HTTP Basic from a secret holding JSON ``{"username", "password"}``."""

    type: Literal["basic"]
    secret: str


class OAuth2ClientCredentials(dg.Model):
    """A token from ``token_url`` (or the parameter ``token_url_parameter`` names) with the
    client id and secret of a JSON secret ``{"client_id", "client_secret"}``, HTTP Basic."""

    type: Literal["oauth2_client_credentials"]
    secret: str
    token_url: str | None = None
    token_url_parameter: str | None = None
    scope: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> OAuth2ClientCredentials:
        if (self.token_url is None) == (self.token_url_parameter is None):
            raise ValueError("give exactly one of token_url and token_url_parameter")
        return self


Auth = Annotated[
    NoAuth | BearerAuth | ApiKeyAuth | BasicAuth | OAuth2ClientCredentials,
    Field(discriminator="type"),
]


# --- paginators (each maps onto one of resources/paging.py) -------------------------------------
class _Paging(dg.Model):
    max_pages: int = Field(default=10_000, ge=1)


class SinglePageSpec(_Paging):
    type: Literal["single_page"]


class PageNumberSpec(_Paging):
    type: Literal["page_number"]
    total_pages_header: str | None = None
    total_rows_header: str | None = None
    page_param: str = "page"
    first_page: int = 1
    stop_at_empty_page: bool = True
    past_end_statuses: list[int] = Field(default_factory=list)
    past_end_codes: list[str] = Field(default_factory=list)
    #: Also follow ``Link: <…>; rel="<link_rel>"`` where a page sends one (WordPress pages by
    #: ``X-WP-TotalPages`` or ``Link``: a server or proxy may send only one of them).
    link_rel: str | None = None


class LinkHeaderSpec(_Paging):
    type: Literal["link_header"]
    rel: str = "next"


class NextUrlSpec(_Paging):
    type: Literal["next_url"]
    next_field: str = "next"
    total_field: str | None = None


class OffsetSpec(_Paging):
    type: Literal["offset"]
    limit: int = Field(default=100, ge=1)
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_field: str | None = "total"
    total_header: str | None = None


class CursorSpec(_Paging):
    type: Literal["cursor"]
    cursor_field: str = "next_cursor"
    cursor_param: str = "cursor"


Paginator = Annotated[
    SinglePageSpec | PageNumberSpec | LinkHeaderSpec | NextUrlSpec | OffsetSpec | CursorSpec,
    Field(discriminator="type"),
]


# --- datasets ---------------------------------------------------------------------------------
class ColumnSpec(dg.Model):
    """A silver column: its type and where it comes from (default: the field of its own name).

    ``path`` is a dotted path inside that field's JSON value: ``title: {type: string, path:
    rendered}`` flattens WordPress's ``{"rendered": …}`` object to its text.
    """

    type: str
    field: str | None = None
    path: str | None = None
    #: False: an API that does not send the field is fine (the column is all nulls); True
    #: (default): its absence fails the ``expected_columns`` check.
    required: bool = True

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in DECLARED_TYPES:
            raise ValueError(f"type {value!r} is not one of {', '.join(DECLARED_TYPES)}")
        return value


def _column_shorthand(value: Any) -> Any:
    """``id: int64`` is ``id: {type: int64}``."""
    return {"type": value} if isinstance(value, str) else value


Column = Annotated[ColumnSpec, BeforeValidator(_column_shorthand)]


class IncrementalSpec(dg.Model):
    """Ask only for what changed: ``param`` = the newest ``field`` already in silver, minus
    ``lag_seconds`` (``initial_value`` or nothing on the first run)."""

    param: str
    field: str
    initial_value: str | None = None
    lag_seconds: int = Field(default=0, ge=0)


class ParentSpec(dg.Model):
    """A child endpoint: requested once per distinct ``field`` of the parent's rows (its
    ``{field}`` placeholder in ``path``), each row tagged with that value as ``column``
    (default ``{parent dataset}_{field}``)."""

    dataset: str
    field: str = "id"
    column: str | None = None


class EndpointDefaults(dg.Model):
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    paginator: Paginator | None = None
    record_path: str | None = None
    #: A query parameter naming the fields wanted (WordPress ``_fields``): the declared ones.
    fields_param: str | None = None


class DatasetSpec(EndpointDefaults):
    name: str
    description: str
    path: str
    columns: dict[str, Column]
    key: list[str] = Field(default_factory=list)
    latest_by: list[str] = Field(default_factory=list)
    preview_excluded: list[str] = Field(default_factory=list)
    incremental: IncrementalSpec | None = None
    parent: ParentSpec | None = None
    #: Merge each run's rows into the current silver by key (implied by ``incremental``).
    merge: bool | None = None
    #: An empty table is a valid answer (a site without pages): ``non_empty`` then passes.
    allow_empty: bool = False

    @field_validator("name")
    @classmethod
    def _dataset_name(cls, value: str) -> str:
        return _name("dataset", value)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, ColumnSpec]) -> dict[str, ColumnSpec]:
        if not value:
            raise ValueError("declare at least one column")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        declared = set(self.columns)
        for what, names in (
            ("key", self.key),
            ("latest_by", self.latest_by),
            ("preview_excluded", self.preview_excluded),
        ):
            unknown = [n for n in names if n not in declared]
            if unknown:
                raise ValueError(f"{what} names undeclared column(s) {unknown}")
        if self.incremental is not None:
            if self.incremental.field not in declared:
                raise ValueError(
                    f"incremental.field {self.incremental.field!r} is not a declared column"
                )
            if self.column_type(self.incremental.field) not in ("timestamp", "datetime", "int64"):
                raise ValueError("incremental.field must be a timestamp, datetime or int64 column")
            if not self.key:
                raise ValueError("an incremental dataset needs a key to merge by")
            if self.merge is False:
                raise ValueError("an incremental dataset is merged by key (merge cannot be false)")
        if self.merge and not self.key:
            raise ValueError("merge needs a key")
        placeholders = _PLACEHOLDER.findall(self.path)
        if self.parent is None and placeholders:
            raise ValueError(f"path has placeholder(s) {placeholders} but no parent")
        if self.parent is not None and placeholders != [self.parent.field]:
            raise ValueError(f"path must hold exactly the parent's {{{self.parent.field}}}")
        return self

    def column_type(self, name: str) -> str:
        return self.columns[name].type

    @property
    def merged(self) -> bool:
        return bool(self.merge) or self.incremental is not None


class GoldSpec(dg.Model):
    """A gold table: DuckDB SQL over silver tables, each visible under its dataset name."""

    name: str
    description: str
    inputs: list[str]
    sql: str | None = None
    sql_file: str | None = None

    @field_validator("name")
    @classmethod
    def _gold_name(cls, value: str) -> str:
        return _name("gold table", value)

    @model_validator(mode="after")
    def _one_sql(self) -> GoldSpec:
        if (self.sql is None) == (self.sql_file is None):
            raise ValueError("give exactly one of sql and sql_file")
        return self


class ScheduleSpec(dg.Model):
    cadence: Literal["daily", "weekly"] = "daily"
    hour_of_day: int = Field(default=7, ge=0, le=23)
    #: For weekly: 0 = Sunday, as cron counts.
    day_of_week: int | None = Field(default=None, ge=0, le=6)


class RestSourceSpec(dg.Model):
    """One REST source: where it is, how to authenticate, its datasets, gold and schedule."""

    source: str
    description: str
    base_url_parameter: str
    auth: Auth = Field(default_factory=NoAuth)
    #: The HttpApiResource the source's requests go through.
    resource: str = "rest_api"
    owners: list[str] = Field(default_factory=lambda: ["team:data-engineering"])
    defaults: EndpointDefaults = Field(default_factory=EndpointDefaults)
    datasets: list[DatasetSpec]
    gold: list[GoldSpec] = Field(default_factory=list)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        return _name("source", value)

    @model_validator(mode="after")
    def _references(self) -> RestSourceSpec:
        names = [d.name for d in self.datasets]
        if not names:
            raise ValueError("declare at least one dataset")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"dataset name(s) declared twice: {repeated}")
        for dataset in self.datasets:
            parent = dataset.parent
            if parent is None:
                continue
            if parent.dataset not in names or parent.dataset == dataset.name:
                raise ValueError(f"dataset {dataset.name}: parent {parent.dataset!r} is unknown")
            spec = self.datasets[names.index(parent.dataset)]
            if parent.field not in spec.columns:
                raise ValueError(
                    f"dataset {dataset.name}: parent field {parent.field!r} is not a column of "
                    f"{parent.dataset}"
                )
            if spec.merged and not dataset.merged:
                raise ValueError(
                    f"dataset {dataset.name}: its parent {parent.dataset} is merged by key, so "
                    "its rows are a run's changes too: declare merge: true"
                )
        for gold in self.gold:
            unknown = [n for n in gold.inputs if n not in names]
            if unknown:
                raise ValueError(f"gold {gold.name}: input(s) {unknown} are not datasets")
            if gold.name in names:
                raise ValueError(f"gold {gold.name}: a dataset has that name")
        return self

    def paginator_of(self, dataset: DatasetSpec) -> Paginator | None:
        return dataset.paginator or self.defaults.paginator

    def params_of(self, dataset: DatasetSpec) -> dict[str, str]:
        merged = {**self.defaults.params, **dataset.params}
        return {k: _param_text(v) for k, v in merged.items()}

    def record_path_of(self, dataset: DatasetSpec) -> str | None:
        return dataset.record_path if dataset.record_path is not None else self.defaults.record_path

    def fields_param_of(self, dataset: DatasetSpec) -> str | None:
        return dataset.fields_param or self.defaults.fields_param


def _param_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
