"""The lookups that enrich transactions — stores, customers' last activity, fraud scores — as
resources the assets take, each an interface with a packaged local sample behind it.

A run processes many landed files, so every lookup is asked once per batch with all the
batch's keys (never once per transaction). The stores lookup is SQL through SQLAlchemy
whichever database answers: MySQL on AWS (``aws_lookups``), and locally a SQLite copy of the
packaged table attached as schema ``stores``, so ``./dev run`` exercises the same query. The
customer and fraud samples share the AWS implementations' value rules (``parse_last_seen``,
``newest_scores``, ``time_windows``). Names of tables, groups and secrets come from parameters
at run time, so they are method arguments, not resource fields.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import PrivateAttr

from lakehouse_assets.errors import SourceError
from lakehouse_assets.sources.transactions.times import any_utc

if TYPE_CHECKING:  # SQLAlchemy is imported by the lookups that run, not by the code location
    import sqlalchemy as sa

SOURCE = "transactions"
DATASET = "enriched"
SAMPLE_DIR = Path(__file__).parent / "sample"
INT64_TEXT = re.compile(r"[+-]?\d{1,19}")
INTEGRAL_TEXT = re.compile(r"([+-]?\d{1,19})\.0*")
#: Around a score's digits: sentence punctuation, brackets and quotes (never a sign).
TOKEN_PUNCTUATION = ".,;:!?()[]{}<>\"'`"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: MySQL errors that another attempt cannot cure: access denied, unknown database or table.
PERMANENT_MYSQL_ERRORS = frozenset({1044, 1045, 1049, 1142, 1146})


def lookup_error(problem: str, *, transient: bool = False) -> SourceError:
    return SourceError(SOURCE, DATASET, problem, transient=transient)


def backoff_delay(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """Exponential backoff with full jitter before retry number ``attempt`` (1-based)."""
    return random.uniform(0, min(max_seconds, base_seconds * 2 ** (attempt - 1)))


def chunked(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def distinct_ids(values: Iterable[object]) -> list[str]:
    """Keys as text, nulls and empties left out, sorted (so calls are reproducible)."""
    return sorted({str(v) for v in values if v is not None and str(v) != ""})


# --- stores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreTable:
    """The stores rows a batch needs: ``columns`` in the table's order (key included), and each
    row by its key as text."""

    columns: tuple[str, ...]
    rows: Mapping[str, Mapping[str, Any]]
    queries: int = 0


def read_stores(
    connection: sa.Connection,
    table: str,
    store_ids: Sequence[str],
    *,
    key_column: str = "store_id",
    chunk_size: int = 1000,
) -> StoreTable:
    """Every column of the rows whose key is in ``store_ids``: one ``IN`` query per chunk."""
    import sqlalchemy as sa

    quote = connection.dialect.identifier_preparer.quote_identifier
    qualified = ".".join(quote(part) for part in table.split("."))
    statement = sa.text(f"SELECT * FROM {qualified} WHERE {quote(key_column)} IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    columns: tuple[str, ...] = ()
    rows: dict[str, dict[str, Any]] = {}
    queries = 0
    for chunk in chunked(store_ids, chunk_size):
        result = connection.execute(statement, {"ids": list(chunk)})
        queries += 1
        columns = tuple(result.keys())
        for row in result.mappings():
            rows[str(row[key_column])] = dict(row)
    return StoreTable(columns, rows, queries)


def _error_code(exc: sa.exc.DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class StoresLookup(dg.ConfigurableResource, ABC):
    """Store rows by ``store_id``, read once per batch; connection errors are retried with
    backoff, then the run fails naming the service (never a host, user or password)."""

    table: str = "stores.stores"
    key_column: str = "store_id"
    chunk_size: int = 1000
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 20.0

    @property
    @abstractmethod
    def service(self) -> str:
        """What answers, for error messages (``MySQL``, ``sample SQLite``)."""

    @abstractmethod
    @contextmanager
    def engine(self, secret_id: str) -> Iterator[sa.Engine]:
        """An engine for this batch's queries (released on exit)."""

    def stores(self, store_ids: Iterable[object], *, secret_id: str) -> StoreTable:
        """The rows of the batch's ``store_ids`` (missing ones simply absent)."""
        import sqlalchemy as sa

        ids = distinct_ids(store_ids)
        if not ids:
            return StoreTable((), {}, 0)
        with self.engine(secret_id) as engine:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    with engine.connect() as connection:
                        return read_stores(
                            connection,
                            self.table,
                            ids,
                            key_column=self.key_column,
                            chunk_size=self.chunk_size,
                        )
                except sa.exc.OperationalError as exc:
                    code = _error_code(exc)
                    detail = f"error {code}" if code is not None else type(exc.orig).__name__
                    if code is None or code in PERMANENT_MYSQL_ERRORS:
                        raise lookup_error(
                            f"{self.service} stores lookup failed on {self.table} ({detail})"
                        ) from None
                    if attempt == self.max_attempts:
                        raise lookup_error(
                            f"{self.service} stores lookup unreachable after {attempt} attempts"
                            f" ({detail})",
                            transient=True,
                        ) from None
                except sa.exc.DBAPIError as exc:
                    code = _error_code(exc)
                    detail = f"error {code}" if code is not None else type(exc.orig).__name__
                    raise lookup_error(
                        f"{self.service} stores lookup failed on {self.table} ({detail})"
                    ) from None
                time.sleep(backoff_delay(attempt, self.backoff_seconds, self.max_backoff_seconds))
        raise AssertionError("unreachable")  # pragma: no cover


