"""A dataset's declared contract, the one type every source uses: columns, key, dedupe rule.

Column types name what the text in bronze must become in silver:

- ``int64``, ``float64``, ``bool``, ``string``, ``date``;
- ``datetime``: a wall-clock date and time without an offset, as MySQL writes it (zero dates
  are null and counted; silver derives ``<col>_todate`` and ``<col>_year|_month|_day``);
- ``timestamp``: an instant, ISO 8601 with an offset (UTC when it has none).
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse_assets.lake.layout import validate_name

DERIVED_DATE_PARTS = ("todate", "year", "month", "day")
COLUMN_TYPES = ("string", "int64", "float64", "bool", "datetime", "timestamp", "date")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} not in {COLUMN_TYPES}")


@dataclass(frozen=True)
class DatasetSchema:
    """Declared columns in order; every declared column must be present in the source rows."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    #: Among rows sharing a key, the one greatest by these columns wins (then the last one).
    latest_by: tuple[str, ...] = ()
    #: Columns kept out of metadata previews (sensitive or bulky).
    preview_excluded: tuple[str, ...] = ()
    #: Columns beyond the declared ones are kept and reported (True) or make the input bad.
    allow_extra_columns: bool = True

    def __post_init__(self) -> None:
        validate_name("dataset", self.name)
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name}: duplicate column names")
        unknown = [k for k in (*self.key, *self.latest_by) if k not in names]
        if unknown:
            raise ValueError(f"dataset {self.name}: key column(s) {unknown} undeclared")

    @classmethod
    def of(
        cls,
        name: str,
        description: str,
        *,
        key: tuple[str, ...] = (),
        integers: tuple[str, ...] = (),
        datetimes: tuple[str, ...] = (),
        strings: tuple[str, ...] = (),
        **options: object,
    ) -> DatasetSchema:
        """A dataset of text columns grouped by type (integers, then datetimes, then strings)."""
        columns = (
            *(Column(c, "int64") for c in integers),
            *(Column(c, "datetime") for c in datetimes),
            *(Column(c, "string") for c in strings),
        )
        return cls(name, description, columns, key, **options)  # type: ignore[arg-type]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def names_of(self, kind: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type == kind)

    @property
    def integers(self) -> tuple[str, ...]:
        return self.names_of("int64")

    @property
    def datetimes(self) -> tuple[str, ...]:
        return self.names_of("datetime")

    @property
    def strings(self) -> tuple[str, ...]:
        return self.names_of("string")

    def derived_columns(self) -> tuple[str, ...]:
        return tuple(f"{c}_{part}" for c in self.datetimes for part in DERIVED_DATE_PARTS)
