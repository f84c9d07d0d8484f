"""Telling a crashed writer's leftovers from a live writer's work in progress.

Temp files and staging folders are named ``{pid}-…`` after the process writing them. One whose
process is gone (on this host) is a leftover; one without a readable pid is a leftover once it
is older than a bound, so nothing a live writer is still using is ever removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

#: Prefix of the folders steps stage their tables in (``lakehouse-stage-{pid}-…``).
STAGING_PREFIX = "lakehouse-stage-"
STALE_SECONDS = 6 * 3600


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_leftover(path: Path, name: str, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether ``path`` (named ``{pid}-…``) was left by a process that is gone."""
    head = name.split("-", 1)[0]
    if head.isdigit():
        return not process_alive(int(head))
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age > stale_seconds


def staging_prefix() -> str:
    return f"{STAGING_PREFIX}{os.getpid()}-"


def reap_staging_folders(directory: str | None = None) -> list[str]:
    """Remove staging folders of dead processes from the temporary directory."""
    base = Path(directory or tempfile.gettempdir())
    removed = []
    for path in base.glob(f"{STAGING_PREFIX}*"):
        if path.is_dir() and is_leftover(path, path.name[len(STAGING_PREFIX) :]):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed
