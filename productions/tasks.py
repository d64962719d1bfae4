"""Huey tasks: thin wrappers that find the episode and hand it to productions.render.

Huey delivers a task at most once (a SIGKILLed worker loses the task it was running), so the database is the
queue of record: on start-up, and every minute, a worker re-enqueues any episode that is queued or rendering
but not held by a live worker. Episode.claim() makes duplicates harmless.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, on_shutdown, on_startup

from productions.models import Episode, worker_is_alive

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
    """Help the worker that holds an anchored episode: make whichever of its segments nobody has claimed."""
    from productions.render import EpisodeRender

    episode = Episode.objects.filter(pk=episode_id, status=Episode.Status.RENDERING).first()
    if episode is None:
        return "not rendering"
    return EpisodeRender(episode, helper=True).help()


def start_render(episode: Episode) -> bool:
    """Queue a render (start, or resume after a failure or cancel). False if one is already active."""
    if not episode.queue_render():
        return False
    render_episode(episode.pk)
    return True


def orphaned_episodes() -> list[int]:
    """Active episodes that no live worker holds: never claimed, claimed by a dead process, or gone silent."""
    stale = timezone.now() - timedelta(seconds=settings.TOWER_LEASE_S)
    orphans = []
    active = Episode.objects.filter(status__in=Episode.ACTIVE)
    for pk, claimed_by, heartbeat_at in active.values_list("pk", "claimed_by", "heartbeat_at"):
        if not claimed_by or heartbeat_at is None or heartbeat_at < stale or not worker_is_alive(claimed_by):
            orphans.append(pk)
    return orphans


def requeue_orphans() -> list[int]:
    orphans = orphaned_episodes()
    for pk in orphans:
        log.info("re-enqueueing interrupted episode %s", pk)
        render_episode(pk)
    return orphans


@on_startup()
def resume_interrupted_work() -> None:
    close_old_connections()
    try:
        requeue_orphans()
    finally:
        close_old_connections()


@on_startup()
def start_worker_heartbeat() -> None:
    """Report this worker and its GPUs to the monitor every few seconds (one thread per process)."""
    from productions.monitor import start_heartbeat

    start_heartbeat()


@on_shutdown()
def stop_worker_heartbeat() -> None:
    from productions.monitor import stop_heartbeat

    stop_heartbeat()


@db_periodic_task(crontab(minute="*"))
def requeue_stale_renders() -> None:
    requeue_orphans()


def queue_length() -> int:
    return HUEY.pending_count()
