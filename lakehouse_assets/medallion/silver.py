"""Bronze → silver with DuckDB, streamed: the platform's one typing engine.

The silver assets of every source send bronze Parquet files here (:func:`write_silver_file`).
The rules (:mod:`lakehouse_assets.medallion.text_rules`), written as SQL: values are
stripped text, empty means missing; integers match ``INTEGER_TEXT``;
``0000-00-00`` dates are null and counted, well-formed impossible dates (``2024-02-30``) are null
and counted, other text is unparseable; exact duplicate rows (compared on typed source values)
keep the last; among rows sharing a key the greatest by ``latest_by`` (nulls smallest), then the
last, wins; rows come out sorted by key, null keys last.

Memory stays bounded whatever the size: only the key column is typed up front, into a narrow
table, to find the few rows a duplicate can touch and the few that arrive after a greater key;
then every row is typed once more on its way out, a batch at a time, straight into the output,
with those late rows merged back in by key. Sources usually list rows by key already; only one
that does not (more than ``MAX_LATE_ROWS`` out of place) is sorted as a whole, by DuckDB,
spilling to disk beyond its memory limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_assets.medallion.datasets import DatasetSchema
from lakehouse_assets.medallion.engine import (
    ROWS_PER_BATCH,
    as_constant_text,
    connect,
    constant_text_array,
    quote_identifier,
    quote_literal,
    release_memory,
)
from lakehouse_assets.medallion.text_rules import (
    DATETIME_TEXT,
    INGESTION_COLUMNS,
    INTEGER_TEXT,
    ZERO_DATE_TEXT,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: What Python's ``str.strip()`` removes (``str.isspace``), so both paths strip the same.
WHITESPACE = "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace())
STRIP = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"
ROW = "__row"
SNAPSHOT_COLUMN = "_raw_snapshot"


@dataclass
class SilverReport:
    """What typing and deduplication found; the silver checks are decided from it."""

    rows_in: int = 0
    rows_out: int = 0
    missing_columns: list[str] = field(default_factory=list)
    #: Columns the source sent that the dataset does not declare (kept, and reported).
    extra_columns: list[str] = field(default_factory=list)
    unparseable_integers: dict[str, int] = field(default_factory=dict)
    unparseable_dates: dict[str, int] = field(default_factory=dict)
    zero_dates: dict[str, int] = field(default_factory=dict)
    impossible_dates: dict[str, int] = field(default_factory=dict)
    duplicate_rows_removed: int = 0
    superseded_rows_removed: int = 0
    null_keys: int = 0
    duplicate_keys: int = 0
    unparseable_examples: dict[str, list[str]] = field(default_factory=dict)


#: Writes a stream of batches of the given schema somewhere; returns the rows written.
Sink = Callable[[Iterable["pa.RecordBatch"], "pa.Schema"], int]


def _q(name: str) -> str:
    return quote_identifier(name)


def write_silver_file(bronze: Path, out: Path, schema: DatasetSchema) -> SilverReport:
    """Type, derive and deduplicate the bronze Parquet file into the Parquet file ``out``."""
    from lakehouse_assets.lake.parquet import write_parquet_batches

    release_memory()  # what the previous step freed, before this one allocates
    data = _bronze_input(bronze)
    connection = connect()
    try:
        return _silver(
            connection,
            data,
            schema,
            lambda batches, schema_: write_parquet_batches(batches, schema_, out),
        )
    finally:
        connection.close()
        release_memory()


def leading_key_range(bronze: Path, schema: DatasetSchema, rows: int) -> tuple[Any, int]:
    """(greatest typed key, rows with a null key) among the first ``rows`` rows of a bronze
    file: only the key column is typed (what an incremental silver needs to know that those
    rows' silver comes before any later row's)."""
    data = _bronze_input(bronze, rows)
    typing = _typing(data, schema)
    _, _, null_key = _key_sql(schema)
    (key,) = schema.key
    connection = connect()
    try:
        greatest, nulls = connection.execute(
            f"SELECT max({_q(key)}), count_if({null_key}) FROM ({typing.view(data.relation)})"
        ).fetchall()[0]
    finally:
        connection.close()
    return greatest, int(nulls or 0)


@dataclass
class _Input:
    relation: str  # SQL relation: ROW plus every bronze column not in ``constants``
    names: list[str]  # the bronze columns, in order
    constants: dict[str, pa.Scalar]  # ingestion columns holding one value on every row
    rows: int


def _bronze_input(bronze: Path, rows: int | None = None) -> _Input:
    """The bronze Parquet file as the engine's input: all its rows, or the first ``rows``."""
    import pyarrow.parquet as pq

    from lakehouse_assets.lake.parquet import file_head

    parquet = pq.ParquetFile(bronze)
    names = list(parquet.schema_arrow.names)
    constants = _constant_columns(parquet, file_head(parquet, 1))
    columns = ", ".join(_q(c) for c in names if c not in constants)
    first = "" if rows is None else f" WHERE file_row_number < {int(rows)}"
    relation = (
        f"(SELECT file_row_number AS {ROW}{', ' if columns else ''}{columns} "
        f"FROM read_parquet({quote_literal(bronze)}, file_row_number=true){first})"
    )
    total = parquet.metadata.num_rows
    return _Input(relation, names, constants, total if rows is None else min(rows, total))


