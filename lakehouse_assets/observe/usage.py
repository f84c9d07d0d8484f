"""What a step asked of AWS and of HTTP APIs, counted where requests are made.

CloudWatch and Cost Explorer say what a month cost, not which run or step spent it. So every
request is counted in the process that makes it: botocore's ``before-send`` event (each HTTP
attempt a client sends, i.e. each billed request, retries included) and ``after-call`` event
(bytes a ``GetObject`` returned) on the session :class:`AwsClientsResource` builds its clients
from (clients copy the session's handlers, awswrangler's too when given that session), and
:func:`count_http` called by ``HttpClient.send`` for each attempt. The counts go to one
process-local :data:`METER`; a reader takes the delta since its own last look (a named mark),
so the IO manager records each step's usage and ``lakehouse run`` each run's.

Usage is a flat mapping of dotted keys to integers, additive by construction:
``aws.s3.PUT``, ``aws.s3.GET``, ``aws.s3.LIST``, ``aws.s3.HEAD``, ``aws.s3.OTHER``,
``aws.s3.bytes_out`` (request bodies sent), ``aws.s3.bytes_in`` (object bytes read),
``aws.<service>.calls`` for every other service (ssm, secretsmanager, sns, glue, dynamodb,
logs, athena, sts, …), ``aws.athena.queries``, ``http.<source>/<dataset>.requests`` and
``….bytes_in``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

#: Metadata key of a step's usage (JSON), on every output the lake IO manager publishes.
USAGE_METADATA = "lakehouse/usage"
#: Run tag with the run's total usage (JSON), set by ``lakehouse run``.
USAGE_TAG = "lakehouse/usage"

#: S3 operations by request class (how S3 prices them); anything else is ``OTHER``.
S3_KINDS = {
    "GET": ("GetObject",),
    "PUT": (
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
    ),
    "LIST": ("ListObjectsV2", "ListObjects", "ListObjectVersions", "ListMultipartUploads"),
    "HEAD": ("HeadObject", "HeadBucket"),
    "DELETE": ("DeleteObject", "DeleteObjects", "AbortMultipartUpload"),
}
_S3_KIND = {operation: kind for kind, operations in S3_KINDS.items() for operation in operations}

Usage = dict[str, int]


class UsageMeter:
    """Thread-safe counters for the whole process, read as deltas per named mark."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._marks: dict[str, Counter[str]] = {}

    def add(self, key: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self._totals[key] += amount

    def totals(self) -> Usage:
        with self._lock:
            return dict(self._totals)

    def take(self, mark: str) -> Usage:
        """Usage since the previous ``take`` of ``mark`` (since the process began, the first
        time); moves the mark to now."""
        with self._lock:
            previous = self._marks.get(mark, Counter())
            now = Counter(self._totals)
            self._marks[mark] = now
        return {key: now[key] - previous[key] for key in now if now[key] != previous[key]}


METER = UsageMeter()
#: The mark the lake IO manager reads: usage since the previous output of this process.
STEP_MARK = "step"
#: The mark ``lakehouse run`` reads around each run.
RUN_MARK = "run"


def s3_kind(operation: str) -> str:
    return _S3_KIND.get(operation, "OTHER")


def _operation(event_name: str) -> tuple[str, str]:
    """``before-send.s3.PutObject`` → ``("s3", "PutObject")``."""
    parts = event_name.split(".")
    return (parts[1] if len(parts) > 1 else "unknown"), (parts[2] if len(parts) > 2 else "")


def _service(service_id: str) -> str:
    """botocore's event names use the service id (``secrets-manager``, ``cloudwatch-logs``)."""
    return {"secrets-manager": "secretsmanager", "cloudwatch-logs": "logs"}.get(
        service_id, service_id
    )


def _on_send(request: Any, event_name: str, **_: Any) -> None:
    """``before-send``: one billed request (returns None, so botocore sends it)."""
    service_id, operation = _operation(event_name)
    service = _service(service_id)
    if service == "s3":
        METER.add(f"aws.s3.{s3_kind(operation)}")
        length = request.headers.get("Content-Length") if request is not None else None
        if length:
            METER.add("aws.s3.bytes_out", int(length))
    else:
        METER.add(f"aws.{service}.calls")
        if operation == "StartQueryExecution":  # what Athena prices (by data scanned)
            METER.add("aws.athena.queries")


def _on_after_call(parsed: Any, event_name: str, **_: Any) -> None:
    """``after-call`` of ``GetObject``: the object bytes it returned."""
    if isinstance(parsed, Mapping):
        length = parsed.get("ContentLength")
        if isinstance(length, int):
            METER.add("aws.s3.bytes_in", length)


def instrument_session(session: Any) -> Any:
    """Count every request of the clients ``session`` (a boto3 Session) creates from now on."""
    events = session.events
    events.register("before-send", _on_send, unique_id="lakehouse-usage-send")
    events.register(
        "after-call.s3.GetObject", _on_after_call, unique_id="lakehouse-usage-get-object"
    )
    return session


def count_http(source: str, dataset: str, body_bytes: int = 0, requests: int = 1) -> None:
    """HTTP attempts of ``HttpClient.send`` for ``source``/``dataset`` (redirect hops are part
    of their attempt) and the body bytes they read."""
    METER.add(f"http.{source}/{dataset}.requests", requests)
    METER.add(f"http.{source}/{dataset}.bytes_in", body_bytes)


def add_usage(parts: Iterable[Mapping[str, int]]) -> Usage:
    """The sum of several usages."""
    total: Counter[str] = Counter()
    for part in parts:
        total.update({key: int(value) for key, value in part.items()})
    return {key: value for key, value in total.items() if value}


def dumps(usage: Mapping[str, int]) -> str:
    return json.dumps(dict(sorted(usage.items())), separators=(",", ":"))


def loads(text: str | None) -> Usage:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}