class SampleStoresLookup(StoresLookup):
    """The packaged store table (a SQL script) in an in-memory SQLite database attached as
    schema ``stores``, built at first use; ``secret_id`` is not needed."""

    sql_file: str | None = None

    _engine: sa.Engine | None = PrivateAttr(default=None)

    @property
    def service(self) -> str:
        return "sample SQLite"

    def script(self) -> Path:
        return Path(self.sql_file) if self.sql_file else SAMPLE_DIR / "stores.sql"

    @contextmanager
    def engine(self, secret_id: str) -> Iterator[sa.Engine]:
        import sqlalchemy as sa

        if self._engine is None:
            script = self.script().read_text(encoding="utf-8")
            engine = sa.create_engine(
                "sqlite://",
                poolclass=sa.pool.StaticPool,
                connect_args={"check_same_thread": False},
            )

            @sa.event.listens_for(engine, "connect")
            def _attach(dbapi_connection: sqlite3.Connection, _record: object) -> None:
                dbapi_connection.execute("ATTACH DATABASE ':memory:' AS stores")
                dbapi_connection.executescript(script)

            self._engine = engine
        yield self._engine


# --- customers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerActivity:
    """``last_seen`` per customer found (None: found, but no readable ``last_seen``); a
    customer not found is absent."""

    last_seen: Mapping[str, datetime | None]
    calls: int = 0


def parse_last_seen(value: object) -> datetime | None:
    """``last_seen`` as stored: ISO 8601 text (offset, ``Z`` or none = UTC), or epoch seconds
    as a number or numeric text → UTC; anything else None."""
    return any_utc(value)


class CustomersLookup(dg.ConfigurableResource, ABC):
    """Customers' last activity by ``customer_id``, one batch of keys at a time."""

    @abstractmethod
    def activity(self, customer_ids: Iterable[object], *, table: str) -> CustomerActivity:
        """``last_seen`` of the batch's customers in ``table``."""


class SampleCustomersLookup(CustomersLookup):
    """The packaged customer activity: a JSON object of table name → list of items."""

    json_file: str | None = None

    def path(self) -> Path:
        return Path(self.json_file) if self.json_file else SAMPLE_DIR / "customer_activity.json"

    def activity(self, customer_ids: Iterable[object], *, table: str) -> CustomerActivity:
        wanted = set(distinct_ids(customer_ids))
        tables = json.loads(self.path().read_text(encoding="utf-8"))
        if table not in tables:
            raise lookup_error(f"sample customers table {table} does not exist")
        found = {
            str(item["customer_id"]): parse_last_seen(item.get("last_seen"))
            for item in tables[table]
            if str(item.get("customer_id")) in wanted
        }
        return CustomerActivity(found, calls=1 if wanted else 0)


# --- fraud scores ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FraudScores:
    """Per transaction id, the score of its newest event. ``unparseable``: the newest event's
    last token is not an int64 (the transaction scores 0, and is counted)."""

    scores: Mapping[str, int]
    unparseable: frozenset[str] = frozenset()
    calls: int = 0
    events_scanned: int = 0


