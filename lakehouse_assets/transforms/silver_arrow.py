"""Bronze → silver on Arrow tables with DuckDB: the same rules and report as the pandas path.

:func:`lakehouse_assets.transforms.silver.build_silver` sends Arrow tables here. Every rule is
the pandas path's, written as SQL: values are stripped text, empty means missing; integers match
``INTEGER_TEXT``; ``0000-00-00`` dates are null and counted, well-formed impossible dates
(``2024-02-30``) are null and counted, other text is unparseable; exact duplicate rows (compared
on typed source values) keep the last; among rows sharing a key the greatest by ``latest_by``
(nulls smallest), then the last, wins; rows come out sorted by key, null keys last.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakehouse_assets.transforms.engine import (
    as_constant_text,
    connect,
    constant_text,
    quote_identifier,
    quote_literal,
    release_memory,
    repeat,
)
from lakehouse_assets.transforms.schema import DatasetSchema
from lakehouse_assets.transforms.silver import (
    DATETIME_TEXT,
    INGESTION_COLUMNS,
    INTEGER_TEXT,
    ZERO_DATE_TEXT,
    SilverReport,
)

if TYPE_CHECKING:
    import pyarrow as pa
#: What Python's ``str.strip()`` removes (``str.isspace``), so both paths strip the same.
WHITESPACE = "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace())
STRIP = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"
ROW = "__row"
SNAPSHOT_COLUMN = "_raw_snapshot"


def _q(name: str) -> str:
    return quote_identifier(name)


def build_silver_arrow(bronze: pa.Table, schema: DatasetSchema) -> tuple[pa.Table, SilverReport]:
    """Type, derive and deduplicate one dataset; never raises on bad values, reports them."""
    import numpy as np
    import pyarrow as pa

    release_memory()  # what the previous step freed, before this one allocates
    report = SilverReport(rows_in=bronze.num_rows)
    present = list(bronze.schema.names)
    missing = [c for c in schema.columns if c not in present]
    if bronze.num_rows > 0:
        report.missing_columns = missing
    source = [c for c in present if c not in INGESTION_COLUMNS] + missing
    ingestion = [c for c in INGESTION_COLUMNS if c in present]
    # One snapshot makes the ingestion columns constant: keep them out of the engine and
    # repeat them onto the result (their text is most of a narrow table's bytes).
    constant: dict[str, pa.Scalar] = {}
    for name in ingestion:
        value = _constant(bronze.column(name))
        if value is not None:
            constant[name] = value
    present = [c for c in present if c not in constant]
    ingestion_in_engine = [c for c in ingestion if c not in constant]
    for name in ingestion_in_engine:
        if pa.types.is_dictionary(bronze.schema.field(name).type):
            index = bronze.schema.get_field_index(name)
            value_type = bronze.schema.field(name).type.value_type
            bronze = bronze.set_column(index, name, bronze.column(name).cast(value_type))
    indexed = bronze.select(present).append_column(
        ROW, pa.array(np.arange(bronze.num_rows, dtype=np.int64))
    )

    strip = quote_literal(STRIP)
    base = [ROW]
    base += [_q(c) for c in present if c != ROW]
    base += [f"CAST(NULL AS VARCHAR) AS {_q(c)}" for c in missing]

    typed: list[str] = [ROW]
    flags: list[str] = []
    derived: list[str] = []
    for c in source:
        raw = f"CAST({_q(c)} AS VARCHAR)"
        # The rules, on stripped text (empty = missing), spelled out for every row that is not
        # already in canonical form; canonical rows (the usual case) skip the regular expressions.
        t = f"nullif(regexp_replace({raw}, {strip}, '', 'g'), '')"
        if c in schema.integers:
            fast = f"TRY_CAST({raw} AS BIGINT)"
            canonical = f"coalesce(CAST({fast} AS VARCHAR) = {raw}, false)"
            ok = f"coalesce(regexp_full_match({t}, {quote_literal(INTEGER_TEXT)}), false)"
            slow = f"CASE WHEN {ok} THEN TRY_CAST(regexp_replace({t}, '\\.0*$', '') AS BIGINT) END"
            value = f"CASE WHEN {canonical} THEN {fast} ELSE {slow} END"
            typed.append(f"{value} AS {_q(c)}")
            bad = f"{t} IS NOT NULL AND ({slow}) IS NULL"
            flags.append(f"CASE WHEN {canonical} THEN false ELSE {bad} END AS {_q('bad:' + c)}")
        elif c in schema.datetimes:
            fast = f"TRY_CAST({raw} AS TIMESTAMP)"
            canonical = (
                f"coalesce(CAST({fast} AS VARCHAR) = {raw} "
                f"OR CAST(CAST({fast} AS DATE) AS VARCHAR) = {raw}, false)"
            )
            zero = f"coalesce(regexp_full_match({t}, {quote_literal(ZERO_DATE_TEXT)}), false)"
            formed = f"coalesce(regexp_full_match({t}, {quote_literal(DATETIME_TEXT)}), false)"
            well = f"({formed} AND NOT {zero})"
            slow = f"CASE WHEN {well} THEN TRY_CAST({t} AS TIMESTAMP) END"
            value = f"CASE WHEN {canonical} THEN {fast} ELSE {slow} END"
            typed.append(f"{value} AS {_q(c)}")
            for name, flag in (
                ("zero", zero),
                ("impossible", f"{well} AND ({slow}) IS NULL"),
                ("bad", f"{t} IS NOT NULL AND NOT {zero} AND NOT {formed}"),
            ):
                flags.append(
                    f"CASE WHEN {canonical} THEN false ELSE {flag} END AS {_q(name + ':' + c)}"
                )
            derived += [
                f"CAST({_q(c)} AS DATE) AS {_q(c + '_todate')}",
                f"CAST(year({_q(c)}) AS BIGINT) AS {_q(c + '_year')}",
                f"CAST(month({_q(c)}) AS BIGINT) AS {_q(c + '_month')}",
                f"CAST(day({_q(c)}) AS BIGINT) AS {_q(c + '_day')}",
            ]
        else:
            typed.append(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" if c in missing else _q(c))
    typed += [_q(c) for c in ingestion_in_engine]

    connection = connect()
    try:
        connection.register("bronze_input", indexed)
        connection.execute(
            f"CREATE TEMP VIEW typing AS SELECT {', '.join(typed + flags)} "
            f"FROM (SELECT {', '.join(base)} FROM bronze_input)"
        )
        # Typed once, into Arrow (the output's own buffers, in arrival order); every later
        # pass scans it in place.
        flag_names = [_name(f) for f in flags]
        columns = [
            *(_q(c) for c in source),
            *derived,
            *(_q(c) for c in ingestion_in_engine),
            *(_q(f) for f in flag_names),
            ROW,
        ]
        typed_table = connection.sql(f"SELECT {', '.join(columns)} FROM typing").to_arrow_table()
        connection.register("typed", typed_table)
        _count_flags(connection, schema, report)
        typed_table = typed_table.drop_columns(flag_names)
        losers, ordered = _deduplicate(connection, typed_table, schema, report)
        connection.unregister("typed")
        connection.unregister("bronze_input")
        del indexed
        table = ordered if ordered is not None else _winners(typed_table, losers, schema)
        del typed_table
        table = table.drop_columns([ROW])
        report.rows_out = table.num_rows
    finally:
        connection.close()
        release_memory()
    for name in ingestion:
        if name == SNAPSHOT_COLUMN:
            values = (
                constant_text(constant[name].as_py(), table.num_rows)
                if name in constant
                else as_constant_text(table.column(name))
            )
        elif name in constant:
            values = repeat(constant[name], table.num_rows)
        else:
            values = table.column(name)
        if name in table.schema.names:
            table = table.remove_column(table.schema.get_field_index(name))
        table = table.append_column(name, values)
    return table.select([*source, *[_name(d) for d in derived], *ingestion]), report


def _name(expression: str) -> str:
    return expression.rsplit(" AS ", 1)[1].strip('"').replace('""', '"')


def _constant(column: pa.ChunkedArray) -> pa.Scalar | None:
    """The column's one value when every row holds it (never null), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(column) == 0 or column.null_count:
        return None
    if pa.types.is_dictionary(column.type):  # bronze's _raw_snapshot: look at the used values
        used = [chunk.dictionary.take(pc.unique(chunk.indices)) for chunk in column.chunks]
        values = pc.unique(pa.chunked_array(used, type=column.type.value_type))
        return values[0] if len(values) == 1 else None
    bounds = pc.min_max(column)
    low, high = bounds["min"], bounds["max"]
    return low.cast(column.type) if low == high else None


