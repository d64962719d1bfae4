"""An interrupted render resumes before newer queued ones, the one started longest ago first (Huey priority;
the real queue, read in the order a worker takes tasks)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from productions.models import Episode
from productions.tasks import requeue_orphans, start_render
from tests.conftest import small_episode

pytestmark = pytest.mark.django_db(transaction=True)


def interrupted(project, title: str, started_minutes_ago: int) -> Episode:
    """An episode whose worker went silent (it stopped renewing its lease) mid-render."""
    now = timezone.now()
    return small_episode(project, title=title, status=Episode.Status.RENDERING, claimed_by="gone:1:abcdef12",
                         started_at=now - timedelta(minutes=started_minutes_ago),
                         heartbeat_at=now - timedelta(seconds=2 * settings.TOWER_LEASE_S))


def test_interrupted_episodes_run_before_newer_queued_ones(project, queue):
    new = small_episode(project, title="new")
    assert start_render(new)
    recent = interrupted(project, "interrupted recently", started_minutes_ago=10)
    oldest = interrupted(project, "interrupted long ago", started_minutes_ago=60)
    requeue_orphans()
    order = []
    while (task := queue.dequeue()) is not None:  # what a worker takes next
        order.append(task.args[0])
    assert order == [oldest.pk, recent.pk, new.pk]
