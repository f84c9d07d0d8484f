"""Parameters from SSM Parameter Store, SecureStrings decrypted.

dagster_aws's ``ParameterStoreResource`` ignores ``endpoint_url`` (so it cannot be tested against a
local endpoint), hence this client of our own. ``GetParameters`` takes at most 10 names per call and
does not raise for missing names: it lists them in ``InvalidParameters``, which ``fetch`` turns into
a ConfigurationError naming each one. Values are cached for the run and never logged or put in
an error message (any of them may be a SecureString).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, PrivateAttr

from lakehouse_assets import settings
from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.parameters import ParametersResource, as_string_list

BATCH = 10  # GetParameters limit


def platform_parameter_names() -> list[str]:
    """The names every run reads (buckets and topics), fetched together in one GetParameters
    call; a source's own parameters are fetched with them when it asks first."""
    names = settings.PARAMETER_NAMES
    return [
        *(names.bucket(layer) for layer in settings.LAYERS),
        *(names.topic(layer) for layer in settings.LAYERS),
        names.sns_pipeline_failure,
    ]


class SsmParametersResource(ParametersResource):
    """Reads String, StringList (as a list) and SecureString (decrypted) parameters."""

    aws: AwsClientsResource
    #: Names fetched along with the first request, so a run makes one call, not one per name.
    prefetch: list[str] = Field(default_factory=platform_parameter_names)

    _values: dict[str, Any] = PrivateAttr(default_factory=dict)
    _missing: set[str] = PrivateAttr(default_factory=set)

    def lookup(self, names: Sequence[str]) -> Mapping[str, Any]:
        known = self._values.keys() | self._missing
        wanted = [n for n in dict.fromkeys(names) if n not in known]
        if wanted:
            wanted += [n for n in self.prefetch if n not in known and n not in wanted]
        for start in range(0, len(wanted), BATCH):
            self._get_batch(wanted[start : start + BATCH])
        return {n: self._values[n] for n in names if n in self._values}

    def _get_batch(self, batch: list[str]) -> None:
        try:
            response = self.aws.client("ssm").get_parameters(Names=batch, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise ConfigurationError(
                f"parameter(s) {', '.join(batch)} could not be read from {self.describe()} ({code})"
            ) from None
        except BotoCoreError as exc:
            raise ConfigurationError(
                f"parameter(s) {', '.join(batch)} could not be read from {self.describe()} "
                f"({type(exc).__name__})"
            ) from None
        for parameter in response.get("Parameters", []):
            name = parameter["Name"]
            value = parameter["Value"]
            if parameter.get("Type") == "StringList":
                value = as_string_list(name, value)
            self._values[name] = value
        self._missing.update(response.get("InvalidParameters", []))

    def describe(self) -> str:
        return "SSM Parameter Store"
