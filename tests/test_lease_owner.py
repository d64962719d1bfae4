"""Only the worker holding an episode ends it: one that lost its lease (another worker took the episode over
while it was stitching) stops without writing the episode's status, its final video or its reports."""

import pytest
from django.utils import timezone

from productions import render as render_module
from productions.lib.ffmpeg import FFmpegError
from productions.models import Episode, QAReport
from tests.conftest import render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)

RIVAL = "rival-host:1:abcdef12"


def take_over(episode) -> None:
    """What a second worker's claim does when it takes the render over."""
    Episode.objects.filter(pk=episode.pk).update(claimed_by=RIVAL, heartbeat_at=timezone.now())


@pytest.fixture
def stitch_taken_over(monkeypatch):
    """The stitch during which another worker takes the episode over; `fail`: the stitch then fails (as it did
    when the new holder deleted its temporary file)."""
    real = render_module.render_episode_file
    state = {"episode": None, "fail": False}

    def stitch(*args, **kwargs):
        take_over(state["episode"])
        if state["fail"]:
            raise FFmpegError("making final.mp4 from 2 clips", "No such file or directory", 1)
        return real(*args, **kwargs)

    monkeypatch.setattr(render_module, "render_episode_file", stitch)
    return state


@pytest.mark.parametrize("fail", [True, False], ids=["stitch-fails", "stitch-succeeds"])
def test_a_worker_that_lost_the_lease_leaves_the_episode_alone(project, stitch_taken_over, fail):
    episode = small_episode(project)
    stitch_taken_over.update(episode=episode, fail=fail)
    assert render_now(episode) == Episode.Status.RENDERING  # still the new holder's render
    episode.refresh_from_db()
    assert episode.claimed_by == RIVAL and episode.error == "" and episode.finished_at is None
    assert not episode.final_file and not episode.final_path
    assert not QAReport.objects.filter(episode=episode, segment=None).exists()
    assert not list(episode.media_dir.rglob(".*tmp*")), "the stitch's own temporaries are left behind"
