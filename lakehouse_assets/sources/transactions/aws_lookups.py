"""The transactions lookups on AWS: MySQL (connection from an RDS-shaped secret), DynamoDB
``batch_get_item`` and CloudWatch Logs ``filter_log_events``.

Per batch, not per transaction: stores in one ``IN`` query per 1000 ids, customers in one call
per 100 keys (plus retries of ``UnprocessedKeys``), fraud scores in one unfiltered, paged scan
per time window around the batch's transactions. An unfiltered scan rather than a filter pattern
per chunk of ids: a pattern holds only some 25 quoted ids within its 1024 characters, and
CloudWatch scans the same window for each pattern, so one scan makes at most the calls the
patterns would (and a quarter of them for 100 transactions). Throttling and 5xx are retried by
botocore (the shared client's ``max_attempts``, with backoff); what is still failing then fails
the run naming the service and table or group, never a credential.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.secrets import SecretsResource
from lakehouse_assets.sources.transactions.lookups import (
    CustomerActivity,
    CustomersLookup,
    FraudScores,
    FraudScoresLookup,
    NewestEvents,
    StoresLookup,
    backoff_delay,
    chunked,
    distinct_ids,
    lookup_error,
    parse_last_seen,
)

if TYPE_CHECKING:  # SQLAlchemy is imported by the lookups that run, not by the code location
    import sqlalchemy as sa

MYSQL_ENGINES = frozenset({"mysql", "mariadb", "aurora-mysql", "aurora"})
SECRET_FIELDS = ("host", "username", "dbname")
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
BATCH_GET_KEYS = 100


def mysql_url(secret: Mapping[str, Any], secret_id: str) -> sa.URL:
    """The connection URL from an RDS secret (``host, port, username, password, dbname``,
    optional ``engine``; port 3306 when absent); a missing field or a non-MySQL engine fails
    naming the secret id and the field, never a value."""
    missing = [name for name in SECRET_FIELDS if not secret.get(name)]
    if not isinstance(secret.get("password"), str):
        missing.append("password")
    if missing:
        raise ConfigurationError(f"secret {secret_id} lacks {', '.join(missing)}")
    engine = str(secret.get("engine") or "mysql").lower()
    if engine not in MYSQL_ENGINES:
        raise ConfigurationError(f"secret {secret_id} names engine {engine}, not MySQL")
    import sqlalchemy as sa

    try:
        port = int(secret.get("port") or 3306)
    except (TypeError, ValueError):
        raise ConfigurationError(f"secret {secret_id} has a port that is not a number") from None
    return sa.URL.create(
        "mysql+pymysql",
        username=str(secret["username"]),
        password=str(secret["password"]),
        host=str(secret["host"]),
        port=port,
        database=str(secret["dbname"]),
    )


class MySqlStoresLookup(StoresLookup):
    """``stores.stores`` in MySQL through SQLAlchemy + PyMySQL, connection from the secret."""

    secrets: SecretsResource
    connect_timeout_seconds: int = 10
    read_timeout_seconds: int = 60

    @property
    def service(self) -> str:
        return "MySQL"

    @contextmanager
    def engine(self, secret_id: str) -> Iterator[sa.Engine]:
        import sqlalchemy as sa

        url = mysql_url(self.secrets.get_json(secret_id), secret_id)
        engine = sa.create_engine(
            url,
            poolclass=sa.pool.NullPool,
            hide_parameters=True,
            connect_args={
                "connect_timeout": self.connect_timeout_seconds,
                "read_timeout": self.read_timeout_seconds,
                "write_timeout": self.read_timeout_seconds,
                "charset": "utf8mb4",
            },
        )
        try:
            yield engine
        finally:
            engine.dispose()


def _client_error(service: str, subject: str, exc: ClientError, attempts: int) -> Exception:
    code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
    if code in THROTTLING_CODES:
        return lookup_error(
            f"{service} throttled after {attempts} attempts ({code}; {subject})", transient=True
        )
    if code == "ResourceNotFoundException":
        return lookup_error(f"{service}: {subject} does not exist")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    transient = isinstance(status, int) and status >= 500
    return lookup_error(f"{service} failed ({code}; {subject})", transient=transient)


class DynamoDbCustomersLookup(CustomersLookup):
    """``batch_get_item`` for the batch's customers: 100 keys a call, only the key and
    ``last_seen`` projected; ``UnprocessedKeys`` retried with backoff a bounded number of
    times."""

    aws: AwsClientsResource
    key_attribute: str = "customer_id"
    key_type: Literal["S", "N"] = "S"
    last_seen_attribute: str = "last_seen"
    max_unprocessed_retries: int = 8
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 10.0

    def activity(self, customer_ids: Iterable[object], *, table: str) -> CustomerActivity:
        ids = distinct_ids(customer_ids)
        if self.key_type == "N":
            ids = [i for i in ids if _is_number(i)]  # anything else cannot be a key
        client = self.aws.client("dynamodb")
        found: dict[str, datetime | None] = {}
        calls = 0
        for chunk in chunked(ids, BATCH_GET_KEYS):
            request: dict[str, Any] = {
                table: {
                    "Keys": [{self.key_attribute: {self.key_type: i}} for i in chunk],
                    "ProjectionExpression": "#k, #s",
                    "ExpressionAttributeNames": {
                        "#k": self.key_attribute,
                        "#s": self.last_seen_attribute,
                    },
                }
            }
            retries = 0
            while True:
                try:
                    response = client.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise _client_error(
                        "DynamoDB customers lookup",
                        f"table {table}",
                        exc,
                        self.aws.max_attempts,
                    ) from None
                except BotoCoreError as exc:
                    raise lookup_error(
                        f"DynamoDB customers lookup unreachable ({type(exc).__name__}; "
                        f"table {table})",
                        transient=True,
                    ) from None
                calls += 1
                for item in response.get("Responses", {}).get(table, []):
                    key = item.get(self.key_attribute, {})
                    key_value = key.get(self.key_type)
                    if key_value is not None:
                        found[str(key_value)] = parse_last_seen(
                            _attribute_value(item.get(self.last_seen_attribute))
                        )
                unprocessed = response.get("UnprocessedKeys") or {}
                if not unprocessed.get(table, {}).get("Keys"):
                    break
                retries += 1
                if retries > self.max_unprocessed_retries:
                    left = len(unprocessed[table]["Keys"])
                    raise lookup_error(
                        f"DynamoDB customers lookup left {left} keys unprocessed after "
                        f"{self.max_unprocessed_retries} retries (table {table})",
                        transient=True,
                    )
                time.sleep(backoff_delay(retries, self.backoff_seconds, self.max_backoff_seconds))
                request = {table: unprocessed[table]}
        return CustomerActivity(found, calls)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _attribute_value(attribute: Mapping[str, Any] | None) -> object:
    """A ``last_seen`` attribute's value: text for ``S``, numeric text for ``N`` (read as epoch
    seconds); other types are not timestamps."""
    if not attribute:
        return None
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        return str(attribute["N"])
    return None


class CloudWatchFraudScoresLookup(FraudScoresLookup):
    """``filter_log_events`` over the fraud score group: each time window around the batch's
    transactions scanned once, following ``nextToken``."""

    aws: AwsClientsResource
    #: Events per page (None: the service's maximum, 10,000).
    page_limit: int | None = None
    #: A scan needing more pages than this fails instead of running on.
    max_pages_per_window: int = 1000

    def scores(self, transactions: Mapping[str, datetime], *, log_group: str) -> FraudScores:
        if not transactions:
            return FraudScores({})
        client = self.aws.client("logs")
        selection = NewestEvents(set(transactions))
        calls = scanned = 0
        subject = f"log group {log_group}"
        for start, end in self.windows(transactions):
            token: str | None = None
            for _page in range(self.max_pages_per_window):
                request: dict[str, Any] = {"logGroupName": log_group}
                if start is not None:
                    request["startTime"] = start
                if end is not None:
                    request["endTime"] = end
                if self.page_limit:
                    request["limit"] = self.page_limit
                if token:
                    request["nextToken"] = token
                try:
                    response = client.filter_log_events(**request)
                except ClientError as exc:
                    raise _client_error(
                        "CloudWatch Logs fraud score lookup", subject, exc, self.aws.max_attempts
                    ) from None
                except BotoCoreError as exc:
                    raise lookup_error(
                        f"CloudWatch Logs fraud score lookup unreachable "
                        f"({type(exc).__name__}; {subject})",
                        transient=True,
                    ) from None
                calls += 1
                for event in response.get("events", []):
                    selection.add(event)
                    scanned += 1
                token = response.get("nextToken")
                if not token:
                    break
            else:
                raise lookup_error(
                    f"CloudWatch Logs fraud score lookup needed more than "
                    f"{self.max_pages_per_window} pages for one window ({subject})"
                )
        return selection.result(calls, scanned)
