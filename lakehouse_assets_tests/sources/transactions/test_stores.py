"""The stores lookup: the same SQL against the real MariaDB and against the packaged SQLite sample.

Pins: every column of the matched rows comes back, in the table's order, keyed by store id as
text, in one ``IN`` query per chunk; ids not in the table are simply absent; the MySQL
connection comes from an RDS-shaped secret; connection errors are retried (attempts counted by a
loopback listener that drops every connection) and then fail naming the service, without the
password, user or port; a refused login fails at once. Each MySQL test creates and drops its own
database and user.
"""

from __future__ import annotations

import json
import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from lakehouse_assets.errors import ConfigurationError, SourceError
from lakehouse_assets.resources.secrets import EnvironmentSecretsResource
from lakehouse_assets.sources.transactions.aws_lookups import MySqlStoresLookup, mysql_url
from lakehouse_assets.sources.transactions.enrich import enrich, match
from lakehouse_assets.sources.transactions.items import parse_items
from lakehouse_assets.sources.transactions.lookups import (
    CustomerActivity,
    FraudScores,
    SampleStoresLookup,
    StoreTable,
)
from lakehouse_assets.sources.transactions.orders import parse_orders
from lakehouse_assets_tests.sources.transactions.mysql import (
    PASSWORD,
    SECRET_ID,
    SECRET_VAR,
    Database,
    root_connection,
    stores_database,
)

SAMPLE_ROWS = {
    "101": {"store_id": 101, "store_name": "Harbourside", "city": "Bristol",
            "region": "South West", "square_meters": 420, "opened_year": 2015},
    "103": {"store_id": 103, "store_name": "Old Town", "city": "Edinburgh",
            "region": "Scotland", "square_meters": None, "opened_year": 2012},
}  # fmt: skip
SAMPLE_COLUMNS = ("store_id", "store_name", "city", "region", "square_meters", "opened_year")


@pytest.fixture
def database() -> Iterator[Database]:
    with stores_database() as db:
        yield db


def lookup(table: str, **fields: object) -> MySqlStoresLookup:
    settings: dict[str, object] = {"backoff_seconds": 0.01, **fields}
    return MySqlStoresLookup(
        secrets=EnvironmentSecretsResource(),
        table=table,
        **settings,  # type: ignore[arg-type]
    )


def no_secret_in(exc: BaseException, *words: str) -> None:
    text = "".join(traceback.format_exception(exc))
    for word in (PASSWORD, *words):
        assert word not in text


def test_mysql_lookup_returns_every_column_of_the_rows_asked_for(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_VAR, database.secret())
    result = lookup(database.table).stores([101, "103", 103, 999, None], secret_id=SECRET_ID)
    assert result.columns == SAMPLE_COLUMNS
    assert result.rows == SAMPLE_ROWS
    assert result.queries == 1


def test_mysql_types_reach_the_enriched_table(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with root_connection() as connection, connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {database.table} ADD COLUMN rent DECIMAL(10,2), ADD COLUMN opened_on DATE"
        )
        cursor.execute(
            f"UPDATE {database.table} SET rent = 1250.50, opened_on = '2015-04-01' "
            "WHERE store_id = 101"
        )
    monkeypatch.setenv(SECRET_VAR, database.secret())
    stores = lookup(database.table, chunk_size=1).stores([101, 102], secret_id=SECRET_ID)
    assert stores.queries == 2
    assert stores.rows["101"]["rent"] == Decimal("1250.50")
    assert stores.rows["101"]["opened_on"] == date(2015, 4, 1)
    from datetime import UTC, datetime

    landed = datetime(2024, 3, 5, tzinfo=UTC)
    orders = parse_orders(
        b'[{"transaction_id": "A", "store_id": 101, "timestamp": "2024-03-04T10:00:00Z"},'
        b' {"transaction_id": "B", "store_id": 102, "timestamp": "2024-03-04T11:00:00Z"}]',
        file="o.json", landed_at=landed,
    )  # fmt: skip
    items = parse_items(
        b"transaction_id,item_id,quantity,unit_price\nA,S,1,1\nB,S,1,1\n",
        file="i.csv", landed_at=landed,
    )  # fmt: skip
    table = enrich(match(orders, items), stores, CustomerActivity({}), FraudScores({})).table
    assert str(table.schema.field("rent").type) == "double"
    assert str(table.schema.field("opened_on").type) == "date32[day]"
    assert table.column("rent").to_pylist() == [1250.5, None]
    assert table.column("store_name").to_pylist() == ["Harbourside", "Northern Quarter"]


