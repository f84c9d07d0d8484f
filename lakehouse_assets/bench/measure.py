"""Wall time and resident memory of one process, sampled while it works."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size now (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """This process's peak resident set size, as the kernel tracks it.

    On Linux that is ``VmHWM`` of this process's own memory map. Not ``ru_maxrss``: a child
    started with ``vfork`` + ``exec`` (Python's subprocess does) inherits its parent's peak
    in ``ru_maxrss``, so a bench child would report the runner's memory (the served site: 2.4
    GB at 10x). Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS) is the best there is.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class RssSampler:
    """Samples RSS every ``interval`` seconds on a daemon thread: peaks per time window."""

    interval: float = 0.02
    samples: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), rss_bytes()))
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak_between(self, start: float, end: float) -> int:
        inside = [rss for moment, rss in self.samples if start <= moment <= end]
        return max(inside, default=0)


@dataclass
class Stages:
    """Named stages of a plain script: seconds and peak RSS of each."""

    sampler: RssSampler
    results: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.time()
        clock = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - clock
            peak = max(self.sampler.peak_between(started, time.time()), rss_bytes())
            self.results[name] = {"seconds": seconds, "peak_rss_bytes": peak}
