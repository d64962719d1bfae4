"""A background thread a worker process runs once: Huey calls its start-up and shut-down hooks once per worker
thread, so the monitor's heartbeat and the orphan sweep each keep one slot here instead of a global and a lock
of their own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Stoppable(Protocol):
    stopping: threading.Event

    def start(self) -> None: ...
    def is_alive(self) -> bool: ...
    def join(self, timeout: float | None = None) -> None: ...


T = TypeVar("T", bound=Stoppable)


class ProcessThread(Generic[T]):
    """At most one live thread of a kind per process: start() makes one only when none is running; stop()
    sets its `stopping` event and waits for it."""

    def __init__(self) -> None:
        self._thread: T | None = None
        self._lock = threading.Lock()

    def start(self, make: Callable[[], T]) -> T:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = make()
                self._thread.start()
            return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.stopping.set()
            thread.join(timeout=timeout_s)