@dataclass
class _Typing:
    """The SQL that types one dataset, and what the output is made of."""

    source: list[str]  # source columns, declared missing ones last
    base: list[str]  # the relation's columns, missing ones as NULL text
    typed: list[str]  # ROW, typed source columns, ingestion columns kept in the engine
    derived: list[str]  # date parts, as "expression AS name"
    flags: dict[str, str] = field(default_factory=dict)  # "kind:column" → condition

    def view(self, relation: str) -> str:
        flags = [f"{sql} AS {_q(name)}" for name, sql in self.flags.items()]
        return (
            f"SELECT {', '.join(self.typed + flags)} "
            f"FROM (SELECT {', '.join(self.base)} FROM {relation})"
        )


def _typing(data: _Input, schema: DatasetSchema) -> _Typing:
    present = [c for c in data.names if c not in data.constants]
    missing = [c for c in schema.column_names if c not in data.names]
    source = [c for c in data.names if c not in INGESTION_COLUMNS] + missing
    in_engine = [c for c in INGESTION_COLUMNS if c in present]
    strip = quote_literal(STRIP)
    typing = _Typing(
        source=source,
        base=[
            ROW,
            *(_q(c) for c in present),
            *(f"CAST(NULL AS VARCHAR) AS {_q(c)}" for c in missing),
        ],
        typed=[ROW],
        derived=[],
    )
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
            typing.typed.append(f"CASE WHEN {canonical} THEN {fast} ELSE {slow} END AS {_q(c)}")
            bad = f"{t} IS NOT NULL AND ({slow}) IS NULL"
            typing.flags[f"bad:{c}"] = f"CASE WHEN {canonical} THEN false ELSE {bad} END"
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
            typing.typed.append(f"CASE WHEN {canonical} THEN {fast} ELSE {slow} END AS {_q(c)}")
            for kind, condition in (
                ("zero", zero),
                ("impossible", f"{well} AND ({slow}) IS NULL"),
                ("bad", f"{t} IS NOT NULL AND NOT {zero} AND NOT {formed}"),
            ):
                typing.flags[f"{kind}:{c}"] = (
                    f"CASE WHEN {canonical} THEN false ELSE {condition} END"
                )
            typing.derived += [
                f"CAST({_q(c)} AS DATE) AS {_q(c + '_todate')}",
                f"CAST(year({_q(c)}) AS BIGINT) AS {_q(c + '_year')}",
                f"CAST(month({_q(c)}) AS BIGINT) AS {_q(c + '_month')}",
                f"CAST(day({_q(c)}) AS BIGINT) AS {_q(c + '_day')}",
            ]
        else:
            typing.typed.append(f"CAST({_q(c)} AS VARCHAR) AS {_q(c)}" if c in missing else _q(c))
    typing.typed += [_q(c) for c in in_engine]
    return typing


