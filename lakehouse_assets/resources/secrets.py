"""Secrets: environment variables locally, Secrets Manager on AWS.

A secret's value is returned to the caller only: never logged, never in an error message,
never in metadata (Dagster does not redact, and its event log keeps everything).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from typing import Any

import dagster as dg

from lakehouse_assets.errors import ConfigurationError


class SecretsResource(dg.ConfigurableResource, ABC):
    """Reads named secrets; a missing or unreadable secret fails naming it, not its value."""

    @abstractmethod
    def get_string(self, secret_id: str) -> str:
        """The secret's text."""

    def get_json(self, secret_id: str) -> dict[str, Any]:
        """The secret's text parsed as a JSON object (e.g. client credentials)."""
        text = self.get_string(secret_id)
        try:
            value = json.loads(text)
            valid = True
        except json.JSONDecodeError:  # its .doc holds the secret: do not chain it
            valid = False
        if not valid:
            raise ConfigurationError(f"secret {secret_id} is not valid JSON")
        if not isinstance(value, dict):
            raise ConfigurationError(f"secret {secret_id} is not a JSON object")
        return value


class EnvironmentSecretsResource(SecretsResource):
    """Local secrets: the variable ``{prefix}{SECRET_ID}`` (id upper-cased, non-alnum → ``_``).

    ``samples_file`` (YAML, id → text) holds the packaged samples' own credentials, which only
    the packaged sample services accept; a variable that is set always wins over it.
    """

    prefix: str = "LAKEHOUSE_SECRET_"
    samples_file: str | None = None

    def variable(self, secret_id: str) -> str:
        return self.prefix + "".join(c if c.isalnum() else "_" for c in secret_id).upper()

    def _sample(self, secret_id: str) -> str | None:
        if not self.samples_file:
            return None
        import yaml

        with open(self.samples_file, encoding="utf-8") as handle:
            samples = yaml.safe_load(handle) or {}
        value = samples.get(secret_id)
        return None if value is None else str(value)

    def get_string(self, secret_id: str) -> str:
        value = os.environ.get(self.variable(secret_id))
        if value is None:
            value = self._sample(secret_id)
        if value is None:
            raise ConfigurationError(
                f"secret {secret_id} is not set (environment variable {self.variable(secret_id)})"
            )
        return value