def _count_flags(connection: object, schema: DatasetSchema, report: SilverReport) -> None:
    names = [f"bad:{c}" for c in schema.integers]
    for c in schema.datetimes:
        names += [f"zero:{c}", f"impossible:{c}", f"bad:{c}"]
    if not names:
        return
    sums = ", ".join(f"count_if({_q(n)})" for n in names)
    counts = connection.execute(f"SELECT {sums} FROM typed").fetchall()[0]  # type: ignore[attr-defined]
    for name, count in zip(names, counts or [0] * len(names), strict=True):
        if not count:
            continue
        kind, column = name.split(":", 1)
        if kind == "zero":
            report.zero_dates[column] = int(count)
        elif kind == "impossible":
            report.impossible_dates[column] = int(count)
        elif column in schema.integers:
            report.unparseable_integers[column] = int(count)
        else:
            report.unparseable_dates[column] = int(count)
    for column in [*report.unparseable_integers, *report.unparseable_dates]:
        report.unparseable_examples[column] = _examples(connection, column)


def _examples(connection: object, column: str, limit: int = 3) -> list[str]:
    """The first distinct offending values as the source wrote them (like the pandas path)."""
    rows = connection.execute(  # type: ignore[attr-defined]
        f"SELECT raw FROM (SELECT {_q(column)} AS raw, min({ROW}) AS first FROM "
        f"(SELECT b.{_q(column)}, t.{ROW} FROM typed t JOIN bronze_input b USING ({ROW}) "
        f"WHERE t.{_q('bad:' + column)}) GROUP BY raw) ORDER BY first LIMIT {limit}"
    ).fetchall()
    return [str(r[0])[:40] for r in rows]


