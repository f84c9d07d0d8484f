"""How a run executes its steps, chosen by LAKEHOUSE_EXECUTOR (read in ``settings``).

- ``in_process`` (default): every step in the run worker's process, one at a time. Cheapest on
  one machine: a step in a process of its own pays for starting Dagster and the code location
  again, and the steps stream their tables through files, so one process holds no more than one
  step's memory.
- ``multiprocess``: each step in its own process on the run worker's machine, at most
  LAKEHOUSE_MAX_CONCURRENT at once, so the independent datasets of a source (raw, bronze and
  silver of each) run in parallel. Processes are forked from a server that has already imported
  the code location (``forkserver``, which Dagster preloads with the job's module), not spawned
  to import it again.
- ``ecs``: dagster-aws's ``ecs_executor``, each step its own ECS task from the run worker's task
  definition, at most LAKEHOUSE_MAX_CONCURRENT at once. It needs the run itself in an ECS task
  launched by the ``EcsRunLauncher`` (``deploy/dagster.aws.yaml``) and the ECS permissions of
  ``deploy/cloudformation.yaml``'s ``EcsLauncherPolicy``.

Steps exchange nothing through memory (every table is in the lake), so all three give the same
tables; ``lakehouse_assets_tests/deployment/test_executors.py`` checks that for the first two.
"""

from __future__ import annotations

import dagster as dg

from lakehouse_assets.settings import ExecutorKind, ExecutorSetting


def executor_for(setting: ExecutorSetting) -> dg.ExecutorDefinition:
    """The code location's executor for ``setting`` (``settings.executor_setting()``)."""
    if setting.kind is ExecutorKind.MULTIPROCESS:
        return dg.multiprocess_executor.configured(
            {"max_concurrent": setting.max_concurrent, "start_method": {"forkserver": {}}},
            name="multiprocess",
        )
    if setting.kind is ExecutorKind.ECS:
        from dagster_aws.ecs import ecs_executor

        return ecs_executor.configured({"max_concurrent": setting.max_concurrent}, name="ecs")
    return dg.in_process_executor
