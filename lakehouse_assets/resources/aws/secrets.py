"""Secrets from AWS Secrets Manager, cached for the run.

dagster_aws's ``SecretsManagerSecretsResource`` ignores ``endpoint_url``; this one uses the shared
client configuration. Errors carry the secret id and the AWS error code only, never the value.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import PrivateAttr

from lakehouse_assets.errors import ConfigurationError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.secrets import SecretsResource


class SecretsManagerResource(SecretsResource):
    """``GetSecretValue`` once per secret and run (``SecretString`` only; binary is refused)."""

    aws: AwsClientsResource

    _cache: dict[str, str] = PrivateAttr(default_factory=dict)

    def get_string(self, secret_id: str) -> str:
        if secret_id not in self._cache:
            self._cache[secret_id] = self._fetch(secret_id)
        return self._cache[secret_id]

    def _fetch(self, secret_id: str) -> str:
        try:
            response = self.aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise ConfigurationError(f"secret {secret_id} could not be read ({code})") from None
        except BotoCoreError as exc:
            raise ConfigurationError(
                f"secret {secret_id} could not be read ({type(exc).__name__})"
            ) from None
        value = response.get("SecretString")
        if value is None:
            raise ConfigurationError(f"secret {secret_id} has no SecretString (binary secret)")
        return str(value)
