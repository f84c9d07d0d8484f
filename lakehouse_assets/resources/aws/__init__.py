"""The ``aws`` deployment's resources: the same keys as the local ones, backed by AWS services.

Settings come from the environment through ``dg.EnvVar`` (read when a run starts, hidden in the
UI), and only for variables that are set, so unset ones keep their defaults. Endpoint, region and
credentials follow boto3's own chain (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``,
``AWS_DEFAULT_REGION``, profiles, instance roles) unless set here.

| variable | resource field | default |
|---|---|---|
| ``AWS_REGION`` | every AWS client's region | boto3's chain |
| ``AWS_MAX_ATTEMPTS`` | total attempts per AWS call (first included) | 5 |
| ``LAKEHOUSE_S3_SSE`` | ``AES256`` (SSE-S3) or ``aws:kms`` | AES256 |
| ``LAKEHOUSE_S3_KMS_KEY_ID`` | KMS key for ``aws:kms`` | bucket's/AWS-managed key |
| ``LAKEHOUSE_GLUE_DATABASE_PREFIX`` | Glue database = prefix + layer | ``lakehouse_`` |
| ``LAKEHOUSE_ALLOWED_HOSTS`` | comma-separated hosts exempt from the URL address checks | none |
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from lakehouse_assets import settings
from lakehouse_assets.lake.io_manager import LakeIOManager
from lakehouse_assets.lake.s3_resource import S3LakeResource
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.glue import GlueCatalogResource
from lakehouse_assets.resources.aws.secrets import SecretsManagerResource
from lakehouse_assets.resources.aws.sns import SnsNotificationsResource
from lakehouse_assets.resources.aws.ssm import SsmParametersResource
from lakehouse_assets.sources.wordpress_api.resource import WordPressApiResource


def _env(name: str, field: str, *, integer: bool = False) -> dict[str, Any]:
    """``{field: EnvVar(name)}`` when ``name`` is set, else nothing (the field's default)."""
    if not os.environ.get(name):
        return {}
    return {field: dg.EnvVar.int(name) if integer else dg.EnvVar(name)}


def allowed_hosts() -> list[str]:
    value = os.environ.get(settings.ALLOWED_HOSTS_VAR, "")
    return [host.strip() for host in value.split(",") if host.strip()]


def aws_resources() -> dict[str, object]:
    """S3 lake, SSM parameters, SNS alerts, Glue catalog, Secrets Manager; live WordPress API."""
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
    return {
        "parameters": parameters,
        "lake": lake,
        "io_manager": LakeIOManager(lake=lake, catalog=catalog),
        "wordpress_api": WordPressApiResource(
            serve_packaged_sample=False, allowed_hosts=allowed_hosts()
        ),
        "notifications": SnsNotificationsResource(aws=aws, parameters=parameters),
        "secrets": SecretsManagerResource(aws=aws),
    }
