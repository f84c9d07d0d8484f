"""The Spark engine on AWS: ``AwsEnginesResource`` launches the Glue job ``deploy/
cloudformation.yaml`` declares, through Dagster Pipes over the artifacts bucket (moto over HTTP).

moto records the job and each run request (arguments, worker settings) but runs no script: a run
is SUCCEEDED at its first GetJobRun, with no ErrorMessage, and FAILED never happens. So these
tests pin down:

- the launch: the run's Arguments (PipesGlueClient's ``--dagster-pipes-context`` /
  ``--dagster-pipes-messages`` pointing into ``pipes/`` of the artifacts bucket, and the asset),
  the job's script location, role and workers as the template declares them;
- the script: uploaded to the job's ScriptLocation with its sha256 in the object's metadata, and
  not uploaded again while the sha matches;
- a run that reports nothing fails the step with a ``DataContractError`` naming the dataset and
  the Glue run id (a FAILED run's message is pinned on a GetJobRun-shaped record);
- a run that does report: the script's Pipes side is played here with dagster_pipes' S3 context
  loader and message writer (what ``spark_job.py`` uses on Glue), and its materialization becomes
  the ``SparkRun``.
"""

import ast
import hashlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from cfnlint.decode import decode_str
from dagster_pipes import (
    PipesMappingParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    decode_param,
    open_dagster_pipes,
)

from lakehouse_assets.engines.glue import AwsEnginesResource, glue_run_problem, spark_script
from lakehouse_assets.engines.spark import SparkJob, SparkRun
from lakehouse_assets.errors import DataContractError
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets_tests.aws.conftest import CREDENTIALS

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation.yaml"
REGION = "il-central-1"
PREFIX = "glue-launch"
ARTIFACTS = f"{PREFIX}-artifacts"
SCRIPT_KEY = "lakehouse/spark_job.py"
JOB = SparkJob(
    source="demo",
    dataset="events",
    layer="silver",
    inputs={"events": f"s3://{PREFIX}-bronze/demo/events/data.parquet"},
    output_uri=f"s3://{PREFIX}-silver/_staging/demo/events/run-1/",
    output_sql="SELECT id, name FROM events ORDER BY id",
    reports={"counts": "SELECT count(*) AS n FROM events"},
)
#: The metadata spark_job.py reports for JOB's output (its ``run`` return value's shape).
REPORTED = {
    "spark/parts": {
        "raw_value": [f"{JOB.output_uri}part-00000-a.zstd.parquet"],
        "type": "json",
    },
    "spark/rows": {"raw_value": 3, "type": "int"},
    "spark/schema": {"raw_value": "struct<id:bigint,name:string>", "type": "text"},
    "spark/reports": {"raw_value": {"counts": [{"n": 3}]}, "type": "json"},
    "spark/seconds": {"raw_value": 1.5, "type": "float"},
}


@dataclass
class Deployed:
    """The template deployed to moto, with the Glue job created as the template declares it."""

    aws: AwsClientsResource
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def engines(self) -> AwsEnginesResource:
        return AwsEnginesResource(
            aws=self.aws,
            glue_job_name=self.outputs["SparkJobName"],
            artifacts_bucket=self.outputs["ArtifactsBucketName"],
        )

    def runs(self) -> list[dict[str, Any]]:
        return self.client("glue").get_job_runs(JobName=self.outputs["SparkJobName"])["JobRuns"]


