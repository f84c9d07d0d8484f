"""The cluster deployments, checked as far as a machine without a cluster can: ECS from
deploy/cloudformation.yaml (DeployEcs=true) and deploy/dagster.aws.yaml, Kubernetes from
deploy/helm/values.yaml.

ECS: the template passes cfn-lint and deploys to moto with the ECS resources, and the launcher
permissions land on the code location's role. moto's CloudFormation keeps a task definition's
containers but drops its roles, CPU, memory and network mode, so the task definitions are also
rendered from the template here (a small resolver for the intrinsics they use, with the stack's
own roles, log group and bucket) and registered through the ECS API, which checks their shape,
and read back: image, commands, environment, secrets, logs, roles. The EcsRunLauncher is then
built from deploy/dagster.aws.yaml against that ECS and must find the run workers' task
definition and container. Nothing here runs a task: moto does not run containers.

Helm: there is no `helm` binary or chart here, so the values are checked against the keys the
chart's values schema declares for what they set (pinned below from the schema models in
dagster-io/dagster's helm/dagster, not from a chart release), for literal secrets, and against
the instance files, so the two deployments keep the same queue, limits and retention.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import decode_str

# Validating a dagster.yaml against the instance schema has no public API.
from dagster._config import process_config, resolve_to_config_type  # noqa: TID251
from dagster._core.instance.config import dagster_instance_config  # noqa: TID251

from lakehouse_assets import settings
from lakehouse_assets.infra.local_aws import moto_server
from lakehouse_assets_tests.aws.conftest import aws_environment, moto_client
from lakehouse_assets_tests.deployment.deployment import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
TEMPLATE = DEPLOY / "cloudformation.yaml"
HELM_VALUES = DEPLOY / "helm" / "values.yaml"
REGION = "eu-central-1"  # no other test deploys here
PREFIX = "ecs-lakehouse"
IMAGE = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/lakehouse-assets:abc1234"
DB_HOST = "dagster.cluster-abc.eu-central-1.rds.amazonaws.com"
PARAMETERS = {
    "BucketPrefix": PREFIX,
    "TopicPrefix": PREFIX,
    "WordPressEndpoints": "https://wordpress.example.invalid/wp-json/x/v1/posts/",
    "DeployEcs": "true",
    "Image": IMAGE,
    "DagsterPostgresHost": DB_HOST,
    "LakehouseExecutor": "ecs",
    "MaxConcurrentSteps": "3",
}
ECS_RESOURCES = {
    "EcsCluster",
    "DagsterLogGroup",
    "DagsterDatabaseSecret",
    "DagsterLogsBucket",
    "DagsterLogsBucketTlsOnly",
    "EcsExecutionRole",
    "EcsLauncherPolicy",
    "RunTaskDefinition",
    "DagsterTaskDefinition",
}
LAUNCHER_ACTIONS = {
    "RunTasks": "ecs:RunTask",
    "ManageTasks": ["ecs:DescribeTasks", "ecs:StopTask", "ecs:TagResource"],
    "TaskDefinitions": ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
    "PassTaskRoles": "iam:PassRole",
    "ReadNetworkInterfaces": "ec2:DescribeNetworkInterfaces",
    "ReadRunWorkerLogs": "logs:GetLogEvents",
    "ListComputeLogs": "s3:ListBucket",
    "ReadWriteComputeLogs": ["s3:GetObject", "s3:PutObject"],
}
WORKSPACE = "/opt/dagster/app/workspace.yaml"  # the image's: the code location by module
COMMANDS = {
    "run": None,  # the image's code server; the launcher and the ecs executor override it
    "webserver": ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", WORKSPACE],
    "daemon": ["dagster-daemon", "run", "-w", WORKSPACE],
}


def template() -> dict[str, Any]:
    decoded, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert decoded is not None, matches
    return decoded


def test_template_with_ecs_passes_cfn_lint() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, ManualArgs(regions=[REGION, "us-east-1"]))
    assert [str(m) for m in matches] == []


def test_ecs_is_off_unless_deploy_ecs_is_true() -> None:
    body = template()
    assert body["Parameters"]["DeployEcs"]["Default"] == "false"
    assert body["Conditions"]["DeployingEcs"] == {"Fn::Equals": [{"Ref": "DeployEcs"}, "true"]}
    conditional = {
        name
        for name, resource in body["Resources"].items()
        if resource.get("Condition") == "DeployingEcs"
    }
    assert conditional == ECS_RESOURCES
    executors = body["Parameters"]["LakehouseExecutor"]["AllowedValues"]
    assert executors == [kind.value for kind in settings.ExecutorKind]


# --- The resolver: the intrinsics the ECS resources use, for one set of values. ---------------

NO_VALUE = object()


def resolve(node: Any, refs: Mapping[str, str], conditions: Mapping[str, bool]) -> Any:
    """``node`` with Ref, GetAtt, Sub and If replaced (AWS::NoValue entries dropped)."""
    if isinstance(node, list):
        items = [resolve(item, refs, conditions) for item in node]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Ref":
            return NO_VALUE if argument == "AWS::NoValue" else refs[argument]
        if function == "Fn::GetAtt":
            return refs[".".join(argument) if isinstance(argument, list) else argument]
        if function == "Fn::Sub":
            assert isinstance(argument, str), "only the one-argument form is resolved"
            return re.sub(r"\$\{([^}]+)\}", lambda m: refs[m[1]], argument)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return resolve(when_true if conditions[name] else when_false, refs, conditions)
        assert not function.startswith("Fn::"), function
    resolved = {key: resolve(value, refs, conditions) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def api_shape(properties: Any, *, keep_keys: bool = False) -> Any:
    """CloudFormation's PascalCase properties as the ECS API's camelCase (log options as they
    are)."""
    if isinstance(properties, list):
        return [api_shape(item) for item in properties]
    if not isinstance(properties, dict):
        return properties
    return {
        (key if keep_keys else key[0].lower() + key[1:]): api_shape(
            value, keep_keys=key == "Options"
        )
        for key, value in properties.items()
    }


# --- The stack on moto. ----------------------------------------------------------------------


@dataclass
class EcsStack:
    endpoint: str
    outputs: dict[str, str]
    database_secret_arn: str

    def client(self, service: str) -> Any:
        return moto_client(self.endpoint, REGION, service)

    def refs(self) -> dict[str, str]:
        """What each Ref/GetAtt of the ECS resources is on this stack."""
        body = template()
        parameters = {
            name: str(spec.get("Default", "")) for name, spec in body["Parameters"].items()
        }
        account = self.outputs["CodeLocationRoleArn"].split(":")[4]
        return {
            **parameters,
            **PARAMETERS,
            "AWS::Region": REGION,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "CodeLocationRole.Arn": self.outputs["CodeLocationRoleArn"],
            "EcsExecutionRole.Arn": self.outputs["EcsExecutionRoleArn"],
            "DagsterLogGroup": self.outputs["DagsterLogGroupName"],
            # As AWS gives it (moto leaves out the ":*").
            "DagsterLogGroup.Arn": (
                f"arn:aws:logs:{REGION}:{account}:log-group:{self.outputs['DagsterLogGroupName']}:*"
            ),
            "DagsterLogsBucket": self.outputs["DagsterLogsBucketName"],
            "DagsterDatabaseSecret": self.database_secret_arn,
        }

    def rendered(self, name: str, **overrides: str) -> dict[str, Any]:
        """The properties of resource ``name``, resolved (``overrides`` replace parameters)."""
        properties = template()["Resources"][name]["Properties"]
        kms = bool(overrides.get("KmsKeyArn"))
        conditions = {"UseKms": kms, "DeployingEcs": True, "HasSpotifyPlaylists": False}
        return resolve(properties, {**self.refs(), **overrides}, conditions)

    def rendered_task_definition(self, name: str) -> dict[str, Any]:
        return api_shape(self.rendered(name))


@pytest.fixture(scope="module")
def ecs_stack() -> Iterator[EcsStack]:
    with moto_server(port=0) as endpoint:
        yield deploy_ecs_stack(endpoint)


def deploy_ecs_stack(endpoint: str) -> EcsStack:
    stack = EcsStack(endpoint, {}, "")
    cloudformation = stack.client("cloudformation")
    cloudformation.create_stack(
        StackName="lakehouse-ecs",
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
    )
    described = cloudformation.describe_stacks(StackName="lakehouse-ecs")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    stack.outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    # moto's CloudFormation skips AWS::SecretsManager::Secret: create it as CloudFormation would.
    stack.database_secret_arn = stack.client("secretsmanager").create_secret(
        Name="lakehouse/dagster-postgres",
        SecretString=json.dumps({"username": "dagster", "password": "generated"}),
    )["ARN"]
    return stack


def environment_of(container: Mapping[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in container.get("environment", [])}


EXPECTED_ENVIRONMENT = {
    "DAGSTER_HOME": "/opt/dagster/home",
    "LAKEHOUSE_ENV": "aws",
    "LAKEHOUSE_EXECUTOR": "ecs",
    "LAKEHOUSE_MAX_CONCURRENT": "3",
    "DAGSTER_RUN_TASK_DEFINITION": "lakehouse-run",
    "DAGSTER_PG_HOST": DB_HOST,
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_COMPUTE_LOGS_BUCKET": f"{PREFIX}-dagster-logs",
    "AWS_REGION": REGION,
}


@pytest.mark.integration
def test_the_ecs_stack_deploys_with_the_launcher_permissions(ecs_stack: EcsStack) -> None:
    outputs = ecs_stack.outputs
    assert outputs["EcsClusterArn"].endswith(":cluster/lakehouse")
    assert outputs["DagsterLogGroupName"] == "/ecs/lakehouse"
    assert outputs["DagsterLogsBucketName"] == f"{PREFIX}-dagster-logs"
    (cluster,) = ecs_stack.client("ecs").describe_clusters(clusters=["lakehouse"])["clusters"]
    assert cluster["status"] == "ACTIVE"

    iam = ecs_stack.client("iam")
    code_role = outputs["CodeLocationRoleArn"].rsplit("/", 1)[1]
    launcher = iam.get_role_policy(RoleName=code_role, PolicyName="lakehouse-ecs-launcher")
    statements = {s["Sid"]: s for s in launcher["PolicyDocument"]["Statement"]}
    assert {sid: s["Action"] for sid, s in statements.items()} == LAUNCHER_ACTIONS
    assert statements["PassTaskRoles"]["Resource"] == [
        outputs["CodeLocationRoleArn"],
        outputs["EcsExecutionRoleArn"],
    ]
    assert statements["RunTasks"]["Condition"] == {
        "ArnEquals": {"ecs:cluster": outputs["EcsClusterArn"]}
    }
    assert statements["ReadWriteComputeLogs"]["Resource"] == (
        f"arn:aws:s3:::{PREFIX}-dagster-logs/dagster/compute-logs/*"
    )
    execution_role = outputs["EcsExecutionRoleArn"].rsplit("/", 1)[1]
    (trust,) = iam.get_role(RoleName=execution_role)["Role"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    # (moto keeps a role's inline policy without the Ref to the secret it cannot create: the
    # rendered one is checked below.)
    assert iam.list_role_policies(RoleName=execution_role)["PolicyNames"] == [
        "lakehouse-ecs-execution"
    ]

    # The containers as moto registered them (its CloudFormation keeps no roles or sizes).
    ecs = ecs_stack.client("ecs")
    for family, containers in (
        ("lakehouse-run", ["run"]),
        ("lakehouse-dagster", ["webserver", "daemon"]),
    ):
        registered = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        assert [c["name"] for c in registered["containerDefinitions"]] == containers
        for container in registered["containerDefinitions"]:
            assert container["image"] == IMAGE
            assert container.get("command") == COMMANDS[container["name"]]
            assert environment_of(container) == EXPECTED_ENVIRONMENT


@pytest.mark.integration
def test_the_task_definitions_carry_image_commands_env_logs_and_roles(
    ecs_stack: EcsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs = ecs_stack.client("ecs")
    needed = instance_variables()
    for name, family, sizes in (
        ("RunTaskDefinition", "lakehouse-run", ("2048", "8192")),
        ("DagsterTaskDefinition", "lakehouse-dagster", ("1024", "4096")),
    ):
        registered = ecs.register_task_definition(**ecs_stack.rendered_task_definition(name))
        definition = ecs.describe_task_definition(
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"]
        )["taskDefinition"]
        assert definition["family"] == family
        assert definition["taskRoleArn"] == ecs_stack.outputs["CodeLocationRoleArn"]
        assert definition["executionRoleArn"] == ecs_stack.outputs["EcsExecutionRoleArn"]
        assert (definition["networkMode"], definition["requiresCompatibilities"]) == (
            "awsvpc",
            ["FARGATE"],
        )
        assert (definition["cpu"], definition["memory"]) == sizes
        for container in definition["containerDefinitions"]:
            assert container["image"] == IMAGE
            assert container.get("command") == COMMANDS[container["name"]]
            environment = environment_of(container)
            assert environment == EXPECTED_ENVIRONMENT
            secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
            assert secrets == {
                "DAGSTER_PG_USERNAME": f"{ecs_stack.database_secret_arn}:username::",
                "DAGSTER_PG_PASSWORD": f"{ecs_stack.database_secret_arn}:password::",
            }
            # Every variable the instance file reads is set, and the executor setting is valid.
            assert needed <= set(environment) | set(secrets)
            for key, value in environment.items():
                monkeypatch.setenv(key, value)
            assert settings.executor_setting() == settings.ExecutorSetting(
                settings.ExecutorKind.ECS, 3
            )
            assert container["logConfiguration"] == {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/lakehouse",
                    "awslogs-region": REGION,
                    "awslogs-stream-prefix": container["name"],
                },
            }
    run = ecs_stack.rendered_task_definition("RunTaskDefinition")["containerDefinitions"][0]
    assert run["portMappings"] == [{"containerPort": 4000, "protocol": "tcp"}]  # Dockerfile


@pytest.mark.integration
def test_the_execution_role_reads_only_the_database_secret(ecs_stack: EcsStack) -> None:
    account = ecs_stack.outputs["CodeLocationRoleArn"].split(":")[4]
    logs = f"arn:aws:logs:{REGION}:{account}:log-group:/ecs/lakehouse:*"
    pull = [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    ]
    expected = {
        "PullImage": (pull, "*"),
        "WriteLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], logs),
        "ReadDatabaseSecret": ("secretsmanager:GetSecretValue", ecs_stack.database_secret_arn),
    }
    key = f"arn:aws:kms:{REGION}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    for overrides, extra in (
        ({}, {}),
        ({"KmsKeyArn": key}, {"DecryptDatabaseSecret": ("kms:Decrypt", key)}),
    ):
        (policy,) = ecs_stack.rendered("EcsExecutionRole", **overrides)["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        assert {s["Sid"]: (s["Action"], s["Resource"]) for s in statements} == {**expected, **extra}


def instance_variables() -> set[str]:
    """Every ``env:`` variable deploy/dagster.aws.yaml reads."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"} and isinstance(node["env"], str):
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((DEPLOY / "dagster.aws.yaml").read_text(encoding="utf-8")))
    return found


