"""The workers' sweep puts one render task per orphaned episode on the queue, never a pile: an episode whose
task is already waiting gets no second one, however often the sweep runs (real Huey queue, in-process)."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from productions.models import Episode
from productions.tasks import requeue_orphans, start_render
from tests.conftest import small_episode

pytestmark = pytest.mark.django_db(transaction=True)


def waiting(huey) -> list[int]:
    return sorted(task.args[0] for task in huey.pending())


def test_sweeping_again_adds_no_duplicate_tasks(project, queue):
    queued = small_episode(project, title="queued")
    assert start_render(queued)  # waits for a free worker: queued, unclaimed
    interrupted = small_episode(project, title="interrupted", status=Episode.Status.RENDERING,
                                started_at=timezone.now() - timedelta(minutes=5),
                                claimed_by=f"{socket.gethostname()}:999999999:deadbeef",  # no such process
                                heartbeat_at=timezone.now())
    for _ in range(5):  # what every worker's sweep does, every few seconds
        requeue_orphans()
    assert waiting(queue) == sorted([queued.pk, interrupted.pk])
