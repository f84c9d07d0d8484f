"""LAKEHOUSE_EXECUTOR: the setting is validated, and the multiprocess executor really runs the
independent steps of the WordPress job at the same time and builds the same tables.

Both runs go through ``dg.execute_job`` on a persistent instance (a temporary DAGSTER_HOME), as a
deployment's run worker does: the multiprocess run forks a process per step, each of which builds
the code location again from the same environment. The packaged sample site keeps each run
small. The tables are compared without their ingestion columns (``_ingested_at``,
``_raw_snapshot``: one run's time and snapshot), which are checked to name each run's own raw
snapshot instead. The ``ecs`` executor can only start inside an ECS task; here it is checked to
be the one selected, and to stop a run on a local instance with dagster-aws's own message.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse_assets import settings

# At the top: the forkserver preloads this module, so it imports the code location once for all
# the step processes it forks.
from lakehouse_assets.definitions import build_definitions
from lakehouse_assets.executors import executor_for

JOB = "wordpress_api_job"
DATASETS = ("posts", "statistics_pages", "terms")
#: Steps of one layer and different datasets depend on nothing of each other.
PARALLEL_LAYERS = ("raw", "bronze", "silver")
#: Layers with a table per dataset (gold joins them into one).
LAYERS = ("bronze", "silver")
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CLEARED = (
    settings.PARAMETERS_FILE_VAR,
    settings.ENGINES_VAR,
    settings.FULL_REFRESH_VAR,
    settings.DERIVED_HISTORY_DAYS_VAR,
)


def wordpress_job(executor: str) -> dg.JobDefinition:
    """The WordPress job of a code location built from the current environment, which selects
    ``executor``: what every step process calls to reconstruct the job. (Dagster caches a
    reconstructed job by its function and arguments, and ``lakehouse_assets.definitions.defs`` is
    built once per process, so neither would see a test's new LAKEHOUSE_EXECUTOR.)"""
    assert settings.executor_setting().kind == executor
    return build_definitions().resolve_job_def(JOB)


@dataclass
class Step:
    start: float
    end: float
    pid: int | None


@dataclass
class Run:
    lake: Path
    success: bool
    steps: dict[str, Step]
    raw_keys: dict[str, str]  # dataset → the raw snapshot this run wrote

    def overlapping(self) -> list[tuple[str, str]]:
        """Pairs of steps of one layer (different datasets) that ran at the same time."""
        pairs = []
        for layer in PARALLEL_LAYERS:
            keys = [f"{layer}__wordpress_api__{dataset}" for dataset in DATASETS]
            for a, b in itertools.combinations(keys, 2):
                first, second = self.steps[a], self.steps[b]
                if first.start < second.end and second.start < first.end:
                    pairs.append((a, b))
        return pairs


@contextmanager
def environment(tmp: Path, executor: str) -> Iterator[Path]:
    """The local deployment on the packaged samples, its lake (returned) and DAGSTER_HOME in
    ``tmp``, LAKEHOUSE_EXECUTOR=``executor``; inherited by every step process."""
    lake, home = tmp / "lake", tmp / "home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEARED:
            patch.delenv(name, raising=False)
        patch.setenv(settings.DEPLOYMENT_VAR, "local")
        patch.setenv(settings.ROOT_VAR, str(lake))
        patch.setenv(settings.EXECUTOR_VAR, executor)
        patch.setenv(settings.MAX_CONCURRENT_VAR, "4")
        patch.setenv("DAGSTER_HOME", str(home))
        yield lake


def execute(instance: dg.DagsterInstance, executor: str) -> dg.ExecutionResult:
    """The WordPress job for today's partition, as a run worker executes it."""
    partitions = wordpress_job(executor).partitions_def
    assert partitions is not None
    return dg.execute_job(
        dg.build_reconstructable_job(__name__, "wordpress_job", (executor,)),
        instance=instance,
        run_config=QUIET_LOGS,
        tags={"dagster/partition": str(partitions.get_last_partition_key())},
        raise_on_error=False,
    )


def run_job(tmp: Path, executor: str) -> Run:
    """The WordPress job with LAKEHOUSE_EXECUTOR=``executor``, read back from its event log."""
    with environment(tmp, executor) as lake, dg.DagsterInstance.get() as instance:
        result = execute(instance, executor)
        starts: dict[str, tuple[float, int | None]] = {}
        steps: dict[str, Step] = {}
        raw_keys: dict[str, str] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = (entry.timestamp, event.pid)
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                start, pid = starts[event.step_key]
                steps[event.step_key] = Step(start, entry.timestamp, pid)
            elif (
                event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
                and event.step_key.startswith("raw__")
            ):
                materialization = event.step_materialization_data.materialization
                snapshot = materialization.metadata["snapshot_key"].value
                raw_keys[event.step_key.rsplit("__", 1)[1]] = str(snapshot)
    return Run(lake, result.success, steps, raw_keys)


@dataclass
class Runs:
    in_process: Run
    multiprocess: Run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    tmp = tmp_path_factory.mktemp("executors")
    yield Runs(run_job(tmp / "in_process", "in_process"), run_job(tmp / "multi", "multiprocess"))


def current_tables(lake: Path) -> dict[str, pa.Table]:
    """Every current table of the lake (``data.parquet`` outside ``_snapshots``), by path."""
    return {
        str(path.relative_to(lake)): pq.read_table(path)
        for path in sorted(lake.rglob("data.parquet"))
        if "_snapshots" not in path.parts
    }


def without_ingestion_columns(table: pa.Table) -> pa.Table:
    return table.drop_columns([name for name in table.column_names if name.startswith("_")])


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_multiprocess_runs_independent_steps_at_once(runs: Runs) -> None:
    assert runs.in_process.success and runs.multiprocess.success
    expected_steps = {
        *(f"{layer}__wordpress_api__{d}" for layer in PARALLEL_LAYERS for d in DATASETS),
        "gold__wordpress_api__statistics_postname",
    }
    assert set(runs.in_process.steps) == set(runs.multiprocess.steps) == expected_steps
    # In-process: one process (this one), one step after the other.
    assert {step.pid for step in runs.in_process.steps.values()} == {os.getpid()}
    assert runs.in_process.overlapping() == []
    # Multiprocess: each step in a process of its own, and steps of different datasets at once.
    pids = [step.pid for step in runs.multiprocess.steps.values()]
    assert len(set(pids)) == len(pids) and os.getpid() not in pids
    assert runs.multiprocess.overlapping(), {
        key: (step.start, step.end) for key, step in sorted(runs.multiprocess.steps.items())
    }
    # Gold waits for both of its inputs.
    gold = runs.multiprocess.steps["gold__wordpress_api__statistics_postname"]
    for dataset in ("posts", "statistics_pages"):
        assert runs.multiprocess.steps[f"silver__wordpress_api__{dataset}"].end <= gold.start


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_multiprocess_builds_the_same_tables_as_in_process(runs: Runs) -> None:
    expected = current_tables(runs.in_process.lake)
    actual = current_tables(runs.multiprocess.lake)
    paths = [
        f"data-lakehouse-{layer}/wordpress_api/{d}/data.parquet"
        for layer in LAYERS
        for d in DATASETS
    ]
    paths.append("data-lakehouse-gold/wordpress_api/statistics_postname/data.parquet")
    assert sorted(actual) == sorted(expected) == sorted(paths)
    for path, table in expected.items():
        assert table.num_rows > 0, path
        assert actual[path].schema == table.schema, path
        same = without_ingestion_columns(actual[path]).equals(without_ingestion_columns(table))
        assert same, path
    # The ingestion columns name each run's own raw snapshot; the two snapshots hold the same bytes.
    both = (runs.in_process, runs.multiprocess)
    for dataset in DATASETS:
        assert runs.in_process.raw_keys[dataset] != runs.multiprocess.raw_keys[dataset]
        bronze = f"data-lakehouse-bronze/wordpress_api/{dataset}/data.parquet"
        for run, tables in zip(both, (expected, actual), strict=True):
            assert set(tables[bronze].column("_raw_snapshot").to_pylist()) == {
                run.raw_keys[dataset]
            }
        first, second = (run.lake / "data-lakehouse-raw" / run.raw_keys[dataset] for run in both)
        assert first.read_bytes() == second.read_bytes()


def test_the_executor_is_chosen_by_lakehouse_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.EXECUTOR_VAR, raising=False)
    monkeypatch.delenv(settings.MAX_CONCURRENT_VAR, raising=False)
    assert settings.executor_setting() == settings.ExecutorSetting(
        settings.ExecutorKind.IN_PROCESS, 4
    )
    assert executor_for(settings.executor_setting()) is dg.in_process_executor

    monkeypatch.setenv(settings.EXECUTOR_VAR, " Multiprocess ")
    monkeypatch.setenv(settings.MAX_CONCURRENT_VAR, "3")
    multiprocess = executor_for(settings.executor_setting())
    assert multiprocess.name == "multiprocess"
    assert multiprocess.executor_creation_fn is not None

    monkeypatch.setenv(settings.EXECUTOR_VAR, "ecs")
    assert settings.executor_setting() == settings.ExecutorSetting(settings.ExecutorKind.ECS, 3)
    assert executor_for(settings.executor_setting()).name == "ecs"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            settings.EXECUTOR_VAR,
            "k8s",
            "LAKEHOUSE_EXECUTOR='k8s' is not one of: in_process, multiprocess, ecs",
        ),
        (
            settings.MAX_CONCURRENT_VAR,
            "0",
            "LAKEHOUSE_MAX_CONCURRENT='0' is not a whole number of steps (1 or more)",
        ),
        (
            settings.MAX_CONCURRENT_VAR,
            "four",
            "LAKEHOUSE_MAX_CONCURRENT='four' is not a whole number of steps (1 or more)",
        ),
    ],
)
def test_a_bad_executor_setting_names_itself(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingsError) as raised:
        settings.executor_setting()
    assert str(raised.value) == message
    with pytest.raises(settings.SettingsError, match=name):
        build_definitions(settings.Deployment.LOCAL)


def test_the_ecs_executor_refuses_a_run_outside_ecs(tmp_path: Path) -> None:
    message = "launched in an ECS task via the EcsRunLauncher"
    with (
        environment(tmp_path, "ecs"),
        dg.DagsterInstance.get() as instance,
        pytest.raises(Exception, match=message),
    ):
        execute(instance, "ecs")
