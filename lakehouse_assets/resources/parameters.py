"""Configuration parameters: a YAML file locally, SSM Parameter Store on AWS.

Values are never logged or put in errors: a parameter may be a SecureString.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import PrivateAttr

from lakehouse_assets import settings
from lakehouse_assets.errors import ConfigurationError


def as_string_list(name: str, value: Any) -> list[str]:
    """A StringList: a YAML list, or a comma-separated string as SSM stores it."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, Sequence):
        items = [str(v) for v in value]
    else:
        raise ConfigurationError(f"parameter {name} is not a list or comma-separated string")
    return [item.strip() for item in items if item.strip()]


class ParametersResource(dg.ConfigurableResource, ABC):
    """Reads named parameters; missing names fail before any data I/O, naming them."""

    @abstractmethod
    def lookup(self, names: Sequence[str]) -> Mapping[str, Any]:
        """Values of those ``names`` that exist (missing ones are left out)."""

    @abstractmethod
    def describe(self) -> str:
        """Where parameters come from, for error messages (no values)."""

    def fetch(self, names: Sequence[str]) -> Mapping[str, Any]:
        """Values of ``names``; raises ConfigurationError listing every missing name."""
        found = self.lookup(names)
        missing = sorted(set(names) - set(found))
        if missing:
            raise ConfigurationError(
                f"parameter(s) missing from {self.describe()}: {', '.join(missing)}"
            )
        return found

    def get_string_or(self, name: str, default: str) -> str:
        found = self.lookup([name])
        return self.get_string(name) if name in found else default

    def get_string(self, name: str) -> str:
        value = self.fetch([name])[name]
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return str(value)

    def get_list(self, name: str) -> list[str]:
        return as_string_list(name, self.fetch([name])[name])


class LocalParametersResource(ParametersResource):
    """Parameters from a YAML mapping of name to value (the packaged sample by default)."""

    parameters_file: str | None = None

    _values: dict[str, Any] | None = PrivateAttr(default=None)

    def path(self) -> Path:
        if self.parameters_file:
            return Path(self.parameters_file).expanduser().resolve()
        return settings.parameters_file()

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            path = self.path()
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigurationError(f"parameters file {path} does not exist") from None
            except yaml.YAMLError as exc:
                problem = type(exc).__name__
                raise ConfigurationError(
                    f"parameters file {path} is not valid YAML ({problem})"
                ) from None
            if loaded is None:
                loaded = {}
            if not isinstance(loaded, dict):
                raise ConfigurationError(
                    f"parameters file {path} must be a mapping of name to value"
                )
            self._values = {str(k): v for k, v in loaded.items()}
        return self._values

    def lookup(self, names: Sequence[str]) -> Mapping[str, Any]:
        values = self._load()
        return {n: values[n] for n in names if values.get(n) is not None}

    def describe(self) -> str:
        return f"parameters file {self.path()}"
