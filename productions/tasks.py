"""Huey tasks: thin wrappers that find the episode and hand it to productions.render.

Huey delivers a task at most once (a SIGKILLed worker loses the task it was running), so the database is the
queue of record: every worker runs a sweep thread (on start-up, then every lease/8, 5 s at most) that
re-enqueues any episode that is queued or rendering but not held by a live worker, unless a task for it is
already waiting.
A holder renews its lease every lease/4 (render.LeaseKeeper), so a dead one's episode is taken over within
the lease; one on this host whose process is gone, at the next sweep. Episode.claim() makes a duplicate
harmless. An interrupted render (it started before) goes ahead of new ones, the oldest first.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_task, on_shutdown, on_startup

from productions.models import Episode, lease_silent_since, worker_is_alive
from productions.process_thread import ProcessThread

log = logging.getLogger(__name__)


@db_task()
def render_episode(episode_id: int) -> str:
    from productions.render import EpisodeRender

    episode = Episode.objects.filter(pk=episode_id).first()
    if episode is None:
        log.warning("render_episode: episode %s no longer exists", episode_id)
        return "missing"
    return EpisodeRender(episode).run()


@db_task()
def make_anchored_segments(episode_id: int) -> str:
    """Help the worker that holds an episode's render: make whichever of its segments nobody has claimed
    (anchored: any; chained: the next segment of a chain nobody is making)."""
    from productions.render import EpisodeRender

    episode = Episode.objects.filter(pk=episode_id, status=Episode.Status.RENDERING).first()
    if episode is None:
        return "not rendering"
    return EpisodeRender(episode, helper=True).help()


@db_task()
def make_keyframes_task(attempt_ids: list[int]) -> dict:
    """Draw storyboard keyframes (productions.keyframes): the numbered attempts the producer's request made."""
    from productions.keyframes import run_attempts

    return run_attempts(attempt_ids)


def start_render(episode: Episode) -> bool:
    """Queue a render (start, or resume after a failure or cancel). False if one is already active."""
    if not episode.queue_render():
        return False
    render_episode(episode.pk)
    return True


# Resumed renders run before new ones (Huey runs higher priorities first), the longest-started first.
RESUME_PRIORITY = 10**10


def render_priority(episode: Episode) -> int:
    """0 for a render never started; for one that started before (it was interrupted), more the older it is."""
    if episode.started_at is None:
        return 0
    return RESUME_PRIORITY - int(episode.started_at.timestamp())


def sweep_interval_s() -> float:
    """How often each worker sweeps for orphaned episodes: lease/8 (at most 5 s: a dead process on this host is
    seen soon), so a holder silent for 3/4 of the lease (models.lease_silent_since) is taken over within it."""
    return min(5.0, max(0.5, settings.TOWER_LEASE_S / 8))


def orphaned_episodes() -> list[int]:
    """Active episodes that no live worker holds: never claimed, claimed by a dead process, or gone silent."""
    stale = lease_silent_since(settings.TOWER_LEASE_S)
    orphans = []
    active = Episode.objects.filter(status__in=Episode.ACTIVE).order_by("started_at", "pk")
    for pk, claimed_by, heartbeat_at in active.values_list("pk", "claimed_by", "heartbeat_at"):
        if not claimed_by or heartbeat_at is None or heartbeat_at < stale or not worker_is_alive(claimed_by):
            orphans.append(pk)
    return orphans


def waiting_renders() -> set[int]:
    """Episodes with a render task waiting in the queue."""
    return {task.args[0] for task in HUEY.pending() if task.name == render_episode.task_class.__name__ and task.args}


def requeue_orphans() -> list[int]:
    """Enqueue a render for each orphaned episode that has none waiting: one task per episode, never a pile.
    The marker (Episode.enqueued_at) stops two workers sweeping at once from both adding one."""
    orphans = orphaned_episodes()
    if not orphans:
        return []
    waiting = waiting_renders()
    now = timezone.now()
    recently = now - timedelta(seconds=sweep_interval_s())
    requeued = []
    for pk in orphans:
        if pk in waiting:
            continue
        fresh = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=recently)  # a task just taken is claimed soon
        if not Episode.objects.filter(pk=pk).filter(fresh).update(enqueued_at=now):
            continue
        episode = Episode.objects.filter(pk=pk).first()
        if episode is None:
            continue
        log.info("re-enqueueing interrupted episode %s", pk)
        render_episode(pk, priority=render_priority(episode))
        requeued.append(pk)
    return requeued


class Sweeper(threading.Thread):
    """Each worker process's sweep for orphaned episodes (requeue_orphans): at start-up, then every
    sweep_interval_s()."""

    def __init__(self, interval_s: float) -> None:
        super().__init__(name="tower-sweep", daemon=True)
        self.interval_s = interval_s
        self.stopping = threading.Event()

    def run(self) -> None:
        while True:
            close_old_connections()
            try:
                requeue_orphans()
            except Exception:  # the database or the queue is unreachable for a moment: sweep again next time
                log.exception("sweeping for orphaned episodes failed")
            finally:
                close_old_connections()
            if self.stopping.wait(self.interval_s):
                break


_sweeper: ProcessThread[Sweeper] = ProcessThread()


@on_startup()
def start_sweeper() -> None:
    """Start this process's sweep thread once (Huey calls start-up hooks once per worker thread)."""
    _sweeper.start(lambda: Sweeper(sweep_interval_s()))


@on_shutdown()
def stop_sweeper() -> None:
    _sweeper.stop()


@on_startup()
def start_worker_heartbeat() -> None:
    """Report this worker and its GPUs to the monitor every few seconds (one thread per process)."""
    from productions.monitor import start_heartbeat

    start_heartbeat()


@on_shutdown()
def stop_worker_heartbeat() -> None:
    from productions.monitor import stop_heartbeat

    stop_heartbeat()


def queue_length() -> int:
    return HUEY.pending_count()


@db_task()
def send_notification_emails(notification_ids: list[int]) -> int:
    """Email notifications to their users (productions.notifications), away from the render and the pages."""
    from productions.notifications import send_emails

    return send_emails(notification_ids)


@db_task()
def deliver_webhook(delivery_id: int) -> str:
    """One try of a webhook delivery; the next try is scheduled with backoff (productions.notifications)."""
    from productions.notifications import attempt_delivery

    delay = attempt_delivery(delivery_id)
    if delay is not None:
        deliver_webhook.schedule(args=(delivery_id,), delay=delay)
        return "retrying"
    return "done"
