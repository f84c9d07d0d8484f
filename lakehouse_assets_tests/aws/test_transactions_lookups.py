"""The transactions lookups on the aws path: DynamoDB, CloudWatch Logs and Secrets Manager
against moto server over HTTP, MySQL against the real MariaDB.

Pins: customers in ``batch_get_item`` calls of 100 keys (230 customers → 3 calls), ``last_seen``
as ISO text or epoch seconds → UTC, a missing customer absent; ``UnprocessedKeys`` retried until
done, or a clear failure; throttling retried by the client (attempts counted by a loopback proxy
in front of moto that answers ``ProvisionedThroughputExceededException``), then a failure naming
the service and table. Fraud scores from ``filter_log_events`` pages (``nextToken``) within the
windows around the transactions: two events for one id → the newest, an event outside the
window not seen, none → absent (0 in silver). The MySQL connection from a Secrets Manager secret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3
import pytest

from lakehouse_assets.errors import SourceError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.secrets import SecretsManagerResource
from lakehouse_assets.sources.transactions.aws_lookups import (
    CloudWatchFraudScoresLookup,
    DynamoDbCustomersLookup,
    MySqlStoresLookup,
)
from lakehouse_assets_tests.aws.conftest import CREDENTIALS
from lakehouse_assets_tests.http_fixtures import serving
from lakehouse_assets_tests.sources.transactions.mysql import (
    PASSWORD,
    SECRET_ID,
    stores_database,
)

REGION = "ca-central-1"
THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded.",
    }
).encode()


def aws(endpoint: str, **fields: object) -> AwsClientsResource:
    return AwsClientsResource(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        **fields,  # type: ignore[arg-type]
    )


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


# --- DynamoDB -------------------------------------------------------------------------------

CUSTOMERS = 230
MISSING = {f"C-{i:04d}" for i in range(CUSTOMERS) if i % 50 == 7}


def last_seen_attribute(i: int) -> dict[str, str] | None:
    """Customer ``i``'s ``last_seen`` as stored, in the forms the contract names."""
    seconds = 1_709_284_500 + i * 60  # 2024-03-01T09:15:00Z plus i minutes
    moment = datetime.fromtimestamp(seconds, UTC)
    forms: list[dict[str, str] | None] = [
        {"S": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"S": moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00"},
        {"S": (moment + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00"},
        {"N": str(seconds)},
        {"S": str(seconds)},
        None,  # no last_seen at all
    ]
    return forms[i % len(forms)]


def expected_last_seen(i: int) -> datetime | None:
    if i % 6 == 5:
        return None
    return datetime.fromtimestamp(1_709_284_500 + i * 60, UTC)


@pytest.fixture(scope="module")
def customer_table(moto_endpoint: str) -> str:
    """A table of customers C-0000…C-0229, some left out (MISSING)."""
    name = f"customer-activity-{uuid.uuid4().hex[:8]}"
    dynamodb = client(moto_endpoint, "dynamodb")
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    puts = []
    for i in range(CUSTOMERS):
        customer = f"C-{i:04d}"
        if customer in MISSING:
            continue
        item: dict[str, Any] = {"customer_id": {"S": customer}, "segment": {"S": "retail"}}
        attribute = last_seen_attribute(i)
        if attribute is not None:
            item["last_seen"] = attribute
        puts.append({"PutRequest": {"Item": item}})
    for start in range(0, len(puts), 25):
        dynamodb.batch_write_item(RequestItems={name: puts[start : start + 25]})
    return name


@dataclass
class Proxy:
    """A loopback endpoint forwarding to moto, that can throttle or defer ``BatchGetItem``."""

    upstream: str
    url: str = ""
    throttle: int = 0  # answer this many BatchGetItem calls with throttling (-1: all)
    defer: int = 0  # in this many answers, leave all but `keep` keys unprocessed (-1: all)
    keep: int = 10
    targets: list[str] = field(default_factory=list)


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[Proxy]:
    state = Proxy(moto_endpoint)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            state.targets.append(target.rsplit(".", 1)[-1])
            batch_get = target.endswith(".BatchGetItem")
            if batch_get and state.throttle:
                state.throttle -= 1 if state.throttle > 0 else 0
                return self.answer(400, THROTTLED)
            status, answer = self.forward(body)
            if batch_get and state.defer and status == 200:
                state.defer -= 1 if state.defer > 0 else 0
                answer = defer_keys(json.loads(body), json.loads(answer), state.keep)
            self.answer(status, answer)

        def forward(self, body: bytes) -> tuple[int, bytes]:
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "content-length", "accept-encoding")
            }
            request = urllib.request.Request(
                state.upstream + self.path, data=body, headers=headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    with serving(Handler) as origin:
        state.url = origin
        yield state


def defer_keys(request: dict[str, Any], answer: dict[str, Any], keep: int) -> bytes:
    """``answer`` with all but ``keep`` of its items moved to ``UnprocessedKeys``, as DynamoDB
    does when a call runs out of capacity."""
    unprocessed: dict[str, Any] = {}
    for table, items in answer.get("Responses", {}).items():
        answer["Responses"][table] = items[:keep]
        if items[keep:]:
            asked = request["RequestItems"][table]
            unprocessed[table] = {
                **{k: v for k, v in asked.items() if k != "Keys"},
                "Keys": [{"customer_id": item["customer_id"]} for item in items[keep:]],
            }
    answer["UnprocessedKeys"] = unprocessed
    return json.dumps(answer).encode()


def all_ids() -> list[str]:
    return [f"C-{i:04d}" for i in range(CUSTOMERS)]


def test_customers_in_calls_of_100_keys(moto_endpoint: str, customer_table: str) -> None:
    lookup = DynamoDbCustomersLookup(aws=aws(moto_endpoint))
    ids = [*all_ids(), "C-0001", None, ""]  # repeats and empties are asked once / never
    result = lookup.activity(ids, table=customer_table)
    assert result.calls == 3
    expected = {
        f"C-{i:04d}": expected_last_seen(i) for i in range(CUSTOMERS) if f"C-{i:04d}" not in MISSING
    }
    assert dict(result.last_seen) == expected
    assert not MISSING & set(result.last_seen)


def test_unprocessed_keys_are_asked_again(proxy: Proxy, customer_table: str) -> None:
    proxy.defer = 2
    lookup = DynamoDbCustomersLookup(aws=aws(proxy.url), backoff_seconds=0.01)
    result = lookup.activity(all_ids(), table=customer_table)
    assert len(result.last_seen) == CUSTOMERS - len(MISSING)
    assert result.calls == 3 + 2
    assert proxy.targets.count("BatchGetItem") == 5


def test_keys_left_unprocessed_fail_clearly(proxy: Proxy, customer_table: str) -> None:
    proxy.defer, proxy.keep = -1, 0  # never any progress (C-0007 of the 40 does not exist)
    lookup = DynamoDbCustomersLookup(
        aws=aws(proxy.url), backoff_seconds=0.001, max_unprocessed_retries=3
    )
    with pytest.raises(SourceError) as raised:
        lookup.activity(all_ids()[:40], table=customer_table)
    assert str(raised.value.description) == (
        "transactions/enriched: DynamoDB customers lookup left 39 keys unprocessed after 3 "
        f"retries (table {customer_table})"
    )
    assert proxy.targets.count("BatchGetItem") == 4


def test_throttling_is_retried(proxy: Proxy, customer_table: str) -> None:
    proxy.throttle = 2
    lookup = DynamoDbCustomersLookup(aws=aws(proxy.url, max_attempts=3))
    result = lookup.activity(["C-0001", "C-0007"], table=customer_table)
    assert dict(result.last_seen) == {"C-0001": expected_last_seen(1)}
    assert proxy.targets == ["BatchGetItem"] * 3


def test_sustained_throttling_fails_naming_the_service(proxy: Proxy, customer_table: str) -> None:
    proxy.throttle = -1
    lookup = DynamoDbCustomersLookup(aws=aws(proxy.url, max_attempts=2))
    with pytest.raises(SourceError) as raised:
        lookup.activity(["C-0001"], table=customer_table)
    assert str(raised.value.description) == (
        "transactions/enriched: DynamoDB customers lookup throttled after 2 attempts "
        f"(ProvisionedThroughputExceededException; table {customer_table})"
    )
    assert raised.value.transient
    assert proxy.targets == ["BatchGetItem"] * 2


def test_a_missing_table_names_it(moto_endpoint: str) -> None:
    lookup = DynamoDbCustomersLookup(aws=aws(moto_endpoint))
    with pytest.raises(SourceError, match="DynamoDB customers lookup: table nope does not exist"):
        lookup.activity(["C-1"], table="nope")


# --- CloudWatch Logs ------------------------------------------------------------------------


def test_fraud_scores_over_pages_newest_event_wins(moto_endpoint: str) -> None:
    logs = client(moto_endpoint, "logs")
    group = f"/lab/tx-fraud-score-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    transactions = {f"TX-{n:03d}": base + timedelta(minutes=n) for n in range(20)}
    transactions["TX-LATE"] = base + timedelta(days=1)  # a second window

    def ms(moment: datetime) -> int:
        return int(moment.timestamp() * 1000)

    streams: dict[str, list[dict[str, Any]]] = {"scorer-a": [], "scorer-b": []}
    for n in range(20):
        if n == 13:
            continue  # no event: not scored
        streams["scorer-a"].append(
            {
                "timestamp": ms(transactions[f"TX-{n:03d}"] + timedelta(seconds=5)),
                "message": f"fraud-score transaction_id=TX-{n:03d} model=v3 score {n * 3}",
            }
        )
    # TX-004 rescored later, in another stream: the newest event wins.
    streams["scorer-b"].append(
        {
            "timestamp": ms(transactions["TX-004"] + timedelta(minutes=30)),
            "message": "fraud-score transaction_id=TX-004 model=v4 rescored 99",
        }
    )
    # Events outside every window are never read, however new.
    streams["scorer-b"].append(
        {
            "timestamp": ms(transactions["TX-005"] + timedelta(hours=12)),
            "message": "fraud-score transaction_id=TX-005 model=v4 rescored 55",
        }
    )
    streams["scorer-b"].append(
        {
            "timestamp": ms(transactions["TX-LATE"] + timedelta(seconds=1)),
            "message": "fraud-score transaction_id=TX-LATE model=v3 score 21",
        }
    )
    for stream, events in streams.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events.sort(key=lambda e: e["timestamp"])
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    lookup = CloudWatchFraudScoresLookup(
        aws=aws(moto_endpoint), page_limit=4, window_margin_seconds=3600
    )
    result = lookup.scores(transactions, log_group=group)
    expected = {f"TX-{n:03d}": n * 3 for n in range(20) if n != 13}
    expected["TX-004"] = 99
    expected["TX-LATE"] = 21
    assert dict(result.scores) == expected
    assert result.unparseable == frozenset()
    # Window 1 holds 19 + 1 events → 5 pages of 4; window 2 holds 1 event → 1 page.
    assert (result.events_scanned, result.calls) == (21, 6)


def test_a_missing_log_group_names_it(moto_endpoint: str) -> None:
    lookup = CloudWatchFraudScoresLookup(aws=aws(moto_endpoint))
    with pytest.raises(SourceError, match="log group /lab/none does not exist"):
        lookup.scores({"TX-1": datetime.now(UTC)}, log_group="/lab/none")


# --- MySQL through a Secrets Manager secret -------------------------------------------------


def test_mysql_connection_from_a_secrets_manager_secret(moto_endpoint: str) -> None:
    with stores_database() as database:
        client(moto_endpoint, "secretsmanager").create_secret(
            Name=SECRET_ID + "-" + database.name, SecretString=database.secret()
        )
        lookup = MySqlStoresLookup(
            secrets=SecretsManagerResource(aws=aws(moto_endpoint)), table=database.table
        )
        result = lookup.stores([102], secret_id=SECRET_ID + "-" + database.name)
        assert result.rows["102"]["store_name"] == "Northern Quarter"
        assert PASSWORD not in repr(result)
