"""A segment's frames are streamed from the generator through QA into its clips: memory does not grow with its
length (bench/segment_memory.py measures the worker's peak for 30 s and 90 s segments at full size)."""

import tracemalloc

import pytest
from django.test import override_settings

from productions.models import Episode
from tests.conftest import render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)

W, H = 640, 360
FRAME_BYTES = W * H * 3


@override_settings(TOWER_NATIVE_SIZE=(W, H))
def test_a_long_segment_is_never_held_in_memory_whole(project):
    # A short render first: what the first render imports (torch for the upscaler's CUDA probe: 80 MB of
    # allocations, PyAV, OpenCV) is not frames and must not count.
    assert render_now(small_episode(project, title="warm-up", duration_s=1.0, segment_count=1)) == \
        Episode.Status.REVIEW
    episode = small_episode(project, duration_s=20.0, segment_count=1)
    tracemalloc.start()
    try:
        assert render_now(episode) == Episode.Status.REVIEW
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    segment = episode.segments.get()
    assert segment.native_frames >= 240  # 20 s drawn on twos
    held_whole = segment.native_frames * FRAME_BYTES  # 166 MB: what keeping the list of frames would cost
    # What stays is QA's per-frame features at 256 px (grey + thumbnail, ~64 kB a frame) and a few frames.
    assert peak < 0.3 * held_whole, f"peak {peak / 1e6:.0f} MB for {held_whole / 1e6:.0f} MB of frames"
