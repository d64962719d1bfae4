"""A render starts each shot from its approved storyboard keyframe; without storyboard keyframes it makes them
itself and records them in the shots' keyframe history."""

import numpy as np
import pytest

from productions.keyframes import approve_keyframe, current_file, keyframe_refusal, make_keyframes
from productions.lib.files import load_image
from productions.lib.generator import BuiltinGenerator
from productions.lib.post import SegmentFiles
from productions.models import Episode
from productions.render import EpisodeRender, ensure_segments
from tests.conftest import render_now, small_episode
from tests.keyframe_helpers import run_queued
from tests.test_anchored import native_frames

pytestmark = pytest.mark.django_db(transaction=True)


def first_frame(segment) -> np.ndarray:
    return native_frames(SegmentFiles(segment.media_dir).native, segment.native_frames)[0]


def test_the_render_starts_each_shot_from_its_approved_keyframe(project, users, queue):
    episode = small_episode(project, transitions="2: cut")  # two shots, the second after a cut
    segments = ensure_segments(episode)
    make_keyframes(episode, users["producer"])
    run_queued(queue)
    # the second shot made again: the approved one is the second keyframe, not the first
    from productions.keyframes import remake_keyframe
    remake_keyframe(segments[1], users["producer"])
    run_queued(queue)
    approved = {}
    for segment in episode.segments.order_by("index"):
        approve_keyframe(segment, users["producer"])
        approved[segment.index] = (segment.keyframe_path, load_image(segment.file("keyframe_path")))
    assert keyframe_refusal(episode) is None

    assert render_now(episode) == Episode.Status.REVIEW, Episode.objects.get(pk=episode.pk).error
    episode.refresh_from_db()
    for segment in episode.segments.order_by("index"):
        path, picture = approved[segment.index]
        assert segment.keyframe_path == path and segment.keyframe_approved_at is not None  # not redrawn
        assert np.array_equal(first_frame(segment), picture)  # the built-in starts exactly on its init image
    assert [s.keyframe_log.count() for s in episode.segments.order_by("index")] == [1, 2]
    assert episode.keyframe_path == approved[0][0]


def test_a_render_without_storyboard_keyframes_makes_and_records_them(project):
    episode = small_episode(project, transitions="2: cut")
    assert render_now(episode) == Episode.Status.REVIEW, Episode.objects.get(pk=episode.pk).error
    episode.refresh_from_db()
    segments = list(episode.segments.order_by("index"))
    for segment in segments:  # the opening shot and the shot after the cut: each from a keyframe of its own
        attempt = segment.keyframe_log.get()
        assert current_file(segment) is not None  # the current keyframe (read as every page and render does)
        assert attempt.path == segment.keyframe_path and attempt.finished_at and attempt.backend == "builtin"
        assert attempt.path.startswith(f"episodes/{episode.pk}/keyframes/shot-{segment.pk}-1")
        assert attempt.requested_by is None and attempt.prompt == segment.prompt
        assert np.array_equal(first_frame(segment), load_image(segment.file("keyframe_path")))
    assert episode.keyframe_path == segments[0].keyframe_path
    assert keyframe_refusal(episode) is None  # segments were made: nothing left to approve first

    # resume: a keyframe on disk is reused, not drawn again
    again = EpisodeRender(episode).shot_keyframe(segments[1], BuiltinGenerator())
    assert np.array_equal(again, load_image(segments[1].file("keyframe_path")))
    assert segments[1].keyframe_log.count() == 1
