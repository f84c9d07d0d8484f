"""Spark on AWS: the Spark job script run as an AWS Glue job through Dagster Pipes.

``dagster_aws.pipes.PipesGlueClient`` starts the run and waits for it; the Pipes context and
messages go through the artifacts bucket (``PipesS3ContextInjector`` / ``PipesS3MessageReader``,
read by ``PipesS3ContextLoader`` / ``PipesS3MessageWriter`` in
:mod:`lakehouse_assets.engines.spark_job`). What it leaves to us, and this module adds:

- the script: the Glue job's ``ScriptLocation`` is ``s3://{artifacts_bucket}/{script_key}``
  (``deploy/cloudformation.yaml``); the packaged ``spark_job.py`` is uploaded there when its
  sha256 differs from the object's (kept in the object's metadata), so a deploy of new code
  reaches Glue on the next step without a stack update;
- one place for Pipes objects: the context under ``pipes/context/`` and the messages under
  ``pipes/messages/`` (dagster_aws puts messages at the bucket's root), so the bucket's
  lifecycle rule and the IAM policies name one prefix;
- failures users can act on: PipesGlueClient raises a bare ``RuntimeError`` for a failed run,
  and a run that reported nothing (the script never started, or Pipes was misconfigured)
  would become an empty implicit materialization. Both become a ``DataContractError`` naming the
  layer, source, dataset, the Glue run id, its state and Glue's ``ErrorMessage``.

PipesGlueClient polls ``GetJobRun`` every 5 s (not configurable). When a run ends without the
Pipes closed message, the message reader keeps looking for ~10 s before the step fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.pipes import PipesGlueClient, PipesS3ContextInjector, PipesS3MessageReader
from pydantic import Field

from lakehouse_assets.engines.resource import EnginesResource
from lakehouse_assets.errors import ConfigurationError, DataContractError, LakehouseError
from lakehouse_assets.resources.aws.boto import AwsClientsResource

if TYPE_CHECKING:
    from pathlib import Path

    from lakehouse_assets.engines.athena import AthenaGoldJob
    from lakehouse_assets.engines.spark import SparkJob, SparkRun
    from lakehouse_assets.lake.table_files import StoredTable
    from lakehouse_assets.resources.lake import LakeResource

#: Object metadata key (``x-amz-meta-sha256``) holding the uploaded script's sha256.
SCRIPT_SHA_METADATA = "sha256"
PIPES_CONTEXT_PREFIX = "pipes/context/"
PIPES_MESSAGES_PREFIX = "pipes/messages/"
#: Glue's ErrorMessage is cut to this many characters in the step's error.
MAX_ERROR_CHARS = 2000
#: Start failures worth a step retry (the job is busy or Glue throttles).
TRANSIENT_START_ERRORS = frozenset(
    {
        "ConcurrentRunsExceededException",
        "ThrottlingException",
        "ResourceNumberLimitExceededException",
    }
)


def spark_script() -> bytes:
    """The Spark job script as packaged (``lakehouse_assets/engines/spark_job.py``)."""
    return (resources.files("lakehouse_assets.engines") / "spark_job.py").read_bytes()


def upload_script(s3: Any, bucket: str, key: str, script: bytes) -> bool:
    """Put ``script`` at ``s3://bucket/key`` unless the object there has its sha256 already.

    Returns whether it was uploaded.
    """
    digest = hashlib.sha256(script).hexdigest()
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    else:
        if head.get("Metadata", {}).get(SCRIPT_SHA_METADATA) == digest:
            return False
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=script,
            ContentType="text/x-python",
            Metadata={SCRIPT_SHA_METADATA: digest},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise ConfigurationError(
                f"artifacts bucket {bucket!r} does not exist (LAKEHOUSE_ARTIFACTS_BUCKET; "
                "the stack's ArtifactsBucketName output)"
            ) from exc
        raise
    return True


class _PrefixedS3MessageReader(PipesS3MessageReader):
    """``PipesS3MessageReader`` whose messages go under ``key_prefix`` (not the bucket root)."""

    def __init__(self, *, key_prefix: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.key_prefix = key_prefix

    @contextmanager
    def get_params(self) -> Iterator[dict[str, Any]]:
        with super().get_params() as params:
            yield {**params, "key_prefix": f"{self.key_prefix}{params['key_prefix']}"}


class _RecordingGlueClient:
    """The boto3 Glue client, remembering the id of the run it started.

    PipesGlueClient reports a failed run as a ``RuntimeError`` carrying the run id only in its
    text; with the id kept here the step asks Glue for the run's state and error itself.
    """

    def __init__(self, client: Any):
        self._client = client
        self.run_id: str | None = None

    def start_job_run(self, **params: Any) -> Any:
        response = self._client.start_job_run(**params)
        self.run_id = response["JobRunId"]
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def glue_run_problem(job_name: str, job_run: Mapping[str, Any]) -> str:
    """Why a Glue run did not deliver a table: its id, state and Glue's error, if any."""
    state = job_run.get("JobRunState", "UNKNOWN")
    problem = f"Glue job {job_name} run {job_run.get('Id', '?')} ended {state}"
    error = str(job_run.get("ErrorMessage") or "").strip()
    return f"{problem}: {error[:MAX_ERROR_CHARS]}" if error else problem