#: Above this many rows out of key order, one sort of everything beats merging them back in.
MAX_LATE_ROWS = 200_000


@dataclass
class _Plan:
    """What deduplication decided, and how the output gets into key order."""

    losers: Any  # ROW numbers of rows that lose to another (numpy int64)
    null_keys: int
    #: ROW numbers of the few rows that arrive after a greater key (merged back in by key),
    #: or None when the output must be sorted as a whole.
    late: Any | None


def _report_columns(report: SilverReport, names: list[str], schema: DatasetSchema) -> None:
    """Declared columns bronze lacks (when it has rows), and undeclared ones it brought."""
    if report.rows_in > 0:
        report.missing_columns = [c for c in schema.column_names if c not in names]
    declared = set(schema.column_names)
    report.extra_columns = [c for c in names if c not in declared and not c.startswith("_")]


def _report_flag_counts(
    report: SilverReport, counts: dict[str, int], schema: DatasetSchema
) -> None:
    """Each flag's count ("kind:column") into the report's field for that kind."""
    for name, count in counts.items():
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


def _silver(
    connection: duckdb.DuckDBPyConnection, data: _Input, schema: DatasetSchema, sink: Sink
) -> SilverReport:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    report = SilverReport(rows_in=data.rows)
    _report_columns(report, data.names, schema)
    typing = _typing(data, schema)
    connection.execute(f"CREATE TEMP VIEW typing AS {typing.view(data.relation)}")
    plan = _deduplicate(connection, typing, schema, report, data.relation)

    derived = [_name(d) for d in typing.derived]
    ingestion = [c for c in INGESTION_COLUMNS if c in data.names]
    in_engine = [c for c in ingestion if c not in data.constants]
    out_columns = [*(_q(c) for c in typing.source), *typing.derived, *(_q(c) for c in in_engine)]
    select = ", ".join([*out_columns, *(_q(f) for f in typing.flags), ROW])
    counts: dict[str, int] = {}
    late = plan.late if plan.late is not None else np.array([], dtype=np.int64)
    excluded = pa.array(np.concatenate([plan.losers, late]), type=pa.int64())

    def finish(batch: pa.RecordBatch, exclude: pa.Array, count: bool = True) -> pa.RecordBatch:
        """Count the checks' flags on every row, drop ``exclude``, keep the output columns."""
        for name in typing.flags if count else ():
            counts[name] = counts.get(name, 0) + int(pc.sum(batch.column(name)).as_py() or 0)
        if len(exclude) and batch.num_rows:
            batch = batch.filter(pc.invert(pc.is_in(batch.column(ROW), value_set=exclude)))
        batch = batch.select([*typing.source, *derived, *in_engine])
        return _with_ingestion(batch, ingestion, data.constants)

    late_rows = None
    if len(late):  # the few rows to merge back in, typed first (one open result at a time)
        connection.register("late_rows", pa.table({ROW: pa.array(late, type=pa.int64())}))
        chosen = f"(SELECT * FROM {data.relation} WHERE {ROW} IN (SELECT {ROW} FROM late_rows))"
        late_rows = connection.sql(
            f"SELECT {select} FROM ({typing.view(chosen)}) ORDER BY {_q(schema.key[0])}"
        ).to_arrow_table()
    order = f" ORDER BY {_order(schema, typing.source)}" if plan.late is None else ""
    reader = connection.sql(f"SELECT {select} FROM typing{order}").to_arrow_reader(ROWS_PER_BATCH)
    out_schema = finish(pa.RecordBatch.from_pylist([], schema=reader.schema), excluded).schema
    batches: Iterable[pa.RecordBatch] = (finish(batch, excluded) for batch in reader)
    if late_rows is not None:
        nothing = pa.array([], type=pa.int64())
        # (the main pass counts these rows' flags: it sees every row before dropping them)
        finished = [finish(b, nothing, count=False) for b in late_rows.to_batches()]
        late_table = pa.Table.from_batches(finished, schema=out_schema)
        batches = _merge(batches, late_table, schema.key[0])
    try:
        report.rows_out = sink(batches, out_schema)
    finally:
        reader.close()
    _report_flags(connection, typing, counts, schema, report, data.relation)
    return report


