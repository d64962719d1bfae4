"""Ctrl-C at the terminal running `manage.py up` during a render: the terminal signals the whole foreground
process group. The render must not fail (no ffmpeg killed under it, no raw ffmpeg output as the error): the
worker hands the episode back (queued, unclaimed, the attempt "interrupted"), both children stop, and the next
`up` resumes it from its last finished segment to a conforming file."""

import os
import signal

import pytest
from django.conf import settings

from productions.lib.conformance import check_conformance
from productions.models import Episode, Segment, SegmentAttempt
from productions.tasks import start_render
from tests.conftest import small_episode
from tests.fake_comfyui import free_port
from tests.worker import UpProcess, port_free, process_alive, status_of, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def up(tmp_path, name: str) -> UpProcess:
    return UpProcess(tmp_path / f"{name}.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))


def test_ctrl_c_during_a_render_hands_the_episode_back_and_the_next_up_finishes_it(tmp_path, project):
    episode = small_episode(project, duration_s=12.0, segment_count=6)
    start_render(episode)
    first = up(tmp_path, "first").start(free_port())
    try:
        wait_for(first.answers, 120, "the dashboard")
        wait_for(lambda: Segment.objects.filter(episode=episode, status="done").count() >= 2
                 and Segment.objects.filter(episode=episode, status="generating").exists(),
                 300, "a segment under way after two finished", interval=0.1)
        children = first.children()
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C at the terminal does
        assert first.proc.wait(timeout=60) == 0, first.log()[-3000:]
    finally:
        first.stop()
    assert not any(process_alive(pid) for pid in children.values()), children
    assert port_free(first.port)

    episode.refresh_from_db()
    assert episode.status == Episode.Status.QUEUED, (episode.status, episode.error)
    assert episode.error == "" and episode.claimed_by == ""
    attempts = SegmentAttempt.objects.filter(segment__episode=episode)
    assert not attempts.filter(outcome=SegmentAttempt.Outcome.RUNNING).exists()
    # The attempt under way is "interrupted" (none, if the signal landed just as a segment finished)
    interrupted = list(attempts.filter(outcome=SegmentAttempt.Outcome.INTERRUPTED))
    assert len(interrupted) <= 1
    assert not Segment.objects.filter(episode=episode, status__in=["generating", "post", "failed"]).exists()
    finished = set(Segment.objects.filter(episode=episode, status="done").values_list("pk", flat=True))

    second = up(tmp_path, "second").start(free_port())
    try:
        wait_for(lambda: status_of(episode.pk) in {"review", "delivered", "failed"}, 300, "the resumed render",
                 worker=second)
    finally:
        second.stop()
    episode.refresh_from_db()
    assert episode.status == Episode.Status.REVIEW, episode.error
    assert check_conformance(episode.final_file, episode.delivery_spec()).passed
    for segment in Segment.objects.filter(pk__in=finished):  # finished segments were not made again
        assert segment.attempts == 1, segment.index
    for attempt in interrupted:  # its segment was made again, once
        assert list(attempt.segment.attempt_log.order_by("number").values_list("outcome", flat=True)) == [
            "interrupted", "succeeded"]
