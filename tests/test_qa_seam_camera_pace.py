"""A join that jumps ahead in time within a camera move (checks.SEAM_SHIFT_*): the picture moves many times farther
at the join than at any frame around it. A slow pan over a plain sky changes few pixels however far it jumps, so
the picture's change alone does not show it; the camera's pace does."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from productions.lib.qa import FAILED, PASSED, check_frames
from productions.lib.qa.analysis import FrameAnalyzer, boundary_frame
from productions.lib.qa.checks import SEAM_RATIO, SEAM_SHIFT_MIN_PX, seam_scores

W, H = 512, 288


def sky(seed: int) -> np.ndarray:
    """A plain evening sky, twice the frame's width, with a few small clouds in view."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((H, 2 * W, 3), np.uint8)
    top, bottom = np.array([70, 110, 190]), np.array([230, 170, 150])
    ramp = np.linspace(0.0, 1.0, H)[:, None, None]
    canvas[:] = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    for _ in range(4):
        cx, cy = int(rng.integers(40, W - 40)), int(rng.integers(30, H // 2))
        for dx in (-14, 0, 14):
            cv2.ellipse(canvas, (cx + dx, cy), (16, 8), 0, 0, 360, (245, 240, 235), -1, cv2.LINE_AA)
    return canvas


def pan(canvas: np.ndarray, times: list[float], px_per_s: float) -> list[np.ndarray]:
    """The camera panning right at `px_per_s` (sub-pixel steps), one frame per time."""
    return [cv2.warpAffine(canvas, np.float32([[1, 0, -px_per_s * t], [0, 1, 0]]), (W, H),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for t in times]


def features(frames, fps: int, at_s: float):
    analyzer = FrameAnalyzer(fps, boundaries_s=[at_s])
    for frame in frames:
        analyzer.add(frame)
    return analyzer.finish()


def ratio(f, at_s: float) -> float:
    [(_, r, _)] = seam_scores(f, [boundary_frame(at_s, f.fps)])
    return r


def test_a_slow_pan_over_a_plain_sky_that_jumps_half_a_second_ahead_is_a_seam() -> None:
    """12 px a second (0.5 px a frame): the next segment started 12 frames late, so the sky jumps 6 px."""
    times = [i / 24 for i in range(36)] + [(i + 12) / 24 for i in range(36, 72)]
    frames = pan(sky(1), times, 12.0)
    check = check_frames(frames, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == FAILED, check.message
    f = features(frames, 24, 36 / 24)
    assert f.shift[36] >= SEAM_SHIFT_MIN_PX
    assert ratio(f, 36 / 24) >= 2 * SEAM_RATIO
    # the picture's own change does not show it: without the camera's pace the join reads as smooth
    assert ratio(dataclasses.replace(f, shift=np.zeros_like(f.shift)), 36 / 24) < SEAM_RATIO


def test_the_same_jump_at_the_native_rate_is_a_seam_too() -> None:
    times = [i / 8 for i in range(12)] + [(i + 4) / 8 for i in range(12, 24)]
    frames = pan(sky(2), times, 12.0)
    assert check_frames(frames, 8, boundaries=[12 / 8]).check("seams").status == FAILED


def test_a_continuous_pan_across_a_join_is_no_seam() -> None:
    frames = pan(sky(1), [i / 24 for i in range(72)], 12.0)
    assert check_frames(frames, 24, boundaries=[36 / 24]).check("seams").status == PASSED


def test_a_pan_that_changes_pace_at_a_join_is_no_seam() -> None:
    """The next segment's camera moves four times faster from where the last one stopped: a new pace, not a
    jump (its frames after the join move as far as the join's)."""
    times, t = [], 0.0
    for i in range(72):
        times.append(t)
        t += 1 / 24 if i < 35 else 4 / 24
    frames = pan(sky(3), times, 12.0)
    check = check_frames(frames, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == PASSED, check.message


def test_the_camera_shift_is_measured_at_the_analysis_size() -> None:
    """0.5 px a frame at 512 px wide is 0.25 px at the 256 px analysis size: phase correlation's sub-pixel peak
    is within a tenth of a pixel of it (biased towards whole pixels); the first frame has none."""
    f = features(pan(sky(4), [i / 24 for i in range(24)], 12.0), 24, 0.5)
    assert f.shift[0] == 0.0
    assert np.all(np.abs(f.shift[1:] - 0.25) < 0.1), f.shift
    assert float(f.shift[1:].max()) - float(f.shift[1:].min()) < 0.1