def _merge(batches: Iterable[pa.RecordBatch], late: pa.Table, key: str) -> Iterator[pa.RecordBatch]:
    """Key-ordered ``batches`` with the key-ordered ``late`` rows merged in, in key order."""
    import numpy as np
    import pyarrow as pa

    keys = late.column(key).to_numpy()
    position = 0
    for batch in batches:
        if position < late.num_rows and batch.num_rows:
            end = int(np.searchsorted(keys, batch.column(key)[-1].as_py(), side="left"))
            if end > position:
                merged = pa.concat_tables(
                    [pa.Table.from_batches([batch]), late.slice(position, end - position)]
                ).sort_by(key)
                position = end
                yield from merged.combine_chunks().to_batches()
                continue
        yield batch
    if position < late.num_rows:
        yield from late.slice(position).to_batches()


def _order(schema: DatasetSchema, source: list[str]) -> str:
    """Key order, null keys last in ``latest_by`` order (nulls first), then arrival order."""
    latest = [c for c in schema.latest_by if c in source]
    return ", ".join(
        [f"{_q(k)} ASC NULLS LAST" for k in schema.key]
        + [f"{_q(c)} ASC NULLS FIRST" for c in latest]
        + [f"{ROW} ASC"]
    )


def _late_rows(
    connection: duckdb.DuckDBPyConnection, key: str, losers: Any, rows: int
) -> Any | None:
    """ROW numbers of the rows that arrive after a greater key, losers aside (None: too many
    to merge, or a key that is not an integer; the output is then sorted as a whole).

    One pass over the narrow ``keyed`` table, a batch at a time, carrying the greatest key
    seen so far: memory stays small whatever the row count.
    """
    import numpy as np
    import pyarrow as pa

    reader = connection.sql(f"SELECT {ROW}, {_q(key)} FROM keyed").to_arrow_reader(ROWS_PER_BATCH)
    try:
        if not pa.types.is_integer(reader.schema.field(1).type):
            return None
        limit = max(MAX_LATE_ROWS, rows // 100)
        late: list[Any] = []
        found = 0
        highest: int | None = None
        last_row = -1
        for batch in reader:
            numbers = batch.column(0).to_numpy()
            keys = batch.column(1).to_numpy()
            if len(losers):
                keep = ~np.isin(numbers, losers)
                numbers, keys = numbers[keep], keys[keep]
            if not len(keys):
                continue
            if numbers[0] <= last_row or not bool((numbers[1:] > numbers[:-1]).all()):
                return None  # not in arrival order: nothing to lean on
            running = np.maximum.accumulate(keys)
            mask = np.zeros(len(keys), dtype=bool)
            mask[1:] = keys[1:] <= running[:-1]  # a greater key came earlier in this batch
            if highest is not None:
                mask |= keys <= highest  # or in an earlier batch
            late.append(numbers[mask])
            found += int(mask.sum())
            if found > limit:
                return None
            highest = int(running[-1]) if highest is None else max(highest, int(running[-1]))
            last_row = int(numbers[-1])
        return np.concatenate(late) if late else np.array([], dtype=np.int64)
    finally:
        reader.close()


def _with_ingestion(
    batch: pa.RecordBatch, ingestion: list[str], constants: dict[str, pa.Scalar]
) -> pa.RecordBatch:
    """The ingestion columns last: constants repeated, the snapshot key dictionary-encoded."""
    import pyarrow as pa

    columns = {name: batch.column(name) for name in batch.schema.names}
    for name in ingestion:
        constant = constants.get(name)
        if name == SNAPSHOT_COLUMN:
            columns[name] = (
                constant_text_array(constant.as_py(), batch.num_rows)
                if constant is not None
                else as_constant_text(columns.pop(name)).combine_chunks()
            )
        else:
            columns[name] = (
                pa.repeat(constant, batch.num_rows) if constant is not None else columns.pop(name)
            )
    return pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))


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


