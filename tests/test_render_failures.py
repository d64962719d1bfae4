"""An ffmpeg failure or a full disk fails the episode in plain words, keeps finished segments, and resume
continues from them (in-process renders of a small episode; real ffmpeg, real ENOSPC from /dev/full)."""

import os
import stat
from pathlib import Path

import pytest

from productions.lib import ffmpeg, files
from productions.models import Episode, SegmentAttempt
from productions.render import EpisodeRender
from tests.conftest import render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failing_final_encode(tmp_path, settings):
    """An ffmpeg that crashes when asked to write the final video, and works otherwise."""
    real = ffmpeg.ffmpeg_binary()
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$*" in *final*) echo "Simulated encoder crash: Conversion failed!" >&2; exit 1;; esac\n'
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    settings.TOWER_FFMPEG = str(wrapper)  # handed to the media core (productions.media_config)
    yield settings


def test_an_ffmpeg_failure_fails_the_episode_and_resume_finishes_it(project, failing_final_encode):
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.FAILED
    episode.refresh_from_db()
    assert "Video processing failed while making final.mp4 from 2 clips" in episode.error
    assert "Simulated encoder crash" in episode.error_details  # the log, behind "Details"
    assert "Finished segments are kept" in episode.error
    assert [s.status for s in episode.segments.all()] == ["done", "done"]
    assert not episode.final_file

    failing_final_encode.TOWER_FFMPEG = ""
    assert render_now(episode) == Episode.Status.REVIEW  # rendered; awaits approval
    # Nothing was generated twice.
    assert [s.attempts for s in episode.segments.all()] == [1, 1]
    assert SegmentAttempt.objects.count() == 2


def test_a_full_disk_fails_the_episode_in_plain_words_and_resume_continues(project, monkeypatch):
    episode = small_episode(project)
    original = files.temporary_path

    def disk_full_for_second_proxy(final: Path) -> Path:
        tmp = original(final)
        if final.name == "proxy.mp4" and final.parent.name == "segment-01":
            os.symlink("/dev/full", tmp)  # every write to it fails with ENOSPC
        return tmp

    monkeypatch.setattr(files, "temporary_path", disk_full_for_second_proxy)
    assert render_now(episode) == Episode.Status.FAILED
    episode.refresh_from_db()
    assert "the disk is full" in episode.error.lower()
    first, second = episode.segments.all()
    assert first.status == "done" and first.is_complete()
    assert second.status == "failed"
    assert not list(episode.media_dir.rglob(".*tmp*")), "a failed write must not leave files behind"

    monkeypatch.setattr(files, "temporary_path", original)
    assert render_now(episode) == Episode.Status.REVIEW  # rendered; awaits approval
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.attempts, second.attempts) == (1, 2)
    assert list(second.attempt_log.values_list("outcome", flat=True)) == ["failed", "succeeded"]


def test_cancel_stops_the_render_and_keeps_finished_segments(project):
    episode = small_episode(project)
    episode.queue_render()
    renderer = EpisodeRender(episode)

    def cancel_after_first_segment(event):
        if event.get("type") == "segment" and event.get("status") == "done":
            Episode.objects.filter(pk=episode.pk).update(cancel_requested=True)

    renderer.on_event = cancel_after_first_segment
    assert renderer.run() == Episode.Status.CANCELLED
    assert [s.status for s in episode.segments.all()] == ["done", "pending"]
    assert render_now(episode) == Episode.Status.REVIEW  # rendered; awaits approval
    assert [s.attempts for s in episode.segments.all()] == [1, 2]


def test_a_second_worker_cannot_take_a_live_render(project):
    episode = small_episode(project)
    episode.queue_render()
    assert episode.claim("elsewhere:1:abc", lease_s=120)
    assert EpisodeRender(episode, worker_id="other:2:def").run() == Episode.Status.RENDERING
    assert not episode.segments.exists()