@pytest.mark.integration
def test_the_aws_instance_builds_its_ecs_run_launcher_on_the_stack(
    ecs_stack: EcsStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in EXPECTED_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "dagster")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "generated")
    shutil.copyfile(DEPLOY / "dagster.aws.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    entry = config["run_launcher"]
    assert (entry["module"], entry["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    cls = getattr(importlib.import_module(entry["module"]), entry["class"])
    processed = process_config(resolve_to_config_type(cls.config_type()), entry["config"])
    assert processed.success, processed.errors
    assert processed.value is not None
    with aws_environment(ecs_stack.endpoint, REGION):
        # Built as the daemon builds it: it looks the task definition up and checks the container.
        launcher = cls.from_config_value(None, processed.value)
        latest = ecs_stack.client("ecs").describe_task_definition(taskDefinition="lakehouse-run")
    assert launcher.task_definition == latest["taskDefinition"]["taskDefinitionArn"]
    assert launcher.container_name == "run"
    assert launcher.use_current_ecs_task_config is True
    assert launcher.secrets_tags == []
    # The runs are as big as their task definition.
    run = template()["Resources"]["RunTaskDefinition"]["Properties"]
    assert launcher.run_resources == {"cpu": run["Cpu"], "memory": run["Memory"]}


# --- Helm. -----------------------------------------------------------------------------------

#: Top-level keys of the chart's values (helm/dagster/values.yaml and its schema models).
CHART_KEYS = {
    "global",
    "nameOverride",
    "fullnameOverride",
    "rbacEnabled",
    "imagePullSecrets",
    "dagsterWebserver",
    "computeLogManager",
    "pythonLogs",
    "dagster-user-deployments",
    "scheduler",
    "runLauncher",
    "postgresql",
    "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret",
    "rabbitmq",
    "redis",
    "flower",
    "ingress",
    "dagsterDaemon",
    "busybox",
    "extraManifests",
    "migrate",
    "telemetry",
    "serviceAccount",
    "retention",
    "concurrency",
    "additionalInstanceConfig",
    "pipelineRun",
}
#: The K8sRunLauncher's config keys (the schema forbids others).
K8S_RUN_LAUNCHER_KEYS = {
    "image",
    "imagePullPolicy",
    "jobNamespace",
    "loadInclusterConfig",
    "kubeconfigFile",
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "volumeMounts",
    "volumes",
    "labels",
    "resources",
    "schedulerName",
    "failPodOnRunFailure",
    "securityContext",
    "runK8sConfig",
}
USER_DEPLOYMENT_KEYS = {
    "name",
    "image",
    "port",
    "dagsterApiGrpcArgs",
    "codeServerArgs",
    "includeConfigInLaunchedRuns",
    "env",
    "envConfigMaps",
    "envSecrets",
    "annotations",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podSecurityContext",
    "securityContext",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "labels",
    "volumeMounts",
    "volumes",
    "schedulerName",
    "initContainers",
    "sidecarContainers",
    "service",
}
SECRET_WORDS = re.compile(r"password|secret|token|credential|access_?key", re.IGNORECASE)


def helm_values() -> dict[str, Any]:
    return yaml.safe_load(HELM_VALUES.read_text(encoding="utf-8"))


def test_helm_values_fit_the_chart() -> None:
    values = helm_values()
    assert set(values) <= CHART_KEYS
    user = values["dagster-user-deployments"]
    assert user["enabled"] is True and user["deployments"]
    for deployment in user["deployments"]:
        assert set(deployment) <= USER_DEPLOYMENT_KEYS
        assert {"name", "image", "dagsterApiGrpcArgs", "port"} <= set(deployment)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", deployment["name"])  # DNS-1123
        image = deployment["image"]
        assert set(image) == {"repository", "tag", "pullPolicy"}
        assert image["pullPolicy"] in {"Always", "IfNotPresent", "Never"}
        assert deployment["dagsterApiGrpcArgs"] == ["-m", "lakehouse_assets.definitions"]
        assert isinstance(deployment["port"], int)
        env = {entry["name"]: entry["value"] for entry in deployment["env"]}
        assert env["LAKEHOUSE_ENV"] == "aws"
        with pytest.MonkeyPatch.context() as patch:
            for name in (settings.EXECUTOR_VAR, settings.MAX_CONCURRENT_VAR):
                patch.setenv(name, env[name])
            executor = settings.executor_setting()  # valid, and one a pod can run
        assert executor.kind is not settings.ExecutorKind.ECS
        assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert set(launcher["config"]) == {"k8sRunLauncher"}
    assert set(launcher["config"]["k8sRunLauncher"]) <= K8S_RUN_LAUNCHER_KEYS
    postgres = values["postgresql"]
    assert postgres["enabled"] is False and postgres["postgresqlHost"]
    assert postgres["postgresqlScheme"] == "postgresql+psycopg2"
    assert postgres["service"] == {"port": 5432}
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager" and logs["config"]["s3ComputeLogManager"]["bucket"]
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert (coordinator["enabled"], coordinator["type"]) == (True, "QueuedRunCoordinator")
    # The chart fails a release that sets run limits both here and under `concurrency`.
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(queued)


def test_helm_values_hold_no_secret() -> None:
    """The database password comes from the existing secret; nothing secret-like is a literal."""
    values = helm_values()
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert values["postgresql"]["postgresqlPassword"] == ""
    literals = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            # An environment variable, or a key, named like a secret and holding a value.
            named = {"name", "value"} <= set(node) and SECRET_WORDS.search(str(node["name"]))
            if named and node["value"]:
                literals.append(f"{path}: {node['name']}")
            for key, value in node.items():
                where = f"{path}.{key}"
                if key.endswith("SecretName") or key == "envSecrets":
                    continue  # names a secret, holds none
                if SECRET_WORDS.search(key) and isinstance(value, str) and value:
                    literals.append(where)
                walk(value, where)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(values, "")
    assert literals == []


def test_helm_values_keep_the_instance_of_deploy_dagster_yaml() -> None:
    values = helm_values()
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    aws = yaml.safe_load((DEPLOY / "dagster.aws.yaml").read_text(encoding="utf-8"))
    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert values["concurrency"]["enabled"] is True
    assert runs["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert pools == {
        "granularity": instance["concurrency"]["pools"]["granularity"],
        "defaultLimit": instance["concurrency"]["pools"]["default_limit"],
    }
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert (
        queued["dequeueIntervalSeconds"]
        == (instance["run_coordinator"]["config"]["dequeue_interval_seconds"])
    )
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert {
        "enabled": monitoring["enabled"],
        "start_timeout_seconds": monitoring["startTimeoutSeconds"],
        "cancel_timeout_seconds": monitoring["cancelTimeoutSeconds"],
        "poll_interval_seconds": monitoring["pollIntervalSeconds"],
    } == {
        key: instance["run_monitoring"][key]
        for key in (
            "enabled",
            "start_timeout_seconds",
            "cancel_timeout_seconds",
            "poll_interval_seconds",
        )
    }
    retries = values["dagsterDaemon"]["runRetries"]
    assert (retries["enabled"], retries["maxRetries"]) == (
        instance["run_retries"]["enabled"],
        instance["run_retries"]["max_retries"],
    )
    retention = values["retention"]
    assert retention["enabled"] is True
    assert (
        retention["schedule"]["purgeAfterDays"]
        == (instance["retention"]["schedule"]["purge_after_days"])
    )
    assert (
        retention["sensor"]["purgeAfterDays"]
        == (instance["retention"]["sensor"]["purge_after_days"])
    )
    assert values["telemetry"] == instance["telemetry"]
    assert values["additionalInstanceConfig"] == {"nux": instance["nux"]}
    s3 = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    aws_logs = aws["compute_logs"]["config"]
    assert (s3["prefix"], s3["uploadInterval"], s3["skipEmptyFiles"]) == (
        aws_logs["prefix"],
        aws_logs["upload_interval"],
        aws_logs["skip_empty_files"],
    )
    # A run pod is as big as an ECS run task (2 vCPU, 8 GiB).
    container = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]
    ecs = aws["run_launcher"]["config"]["run_resources"]
    assert int(container["resources"]["requests"]["cpu"]) * 1024 == int(ecs["cpu"])
    assert container["resources"]["requests"]["memory"] == f"{int(ecs['memory']) // 1024}Gi"
