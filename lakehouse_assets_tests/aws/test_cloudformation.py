"""deploy/cloudformation.yaml: valid for cfn-lint, deployable where moto supports it, and the
same stack as ``lakehouse bootstrap`` (bootstrap on top of it finds everything it would create,
except what moto's CloudFormation skips) — and the pipeline runs on it.

moto's CloudFormation has no AWS::Glue::Database, AWS::S3::BucketPolicy or
AWS::SecretsManager::Secret and ignores a bucket's PublicAccessBlockConfiguration and
LifecycleConfiguration; bootstrap fills exactly those in. The Spotify policy is pinned statement
by statement (one secret, the ``/spotify/*`` parameters).
"""

import json
from pathlib import Path

import dagster as dg
import pytest
from cfnlint.decode import decode_str

from lakehouse_assets import settings
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.infra.bootstrap import StackNames, bootstrap
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER
from lakehouse_assets_tests.aws.conftest import (
    CREDENTIALS,
    Stack,
    aws_environment,
    run_wordpress_job,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation.yaml"
REGION = "us-east-2"
PREFIX = "cfn-lakehouse"
POLICY_ACTIONS = {
    "ListLayerBuckets": ["s3:ListBucket"],
    "ReadWriteLayerObjects": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    "ReadParameters": ["ssm:GetParameters"],
    "PublishAlerts": ["sns:Publish"],
    "RegisterTables": ["glue:CreateTable", "glue:UpdateTable"],
    "ReadSecrets": ["secretsmanager:GetSecretValue"],
}
SPOTIFY_POLICY = {
    "ReadSpotifySecret": (
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:{region}:{account}:secret:lakehouse/spotify-??????",
    ),
    "ReadSpotifyParameters": (
        "ssm:GetParameters",
        "arn:aws:ssm:{region}:{account}:parameter/spotify/*",
    ),
}


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, ManualArgs(regions=["eu-west-2", "us-east-1"]))
    assert [str(m) for m in matches] == []


@pytest.mark.integration
def test_template_deploys_to_moto_and_runs_the_pipeline(
    moto_endpoint: str, sample_site_urls: list[str]
) -> None:
    aws = AwsClientsResource(
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(
        StackName="lakehouse",
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[
            {"ParameterKey": "BucketPrefix", "ParameterValue": PREFIX},
            {"ParameterKey": "TopicPrefix", "ParameterValue": PREFIX},
            {"ParameterKey": "WordPressEndpoints", "ParameterValue": ",".join(sample_site_urls)},
        ],
    )
    stack = cloudformation.describe_stacks(StackName="lakehouse")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["GoldBucketName"] == f"{PREFIX}-gold"
    ssm = aws.client("ssm")
    for layer in settings.LAYERS:
        name = settings.PARAMETER_NAMES.bucket(layer)
        assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == f"{PREFIX}-{layer}"
        topic = ssm.get_parameter(Name=settings.PARAMETER_NAMES.topic(layer))["Parameter"]
        assert topic["Value"] == outputs[f"{layer.capitalize()}TopicArn"]
    endpoints = ssm.get_parameter(Name=ENDPOINTS_PARAMETER)["Parameter"]
    assert (endpoints["Type"], endpoints["Value"]) == ("StringList", ",".join(sample_site_urls))
    iam = aws.client("iam")
    policy = iam.get_policy(PolicyArn=outputs["CodeLocationPolicyArn"])["Policy"]
    document = iam.get_policy_version(
        PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert {sid: s["Action"] for sid, s in statements.items()} == {
        sid: actions[0] if len(actions) == 1 else actions for sid, actions in POLICY_ACTIONS.items()
    }
    assert all(s["Effect"] == "Allow" for s in statements.values())
    role = iam.get_role(RoleName=outputs["CodeLocationRoleArn"].rsplit("/", 1)[1])["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    # (moto's CloudFormation does not record the role's ManagedPolicyArns attachment.)
    assert (
        "arn:aws:ssm:us-east-2:123456789012:parameter/itunes/*"
        in statements["ReadParameters"]["Resource"]
    )
    spotify = iam.get_policy(PolicyArn=outputs["SpotifyPolicyArn"])["Policy"]
    spotify_statements = iam.get_policy_version(
        PolicyArn=spotify["Arn"], VersionId=spotify["DefaultVersionId"]
    )["PolicyVersion"]["Document"]["Statement"]
    account = policy["Arn"].split(":")[4]
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in spotify_statements} == {
        sid: (action, resource.format(region=REGION, account=account))
        for sid, (action, resource) in SPOTIFY_POLICY.items()
    }
    # The URLs and secret id are the defaults; without playlist ids the playlists parameter is
    # not created.
    spotify_parameters = ssm.get_parameters(
        Names=[
            "/spotify/secret_id",
            "/spotify/api/base_url",
            "/spotify/accounts/token_url",
            "/spotify/api/playlists",
        ]
    )
    assert {p["Name"]: p["Value"] for p in spotify_parameters["Parameters"]} == {
        "/spotify/secret_id": "lakehouse/spotify",
        "/spotify/api/base_url": "https://api.spotify.com/v1",
        "/spotify/accounts/token_url": "https://accounts.spotify.com/api/token",
    }
    assert spotify_parameters["InvalidParameters"] == ["/spotify/api/playlists"]

    report = bootstrap(aws, StackNames(bucket_prefix=PREFIX, topic_prefix=PREFIX))
    assert report.created == [
        *(f"glue database lakehouse_{layer}" for layer in ("bronze", "silver", "gold")),
        "secret lakehouse/transactions-mysql",
        "secret lakehouse/spotify",
    ]
    # Bootstrap's Spotify placeholder is the template's.
    template = decode_str(TEMPLATE.read_text(encoding="utf-8"))[0]
    assert template is not None
    placeholder = template["Resources"]["SpotifySecret"]["Properties"]["SecretString"]
    secret = aws.client("secretsmanager").get_secret_value(SecretId="lakehouse/spotify")
    assert (
        json.loads(secret["SecretString"])
        == json.loads(placeholder)
        == {
            "client_id": "",
            "client_secret": "",
            "refresh_token": "",
        }
    )

    with aws_environment(moto_endpoint, REGION):
        result, _ = run_wordpress_job(
            build_definitions(settings.Deployment.AWS), dg.DagsterInstance.ephemeral()
        )
    assert result.success
    stack_view = Stack(moto_endpoint, REGION, StackNames(PREFIX, PREFIX), report)
    assert "wordpress_api/statistics_postname/data.parquet" in stack_view.keys("gold")
