"""A worker told to stop (SIGINT: Huey's graceful stop; SIGTERM: what `up`, systemd and docker send) during a
render stops within seconds, not after the render, and hands the episode back: queued, unclaimed, its attempt
"interrupted", nothing FAILED. The studio shape runs `run_huey` on its own, so this is the worker's own
behaviour, whatever started it."""

import os
import signal
import time

import pytest
from django.conf import settings

from productions.models import Episode, Segment, SegmentAttempt
from productions.tasks import start_render
from tests.conftest import small_episode
from tests.worker import HueyWorker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_worker_hands_its_render_back(tmp_path, project, signum):
    episode = small_episode(project, duration_s=12.0, segment_count=6)
    start_render(episode)
    worker = HueyWorker(tmp_path / "worker.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT)).start()
    try:
        wait_for(lambda: Segment.objects.filter(episode=episode, status="done").exists()
                 and Segment.objects.filter(episode=episode, status="generating").exists(),
                 300, "a segment under way after one finished", interval=0.1, worker=worker)
        sent = time.monotonic()
        os.kill(worker.pid, signum)
        worker.proc.wait(timeout=60)
        stopped_s = time.monotonic() - sent
    finally:
        worker.stop()
    episode.refresh_from_db()
    assert episode.status == Episode.Status.QUEUED, (episode.status, episode.error, worker.log()[-3000:])
    assert episode.claimed_by == "" and episode.error == ""
    attempts = SegmentAttempt.objects.filter(segment__episode=episode)
    assert not attempts.filter(outcome=SegmentAttempt.Outcome.RUNNING).exists()
    # the attempt under way is "interrupted" (none, if the signal landed just as a segment finished)
    assert attempts.filter(outcome=SegmentAttempt.Outcome.INTERRUPTED).count() <= 1
    assert not Segment.objects.filter(episode=episode, status__in=["generating", "post", "failed"]).exists()
    print(f"stopped {stopped_s:.1f} s after the signal")
