"""A dataset's declared contract: key, column types, and how duplicates are resolved."""

from __future__ import annotations

from dataclasses import dataclass

DERIVED_DATE_PARTS = ("todate", "year", "month", "day")


@dataclass(frozen=True)
class DatasetSchema:
    """Columns by type; every declared column must be present in the source rows."""

    name: str
    description: str
    key: tuple[str, ...]
    integers: tuple[str, ...] = ()
    datetimes: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    #: Among rows sharing a key, the one greatest by these columns wins (then the last one).
    latest_by: tuple[str, ...] = ()
    #: Columns kept out of metadata previews (sensitive or bulky).
    preview_excluded: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.integers + self.datetimes + self.strings

    def derived_columns(self) -> tuple[str, ...]:
        return tuple(f"{c}_{part}" for c in self.datetimes for part in DERIVED_DATE_PARTS)
