"""Test-only fault hook, loaded by a ``lakehouse`` subprocess whose PYTHONPATH starts here.

When ``RELIABILITY_STALL_DIR`` is set, the first copy into a ``.tmp-`` file in that directory
(a bucket's ``_staging/`` folder, where the local object store writes before renaming) copies
half the bytes, flushes them, touches ``RELIABILITY_STALL_MARKER`` and then waits to be killed:
a ``kill -9`` lands mid-write, deterministically. Nothing in the package knows about this.
"""

import os
import shutil
import time
from pathlib import Path

_STALL_DIR = os.environ.get("RELIABILITY_STALL_DIR")
_MARKER = os.environ.get("RELIABILITY_STALL_MARKER")

if _STALL_DIR and _MARKER:
    _copyfile = shutil.copyfile

    def _stalling_copyfile(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        target = Path(dst)
        if target.name.startswith(".tmp-") and target.parent == Path(_STALL_DIR):
            data = Path(src).read_bytes()
            with open(target, "wb") as out:
                out.write(data[: max(1, len(data) // 2)])
                out.flush()
                os.fsync(out.fileno())
            Path(_MARKER).write_text(f"{os.getpid()} {target} {len(data)}", encoding="utf-8")
            time.sleep(600)
        return _copyfile(src, dst, *args, **kwargs)

    shutil.copyfile = _stalling_copyfile