def _deduplicate(
    connection: object, typed: pa.Table, schema: DatasetSchema, report: SilverReport
) -> tuple[Any, pa.Table | None]:
    """Winning rows of ``typed``: exact duplicates keep the last, then one row per key.

    Only rows whose key repeats (or is null) can lose, so the duplicate logic runs on those
    few candidates; every other row goes straight through.
    """

    source = [c for c in typed.schema.names if c in set(_source_names(typed, schema))]
    key = [_q(c) for c in schema.key]
    key_list = ", ".join(key) or ROW
    null_key = " OR ".join(f"{k} IS NULL" for k in key) or "false"
    latest = [_q(c) for c in schema.latest_by if c in source]
    newest_first = ", ".join([f"{c} DESC NULLS LAST" for c in latest] + [f"{ROW} DESC"])
    cols = ", ".join(_q(c) for c in source)
    run = connection.execute  # type: ignore[attr-defined]
    run(
        f"CREATE TEMP TABLE repeated_keys AS SELECT {key_list} FROM typed "
        f"WHERE NOT ({null_key}) GROUP BY {key_list} HAVING count(*) > 1"
    )
    run(
        f"CREATE TEMP TABLE candidates AS "
        f"SELECT {ROW}, {cols} FROM typed SEMI JOIN repeated_keys USING ({key_list}) "
        f"UNION ALL SELECT {ROW}, {cols} FROM typed WHERE {null_key}"
    )
    run(
        "CREATE TEMP TABLE ranked AS "
        f"WITH kept AS (SELECT max({ROW}) AS {ROW} FROM candidates GROUP BY {cols}), "
        f"slim AS (SELECT {ROW}, ({null_key}) AS __null_key, "
        f"{', '.join([*key, *latest]) or ROW} FROM candidates SEMI JOIN kept USING ({ROW})) "
        f"SELECT {ROW}, __null_key, CASE WHEN NOT __null_key THEN row_number() OVER "
        f"(PARTITION BY {key_list} ORDER BY {newest_first}) END AS __rank FROM slim"
    )
    counts = run(
        "SELECT (SELECT count(*) FROM candidates), count(*), count_if(__null_key), "
        "count_if(__rank = 1) FROM ranked"
    ).fetchall()[0]
    candidates, distinct, null_keys, winners = (int(v or 0) for v in counts)
    report.duplicate_rows_removed = candidates - distinct
    report.null_keys = null_keys
    report.superseded_rows_removed = distinct - null_keys - winners
    report.duplicate_keys = 0  # one winner per non-null key, by construction
    losers = (
        connection.sql(  # type: ignore[attr-defined]
            f"SELECT {ROW} FROM candidates ANTI JOIN "
            f"(SELECT {ROW} FROM ranked WHERE __null_key OR __rank = 1) USING ({ROW})"
        )
        .to_arrow_table()
        .column(0)
        .to_numpy()
    )
    if null_keys:
        # Null keys go last, in latest_by order (nulls first), then arrival order.
        order = ", ".join(
            [f"{k} ASC NULLS LAST" for k in key]
            + [f"{c} ASC NULLS FIRST" for c in latest]
            + [f"{ROW} ASC"]
        )
        table = connection.sql(  # type: ignore[attr-defined]
            f"SELECT * FROM typed WHERE {ROW} NOT IN "
            f"(SELECT {ROW} FROM candidates ANTI JOIN (SELECT {ROW} FROM ranked "
            f"WHERE __null_key OR __rank = 1) USING ({ROW})) ORDER BY {order}"
        ).to_arrow_table()
        return losers, table.select(typed.schema.names)
    return losers, None


