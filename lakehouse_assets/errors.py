"""Errors users see: each names the source and dataset, never a secret URL or value."""

from __future__ import annotations


class LakehouseError(Exception):
    """Base of the platform's own errors."""

    #: A transient error may succeed when retried (network blip, 5xx, throttling).
    transient: bool = False


class ConfigurationError(LakehouseError):
    """A parameter or setting is missing or invalid; raised before any data I/O."""


class SourceError(LakehouseError):
    """Extracting one dataset of a source failed."""

    def __init__(self, source: str, dataset: str, problem: str, *, transient: bool = False):
        self.source = source
        self.dataset = dataset
        self.problem = problem
        self.transient = transient
        super().__init__(f"{source}/{dataset}: {problem}")


class DataContractError(LakehouseError):
    """Data broke its declared contract; nothing was written."""

    def __init__(self, layer: str, source: str, dataset: str, problem: str):
        self.layer = layer
        self.source = source
        self.dataset = dataset
        self.problem = problem
        super().__init__(f"{layer} {source}/{dataset}: {problem}")
