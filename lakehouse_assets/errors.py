"""Errors users see: each names the source and dataset, never a secret URL or value.

They are Dagster ``Failure``s so a step's ``RetryPolicy`` retries only what may succeed on a
second try: transient errors (timeouts, 5xx, 429, throttling) allow retries, while bad input,
broken contracts and configuration mistakes fail at once.
"""

from __future__ import annotations

import dagster as dg


class LakehouseError(dg.Failure):
    """Base of the platform's own errors."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(description=message, allow_retries=transient)
        self.transient = transient


class ConfigurationError(LakehouseError):
    """A parameter or setting is missing or invalid; raised before any data I/O."""

    def __init__(self, message: str):
        super().__init__(message)


class SourceError(LakehouseError):
    """Extracting one dataset of a source failed.

    ``retry_after_seconds`` is the wait the server asked for (``Retry-After``) when the client
    gave up because honouring it would exceed its budget: a step retry should wait at least that
    long (see :func:`step_retry_request`).
    """

    def __init__(
        self,
        source: str,
        dataset: str,
        problem: str,
        *,
        transient: bool = False,
        retry_after_seconds: float | None = None,
    ):
        super().__init__(f"{source}/{dataset}: {problem}", transient=transient)
        self.source = source
        self.dataset = dataset
        self.problem = problem
        self.retry_after_seconds = retry_after_seconds


class DataContractError(LakehouseError):
    """Data broke its declared contract; nothing was written."""

    def __init__(self, layer: str, source: str, dataset: str, problem: str):
        super().__init__(f"{layer} {source}/{dataset}: {problem}")
        self.layer = layer
        self.source = source
        self.dataset = dataset
        self.problem = problem


class BadFileError(ValueError):
    """A landed file cannot become a table of its dataset; ``reason`` says why (it is quarantined).

    Not a ``Failure``: quarantining a bad file is a handled outcome, not a failed run.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def step_retry_request(
    error: BaseException, policy: dg.RetryPolicy, *, max_wait_seconds: float
) -> dg.RetryRequested | None:
    """A step retry that waits as long as the server asked, or None to let ``policy`` decide.

    A ``RetryPolicy`` waits its own fixed delay, so a step retried after a 429 with
    ``Retry-After: 3600`` would ask again a second later. For a transient error carrying the
    server's wait (up to ``max_wait_seconds``) this returns a ``RetryRequested`` with the same
    retry count and ``max(policy delay, server's wait)``; raise it ``from error``.
    """
    wait = getattr(error, "retry_after_seconds", None)
    if wait is None or not getattr(error, "transient", False) or wait > max_wait_seconds:
        return None
    return dg.RetryRequested(
        max_retries=policy.max_retries, seconds_to_wait=max(float(policy.delay or 0), wait)
    )
