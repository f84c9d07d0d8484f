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
    """Extracting one dataset of a source failed."""

    def __init__(self, source: str, dataset: str, problem: str, *, transient: bool = False):
        super().__init__(f"{source}/{dataset}: {problem}", transient=transient)
        self.source = source
        self.dataset = dataset
        self.problem = problem


class DataContractError(LakehouseError):
    """Data broke its declared contract; nothing was written."""

    def __init__(self, layer: str, source: str, dataset: str, problem: str):
        super().__init__(f"{layer} {source}/{dataset}: {problem}")
        self.layer = layer
        self.source = source
        self.dataset = dataset
        self.problem = problem
