"""What the end-to-end reliability cases share: a fixture WordPress site on the fault server, a
``lakehouse`` command run as a user runs it (a subprocess with its own lake, Dagster home and
TMPDIR), and readers that say what a user finds in the lake afterwards (pandas and DuckDB)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from lakehouse_assets import settings
from lakehouse_assets.sources.wordpress_api.datasets import ENDPOINTS_PARAMETER
from lakehouse_assets.sources.wordpress_api.sample_site import API_PATH, JsonTableSite
from lakehouse_assets_tests.conftest import SEGMENTS, fixture_tables
from lakehouse_assets_tests.reliability.fault_server import FaultServer, Received, Reply

REPO = Path(__file__).resolve().parents[2]
LAKEHOUSE = REPO / ".venv" / "bin" / "lakehouse"
STALL_HOOK = Path(__file__).parent / "stall_hook"
SOURCE = "wordpress_api"
DATASETS = ("posts", "statistics_pages", "terms")
#: Every table a WordPress run replaces (raw is history, never replaced).
TABLES = [(layer, d) for layer in ("bronze", "silver") for d in DATASETS] + [
    ("gold", "statistics_postname")
]
RUN_TIMEOUT = 120.0


@dataclass
class WordPressSite:
    """The fixture tables served the WordPress way from the fault server, with holds: a dataset
    held answers half its body, then waits until released (or the client is killed)."""

    server: FaultServer
    site: JsonTableSite
    tables: dict[str, list[dict[str, str]]]
    holds: dict[str, threading.Event] = field(default_factory=dict)

    def urls(self, query: str = "") -> list[str]:
        return [f"{u}{query}" for u in self.site.endpoint_urls(self.server.base_url)]

    def set_table(self, dataset: str, rows: list[dict[str, str]] | tuple[int, bytes]) -> None:
        self.site.tables[SEGMENTS[dataset]] = rows  # type: ignore[index]

    def hold(self, dataset: str) -> threading.Event:
        self.holds[dataset] = event = threading.Event()
        return event

    def release(self) -> None:
        for event in self.holds.values():
            event.set()
        self.holds.clear()

    def requests_for(self, dataset: str) -> list[Received]:
        path = f"{API_PATH}{SEGMENTS[dataset]}/"
        return [r for r in self.server.received if r.path == path]

    def answer(self, dataset: str) -> Callable[[Received], Reply]:
        def route(request: Received) -> Reply:
            status, headers, body = self.site.respond(request.path, request.query)
            held = self.holds.get(dataset)
            if held is None:
                return Reply(status, body, headers)
            return Reply(status, body, headers, hold_after=len(body) // 2, resume=held)

        return route


@contextmanager
def wordpress_site(server: FaultServer) -> Iterator[WordPressSite]:
    tables = fixture_tables()
    site = JsonTableSite({SEGMENTS[name]: rows for name, rows in tables.items()}, page_size=250)
    served = WordPressSite(server, site, tables)
    for dataset, segment in SEGMENTS.items():
        server.route(f"{API_PATH}{segment}/", served.answer(dataset))
    try:
        yield served
    finally:
        served.release()


def parameters(endpoints: list[str], **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {ENDPOINTS_PARAMETER: endpoints}
    values.update({settings.PARAMETER_NAMES.bucket(x): f"test-{x}" for x in settings.LAYERS})
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class Lakehouse:
    """One user's working directory: lake, Dagster home, TMPDIR and parameters file."""

    base: Path
    env_overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, values: dict[str, object]) -> Lakehouse:
        for name in ("lake", "home", "tmp"):
            (base / name).mkdir(parents=True, exist_ok=True)
        (base / "parameters.yaml").write_text(yaml.safe_dump(values), encoding="utf-8")
        return cls(base)

    def copy(self, base: Path) -> Lakehouse:
        shutil.copytree(self.base, base, ignore=shutil.ignore_patterns("locks"))
        return Lakehouse(base, dict(self.env_overrides))

    @property
    def root(self) -> Path:
        return self.base / "lake"

    @property
    def tmp(self) -> Path:
        return self.base / "tmp"

    def table_dir(self, layer: str, dataset: str, source: str = SOURCE) -> Path:
        return self.root / f"test-{layer}" / source / dataset

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LAKEHOUSE_", "DAGSTER_", "AWS_", "PYTHON"))
        }
        env.update(
            {
                "CI": "true",
                "TMPDIR": str(self.tmp),
                "DAGSTER_HOME": str(self.base / "home"),
                settings.ROOT_VAR: str(self.root),
                settings.PARAMETERS_FILE_VAR: str(self.base / "parameters.yaml"),
                settings.STEP_RETRY_DELAY_VAR: "0.05",
            }
        )
        env.update(self.env_overrides)
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [str(LAKEHOUSE), *args]

    def run(self, *args: str, timeout: float = RUN_TIMEOUT, **env: str) -> Completed:
        started = time.monotonic()
        done = subprocess.run(
            self.command(*args),
            cwd=self.base,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Completed(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """The command in its own process group (so a kill reaches every process it started)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.base,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        out, err = self.stdout[-3000:], self.stderr[-3000:]
        return f"exit {self.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"


def kill_group(process: subprocess.Popen[str]) -> None:
    """``kill -9`` the process and everything it started; reap it."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's rows without ingestion columns (``_…``), in a canonical order."""
    data = frame[[c for c in frame.columns if not str(c).startswith("_")]]
    return data.sort_values(list(data.columns), kind="stable").reset_index(drop=True)


def read_tables(lake: Lakehouse) -> dict[tuple[str, str], pd.DataFrame]:
    """Every WordPress table as pandas reads its prefix."""
    return {(layer, d): pd.read_parquet(lake.table_dir(layer, d)) for layer, d in TABLES}


def duckdb_rows(prefix: Path) -> int:
    """Rows DuckDB reads from the table prefix's top-level Parquet files (its current table)."""
    query = f"SELECT count(*) FROM read_parquet('{prefix}/*.parquet')"
    ((count,),) = duckdb.sql(query).fetchall()
    return int(count)


def assert_tables_equal(lake: Lakehouse, expected: dict[tuple[str, str], pd.DataFrame]) -> None:
    """Every table reads (pandas and DuckDB) as ``expected``: nothing lost, nothing twice."""
    for (layer, dataset), frame in read_tables(lake).items():
        want = expected[(layer, dataset)]
        pd.testing.assert_frame_equal(comparable(frame), comparable(want))
        assert duckdb_rows(lake.table_dir(layer, dataset)) == len(want), (layer, dataset)


def temp_files_under_tables(lake: Lakehouse) -> list[str]:
    """``.tmp-`` files under any table prefix (there must be none, whatever happened)."""
    found = []
    for bucket in lake.root.glob("test-*"):
        for path in bucket.rglob(".tmp-*"):
            if "_staging" not in path.relative_to(bucket).parts:
                found.append(str(path))
    return found


def staging_leftovers(lake: Lakehouse) -> list[str]:
    """What a killed writer may leave: temp files in ``_staging/``, staging folders in TMPDIR."""
    temp = [str(p) for p in lake.root.glob("test-*/_staging/.tmp-*")]
    return temp + [str(p) for p in lake.tmp.glob("lakehouse-stage-*")]


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime: equal trees mean nothing was written."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
