"""Bronze → silver for declared REST datasets, in DuckDB: JSON-aware typing and a key merge.

Why not :mod:`lakehouse_assets.medallion.silver`: that engine types flat text (PHP rows) and
streams whole snapshots, with derived date parts. REST APIs send nested JSON, which bronze keeps
as JSON text, so a declared column may be a path into a field (``title.rendered``), JSON kept as
text, or a list; and an incremental dataset's silver is the previous version merged with the
run's new rows by key, not one snapshot. The text rules are the platform's one set
(:mod:`lakehouse_assets.medallion.text_rules`: what an integer, a date or a zero date is), and
the report is the engine's :class:`SilverReport`, so the same blocking checks decide.

Among rows sharing a key the greatest by ``latest_by`` wins (nulls smallest), then a new row
over a previous one, then the later row; rows without a key keep one of each exact duplicate.
Rows come out sorted by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_assets.components import model
from lakehouse_assets.medallion.engine import (
    ROWS_PER_BATCH,
    connect,
    quote_identifier,
    quote_literal,
    release_memory,
)
from lakehouse_assets.medallion.silver import STRIP, SilverReport
from lakehouse_assets.medallion.text_rules import (
    DATE_TEXT,
    DATETIME_TEXT,
    INGESTION_COLUMNS,
    INTEGER_TEXT,
    TIMESTAMP_TZ_TEXT,
    ZERO_DATE_TEXT,
)

SQL_TYPES = {
    "string": "VARCHAR",
    "json": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "list<int64>": "BIGINT[]",
    "list<string>": "VARCHAR[]",
}
INGESTION_TYPES = {"_ingested_at": "TIMESTAMPTZ", "_raw_snapshot": "VARCHAR"}
DATE_KINDS = ("datetime", "timestamp", "date")
INTEGER_KINDS = ("int64", "list<int64>")
GENERATION = "__generation"
ROW = "__row"


@dataclass(frozen=True)
class DeclaredColumn:
    name: str
    type: str
    field: str
    path: str | None = None
    required: bool = True

    @classmethod
    def of(cls, name: str, spec: model.ColumnSpec) -> DeclaredColumn:
        return cls(name, spec.type, spec.field or name, spec.path, spec.required)


def declared_columns(dataset: model.DatasetSpec) -> list[DeclaredColumn]:
    return [DeclaredColumn.of(name, spec) for name, spec in dataset.columns.items()]


@dataclass
class MergeReport(SilverReport):
    """The engine's report, plus what the merge did and the non-integer values not typed."""

    rows_previous: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    untyped_values: dict[str, int] = field(default_factory=dict)
    #: Declared ``required: false`` fields the API did not send (their columns are nulls).
    absent_optional_columns: list[str] = field(default_factory=list)


def _q(name: str) -> str:
    return quote_identifier(name)


def _json_path(path: str) -> str:
    parts = []
    for part in path.split("."):
        parts.append(f"[{part}]" if part.isdigit() else f".{_q(part)}")
    return "$" + "".join(parts)


def typed_sql(column: DeclaredColumn, present: set[str]) -> tuple[str, dict[str, str]]:
    """The column's typed SQL expression and its flag conditions (kind → SQL)."""
    if column.field not in present:
        return f"CAST(NULL AS {SQL_TYPES[column.type]})", {}
    raw = f"CAST({_q(column.field)} AS VARCHAR)"
    text = f"nullif(regexp_replace({raw}, {quote_literal(STRIP)}, '', 'g'), '')"
    if column.path:
        path = quote_literal(_json_path(column.path))
        text = f"(CASE WHEN json_valid({text}) THEN json_extract_string({text}, {path}) END)"
        if column.type not in ("string", "json"):
            text = f"nullif(regexp_replace({text}, {quote_literal(STRIP)}, '', 'g'), '')"
    source_text = f"nullif(regexp_replace({raw}, {quote_literal(STRIP)}, '', 'g'), '')"

    def matches(pattern: str) -> str:
        return f"coalesce(regexp_full_match({text}, {quote_literal(pattern)}), false)"

    kind = column.type
    flags: dict[str, str] = {}
    if kind == "string":
        typed = text
    elif kind == "json":
        typed = (
            f"CASE WHEN json_valid({text}) THEN {text} ELSE CAST(to_json({text}) AS VARCHAR) END"
        )
    elif kind == "int64":
        typed = (
            f"CASE WHEN {matches(INTEGER_TEXT)} "
            f"THEN TRY_CAST(regexp_replace({text}, '\\.0*$', '') AS BIGINT) END"
        )
    elif kind == "float64":
        typed = f"TRY_CAST({text} AS DOUBLE)"
    elif kind == "bool":
        typed = (
            f"CASE lower({text}) WHEN 'true' THEN true WHEN '1' THEN true "
            f"WHEN 'false' THEN false WHEN '0' THEN false END"
        )
    elif kind in DATE_KINDS:
        pattern = {"datetime": DATETIME_TEXT, "timestamp": TIMESTAMP_TZ_TEXT, "date": DATE_TEXT}
        zero = matches(ZERO_DATE_TEXT)
        formed = matches(pattern[kind])
        typed = f"CASE WHEN {formed} AND NOT {zero} THEN TRY_CAST({text} AS {SQL_TYPES[kind]}) END"
        flags["zero"] = zero
        flags["impossible"] = f"{formed} AND NOT {zero} AND ({typed}) IS NULL"
        flags["bad"] = f"{text} IS NOT NULL AND NOT {zero} AND NOT {formed}"
    else:  # lists
        typed = (
            f"CASE WHEN json_valid({text}) AND json_type(CAST({text} AS JSON)) = 'ARRAY' "
            f"THEN TRY_CAST(CAST({text} AS JSON) AS {SQL_TYPES[kind]}) END"
        )
    if "bad" not in flags:
        # A value that was sent but did not type (for a path: also a field that is not JSON).
        sent = source_text if column.path else text
        flags["bad"] = f"{sent} IS NOT NULL AND ({typed}) IS NULL"
    return f"CAST({typed} AS {SQL_TYPES[kind]})", flags


