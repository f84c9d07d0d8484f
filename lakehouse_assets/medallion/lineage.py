"""Column lineage of gold tables: which silver columns each gold column is made from.

A gold module declares its mapping once, as plain data (gold column → ``(silver dataset,
column)`` pairs); this turns it into Dagster's ``dagster/column_lineage`` metadata
(``dg.TableColumnLineage``), recorded on every materialization so the UI's column lineage view
and the catalog answer "where does this number come from" from the same declaration the SQL
is written against. A gold column made from no silver column (a partition's date, say) maps to
nothing and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from lakehouse_assets.medallion.source import Source

COLUMN_LINEAGE_METADATA = "dagster/column_lineage"

#: gold column → the (silver dataset, silver column) pairs it is computed from.
ColumnSources = Mapping[str, Sequence[tuple[str, str]]]


def column_lineage(
    source: Source, mapping: ColumnSources, layer: str = "silver"
) -> dg.TableColumnLineage:
    """``mapping`` as Dagster column lineage on ``source``'s ``layer`` assets."""
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=source.key(layer, dataset), column_name=name)
                for dataset, name in pairs
            ]
            for column, pairs in mapping.items()
            if pairs
        }
    )


def lineage_metadata(
    source: Source, mapping: ColumnSources, layer: str = "silver"
) -> dict[str, dg.TableColumnLineage]:
    """Output metadata carrying the lineage (``**lineage_metadata(...)`` in ``dg.Output``)."""
    return {COLUMN_LINEAGE_METADATA: column_lineage(source, mapping, layer)}