def _winners(typed: pa.Table, losers: Any, schema: DatasetSchema) -> pa.Table:
    """``typed`` without the losing rows, in key order (keys are unique and non-null here).

    Sources usually list rows by key already, with a duplicate or a late row here and there:
    the result is then stitched from slices of ``typed`` (no copy); a real shuffle is taken.
    """
    import numpy as np

    rows = np.arange(typed.num_rows)
    if len(losers):
        keep = np.ones(typed.num_rows, dtype=bool)
        keep[losers] = False
        rows = rows[keep]
    if len(schema.key) != 1:
        table = typed.take(rows) if len(rows) != typed.num_rows else typed
        return table.sort_by([(c, "ascending") for c in schema.key])
    key = typed.column(schema.key[0]).to_numpy()[rows]
    if len(key) > 1 and not bool((key[1:] > key[:-1]).all()):
        rows = rows[np.argsort(key, kind="stable")]
    return _gather(typed, rows)


#: Above this many runs of consecutive rows, one ``take`` beats stitching slices.
MAX_SLICES = 4096


def _gather(table: pa.Table, rows: Any) -> pa.Table:
    """``table.take(rows)``, as zero-copy slices when ``rows`` is a few ascending runs."""
    import numpy as np
    import pyarrow as pa

    if len(rows) == 0:
        return table.slice(0, 0)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    if len(breaks) >= MAX_SLICES:
        return table.take(rows)
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [len(rows)]))
    if len(starts) == 1 and rows[0] == 0 and len(rows) == table.num_rows:
        return table
    return pa.concat_tables(
        [table.slice(int(rows[a]), int(b - a)) for a, b in zip(starts, ends, strict=True)]
    )


def _source_names(typed: pa.Table, schema: DatasetSchema) -> list[str]:
    derived = set(schema.derived_columns())
    return [
        c
        for c in typed.schema.names
        if c not in derived and c not in INGESTION_COLUMNS and c != ROW
    ]
