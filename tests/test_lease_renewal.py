"""The lease is renewed beside the render, whatever it is doing: a stitch that takes longer than the lease
does not let another worker take the episode over (in-process render of a small episode, real ffmpeg; the
final encode is made slower than the lease)."""

import time

import pytest

from productions import render as render_module
from productions.models import Episode
from tests.conftest import render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_S = 2


def test_a_stitch_longer_than_the_lease_keeps_the_episode(project, settings, monkeypatch):
    settings.TOWER_LEASE_S = LEASE_S
    real = render_module.render_episode_file
    rival: list[bool] = []

    def slow_stitch(*args, **kwargs):
        time.sleep(2 * LEASE_S)  # no progress, no stage change: only the renewal thread speaks for us
        rival.append(Episode.objects.get(pk=episode.pk).claim("rival-host:1:abcdef12", LEASE_S))
        return real(*args, **kwargs)

    monkeypatch.setattr(render_module, "render_episode_file", slow_stitch)
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.REVIEW
    assert rival == [False], "another worker took the episode over during the stitch"
    episode.refresh_from_db()
    assert episode.claimed_by == "" and episode.error == ""