def write_declared_silver(
    bronze: Path,
    previous: Path | None,
    out: Path,
    dataset: model.DatasetSpec,
) -> MergeReport:
    """Type the bronze file by the declaration, merge it into ``previous`` (if given) by key,
    deduplicate, and write the result to the Parquet file ``out``."""
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import write_parquet_batches

    release_memory()
    columns = declared_columns(dataset)
    bronze_names = list(pq.ParquetFile(bronze).schema_arrow.names)
    present = set(bronze_names)
    used = {c.field for c in columns}
    declared = {c.name for c in columns}
    extras = [
        n for n in bronze_names if n not in used and n not in declared and not n.startswith("_")
    ]
    report = MergeReport(rows_in=pq.ParquetFile(bronze).metadata.num_rows)
    if report.rows_in:
        report.missing_columns = sorted(
            {c.field for c in columns if c.field not in present and c.required}
        )
        report.absent_optional_columns = sorted(
            {c.field for c in columns if c.field not in present and not c.required}
        )
    report.extra_columns = extras

    selects: list[str] = []
    flag_names: dict[str, tuple[str, DeclaredColumn]] = {}
    for column in columns:
        typed, flags = typed_sql(column, present)
        selects.append(f"{typed} AS {_q(column.name)}")
        for kind, condition in flags.items():
            name = f"__{kind}:{column.name}"
            flag_names[name] = (kind, column)
            selects.append(f"coalesce({condition}, false) AS {_q(name)}")
    selects += [f"CAST({_q(n)} AS VARCHAR) AS {_q(n)}" for n in extras]
    for name, kind in INGESTION_TYPES.items():
        value = _q(name) if name in present else "NULL"
        selects.append(f"CAST({value} AS {kind}) AS {_q(name)}")
    output = (
        [_q(c.name) for c in columns] + [_q(n) for n in extras] + [_q(n) for n in INGESTION_COLUMNS]
    )

    connection = connect()
    try:
        run = connection.execute
        run(
            f"CREATE TEMP TABLE fresh AS SELECT {', '.join(selects)}, 1 AS {GENERATION}, "
            f"file_row_number AS {ROW} "
            f"FROM read_parquet({quote_literal(bronze)}, file_row_number=true)"
        )
        if flag_names:
            sums = ", ".join(f"count_if({_q(n)})" for n in flag_names)
            counts = run(f"SELECT {sums} FROM fresh").fetchall()[0]
            _report_flags(report, dict(zip(flag_names.values(), counts, strict=True)))
        union = f"SELECT {', '.join(output)}, {GENERATION}, {ROW} FROM fresh"
        if previous is not None:
            previous_names = set(pq.ParquetFile(previous).schema_arrow.names)
            report.rows_previous = pq.ParquetFile(previous).metadata.num_rows
            kept = [c for c in output if _unquote(c) in previous_names]
            union += (
                f" UNION ALL BY NAME SELECT {', '.join(kept)}, 0 AS {GENERATION}, "
                f"file_row_number AS {ROW} "
                f"FROM read_parquet({quote_literal(previous)}, file_row_number=true)"
            )
        run(f"CREATE TEMP TABLE everything AS {union}")
        key = [_q(k) for k in dataset.key]
        null_key = " OR ".join(f"{k} IS NULL" for k in key) or "false"
        partition = ", ".join(key) if key else ", ".join(output[: len(columns)])
        latest = [f"{_q(c)} DESC NULLS LAST" for c in dataset.latest_by]
        order = ", ".join([*latest, f"{GENERATION} DESC", f"{ROW} DESC"])
        run(
            "CREATE TEMP TABLE ranked AS SELECT *, CASE WHEN "
            f"{null_key} THEN 1 ELSE row_number() OVER (PARTITION BY {partition} ORDER BY "
            f"{order}) END AS __rank, ({null_key}) AS __null_key FROM everything"
        )
        stats = run(
            "SELECT count_if(__rank > 1), count_if(__null_key), "
            f"count_if(__rank = 1 AND {GENERATION} = 1) FROM ranked"
        ).fetchall()[0]
        losers, report.null_keys, winners_new = (int(v or 0) for v in stats)
        if key:
            report.superseded_rows_removed = losers
            if previous is not None:
                overlap = run(
                    f"SELECT count(*) FROM (SELECT DISTINCT {', '.join(key)} FROM fresh "
                    f"WHERE NOT ({null_key})) SEMI JOIN (SELECT {', '.join(key)} FROM "
                    f"everything WHERE {GENERATION} = 0) USING ({', '.join(dataset.key)})"
                ).fetchall()[0][0]
                report.rows_updated = int(overlap)
            report.rows_inserted = winners_new - report.rows_updated
        else:
            report.duplicate_rows_removed = losers
        sort = ", ".join([f"{k} ASC NULLS LAST" for k in key] + [f"{GENERATION}", f"{ROW}"])
        reader = connection.sql(
            f"SELECT {', '.join(output)} FROM ranked WHERE __rank = 1 ORDER BY {sort}"
        ).to_arrow_reader(ROWS_PER_BATCH)
        try:
            report.rows_out = write_parquet_batches(reader, reader.schema, out)
        finally:
            reader.close()
        return report
    finally:
        connection.close()
        release_memory()


