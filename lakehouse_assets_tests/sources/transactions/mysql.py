"""A MariaDB database of a test's own holding the packaged stores table, and a reader user
with a password (so tests can check that it never shows)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql

from lakehouse_assets.sources.transactions.lookups import SAMPLE_DIR

MYSQL = {"host": "127.0.0.1", "port": 3306}
SECRET_ID = "lakehouse/transactions-mysql"
SECRET_VAR = "LAKEHOUSE_SECRET_LAKEHOUSE_TRANSACTIONS_MYSQL"
PASSWORD = "pw-Never-Shown-7f3a"


@dataclass
class Database:
    name: str
    user: str

    @property
    def table(self) -> str:
        return f"{self.name}.stores"

    def secret(self, **overrides: object) -> str:
        value = {
            "engine": "mysql",
            "host": MYSQL["host"],
            "port": MYSQL["port"],
            "username": self.user,
            "password": PASSWORD,
            "dbname": self.name,
            **overrides,
        }
        return json.dumps(value)


def root_connection() -> pymysql.Connection:
    return pymysql.connect(
        host=MYSQL["host"], port=MYSQL["port"], user="root", password="",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


@contextmanager
def stores_database() -> Iterator[Database]:
    """A database of its own holding the packaged stores table, and a user with a password."""
    suffix = uuid.uuid4().hex[:10]
    db = Database(f"lh_stores_{suffix}", f"lh_reader_{suffix}")
    script = (SAMPLE_DIR / "stores.sql").read_text(encoding="utf-8")
    script = script.replace("stores.stores", db.table)
    connection = root_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{db.name}`")
            for statement in script.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            cursor.execute(f"CREATE USER '{db.user}'@'%' IDENTIFIED BY '{PASSWORD}'")
            cursor.execute(f"CREATE USER '{db.user}'@'localhost' IDENTIFIED BY '{PASSWORD}'")
            cursor.execute(f"GRANT SELECT ON `{db.name}`.* TO '{db.user}'@'%'")
            cursor.execute(f"GRANT SELECT ON `{db.name}`.* TO '{db.user}'@'localhost'")
        yield db
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{db.name}`")
            cursor.execute(f"DROP USER IF EXISTS '{db.user}'@'%'")
            cursor.execute(f"DROP USER IF EXISTS '{db.user}'@'localhost'")
        connection.close()
