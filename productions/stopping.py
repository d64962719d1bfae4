"""How a worker process stops: its renders hand their episodes back instead of failing or hanging on.

Huey 3.5's consumer stops on SIGINT by waiting for every running task to finish (a render can take many
minutes) and on SIGTERM by exiting at once, which kills thread workers mid-task and leaves the episode claimed
until its lease lapses. Neither suits a render. Tower's consumer (the Huey classes below, named in
settings.HUEY) therefore, on either signal, first sets STOPPING, which every render checks at its safe points
(EpisodeRender.keep_lease and should_cancel), gives them a moment to reach one, then kills the worker's ffmpeg
children (a stitch or an encode has no safe point of its own), and waits up to HAND_BACK_S for each render to
hand its episode back: queued again, claim released, the running attempt marked "interrupted", never FAILED.
Only then does Huey's own stop run. The next worker to start picks the episode up (tasks.on_startup).

This module imports no models: djhuey loads the Huey class while Django's apps are still loading.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import huey
from huey.consumer import Consumer

from tower import datadir

log = logging.getLogger(__name__)

STOPPING = threading.Event()  # set once the worker process has been told to stop
SAFE_POINT_S = 2.0  # how long renders get to stop by themselves before their ffmpeg children are killed
HAND_BACK_S = 20.0  # how long a stop waits for every render to hand its episode back

_renders = 0
_renders_changed = threading.Condition()


def worker_stopping() -> bool:
    return STOPPING.is_set()


@contextmanager
def render_running() -> Iterator[None]:
    """Count a render in progress in this process, so a stop can wait for it to hand its episode back."""
    global _renders
    with _renders_changed:
        _renders += 1
    try:
        yield
    finally:
        with _renders_changed:
            _renders -= 1
            _renders_changed.notify_all()


def wait_for_renders(timeout: float) -> bool:
    """True once no render is running in this process; False if `timeout` passed first."""
    deadline = time.monotonic() + timeout
    with _renders_changed:
        while _renders:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _renders_changed.wait(left)
    return True


def stop_renders() -> bool:
    """Stop this process's renders at their next safe point and wait until they have handed back."""
    from productions.lib.ffmpeg import stop_ffmpeg_children

    STOPPING.set()
    if wait_for_renders(SAFE_POINT_S):
        return True
    killed = stop_ffmpeg_children()
    if killed:
        log.info("stopping: ended %d ffmpeg process(es) of running renders", killed)
    done = wait_for_renders(HAND_BACK_S)
    if not done:
        log.warning("stopping: a render did not hand its episode back within %.0f s", HAND_BACK_S)
    return done


class RenderAwareConsumer(Consumer):
    """Huey's consumer, with Tower's stop (see the module's docstring) before its own."""

    def _handle_signal(self, signum, frame) -> None:
        super()._handle_signal(signum, frame)
        if signum in (signal.SIGINT, signal.SIGTERM):
            STOPPING.set()  # renders stop at their next safe point; stop() below does the rest

    def stop(self, graceful: bool = False) -> None:
        try:
            stop_renders()
        except KeyboardInterrupt:  # a second Ctrl-C while waiting: Huey's own stop, at once
            graceful = False
        super().stop(graceful=graceful)


class SqliteHuey(datadir.SqliteHuey):
    def create_consumer(self, **options) -> Consumer:
        return RenderAwareConsumer(self, **options)


class PriorityRedisHuey(huey.PriorityRedisHuey):
    def create_consumer(self, **options) -> Consumer:
        return RenderAwareConsumer(self, **options)