def http_requests(usage: Mapping[str, int]) -> int:
    return sum(v for k, v in usage.items() if k.startswith("http.") and k.endswith(".requests"))


def http_bytes(usage: Mapping[str, int]) -> int:
    return sum(v for k, v in usage.items() if k.startswith("http.") and k.endswith(".bytes_in"))


def aws_calls(usage: Mapping[str, int], service: str) -> int:
    """Requests to ``service`` (for s3: every request kind)."""
    if service == "s3":
        return sum(usage.get(f"aws.s3.{kind}", 0) for kind in (*S3_KINDS, "OTHER"))
    return usage.get(f"aws.{service}.calls", 0)


def describe(usage: Mapping[str, int]) -> str:
    """One line for a run summary: S3 requests by kind, other AWS calls, HTTP requests."""
    s3 = " ".join(
        f"{kind} {usage[f'aws.s3.{kind}']}"
        for kind in (*S3_KINDS, "OTHER")
        if usage.get(f"aws.s3.{kind}")
    )
    others = sorted(
        {k.split(".")[1] for k in usage if k.startswith("aws.") and not k.startswith("aws.s3.")}
    )
    parts = []
    if s3:
        moved = usage.get("aws.s3.bytes_out", 0), usage.get("aws.s3.bytes_in", 0)
        parts.append(f"S3 {s3} ({_size(moved[0])} up, {_size(moved[1])} down)")
    parts += [f"{service} {usage[f'aws.{service}.calls']}" for service in others]
    if http_requests(usage):
        parts.append(f"HTTP {http_requests(usage)} requests ({_size(http_bytes(usage))})")
    return "; ".join(parts) or "no AWS or HTTP requests"


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def start_run() -> None:
    """Before a run in this process: what came before it belongs to no step and no run."""
    METER.take(RUN_MARK)
    METER.take(STEP_MARK)


def finish_run(instance: Any, run_id: str) -> Usage:
    """After a run in this process: its whole usage, kept on the run as the ``lakehouse/usage``
    tag (what ``lakehouse report`` reads; steps' metadata miss what ran after their output)."""
    usage = METER.take(RUN_MARK)
    instance.add_run_tags(run_id, {USAGE_TAG: dumps(usage)})
    return usage


def step_usage_metadata() -> dict[str, Any]:
    """The AWS and HTTP requests made since this process's previous step record: the step's,
    and those of steps before it that recorded none. Every step that publishes something
    records it (the lake IO manager for tables, raw steps on their own materialization)."""
    import dagster as dg

    return {USAGE_METADATA: dg.MetadataValue.json(METER.take(STEP_MARK))}