def _constant_columns(parquet: Any, head: pa.Table) -> dict[str, pa.Scalar]:
    """Ingestion columns whose Parquet statistics show one value on every row (from the footer)."""
    import pyarrow as pa

    metadata = parquet.metadata
    if metadata.num_rows == 0 or metadata.num_row_groups == 0:
        return {}
    constants: dict[str, pa.Scalar] = {}
    for name in INGESTION_COLUMNS:
        if name not in head.schema.names:
            continue
        index = parquet.schema_arrow.get_field_index(name)
        stats = [
            metadata.row_group(g).column(index).statistics for g in range(metadata.num_row_groups)
        ]
        if all(
            s is not None and s.has_min_max and s.null_count == 0 and s.min == s.max == stats[0].min
            for s in stats
        ):
            value = head.column(name)[0]
            if pa.types.is_dictionary(value.type):
                value = pa.scalar(value.as_py(), value.type.value_type)
            constants[name] = value
    return constants


def _report_flags(
    connection: duckdb.DuckDBPyConnection,
    typing: _Typing,
    counts: dict[str, int],
    schema: DatasetSchema,
    report: SilverReport,
    relation: str,
) -> None:
    _report_flag_counts(report, counts, schema)
    for column in [*report.unparseable_integers, *report.unparseable_dates]:
        report.unparseable_examples[column] = _examples(connection, typing, column, relation)


def _examples(
    connection: duckdb.DuckDBPyConnection,
    typing: _Typing,
    column: str,
    relation: str,
    limit: int = 3,
) -> list[str]:
    """The first distinct offending values as the source wrote them ."""
    bad = typing.flags[f"bad:{column}"]
    rows = connection.execute(
        f"SELECT raw FROM (SELECT {_q(column)} AS raw, min({ROW}) AS first FROM "
        f"(SELECT {', '.join(typing.base)} FROM {relation}) WHERE {bad} GROUP BY raw) "
        f"ORDER BY first LIMIT {limit}"
    ).fetchall()
    return [str(r[0])[:40] for r in rows]


def _key_sql(schema: DatasetSchema) -> tuple[list[str], str, str]:
    """The key's quoted columns, as a list, and the condition "some key column is null"."""
    key = [_q(c) for c in schema.key]
    return key, ", ".join(key) or ROW, " OR ".join(f"{k} IS NULL" for k in key) or "false"


def _deduplicate(
    connection: duckdb.DuckDBPyConnection,
    typing: _Typing,
    schema: DatasetSchema,
    report: SilverReport,
    relation: str,
) -> _Plan:
    """Which rows lose (exact duplicates keep the last, then one row per key), and how the
    rest gets into key order.

    Only rows whose key repeats (or is null) can lose: the key alone is typed for every row to
    find them (a narrow table), and the duplicate logic runs on those few candidates.
    """
    import numpy as np

    _, key_list, null_key = _key_sql(schema)
    run = connection.execute
    run(f"CREATE TEMP TABLE keyed AS SELECT {ROW}, {key_list} FROM typing")
    run(
        f"CREATE TEMP TABLE candidate_rows AS WITH "
        f"repeated AS (SELECT {key_list} FROM keyed WHERE NOT ({null_key}) "
        f"GROUP BY {key_list} HAVING count(*) > 1) "
        f"SELECT {ROW} FROM keyed SEMI JOIN repeated USING ({key_list}) "
        f"UNION ALL SELECT {ROW} FROM keyed WHERE {null_key}"
    )
    losers = np.array([], dtype=np.int64)
    null_keys = 0
    if run("SELECT count(*) FROM candidate_rows").fetchall()[0][0]:
        losers, null_keys = _losers(connection, typing, schema, report, relation)
    late = None
    if len(schema.key) == 1 and not null_keys:
        late = _late_rows(connection, schema.key[0], losers, report.rows_in)
    run("DROP TABLE keyed")
    return _Plan(losers, null_keys, late)