def _unquote(quoted: str) -> str:
    return quoted[1:-1].replace('""', '"')


def _report_flags(report: MergeReport, counts: dict[tuple[str, DeclaredColumn], int]) -> None:
    for (kind, column), count in counts.items():
        if not count:
            continue
        if kind == "zero":
            report.zero_dates[column.name] = count
        elif kind == "impossible":
            report.impossible_dates[column.name] = count
        elif column.type in DATE_KINDS:
            report.unparseable_dates[column.name] = count
        elif column.type in INTEGER_KINDS:
            report.unparseable_integers[column.name] = count
        else:
            report.untyped_values[column.name] = count


# --- gold -----------------------------------------------------------------------------------
def _views(connection: Any, inputs: dict[str, Path]) -> None:
    for name, path in inputs.items():
        connection.execute(
            f"CREATE VIEW {_q(name)} AS SELECT * FROM read_parquet({quote_literal(path)})"
        )


def write_gold(sql: str, inputs: dict[str, Path], out: Path) -> int:
    """The gold query over the silver files (each a view under its dataset name) → ``out``."""
    from lakehouse_assets.lake.parquet import write_parquet_batches

    release_memory()
    connection = connect(large_strings=False)
    try:
        _views(connection, inputs)
        reader = connection.sql(sql).to_arrow_reader(ROWS_PER_BATCH)
        try:
            return write_parquet_batches(reader, reader.schema, out)
        finally:
            reader.close()
    finally:
        connection.close()
        release_memory()


def check_gold_sql(sql: str, inputs: dict[str, model.DatasetSpec]) -> list[tuple[str, str]]:
    """The query's output columns and types, planned over empty tables of the declared silver
    schemas: a wrong column or table name fails here, when the code location loads."""
    import duckdb

    connection = duckdb.connect()
    try:
        for name, dataset in inputs.items():
            columns = [f"{_q(c.name)} {SQL_TYPES[c.type]}" for c in declared_columns(dataset)] + [
                f"{_q(n)} {t}" for n, t in INGESTION_TYPES.items()
            ]
            connection.execute(f"CREATE TABLE {_q(name)} ({', '.join(columns)})")
        described = connection.sql(f"DESCRIBE {sql.strip().rstrip(';')}").fetchall()
        return [(str(row[0]), str(row[1])) for row in described]
    finally:
        connection.close()


def sql_text(sql: str) -> str:
    """The query without a trailing semicolon (DuckDB's relation API takes one statement)."""
    return sql.strip().rstrip(";").strip()
