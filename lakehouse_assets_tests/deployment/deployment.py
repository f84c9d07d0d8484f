"""A real Dagster deployment for tests: its own PostgreSQL database, webserver and daemon.

`deploy/dagster.yaml` is copied unchanged into a temporary DAGSTER_HOME and configured only
through the environment variables it names, as an operator would configure it. Every process
is started in its own session and stopped with its whole process tree, whatever happens.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import requests
from dagster_graphql import DagsterGraphQLClient

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_CONFIG = REPO_ROOT / "deploy" / "dagster.yaml"
VENV_BIN = Path(sys.executable).parent  # the environment running the tests has the commands
LOCATION = "lakehouse_assets"
REPOSITORY = "__repository__"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
SETUP_HINT = "run .ci/setup-system (installs and starts PostgreSQL and Chromium)"
LOCATIONS_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


def pg_settings() -> dict[str, str]:
    """Where the test PostgreSQL server is: the libpq variables, else the machine's default."""
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "password": os.environ.get("PGPASSWORD", ""),
    }


def pg_connect(dbname: str) -> Any:
    settings = pg_settings()
    try:
        connection = psycopg2.connect(dbname=dbname, connect_timeout=10, **settings)
    except psycopg2.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL on {settings['host']}:{settings['port']} as {settings['user']} "
            f"is not reachable ({SETUP_HINT}): {exc}"
        ) from exc
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A new database with a unique name, dropped (connections and all) at the end."""
    name = f"lakehouse_test_{uuid.uuid4().hex[:12]}"
    admin = pg_connect("postgres")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the test process dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (children may have started sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def stop_process_tree(process: subprocess.Popen[bytes], grace_seconds: float = 15) -> None:
    """SIGTERM the process group and any stray descendant, then SIGKILL whatever is left."""
    strays = _descendants(process.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            if process.poll() is not None and not any(_alive(pid) for pid in strays):
                return
            time.sleep(0.2)
    process.wait(timeout=grace_seconds)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Deployment:
    """A running webserver + daemon on one PostgreSQL database; see :func:`running_deployment`."""

    home: Path
    database: str
    port: int
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def lakehouse_root(self) -> Path:
        return Path(self.env["LAKEHOUSE_ROOT"])

    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=60)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.client()._execute(query, dict(variables or {}))

    def dagster(self, *args: str) -> str:
        """Run the `dagster` CLI against this deployment's instance."""
        result = subprocess.run(
            [str(VENV_BIN / "dagster"), *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"dagster {' '.join(args)}:\n{result.stderr[-3000:]}"
        return result.stdout

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows from this deployment's own database, read directly (not through Dagster)."""
        connection = pg_connect(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(query, params)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def wait_for_runs(self, run_ids: Sequence[str], timeout: float = 240) -> dict[str, str]:
        """Poll until every run is finished; fails with both logs' tails after ``timeout``."""
        client = self.client()
        deadline = time.monotonic() + timeout
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = {run_id: client.get_run_status(run_id).value for run_id in run_ids}
            if all(status in TERMINAL for status in statuses.values()):
                return statuses
            self.assert_alive()
            time.sleep(1)
        raise AssertionError(f"runs not finished after {timeout:.0f}s: {statuses}\n{self.tails()}")

    def assert_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}\n{self.tails()}")

    def tails(self, chars: int = 3000) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def _start(self, name: str, args: Sequence[str]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            list(args),
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _wait_until_ready(self, timeout: float) -> None:
        """The webserver answers and has loaded the code location without errors."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            self.assert_alive()
            try:
                requests.get(f"{self.url}/server_info", timeout=5).raise_for_status()
                last = self.graphql(LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
            except Exception as exc:  # not up yet: connection refused, 503, GraphQL error
                last = exc
                time.sleep(0.5)
                continue
            if last and all(entry["loadStatus"] == "LOADED" for entry in last):
                failed = [
                    entry
                    for entry in last
                    if (entry["locationOrLoadError"] or {}).get("__typename")
                    != "RepositoryLocation"
                ]
                assert not failed, f"code location failed to load: {failed}"
                return
            time.sleep(0.5)
        raise AssertionError(f"webserver not ready after {timeout:.0f}s: {last}\n{self.tails()}")


@contextlib.contextmanager
def running_deployment(
    tmp: Path, workspace: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[Deployment]:
    """Database, DAGSTER_HOME with `deploy/dagster.yaml`, `dagster-webserver` and
    `dagster-daemon run` on ``workspace``; everything stopped and dropped on exit."""
    with scratch_database() as database:
        home = tmp / "dagster_home"
        home.mkdir(parents=True)
        shutil.copyfile(DEPLOY_CONFIG, home / "dagster.yaml")
        logs = tmp / "logs"
        logs.mkdir()
        pg = pg_settings()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DAGSTER_", "LAKEHOUSE_"))
        }
        env.update(
            {
                "DAGSTER_HOME": str(home),
                "DAGSTER_PG_HOST": pg["host"],
                "DAGSTER_PG_PORT": pg["port"],
                "DAGSTER_PG_DB": database,
                "DAGSTER_PG_USERNAME": pg["user"],
                "DAGSTER_PG_PASSWORD": pg["password"],
                "LAKEHOUSE_ENV": "local",
                "LAKEHOUSE_ROOT": str(tmp / "lake"),
                "PYTHONUNBUFFERED": "1",
                **(extra_env or {}),
            }
        )
        port = free_port()
        env["LAKEHOUSE_UI_URL"] = f"http://127.0.0.1:{port}"
        deployment = Deployment(home, database, port, env, logs)
        try:
            workspace_args = ["-w", str(workspace)]
            deployment._start(
                "webserver",
                [
                    str(VENV_BIN / "dagster-webserver"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    *workspace_args,
                ],
            )
            deployment._start("daemon", [str(VENV_BIN / "dagster-daemon"), "run", *workspace_args])
            deployment._wait_until_ready(timeout=120)
            yield deployment
        finally:
            for process in deployment.processes.values():
                stop_process_tree(process)