def _losers(
    connection: duckdb.DuckDBPyConnection,
    typing: _Typing,
    schema: DatasetSchema,
    report: SilverReport,
    relation: str,
) -> tuple[Any, int]:
    """The losing rows among the candidates, and how many rows have a null key."""
    key, key_list, null_key = _key_sql(schema)
    run = connection.execute
    source = typing.source
    latest = [_q(c) for c in schema.latest_by if c in source]
    newest_first = ", ".join([f"{c} DESC NULLS LAST" for c in latest] + [f"{ROW} DESC"])
    cols = ", ".join(_q(c) for c in source)
    # Typed again, but only the candidate rows.
    chosen = f"(SELECT * FROM {relation} WHERE {ROW} IN (SELECT {ROW} FROM candidate_rows))"
    run(f"CREATE TEMP TABLE candidates AS SELECT {ROW}, {cols} FROM ({typing.view(chosen)})")
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
        connection.sql(
            f"SELECT {ROW} FROM candidates ANTI JOIN "
            f"(SELECT {ROW} FROM ranked WHERE __null_key OR __rank = 1) USING ({ROW})"
        )
        .to_arrow_table()
        .column(0)
        .to_numpy()
    )
    return losers, null_keys


@dataclass(frozen=True)
class SilverStatements:
    """The silver of one dataset as plain SQL statements over a relation of bronze rows (ROW
    plus every bronze column), in DuckDB's dialect: what another engine runs (transpiled) to get
    the table :func:`write_silver_file` writes, without its streaming and late-row merging.

    Views, in order: ``silver_base`` (text, missing columns as NULL), ``silver_typed`` (typed
    values and the checks' flags), ``silver_ranked`` (rows sharing a key ranked, the winner
    first, and counted), ``silver_candidates`` (the rows of repeated or null keys, exact
    duplicates numbered, the last first).
    """

    views: tuple[tuple[str, str], ...]
    output: str  # the silver rows, in silver's order
    flags: str  # one row: rows in, then each flag's count (column "kind:column")
    dedup: str  # one row: duplicate_rows_removed, null_keys, superseded_rows_removed
    examples: str | None  # rows (column_name, raw, n): the first offending texts per column
    source: tuple[str, ...]  # the source columns, declared missing ones last
    #: views read more than once (the output, the flags, the duplicates): worth keeping
    cache: tuple[str, ...] = ()