class AwsEnginesResource(EnginesResource):
    """Spark as an AWS Glue job (``PipesGlueClient``, Pipes over S3); gold on Athena."""

    aws: AwsClientsResource
    glue_job_name: str = Field(
        default="lakehouse-spark", description="LAKEHOUSE_GLUE_JOB: the Glue job running Spark."
    )
    artifacts_bucket: str = Field(
        default="data-lakehouse-artifacts",
        description=(
            "LAKEHOUSE_ARTIFACTS_BUCKET: bucket of the Spark script and the Pipes context and "
            "messages (the stack's ArtifactsBucketName)."
        ),
    )
    script_key: str = Field(
        default="lakehouse/spark_job.py",
        description="Key of the Spark script: the Glue job's ScriptLocation.",
    )
    athena_workgroup: str = Field(default="lakehouse", description="Athena workgroup of gold.")
    athena_output: str | None = Field(
        default=None,
        description="s3:// location of Athena query results (None: the workgroup's).",
    )
    glue_database_prefix: str = Field(
        default="lakehouse_", description="Glue database = prefix + layer (Athena's tables)."
    )

    def input_uri(self, table: StoredTable, local: Path) -> str:
        return f"s3://{table.bucket}/{table.key}"

    @contextmanager
    def output_location(
        self, context: dg.AssetExecutionContext, lake: LakeResource, layer: str, source: str
    ) -> Iterator[str]:
        """The job's part files under the layer bucket's ``_staging/`` (readers skip it),
        one prefix per run and asset; removed afterwards, whatever happened."""
        bucket = lake.bucket(layer)
        dataset = context.asset_key.path[-1]
        prefix = f"_staging/spark/{source}/{dataset}/{context.run.run_id}/"
        try:
            yield f"s3://{bucket}/{prefix}"
        finally:
            lake.object_store().delete_prefix(bucket, prefix)

    @contextmanager
    def local_parts(self, parts: Sequence[str]) -> Iterator[list[Path]]:
        """The part files downloaded, in order, for as long as the block runs."""
        import shutil
        import tempfile
        from pathlib import Path

        s3 = self.aws.client("s3")
        work = Path(tempfile.mkdtemp(prefix="lakehouse-spark-parts-"))
        try:
            local = []
            for index, uri in enumerate(parts):
                bucket, _, key = uri.removeprefix("s3://").removeprefix("s3a://").partition("/")
                target = work / f"part-{index:05d}.parquet"
                s3.download_file(bucket, key, str(target))
                local.append(target)
            yield local
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def upload_script(self) -> bool:
        """Bring the Glue job's script up to date with the package (True: it was uploaded)."""
        return upload_script(
            self.aws.client("s3"), self.artifacts_bucket, self.script_key, spark_script()
        )

    def run_spark(self, context: dg.AssetExecutionContext, job: SparkJob) -> SparkRun:
        from lakehouse_assets.engines.spark import SparkRun, reported_error

        if self.upload_script():
            context.log.info(
                f"Uploaded the Spark script to s3://{self.artifacts_bucket}/{self.script_key}"
            )
        s3 = self.aws.client("s3")
        glue = _RecordingGlueClient(self.aws.client("glue"))
        client = PipesGlueClient(
            client=glue,  # a GlueClient that records the run id
            context_injector=PipesS3ContextInjector(
                bucket=self.artifacts_bucket, client=s3, key_prefix=PIPES_CONTEXT_PREFIX
            ),
            message_reader=_PrefixedS3MessageReader(
                bucket=self.artifacts_bucket, client=s3, key_prefix=PIPES_MESSAGES_PREFIX
            ),
        )
        asset = f"{job.layer}/{job.source}/{job.dataset}"
        try:
            invocation = client.run(
                context=context,
                start_job_run_params={
                    "JobName": self.glue_job_name,
                    # Glue passes these to the script too; they name the run in Glue's console.
                    "Arguments": {
                        "--lakehouse-asset": asset,
                        "--dagster-run-id": context.run.run_id,
                    },
                },
                extras=job.extras(),
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if glue.run_id is not None:  # the run started: a call while waiting failed
                raise
            if code == "EntityNotFoundException":
                raise ConfigurationError(
                    f"Glue job {self.glue_job_name!r} does not exist (LAKEHOUSE_GLUE_JOB; the "
                    "stack's SparkJobName output)"
                ) from exc
            raise LakehouseError(
                f"{asset}: could not start Glue job {self.glue_job_name}: {code}",
                transient=code in TRANSIENT_START_ERRORS,
            ) from exc
        except RuntimeError as exc:  # PipesGlueClient: the run ended other than SUCCEEDED
            if glue.run_id is None:
                raise
            job_run = self.aws.client("glue").get_job_run(
                JobName=self.glue_job_name, RunId=glue.run_id
            )["JobRun"]
            if job_run.get("JobRunState") == "SUCCEEDED":
                raise
            raise DataContractError(
                job.layer,
                job.source,
                job.dataset,
                f"{glue_run_problem(self.glue_job_name, job_run)} (the Spark job's own error, "
                "if it reported one, is in the step's log)",
            ) from exc

        results = invocation.get_results(implicit_materializations=False)
        materializations = [r for r in results if isinstance(r, dg.MaterializeResult)]
        if len(materializations) != 1:
            job_run = self.aws.client("glue").get_job_run(
                JobName=self.glue_job_name, RunId=glue.run_id
            )["JobRun"]
            reported = reported_error(invocation.get_custom_messages())
            raise DataContractError(
                job.layer,
                job.source,
                job.dataset,
                f"{glue_run_problem(self.glue_job_name, job_run)} but the Spark job reported "
                + (
                    f"an error: {reported}"
                    if reported
                    else f"{len(materializations)} materializations, not 1 (did the script run, "
                    f"and write its Pipes messages to s3://{self.artifacts_bucket}/"
                    f"{PIPES_MESSAGES_PREFIX}?)"
                ),
            )
        return SparkRun.from_materialization(materializations[0])

    def run_athena_gold(
        self,
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        job: AthenaGoldJob,
        out: Path,
    ) -> int:
        """Gold as an Athena CTAS (:func:`lakehouse_assets.engines.athena.run_athena_gold`)."""
        from lakehouse_assets.engines.athena import run_athena_gold

        return run_athena_gold(
            context,
            aws=self.aws,
            lake=lake,
            workgroup=self.athena_workgroup,
            output_location=self.athena_output,
            database_prefix=self.glue_database_prefix,
            job=job,
            out=out,
        )
