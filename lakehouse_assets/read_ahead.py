"""Producing the next item on a worker thread while the current one is consumed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from queue import Empty, Queue
from typing import Any, TypeVar

T = TypeVar("T")


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced on a worker thread up to ``depth`` ahead of the consumer.

    Producing a batch (DuckDB parsing or typing) and writing the previous one (Parquet
    encoding and compression) both release the GIL, so the two overlap on separate cores.
    An exception in the producer is raised in the consumer; a consumer that stops early
    stops the producer.
    """
    done = object()
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                queue.put(item)
        except BaseException as error:  # handed to the consumer
            queue.put(_Raised(error))
            return
        queue.put(done)

    worker = threading.Thread(target=produce, name="lakehouse-read-ahead", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get(timeout=0.05)
        worker.join()


@dataclass(frozen=True)
class _Raised:
    error: BaseException