@dataclass
class NewestEvents:
    """Running selection of each transaction id's newest event while pages stream in."""

    transaction_ids: Collection[str]
    newest: dict[str, tuple[tuple[int, int, str], str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = frozenset(self.transaction_ids)
        self._lengths = sorted({len(i) for i in self._ids})

    def contained(self, message: str) -> set[str]:
        """The batch's ids occurring anywhere in ``message`` (plain substring, as the contract
        says: one hash lookup per position and distinct id length, not one scan per id)."""
        found = set()
        for length in self._lengths:
            for start in range(len(message) - length + 1):
                candidate = message[start : start + length]
                if candidate in self._ids:
                    found.add(candidate)
        return found

    def add(self, event: Mapping[str, Any]) -> None:
        message = str(event.get("message") or "")
        order = (
            int(event.get("timestamp") or 0),
            int(event.get("ingestionTime") or 0),
            str(event.get("eventId") or ""),
        )
        for transaction_id in self.contained(message):
            current = self.newest.get(transaction_id)
            if current is None or order > current[0]:
                self.newest[transaction_id] = (order, message)

    def result(self, calls: int, events_scanned: int) -> FraudScores:
        scores: dict[str, int] = {}
        unparseable = set()
        for transaction_id, (_order, message) in self.newest.items():
            value = score_of(message)
            if value is None or not INT64_MIN <= value <= INT64_MAX:
                unparseable.add(transaction_id)
            else:
                scores[transaction_id] = value
        return FraudScores(scores, frozenset(unparseable), calls, events_scanned)


def score_of(message: str) -> int | None:
    """The message's last whitespace-separated token as an int64 (``str.split()``), read
    through punctuation around it (``42.``, ``(42)``, ``42;``) and an integral ``42.0``;
    None when it is no integer (``n/a``)."""
    tokens = message.split()
    token = tokens[-1].strip(TOKEN_PUNCTUATION) if tokens else ""
    if INT64_TEXT.fullmatch(token):
        return int(token)
    integral = INTEGRAL_TEXT.fullmatch(token)
    return int(integral.group(1)) if integral else None


def newest_scores(
    events: Iterable[Mapping[str, Any]], transaction_ids: Collection[str]
) -> FraudScores:
    """``fraud_score`` per id: the last whitespace-separated token of the newest (by event
    timestamp, then ingestion time, then event id) event whose message contains the id."""
    selection = NewestEvents(transaction_ids)
    scanned = 0
    for event in events:
        selection.add(event)
        scanned += 1
    return selection.result(calls=0, events_scanned=scanned)


def time_windows(timestamps: Iterable[datetime], margin: timedelta) -> list[tuple[int, int]]:
    """Inclusive ``(startTime, endTime)`` windows in epoch milliseconds covering every
    timestamp ± ``margin``; overlapping windows merge, so a batch of nearby transactions is one
    window while a batch spread over months does not scan the months between."""
    margin_ms = int(margin.total_seconds() * 1000)
    windows: list[tuple[int, int]] = []
    for moment in sorted(int(t.timestamp() * 1000) for t in timestamps):
        start, end = moment - margin_ms, moment + margin_ms
        if windows and start <= windows[-1][1] + 1:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


class FraudScoresLookup(dg.ConfigurableResource, ABC):
    """Fraud scores of the batch's transactions from a log group's events near their times."""

    #: Events are looked for within this many seconds either side of each transaction; None
    #: (the default, as the contract says "the newest event whose message contains the id")
    #: scans the whole group once per batch. CloudWatch keeps only events of the last 14 days
    #: on ingestion, so a score is often logged long after the transaction it is about.
    window_margin_seconds: int | None = None

    def windows(self, transactions: Mapping[str, datetime]) -> list[tuple[int | None, int | None]]:
        """``(startTime, endTime)`` windows to scan; ``[(None, None)]``: the whole group."""
        if self.window_margin_seconds is None:
            return [(None, None)]
        margin = timedelta(seconds=self.window_margin_seconds)
        return list(time_windows(transactions.values(), margin))

    @abstractmethod
    def scores(self, transactions: Mapping[str, datetime], *, log_group: str) -> FraudScores:
        """Scores of ``transactions`` (transaction id → its timestamp) from ``log_group``."""


class SampleFraudScoresLookup(FraudScoresLookup):
    """The packaged fraud log: a JSON object of log group → list of events (``timestamp`` in
    epoch milliseconds, ``message``), read in the same windows as on AWS."""

    json_file: str | None = None

    def path(self) -> Path:
        return Path(self.json_file) if self.json_file else SAMPLE_DIR / "fraud_score_events.json"

    def scores(self, transactions: Mapping[str, datetime], *, log_group: str) -> FraudScores:
        if not transactions:
            return FraudScores({})
        groups = json.loads(self.path().read_text(encoding="utf-8"))
        if log_group not in groups:
            raise lookup_error(f"sample fraud score log group {log_group} does not exist")
        windows = self.windows(transactions)
        events = [
            event
            for event in groups[log_group]
            if any(
                (start is None or start <= int(event["timestamp"]))
                and (end is None or int(event["timestamp"]) <= end)
                for start, end in windows
            )
        ]
        result = newest_scores(events, set(transactions))
        return FraudScores(result.scores, result.unparseable, len(windows), len(events))
