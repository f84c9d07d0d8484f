"""The layout's rules, checked on the source code: who may import whom.

Why: a source folder that reaches into another source, or shared machinery that knows one
source, is how copies and hidden couplings start. A source imports only the machinery
(``medallion``, ``engines``, ``lake``, ``resources``, ``automation``, ``observe``,
``errors``, ``settings``) and its own modules; the machinery imports no source; ``lake`` (storage)
imports nothing of ``resources``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lakehouse_assets"
SHARED = (
    "medallion",
    "engines",
    "lake",
    "resources",
    "automation",
    "observe",
    "components",
    "errors",
    "settings",
    "read_ahead",
    "dagster_home",
)
#: Top-level modules that assemble or drive sources (they may import any of them).
ASSEMBLY = ("definitions", "deployments", "cli", "run_sources", "infra", "bench")


def imports_of(path: Path) -> set[str]:
    """Every ``lakehouse_assets…`` module a file imports (at any depth of the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "lakehouse_assets"}


def area(module: str) -> tuple[str, ...]:
    """``lakehouse_assets.sources.itunes.silver`` → ``("sources", "itunes")``."""
    parts = module.split(".")[1:]
    if not parts:
        return ("",)
    return tuple(parts[:2]) if parts[0] == "sources" else (parts[0],)


def modules_under(folder: Path) -> dict[Path, set[str]]:
    return {path: imports_of(path) for path in folder.rglob("*.py")}


def test_a_source_imports_only_the_machinery_and_itself() -> None:
    sources = sorted(p for p in (PACKAGE / "sources").iterdir() if (p / "__init__.py").exists())
    assert {p.name for p in sources} >= {"wordpress_api", "itunes", "spotify", "transactions"}
    problems = []
    for folder in sources:
        for path, imported in modules_under(folder).items():
            for module in imported:
                where = area(module)
                if where == ("sources", folder.name) or where[0] in SHARED:
                    continue
                problems.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert problems == []


def test_the_machinery_knows_no_source() -> None:
    problems = []
    for name in SHARED:
        folder = PACKAGE / name
        paths = list(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{name}.py"]
        for path in paths:
            for module in imports_of(path):
                if area(module)[0] in ("sources", *ASSEMBLY):
                    problems.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert problems == []


def test_storage_does_not_import_resources() -> None:
    problems = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path, imported in modules_under(PACKAGE / "lake").items()
        for module in imported
        if area(module)[0] not in ("lake", "errors", "settings", "read_ahead")
    ]
    assert problems == []


def test_no_private_dagster_imports_where_a_public_api_exists() -> None:
    """``dagster._…`` only where Dagster offers no public API, each marked and explained."""
    problems = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "dagster._" in line and "import" in line and "no public API" not in line:
                problems.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert problems == []


def test_every_dagster_name_the_package_uses_is_exported() -> None:
    """``dg.X`` in code or a type hint names something ``dagster`` exports: mypy lets a name
    Dagster does not export through (its module resolves attributes lazily), so this does."""
    import re

    import dagster

    exported = set(getattr(dagster, "__all__", ())) | {
        name for name in dir(dagster) if not name.startswith("_")
    }
    used: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        for name in re.findall(r"\bdg\.([A-Za-z_]\w*)", path.read_text(encoding="utf-8")):
            used.setdefault(name, str(path.relative_to(PACKAGE)))
    assert {name: where for name, where in used.items() if name not in exported} == {}


def test_loading_the_code_location_imports_no_engine_it_does_not_need() -> None:
    """What a code server, a run worker and ``dagster dev`` pay before any step: Dagster and the
    definitions, not the libraries only a step or another deployment uses (measured on
    ``sys.modules`` in a fresh interpreter, not on time)."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, sys; import lakehouse_assets.definitions; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    env = {**os.environ, "LAKEHOUSE_ENV": "local"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    not_needed = {"pandas", "sqlalchemy", "pymysql", "boto3", "botocore", "awswrangler", "polars"}
    assert loaded & not_needed == set()
