"""``lakehouse bootstrap``: the stack of deploy/cloudformation.yaml, created idempotently by boto3.

For a sandbox account or a local AWS endpoint, where a CloudFormation stack is overkill or not
available. Running it twice changes nothing the second time, except parameters it is given
new values for. It creates:

- a bucket per layer: default encryption, every public access blocked, incomplete multipart
  uploads aborted after a few days;
- the bucket-name and topic-ARN parameters, and the WordPress endpoints parameter when endpoints
  are given (a StringList, or a SecureString when the URLs carry tokens);
- an SNS topic per layer plus the pipeline-failure topic;
- a Glue database per catalogued layer (bronze, silver, gold);
- what the transactions source reads (unless ``transactions=False``): the DynamoDB customer
  table, the fraud score log group, the MySQL secret (a placeholder to fill in; never
  overwritten) and the three parameters naming them;
- what the Spotify source reads (unless ``spotify=False``): the credentials secret (empty
  placeholders to fill in; never overwritten), ``/spotify/secret_id`` naming it, the base and
  token URLs at their defaults (an operator's other value is kept), and the playlists StringList
  when playlist ids are given (there is no default playlist).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lakehouse_assets import settings
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.aws.glue import CATALOGUED_LAYERS
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER

ABORT_MULTIPART_AFTER_DAYS = 3


@dataclass(frozen=True)
class StackNames:
    """Names of what bootstrap creates (the same defaults as the CloudFormation template)."""

    bucket_prefix: str = "data-lakehouse"
    topic_prefix: str = "lakehouse"
    glue_database_prefix: str = "lakehouse_"

    def bucket(self, layer: str) -> str:
        return f"{self.bucket_prefix}-{layer}"

    def topic(self, layer: str | None) -> str:
        return f"{self.topic_prefix}-{layer or 'pipeline-failure'}"

    def database(self, layer: str) -> str:
        return f"{self.glue_database_prefix}{layer}"

    customer_table: str = "customer-activity"
    fraud_score_group: str = "/lab/tx-fraud-score"
    transactions_secret: str = "lakehouse/transactions-mysql"
    spotify_secret: str = "lakehouse/spotify"


@dataclass
class BootstrapReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    topic_arns: dict[str, str] = field(default_factory=dict)

    def note(self, created: bool, what: str) -> None:
        (self.created if created else self.existing).append(what)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_bucket(
    s3: Any, bucket: str, region: str, report: BootstrapReport, kms_key_id: str | None = None
) -> None:
    try:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        report.note(True, f"s3://{bucket}")
    except ClientError as exc:
        if _code(exc) != "BucketAlreadyOwnedByYou":
            raise
        report.note(False, f"s3://{bucket}")
    default: dict[str, Any] = {"SSEAlgorithm": "aws:kms" if kms_key_id else "AES256"}
    if kms_key_id:
        default["KMSMasterKeyID"] = kms_key_id
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": default,
                    "BucketKeyEnabled": bool(kms_key_id),
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {
                        "DaysAfterInitiation": ABORT_MULTIPART_AFTER_DAYS
                    },
                }
            ]
        },
    )


def put_parameter(
    ssm: Any, name: str, value: str, kind: str, report: BootstrapReport, overwrite: bool = True
) -> None:
    """Create ``name``, or update it when its value or type differ (values never printed)."""
    try:
        current = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ClientError as exc:
        if _code(exc) != "ParameterNotFound":
            raise
        current = None
    if current is not None and (
        not overwrite or (current["Value"] == value and current["Type"] == kind)
    ):
        report.note(False, f"parameter {name}")
        return
    ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=current is not None)
    report.note(current is None, f"parameter {name}")


def ensure_database(glue: Any, name: str, report: BootstrapReport) -> None:
    try:
        glue.create_database(
            DatabaseInput={"Name": name, "Description": "Lakehouse tables (lakehouse_assets)"}
        )
        report.note(True, f"glue database {name}")
    except glue.exceptions.AlreadyExistsException:
        report.note(False, f"glue database {name}")


def bootstrap(
    aws: AwsClientsResource,
    names: StackNames | None = None,
    *,
    wordpress_endpoints: Sequence[str] = (),
    endpoints_secure: bool = False,
    kms_key_id: str | None = None,
    transactions: bool = True,
    spotify: bool = True,
    spotify_playlists: Sequence[str] = (),
) -> BootstrapReport:
    """Create (or confirm) every resource of the stack; returns what was created and found."""
    names = names or StackNames()
    report = BootstrapReport()
    parameter_names = settings.PARAMETER_NAMES
    s3, ssm, sns, glue = (aws.client(s) for s in ("s3", "ssm", "sns", "glue"))
    region = s3.meta.region_name
    known_topics = {
        t["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for t in page["Topics"]
    }
    for layer in settings.LAYERS:
        ensure_bucket(s3, names.bucket(layer), region, report, kms_key_id)
        put_parameter(ssm, parameter_names.bucket(layer), names.bucket(layer), "String", report)
    topic_layers: list[str | None] = [*settings.LAYERS, None]
    for topic_layer in topic_layers:
        # CreateTopic is idempotent: it returns the existing topic's ARN.
        arn = sns.create_topic(Name=names.topic(topic_layer))["TopicArn"]
        report.topic_arns[topic_layer or "pipeline"] = arn
        report.note(arn not in known_topics, f"topic {names.topic(topic_layer)}")
        name = (
            parameter_names.topic(topic_layer)
            if topic_layer
            else parameter_names.sns_pipeline_failure
        )
        put_parameter(ssm, name, arn, "String", report)
    if wordpress_endpoints:
        kind = "SecureString" if endpoints_secure else "StringList"
        put_parameter(ssm, ENDPOINTS_PARAMETER, ",".join(wordpress_endpoints), kind, report)
    for layer in CATALOGUED_LAYERS:
        ensure_database(glue, names.database(layer), report)
    if transactions:
        ensure_transactions_services(aws, names, report)
    if spotify:
        ensure_spotify_configuration(aws, names, report, playlists=spotify_playlists)
    return report


#: The secret's placeholder: RDS's field names, values to replace (no password is invented).
TRANSACTIONS_SECRET_PLACEHOLDER = {
    "engine": "mysql",
    "host": "replace-me.example.invalid",
    "port": 3306,
    "username": "replace-me",
    "password": "",
    "dbname": "stores",
}


def ensure_transactions_services(
    aws: AwsClientsResource, names: StackNames, report: BootstrapReport
) -> None:
    """The customer table (key ``customer_id``, on demand), the fraud score log group, the
    MySQL secret (created with a placeholder, left alone when it exists) and the parameters."""
    import json

    from lakehouse_assets.sources.transactions.datasets import (
        CUSTOMER_TABLE_PARAMETER,
        FRAUD_GROUP_PARAMETER,
        SECRET_ID_PARAMETER,
    )

    dynamodb, logs, secrets, ssm = (
        aws.client(s) for s in ("dynamodb", "logs", "secretsmanager", "ssm")
    )
    try:
        dynamodb.create_table(
            TableName=names.customer_table,
            KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        report.note(True, f"dynamodb table {names.customer_table}")
    except dynamodb.exceptions.ResourceInUseException:
        report.note(False, f"dynamodb table {names.customer_table}")
    try:
        logs.create_log_group(logGroupName=names.fraud_score_group)
        report.note(True, f"log group {names.fraud_score_group}")
    except logs.exceptions.ResourceAlreadyExistsException:
        report.note(False, f"log group {names.fraud_score_group}")
    try:
        secrets.create_secret(
            Name=names.transactions_secret,
            Description="MySQL connection of the transactions stores lookup (RDS fields).",
            SecretString=json.dumps(TRANSACTIONS_SECRET_PLACEHOLDER),
        )
        report.note(True, f"secret {names.transactions_secret}")
    except secrets.exceptions.ResourceExistsException:
        report.note(False, f"secret {names.transactions_secret}")
    for name, value in (
        (SECRET_ID_PARAMETER, names.transactions_secret),
        (CUSTOMER_TABLE_PARAMETER, names.customer_table),
        (FRAUD_GROUP_PARAMETER, names.fraud_score_group),
    ):
        put_parameter(ssm, name, value, "String", report)


#: The Spotify secret's placeholder: the fields the source reads, empty until the operator puts
#: the app's credentials and a user's refresh token in (a run says which field is missing).
SPOTIFY_SECRET_PLACEHOLDER = {"client_id": "", "client_secret": "", "refresh_token": ""}


def ensure_spotify_configuration(
    aws: AwsClientsResource,
    names: StackNames,
    report: BootstrapReport,
    *,
    playlists: Sequence[str] = (),
) -> None:
    """The credentials secret (a placeholder, left alone when it exists), ``/spotify/secret_id``
    naming it, the URLs at their defaults unless set otherwise, and the playlists if given."""
    import json

    from lakehouse_assets.sources.spotify.datasets import (
        BASE_URL_PARAMETER,
        DEFAULTS,
        PLAYLISTS_PARAMETER,
        SECRET_ID_PARAMETER,
        TOKEN_URL_PARAMETER,
    )

    secrets, ssm = aws.client("secretsmanager"), aws.client("ssm")
    try:
        secrets.create_secret(
            Name=names.spotify_secret,
            Description="Spotify credentials: client_id, client_secret, refresh_token.",
            SecretString=json.dumps(SPOTIFY_SECRET_PLACEHOLDER),
        )
        report.note(True, f"secret {names.spotify_secret}")
    except secrets.exceptions.ResourceExistsException:
        report.note(False, f"secret {names.spotify_secret}")
    put_parameter(ssm, SECRET_ID_PARAMETER, names.spotify_secret, "String", report)
    for name in (BASE_URL_PARAMETER, TOKEN_URL_PARAMETER):
        put_parameter(ssm, name, DEFAULTS[name], "String", report, overwrite=False)
    if playlists:
        put_parameter(ssm, PLAYLISTS_PARAMETER, ",".join(playlists), "StringList", report)
