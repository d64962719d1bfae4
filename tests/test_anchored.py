"""Anchored segments (a first-and-last-frame model): every boundary keyframe is made first, each segment runs
between its two keyframes, and the segments run at once across the servers."""

import numpy as np
import pytest

from productions.lib.backend import KeyframeRequest, SegmentRequest
from productions.lib.files import load_image
from productions.lib.generator import BuiltinGenerator
from productions.lib.post import SegmentFiles
from productions.lib.qa import check_segment_frames
from productions.models import Episode
from tests.conftest import render_now, small_episode

W, H = 320, 180


def keyframe(gen: BuiltinGenerator, prompt: str, seed: int) -> np.ndarray:
    return gen.generate_keyframe(KeyframeRequest(prompt, seed, W, H), lambda *a: None, lambda: False)


def test_the_builtin_generator_paints_between_two_keyframes():
    gen = BuiltinGenerator()
    start, end = keyframe(gen, "a fox runs through snow", 1), keyframe(gen, "a lantern by a river at night", 2)
    request = SegmentRequest("a fox runs through snow", 1, start, W, H, 49, 12, end_image=end)
    result = gen.stream_segment(request, lambda *a: None, lambda: False)
    frames = list(result.frames)
    assert len(frames) == 49 and result.info["anchored"] and result.info["end_wipe_frames"] > 0
    assert np.array_equal(frames[0], start) and np.array_equal(frames[-1], end)  # exactly on both keyframes
    qa = check_segment_frames(iter(frames), 12, 49, prompt=request.prompt)
    assert qa.passed, qa.summary()  # the end is a wipe: no frame mixes the two pictures
    middle = frames[len(frames) // 2]
    assert not np.array_equal(middle, start) and not np.array_equal(middle, end)


@pytest.mark.django_db(transaction=True)
def test_an_anchored_episode_renders_every_segment_between_its_keyframes(project, settings):
    settings.TOWER_NATIVE_SIZE = (W, H)
    episode = small_episode(project, video_model="builtin_anchored", duration_s=3.0, segment_count=3,
                            transitions="3: cut")
    assert render_now(episode) == Episode.Status.REVIEW, episode.error
    episode.refresh_from_db()
    segments = list(episode.segments.order_by("index"))
    # each shot's keyframe is recorded in its history (the storyboard's keyframes: productions.keyframes)
    starts = [load_image(s.file("keyframe_path")) for s in segments]
    assert [s.keyframe_log.count() for s in segments] == [1, 1, 1]
    for segment, start in zip(segments, starts, strict=True):
        files = SegmentFiles(segment.media_dir)
        first, last = native_frames(files.native, segment.native_frames)
        assert np.array_equal(first, start)  # every segment starts exactly on its own keyframe
        if segment.index == 0:  # continuous into 2: ends exactly where 2 starts (the duplicate is dropped)
            assert np.array_equal(last, starts[1])
        else:  # before a cut, and the last one: a closing keyframe of its own
            assert np.array_equal(last, load_image(files.closing_keyframe))
    assert episode.timings["generation_wall_s"] > 0


def native_frames(path, count: int) -> tuple[np.ndarray, np.ndarray]:
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == count
    return frames[0], frames[-1]