def resolve(value: Any, refs: Mapping[str, str]) -> Any:
    """``value`` with the template's Ref, Fn::GetAtt and Fn::Sub replaced from ``refs``."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            name, attribute = value["Fn::GetAtt"]
            return refs[f"{name}.{attribute}"]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: refs[m.group(1)], value["Fn::Sub"])
        return {key: resolve(item, refs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, refs) for item in value]
    return value


def create_declared_job(aws: AwsClientsResource, stack_name: str, template: dict) -> None:
    """CreateJob with the template's SparkJob properties (moto's CloudFormation skips Glue jobs)."""
    cloudformation, iam = aws.client("cloudformation"), aws.client("iam")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    refs = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    refs.update({p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]})
    refs.update(
        {
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::AccountId": stack["StackId"].split(":")[4],
        }
    )
    for resource in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]:
        if "PhysicalResourceId" in resource:  # (not for the types moto skips)
            refs[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    role = iam.get_role(RoleName=refs["SparkJobRole"])["Role"]
    refs["SparkJobRole.Arn"] = role["Arn"]
    properties = resolve(template["Resources"]["SparkJob"]["Properties"], refs)
    for name in ("NumberOfWorkers", "Timeout", "MaxRetries"):
        properties[name] = int(properties[name])
    properties["ExecutionProperty"]["MaxConcurrentRuns"] = int(
        properties["ExecutionProperty"]["MaxConcurrentRuns"]
    )
    aws.client("glue").create_job(**properties)


@pytest.fixture(scope="module")
def template() -> dict:
    decoded = decode_str(TEMPLATE.read_text(encoding="utf-8"))[0]
    assert decoded is not None
    return decoded


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str, template: dict) -> Deployed:
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
            {"ParameterKey": "WordPressEndpoints", "ParameterValue": "https://example.invalid"},
        ],
    )
    stack = cloudformation.describe_stacks(StackName="lakehouse")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    create_declared_job(aws, "lakehouse", template)
    return Deployed(aws, {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]})


def materialize(engines: AwsEnginesResource, runs: list[SparkRun]) -> dg.ExecuteInProcessResult:
    """JOB's asset, calling ``engines.run_spark`` as a silver step does; its SparkRun is kept."""

    @dg.asset(key=["silver", "demo", "events"], group_name="demo")
    def events(context: dg.AssetExecutionContext, engines: AwsEnginesResource) -> dg.Output:
        """Silver demo/events on Spark."""
        run = engines.run_spark(context, JOB)
        runs.append(run)
        return dg.Output(None, metadata={"rows": run.rows})

    return dg.materialize(
        [events],
        resources={"engines": engines, "io_manager": dg.mem_io_manager},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def failure_description(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data
    assert data.error is not None
    assert data.error.cls_name == "DataContractError"
    assert data.user_failure_data is not None
    return str(data.user_failure_data.description)


@contextmanager
def glue_side(deployed: Deployed, metadata: Mapping[str, Any]) -> Iterator[list[str]]:
    """Plays the script's Pipes side of the job's next run, as ``spark_job.py`` does on Glue:
    context from S3 (PipesS3ContextLoader), messages to S3 (PipesS3MessageWriter), with the
    run's ``--dagster-pipes-*`` arguments. Yields the ids of the runs it played."""
    job_name = deployed.outputs["SparkJobName"]
    endpoint = deployed.aws.endpoint_url
    clients = {
        service: boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        for service in ("glue", "s3")
    }
    seen = {run["Id"] for run in deployed.runs()}
    played: list[str] = []
    stop = threading.Event()

    def play() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            runs = clients["glue"].get_job_runs(JobName=job_name)["JobRuns"]
            new = [run for run in runs if run["Id"] not in seen]
            if new:
                arguments = new[0]["Arguments"]
                params = PipesMappingParamsLoader(
                    {
                        "DAGSTER_PIPES_CONTEXT": arguments["--dagster-pipes-context"],
                        "DAGSTER_PIPES_MESSAGES": arguments["--dagster-pipes-messages"],
                    }
                )
                with open_dagster_pipes(
                    params_loader=params,
                    context_loader=PipesS3ContextLoader(client=clients["s3"]),
                    message_writer=PipesS3MessageWriter(client=clients["s3"], interval=0.1),
                ) as pipes:
                    pipes.report_asset_materialization(metadata=dict(metadata))
                played.append(new[0]["Id"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    try:
        yield played
    finally:
        stop.set()
        thread.join(timeout=10)


def script_object(deployed: Deployed) -> dict[str, Any]:
    return deployed.client("s3").head_object(Bucket=ARTIFACTS, Key=SCRIPT_KEY)


@pytest.mark.integration
def test_a_run_that_reports_nothing_fails_naming_dataset_and_run(deployed: Deployed) -> None:
    earlier = {run["Id"] for run in deployed.runs()}
    started = time.monotonic()
    result = materialize(deployed.engines(), runs := [])
    seconds = time.monotonic() - started

    assert not result.success and runs == []
    (run,) = [run for run in deployed.runs() if run["Id"] not in earlier]
    assert failure_description(result) == (
        f"silver demo/events: Glue job lakehouse-spark run {run['Id']} ended SUCCEEDED but the "
        "Spark job reported 0 materializations, not 1 (did the script run, and write its "
        f"Pipes messages to s3://{ARTIFACTS}/pipes/messages/?)"
    )
    # The message reader looks ~10 s for messages that never come (dagster's fixed wait).
    assert seconds < 30

    # The launch request: the job's defaults, Pipes' bootstrap into the artifacts bucket, the asset.
    arguments = run["Arguments"]
    context = decode_param(arguments.pop("--dagster-pipes-context"))
    messages = decode_param(arguments.pop("--dagster-pipes-messages"))
    assert arguments.pop("--dagster-run-id") == result.run_id
    assert arguments == {
        "--job-language": "python",
        "--additional-python-modules": f"dagster-pipes=={version('dagster-pipes')}",
        "--enable-metrics": "true",
        "--TempDir": f"s3://{ARTIFACTS}/glue/temp/",
        "--lakehouse-asset": "silver/demo/events",
    }
    assert context["bucket"] == messages["bucket"] == ARTIFACTS
    assert re.fullmatch(r"pipes/context/[A-Za-z]{30}/context\.json", context["key"])
    assert re.fullmatch(r"pipes/messages/[A-Za-z]{30}", messages["key_prefix"])
    assert (run["JobName"], run["WorkerType"], run["NumberOfWorkers"]) == (
        "lakehouse-spark",
        "G.1X",
        2,
    )
    # The context object is removed when the step ends.
    listed = deployed.client("s3").list_objects_v2(Bucket=ARTIFACTS, Prefix="pipes/context/")
    assert listed.get("KeyCount", 0) == 0

    # The job as the template declares it.
    job = deployed.client("glue").get_job(JobName="lakehouse-spark")["Job"]
    assert job["Command"] == {
        "Name": "glueetl",
        "PythonVersion": "3",
        "ScriptLocation": f"s3://{ARTIFACTS}/{SCRIPT_KEY}",
    }
    assert job["Role"] == deployed.outputs["SparkJobRoleArn"]
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.1X", 2)
    assert (job["Timeout"], job["MaxRetries"], job["ExecutionProperty"]) == (
        60,
        0,
        {"MaxConcurrentRuns": 4},
    )

    # The script at the job's ScriptLocation, with its sha256.
    script = Path(__file__).resolve().parents[2] / "lakehouse_assets" / "engines" / "spark_job.py"
    body = deployed.client("s3").get_object(Bucket=ARTIFACTS, Key=SCRIPT_KEY)
    assert body["Body"].read() == script.read_bytes() == spark_script()
    assert body["Metadata"] == {"sha256": hashlib.sha256(script.read_bytes()).hexdigest()}


@pytest.mark.integration
def test_a_reported_materialization_becomes_the_spark_run(deployed: Deployed) -> None:
    engines = deployed.engines()
    engines.upload_script()
    # Marks the uploaded object: an upload on the next run would drop the mark.
    s3 = deployed.client("s3")
    sha = script_object(deployed)["Metadata"]["sha256"]
    s3.copy_object(
        Bucket=ARTIFACTS,
        Key=SCRIPT_KEY,
        CopySource={"Bucket": ARTIFACTS, "Key": SCRIPT_KEY},
        MetadataDirective="REPLACE",
        Metadata={"sha256": sha, "mark": "kept"},
    )

    started = time.monotonic()
    with glue_side(deployed, REPORTED) as played:
        result = materialize(engines, runs := [])
    seconds = time.monotonic() - started

    assert result.success, result.get_step_failure_events()
    (run_id,) = played
    (run,) = runs
    assert (run.parts, run.rows, run.reports) == (
        [f"{JOB.output_uri}part-00000-a.zstd.parquet"],
        3,
        {"counts": [{"n": 3}]},
    )
    assert run.metadata["spark/schema"] == "struct<id:bigint,name:string>"
    assert run.metadata["AWS Glue Job Run ID"] == run_id
    assert run.metadata["AWS Glue Job Name"] == "lakehouse-spark"
    # The closed message ends the wait at once.
    assert seconds < 10
    assert script_object(deployed)["Metadata"] == {"sha256": sha, "mark": "kept"}
    keys = s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="pipes/messages/")["Contents"]
    assert all(re.fullmatch(r"pipes/messages/[A-Za-z]{30}/\d+\.json", k["Key"]) for k in keys)


@pytest.mark.integration
def test_the_script_is_uploaded_when_its_sha_differs(deployed: Deployed) -> None:
    engines = deployed.engines()
    s3 = deployed.client("s3")
    s3.put_object(Bucket=ARTIFACTS, Key=SCRIPT_KEY, Body=b"old", Metadata={"sha256": "old"})

    assert engines.upload_script() is True
    assert engines.upload_script() is False
    body = s3.get_object(Bucket=ARTIFACTS, Key=SCRIPT_KEY)
    assert body["Body"].read() == spark_script()
    assert body["Metadata"] == {"sha256": hashlib.sha256(spark_script()).hexdigest()}


@pytest.mark.integration
def test_roles_may_do_what_the_launch_needs(deployed: Deployed) -> None:
    iam = deployed.client("iam")
    account = deployed.outputs["SparkJobRoleArn"].split(":")[4]
    role = iam.get_role(RoleName=deployed.outputs["SparkJobRoleArn"].rsplit("/", 1)[1])["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    (name,) = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # (moto keeps a stack's inline policy as a Python repr)
        document = ast.literal_eval(document)
    glue_role = {s["Sid"]: (s["Action"], s["Resource"]) for s in document["Statement"]}
    silver, gold = f"arn:aws:s3:::{PREFIX}-silver", f"arn:aws:s3:::{PREFIX}-gold"
    artifacts = f"arn:aws:s3:::{ARTIFACTS}"
    writes = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    assert glue_role["WriteStaging"] == (writes, [f"{silver}/_staging/*", f"{gold}/_staging/*"])
    assert glue_role["WriteMessagesAndTemp"] == (
        writes,
        [f"{artifacts}/pipes/messages/*", f"{artifacts}/glue/temp/*"],
    )

    policy = iam.get_policy(PolicyArn=deployed.outputs["SparkEnginePolicyArn"])["Policy"]
    statements = iam.get_policy_version(
        PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]["Statement"]
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in statements} == {
        "RunSparkJob": (
            ["glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"],
            f"arn:aws:glue:{REGION}:{account}:job/lakehouse-spark",
        ),
        "ListArtifacts": ("s3:ListBucket", artifacts),
        "ReadWriteArtifacts": (
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [f"{artifacts}/lakehouse/*", f"{artifacts}/pipes/*"],
        ),
        # The step reads the part files the job staged, and removes them.
        "CollectSparkOutput": (
            ["s3:GetObject", "s3:DeleteObject"],
            [f"{silver}/_staging/spark/*", f"{gold}/_staging/spark/*"],
        ),
    }


def test_a_failed_run_is_named_with_glues_error() -> None:
    # moto never fails a run: the GetJobRun record of one, as Glue returns it.
    job_run = {
        "Id": "jr_0123",
        "JobName": "lakehouse-spark",
        "JobRunState": "FAILED",
        "ErrorMessage": "AnalysisException: [PATH_NOT_FOUND] Path does not exist: s3://b/k",
    }
    assert glue_run_problem("lakehouse-spark", job_run) == (
        "Glue job lakehouse-spark run jr_0123 ended FAILED: AnalysisException: [PATH_NOT_FOUND] "
        "Path does not exist: s3://b/k"
    )
    timed_out = {"Id": "jr_4567", "JobRunState": "TIMEOUT", "ErrorMessage": ""}
    assert glue_run_problem("lakehouse-spark", timed_out) == (
        "Glue job lakehouse-spark run jr_4567 ended TIMEOUT"
    )
    error = DataContractError("silver", "demo", "events", glue_run_problem("j", job_run))
    assert str(error.description).startswith("silver demo/events: Glue job j run jr_0123")