def test_sample_sqlite_answers_like_mysql(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_VAR, database.secret())
    ids = [101, 103, 999]
    from_mysql = lookup(database.table).stores(ids, secret_id=SECRET_ID)
    sample = SampleStoresLookup()
    from_sample = sample.stores(ids, secret_id=SECRET_ID)
    assert from_sample == from_mysql == StoreTable(SAMPLE_COLUMNS, SAMPLE_ROWS, 1)
    assert sample.stores([], secret_id=SECRET_ID) == StoreTable((), {}, 0)
    assert sample.stores([102], secret_id=SECRET_ID).rows["102"]["city"] == "Manchester"


@pytest.fixture
def dropping_listener() -> Iterator[tuple[int, list[int]]]:
    """A loopback port that accepts connections and closes them at once; counts them."""
    accepted: list[int] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_connection_errors_are_retried_then_fail_naming_the_service(
    dropping_listener: tuple[int, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, accepted = dropping_listener
    monkeypatch.setenv(
        SECRET_VAR,
        json.dumps({"host": "127.0.0.1", "port": port, "username": "svc-user",
                    "password": PASSWORD, "dbname": "stores"}),
    )  # fmt: skip
    with pytest.raises(SourceError) as raised:
        lookup("stores.stores", max_attempts=3).stores([1], secret_id=SECRET_ID)
    assert len(accepted) == 3
    assert str(raised.value.description) == (
        "transactions/enriched: MySQL stores lookup unreachable after 3 attempts (error 2013)"
    )
    assert raised.value.transient
    no_secret_in(raised.value, "svc-user", str(port))


def test_a_closed_port_fails_after_its_attempts_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    monkeypatch.setenv(
        SECRET_VAR,
        json.dumps({"engine": "mariadb", "host": "127.0.0.1", "port": str(port),
                    "username": "svc-user", "password": PASSWORD, "dbname": "stores"}),
    )  # fmt: skip
    with pytest.raises(SourceError) as raised:
        lookup("stores.stores", max_attempts=2, connect_timeout_seconds=2).stores(
            [1], secret_id=SECRET_ID
        )
    assert "MySQL stores lookup unreachable after 2 attempts (error 2003)" in str(raised.value)
    no_secret_in(raised.value, "svc-user", str(port))


def test_a_refused_login_fails_at_once(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VAR, database.secret(password=PASSWORD + "-wrong"))
    with pytest.raises(SourceError) as raised:
        lookup(database.table, backoff_seconds=30).stores([101], secret_id=SECRET_ID)
    assert str(raised.value.description) == (
        f"transactions/enriched: MySQL stores lookup failed on {database.table} (error 1045)"
    )
    assert not raised.value.transient
    no_secret_in(raised.value, database.user)


def test_a_missing_table_fails_at_once(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VAR, database.secret())
    with pytest.raises(SourceError, match=r"failed on .*\.nope \(error 11"):
        lookup(f"{database.name}.nope").stores([101], secret_id=SECRET_ID)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ({"host": "h", "username": "u", "dbname": "d"}, "lacks password"),
        ({"host": "h", "password": "p", "dbname": "d", "username": ""}, "lacks username"),
        ({"host": "h", "username": "u", "password": "p", "dbname": "d",
          "engine": "postgres"}, "names engine postgres, not MySQL"),
        ({"host": "h", "username": "u", "password": "p", "dbname": "d", "port": "x"},
         "has a port that is not a number"),
    ],
)  # fmt: skip
def test_secret_shape_problems_name_the_secret_not_its_values(
    secret: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        mysql_url(secret, SECRET_ID)
    assert str(raised.value.description) == f"secret {SECRET_ID} {problem}"


def test_url_is_built_from_parts_and_hides_the_password() -> None:
    url = mysql_url(
        {"host": "db.internal", "username": "u", "password": "p@ss/word", "dbname": "stores",
         "port": 3307, "engine": "mysql"},
        SECRET_ID,
    )  # fmt: skip
    assert url.password == "p@ss/word"
    assert "p@ss/word" not in str(url) and "p@ss/word" not in repr(url)
    assert (url.host, url.port, url.database, url.drivername) == (
        "db.internal", 3307, "stores", "mysql+pymysql"
    )  # fmt: skip
