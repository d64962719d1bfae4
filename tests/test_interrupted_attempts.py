"""No attempt stays "running" after a crash: when an episode is taken over, the attempts its dead holder left
running become "interrupted", and the episode page says so (in-process render of a small episode)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from productions.models import Episode, Segment, SegmentAttempt
from productions.render import EpisodeRender, ensure_segments
from tests.conftest import client_for, small_episode

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dead_holders_running_attempt_becomes_interrupted(project, users):
    episode = small_episode(project)
    episode.queue_render()
    segment = ensure_segments(episode)[0]
    # What a SIGKILLed worker leaves: the episode claimed, its segment generating, the attempt running.
    Episode.objects.filter(pk=episode.pk).update(
        status=Episode.Status.RENDERING, claimed_by="gone:1:abcdef12", started_at=timezone.now(),
        heartbeat_at=timezone.now() - timedelta(seconds=2 * settings.TOWER_LEASE_S))
    Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.GENERATING, attempts=1)
    crashed = SegmentAttempt.objects.create(segment=segment, number=1, backend="builtin", seed=segment.seed,
                                            prompt=segment.prompt)

    assert EpisodeRender(episode).run() == Episode.Status.REVIEW
    crashed.refresh_from_db()
    assert crashed.outcome == "interrupted" and crashed.finished_at is not None
    assert not SegmentAttempt.objects.filter(segment__episode=episode, outcome="running").exists()
    assert [a.outcome for a in segment.attempt_log.all()] == ["interrupted", "succeeded"]
    page = client_for(users["producer"]).get(episode.get_absolute_url()).content.decode()
    assert "Interrupted" in page
