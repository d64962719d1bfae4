"""The time-left estimate (productions.eta) covers every stage, the stitch included."""

from __future__ import annotations

import pytest

from productions.eta import (
    DEFAULT_CONFORMANCE_S_PER_MPF,
    DEFAULT_ENCODE_S_PER_MPF,
    StitchEstimate,
    episode_eta_s,
    segment_eta_s,
    stitch_estimate,
)

STITCH = StitchEstimate(encode_s=30.0, conformance_s=5.0, source="test")


def test_a_segment_is_the_rest_of_its_generation_then_its_post_processing():
    assert segment_eta_s(10.0, 0.01) is None  # too early to say
    assert segment_eta_s(10.0, 0.4, post_s=3.0) == pytest.approx(10.0 * 0.4 / 0.4 + 3.0)
    assert segment_eta_s(10.0, 0.9, post_s=3.0) == 3.0


def test_the_episode_adds_the_waiting_segments_and_the_stitch():
    assert episode_eta_s(running_eta_s=12.0, waiting=2, per_segment_s=20.0, stitch=STITCH) == 12 + 40 + 35
    assert episode_eta_s(running_eta_s=None, waiting=2, per_segment_s=20.0, stitch=STITCH) == 40 + 35
    assert episode_eta_s(running_eta_s=None, waiting=2, per_segment_s=None, stitch=STITCH) is None  # unmeasured
    # every segment made (a re-stitch only): the stitch is all that is left
    assert episode_eta_s(running_eta_s=None, waiting=0, per_segment_s=None, stitch=STITCH) == 35
    # during the stitch it counts down; conformance is last
    assert episode_eta_s(running_eta_s=None, waiting=0, per_segment_s=20.0, stitch=STITCH, stage="stitching",
                         stage_elapsed_s=10.0) == 25
    assert episode_eta_s(running_eta_s=None, waiting=0, per_segment_s=20.0, stitch=STITCH, stage="stitching",
                         stage_elapsed_s=99.0) == 5
    assert episode_eta_s(running_eta_s=None, waiting=0, per_segment_s=None, stitch=STITCH, stage="conformance",
                         stage_elapsed_s=2.0) == 3


def test_the_stitch_is_estimated_from_measured_timings_else_the_documented_default():
    own = {"stitch_frames": 48, "stitch_megapixel_frames": 2.765, "stitch_encode_s": 5.53, "conformance_s": 0.553}
    other = {"stitch_frames": 720, "stitch_megapixel_frames": 1493.0, "stitch_encode_s": 149.3,
             "conformance_s": 14.93}
    mine = stitch_estimate(100.0, own, other)
    assert mine.source == "this episode" and mine.encode_s == pytest.approx(200.0) and mine.total_s == 220.0
    last = stitch_estimate(100.0, {}, other)
    assert last.source == "last stitch" and last.total_s == pytest.approx(11.0)
    default = stitch_estimate(100.0, {"stitch_frames": 0}, None)
    assert default.source == "default"
    assert default.total_s == pytest.approx(100.0 * (DEFAULT_ENCODE_S_PER_MPF + DEFAULT_CONFORMANCE_S_PER_MPF))