def silver_statements(
    bronze_columns: list[str], schema: DatasetSchema, relation: str
) -> SilverStatements:
    """:class:`SilverStatements` for a bronze relation with ``bronze_columns`` (and ROW)."""
    data = _Input(relation, list(bronze_columns), {}, 0)
    typing = _typing(data, schema)
    key, key_list, null_key = _key_sql(schema)
    source = typing.source
    cols = ", ".join(_q(c) for c in source)
    latest = [_q(c) for c in schema.latest_by if c in source]
    newest_first = ", ".join([f"{c} DESC NULLS LAST" for c in latest] + [f"{ROW} DESC"])
    ingestion = [_q(c) for c in INGESTION_COLUMNS if c in data.names]
    views = [
        ("silver_base", f"SELECT {', '.join(typing.base)} FROM {relation}"),
        ("silver_typed", typing.view(relation)),
    ]
    kept_columns = ", ".join([*(_q(c) for c in source), *ingestion, ROW])
    if key:
        # Among rows sharing a non-null key the greatest by latest_by (nulls smallest), then
        # the last, wins: one pass partitioned by the key. Exact duplicates (typed source values,
        # the last kept) can only be rows whose key repeats or is null, as in the streaming
        # engine: only those few are compared on every column. (The winner of a key is the last
        # of its exact copies, so ranking before removing copies picks the same row.)
        views += [
            (
                "silver_ranked",
                f"SELECT *, ({null_key}) AS __null_key, "
                f"count(*) OVER (PARTITION BY {key_list}) AS __rows_of_key, "
                f"row_number() OVER (PARTITION BY {key_list} ORDER BY {newest_first}) "
                f"AS __rank FROM silver_typed",
            ),
            (
                "silver_candidates",
                f"SELECT *, row_number() OVER (PARTITION BY {cols} ORDER BY {ROW} DESC) "
                f"AS __copy FROM silver_ranked WHERE __null_key OR __rows_of_key > 1",
            ),
        ]
        kept = (
            f"(SELECT {kept_columns} FROM silver_ranked "
            f"WHERE NOT __null_key AND __rows_of_key = 1 "
            f"UNION ALL SELECT {kept_columns} FROM silver_candidates "
            f"WHERE __copy = 1 AND (__null_key OR __rank = 1))"
        )
        dedup = (
            "SELECT sum(CASE WHEN __copy > 1 THEN 1 ELSE 0 END) AS duplicate_rows_removed, "
            "sum(CASE WHEN __copy = 1 AND __null_key THEN 1 ELSE 0 END) AS null_keys, "
            "sum(CASE WHEN __copy = 1 AND NOT __null_key AND __rank > 1 THEN 1 ELSE 0 END) "
            "AS superseded_rows_removed FROM silver_candidates"
        )
        every_row = "silver_ranked"
    else:  # no key: nothing is a duplicate (as write_silver_file)
        kept = "silver_typed"
        dedup = "SELECT 0 AS duplicate_rows_removed, 0 AS null_keys, 0 AS superseded_rows_removed"
        every_row = "silver_typed"
    output = (
        f"SELECT {', '.join([*(_q(c) for c in source), *typing.derived, *ingestion])} "
        f"FROM {kept} ORDER BY {_order(schema, list(source))}"
    )
    counts = [f"sum(CASE WHEN {_q(name)} THEN 1 ELSE 0 END) AS {_q(name)}" for name in typing.flags]
    flags = f"SELECT {', '.join(['count(*) AS rows_in', *counts])} FROM {every_row}"
    bad = [name.split(":", 1)[1] for name in typing.flags if name.startswith("bad:")]
    examples = None
    if bad:
        offending = " UNION ALL ".join(
            f"SELECT {quote_literal(column)} AS column_name, CAST({_q(column)} AS VARCHAR) AS raw, "
            f"{ROW} FROM silver_base WHERE {typing.flags[f'bad:{column}']}"
            for column in bad
        )
        examples = (
            "SELECT column_name, raw, n FROM (SELECT column_name, raw, row_number() OVER "
            "(PARTITION BY column_name ORDER BY first) AS n FROM (SELECT column_name, raw, "
            f"min({ROW}) AS first FROM ({offending}) GROUP BY column_name, raw)) WHERE n <= 3 "
            "ORDER BY column_name, n"
        )
    return SilverStatements(
        tuple(views), output, flags, dedup, examples, tuple(source), cache=(every_row,)
    )


def report_from_statements(
    bronze_columns: list[str],
    schema: DatasetSchema,
    rows_out: int,
    flags: dict[str, Any],
    dedup: dict[str, Any],
    examples: list[dict[str, Any]],
) -> SilverReport:
    """The :class:`SilverReport` of a silver built from :func:`silver_statements` elsewhere."""
    report = SilverReport(rows_in=int(flags.get("rows_in") or 0), rows_out=rows_out)
    _report_columns(report, bronze_columns, schema)
    _report_flag_counts(
        report, {k: int(v or 0) for k, v in flags.items() if k != "rows_in"}, schema
    )
    for row in examples:
        column = str(row["column_name"])
        if column in report.unparseable_integers or column in report.unparseable_dates:
            report.unparseable_examples.setdefault(column, []).append(str(row["raw"])[:40])
    report.duplicate_rows_removed = int(dedup.get("duplicate_rows_removed") or 0)
    report.null_keys = int(dedup.get("null_keys") or 0)
    report.superseded_rows_removed = int(dedup.get("superseded_rows_removed") or 0)
    return report
