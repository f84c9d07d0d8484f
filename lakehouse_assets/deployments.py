"""The resources of each deployment, wired in one place each: the same keys, other backends.

``local`` (the default) is embedded: a directory lake, a YAML parameters file, secrets from
environment variables, alerts to an outbox file, and every source's packaged sample reached
through the same client code. ``aws`` is backed by AWS services.

On ``aws``, settings come from the environment through ``dg.EnvVar`` (read when a run starts,
hidden in the UI), and only for variables that are set, so unset ones keep their defaults.
Endpoint, region and credentials follow boto3's own chain (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_DEFAULT_REGION``, profiles, instance roles).

| variable | resource field | default |
|---|---|---|
| ``AWS_REGION`` | every AWS client's region | boto3's chain |
| ``AWS_MAX_ATTEMPTS`` | total attempts per AWS call (first included) | 5 |
| ``LAKEHOUSE_S3_SSE`` | ``AES256`` (SSE-S3) or ``aws:kms`` | AES256 |
| ``LAKEHOUSE_S3_KMS_KEY_ID`` | KMS key for ``aws:kms`` | bucket's/AWS-managed key |
| ``LAKEHOUSE_GLUE_DATABASE_PREFIX`` | Glue database = prefix + layer | ``lakehouse_`` |
| ``LAKEHOUSE_ALLOWED_HOSTS`` | comma-separated hosts exempt from the URL address checks | none |
| ``LAKEHOUSE_ENGINES`` | which engine runs each source's silver and gold | duckdb |
| ``LAKEHOUSE_GLUE_JOB`` | the Glue job Spark steps run as | ``lakehouse-spark`` |
| ``LAKEHOUSE_ARTIFACTS_BUCKET`` | Spark script, Pipes messages | ``data-lakehouse-artifacts`` |
| ``LAKEHOUSE_ATHENA_WORKGROUP`` | workgroup of Athena gold queries | ``lakehouse`` |
| ``LAKEHOUSE_ATHENA_OUTPUT`` | Athena's result location | the workgroup's |
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import dagster as dg

from lakehouse_assets import settings


def _env(name: str, field: str, *, integer: bool = False) -> dict[str, Any]:
    """``{field: EnvVar(name)}`` when ``name`` is set, else nothing (the field's default)."""
    if not os.environ.get(name):
        return {}
    return {field: dg.EnvVar.int(name) if integer else dg.EnvVar(name)}


def allowed_hosts() -> list[str]:
    value = os.environ.get(settings.ALLOWED_HOSTS_VAR, "")
    return [host.strip() for host in value.split(",") if host.strip()]


def local_resources() -> dict[str, object]:
    """Embedded default: a directory lake, a YAML parameters file, the packaged samples."""
    from lakehouse_assets.components.resource import RestApiResource
    from lakehouse_assets.engines.resource import LocalEnginesResource
    from lakehouse_assets.resources.catalog import LocalCatalogResource
    from lakehouse_assets.resources.io_manager import LakeIOManager
    from lakehouse_assets.resources.lake import LocalLakeResource
    from lakehouse_assets.resources.notifications import LocalNotificationsResource
    from lakehouse_assets.resources.parameters import LocalParametersResource
    from lakehouse_assets.resources.secrets import EnvironmentSecretsResource
    from lakehouse_assets.sources.spotify.resource import SpotifyApiResource
    from lakehouse_assets.sources.transactions.lookups import (
        SampleCustomersLookup,
        SampleFraudScoresLookup,
        SampleStoresLookup,
    )
    from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource

    parameters = LocalParametersResource()
    lake = LocalLakeResource(parameters=parameters)
    catalog = LocalCatalogResource()
    return {
        "parameters": parameters,
        "lake": lake,
        "catalog": catalog,
        "io_manager": LakeIOManager(lake=lake, catalog=catalog),
        "transactions_stores": SampleStoresLookup(),
        "transactions_customers": SampleCustomersLookup(),
        "transactions_fraud": SampleFraudScoresLookup(),
        "wordpress_api": WordPressApiResource(serve_packaged_sample=True),
        "rest_api": RestApiResource(serve_packaged_samples=True),
        "spotify_api": SpotifyApiResource(serve_packaged_sample=True),
        "notifications": LocalNotificationsResource(),
        "secrets": EnvironmentSecretsResource(samples_file=str(settings.packaged_secrets_file())),
        "engines": LocalEnginesResource(engines=settings.engines_setting()),
    }


def aws_resources() -> dict[str, object]:
    """S3 lake, SSM parameters, SNS alerts, Glue catalog, Secrets Manager; live source APIs."""
    from lakehouse_assets.components.resource import RestApiResource
    from lakehouse_assets.engines.glue import AwsEnginesResource
    from lakehouse_assets.resources.aws.boto import AwsClientsResource
    from lakehouse_assets.resources.aws.glue import GlueCatalogResource
    from lakehouse_assets.resources.aws.s3_lake import S3LakeResource
    from lakehouse_assets.resources.aws.secrets import SecretsManagerResource
    from lakehouse_assets.resources.aws.sns import SnsNotificationsResource
    from lakehouse_assets.resources.aws.ssm import SsmParametersResource
    from lakehouse_assets.resources.io_manager import LakeIOManager
    from lakehouse_assets.sources.spotify.resource import SpotifyApiResource
    from lakehouse_assets.sources.transactions.aws_lookups import (
        CloudWatchFraudScoresLookup,
        DynamoDbCustomersLookup,
        MySqlStoresLookup,
    )
    from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource

    aws = AwsClientsResource(
        **_env("AWS_REGION", "region_name"),
        **_env("AWS_MAX_ATTEMPTS", "max_attempts", integer=True),
    )
    parameters = SsmParametersResource(aws=aws)
    lake = S3LakeResource(
        aws=aws,
        parameters=parameters,
        **_env("LAKEHOUSE_S3_SSE", "sse_algorithm"),
        **_env("LAKEHOUSE_S3_KMS_KEY_ID", "kms_key_id"),
    )
    catalog = GlueCatalogResource(
        aws=aws, **_env("LAKEHOUSE_GLUE_DATABASE_PREFIX", "database_prefix")
    )
    hosts = allowed_hosts()
    secrets = SecretsManagerResource(aws=aws)
    return {
        "parameters": parameters,
        "lake": lake,
        "catalog": catalog,
        "io_manager": LakeIOManager(lake=lake, catalog=catalog),
        "transactions_stores": MySqlStoresLookup(secrets=secrets),
        "transactions_customers": DynamoDbCustomersLookup(aws=aws),
        "transactions_fraud": CloudWatchFraudScoresLookup(aws=aws),
        "wordpress_api": WordPressApiResource(serve_packaged_sample=False, allowed_hosts=hosts),
        "rest_api": RestApiResource(allowed_hosts=hosts),
        "spotify_api": SpotifyApiResource(serve_packaged_sample=False, allowed_hosts=hosts),
        "notifications": SnsNotificationsResource(aws=aws, parameters=parameters),
        "secrets": secrets,
        "engines": AwsEnginesResource(
            aws=aws,
            engines=settings.engines_setting(),
            **_env("LAKEHOUSE_GLUE_JOB", "glue_job_name"),
            **_env("LAKEHOUSE_ARTIFACTS_BUCKET", "artifacts_bucket"),
            **_env("LAKEHOUSE_ATHENA_WORKGROUP", "athena_workgroup"),
            **_env("LAKEHOUSE_ATHENA_OUTPUT", "athena_output"),
            **_env("LAKEHOUSE_GLUE_DATABASE_PREFIX", "glue_database_prefix"),
        ),
    }


RESOURCES: dict[settings.Deployment, Callable[[], dict[str, object]]] = {
    settings.Deployment.LOCAL: local_resources,
    settings.Deployment.AWS: aws_resources,
}
