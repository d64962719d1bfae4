"""Black frames and freezes versus pictures that only look like them: a moonless street (99 % of its pixels
under 10 % luma, yet lamps, stars and a face) is no black frame; a figure bobbing slowly, seen at 8 fps, is no
freeze, nor is a small bird crossing a plain sky, which only the full-resolution pixels show; a noisy black
frame and a held frame still are."""

from __future__ import annotations

import math

import cv2
import numpy as np

from productions.lib.qa import FAILED, PASSED, analysis, check_frames, checks
from productions.lib.qa.analysis import FrameAnalyzer
from tests import qa_corpus as corpus


def test_a_moonless_street_is_not_black() -> None:
    frames = corpus.render_new_moon(0, 24)
    f = FrameAnalyzer(24)
    for frame in frames:
        f.add(frame)
    features = f.finish()
    assert features.dark.min() >= 0.98  # black by blackdetect's pixel count alone
    check = check_frames(frames, 24).check("black_frames")
    assert check.status == PASSED, check.message


def test_a_noisy_black_frame_in_the_dark_street_is_black() -> None:
    frames = corpus.inject_black(corpus.render_new_moon(0, 24), 10, 1, level=6, seed=2)
    check = check_frames(frames, 24).check("black_frames")
    assert check.status == FAILED and check.value == 1, check.message


def bobbing(n: int, fps: int) -> list[np.ndarray]:
    """A figure on a still background rising and falling 8 px (at 512 px wide) once every 1.5 s."""
    frames = []
    base = corpus.render_horizon(4, 1)[0]
    for i in range(n):
        img = base.copy()
        y = 200 + 8.0 * math.sin(2 * math.pi * i / (1.5 * fps))
        cv2.ellipse(img, (256 * 16, int(round(y * 16))), (18 * 16, 30 * 16), 0, 0, 360, (200, 80, 60), -1,
                    cv2.LINE_AA, shift=4)
        frames.append(img)
    return frames


def test_a_slow_bob_at_the_native_rate_is_not_frozen() -> None:
    frames = bobbing(40, 8)
    check = check_frames(frames, 8).check("frozen")
    assert check.status == PASSED, check.message


def test_a_held_frame_in_the_bob_is_frozen() -> None:
    frames = corpus.inject_freeze(bobbing(40, 8), 10, 6, noise=0.8, seed=1)
    check = check_frames(frames, 8).check("frozen")
    assert check.status == FAILED, check.message


def bird_over_a_plain_sky(n: int) -> list[np.ndarray]:
    """A flat pale-green sky at 1024x576 with a yellow bird of 14x5 px crossing it in 5 s (held-out draw 21's
    sparse shot, seen since): at the 256 px analysis size no pixel changes by more than 6 levels, so none counts
    as changed there."""
    frames = []
    for i in range(n):
        img = np.empty((576, 1024, 3), np.uint8)
        img[:] = (168, 222, 190)
        x, y = 40 + i * 950 / n, 250 - i * 60 / n
        cv2.ellipse(img, (int(round(x * 16)), int(round(y * 16))), (7 * 16, 2 * 16), 0, 0, 360, (220, 205, 90), -1,
                    cv2.LINE_AA, shift=4)
        frames.append(img)
    return frames


def test_a_small_bird_crossing_a_plain_sky_is_not_frozen(monkeypatch) -> None:
    frames = bird_over_a_plain_sky(41)
    check = check_frames(frames, 8, thumbnails=False).check("frozen")
    assert check.status == PASSED, check.message
    assert check.details["moved_block"] == checks.FREEZE_MOVED_BLOCK  # on the QA page with the other limits
    monkeypatch.setattr(checks, "FREEZE_MOVED_BLOCK", 999.0)  # the analysis size alone: "held for 5 s"
    assert check_frames(frames, 8, thumbnails=False).check("frozen").status == FAILED


def test_full_resolution_change_is_measured_wherever_a_frame_could_count_as_held() -> None:
    assert checks.FREEZE_BLOCK_DIFF <= analysis.MOVED_MEASURED_BELOW


def test_the_bird_held_is_frozen() -> None:
    frames = corpus.inject_freeze(bird_over_a_plain_sky(41), 10, 8, noise=1.0, seed=1)
    check = check_frames(frames, 8, thumbnails=False).check("frozen")
    assert check.status == FAILED and check.value >= 1.0, check.message


def bird_over_a_night_sky(n: int) -> list[np.ndarray]:
    """A navy sky at 1024x576 (luma about 24: blackdetect calls every pixel black) with a red bird of about 26x6 px
    crossing it (held-out draw 23's sparse night shot, seen since): at the 256 px analysis size it lights fewer
    pixels than checks.BLACK_MAX_LIT allows, at its own size a few hundred."""
    frames = []
    for i in range(n):
        img = np.empty((576, 1024, 3), np.uint8)
        img[:] = (22, 22, 32)
        x, y = 120 + i * 800 / n, 300 - i * 80 / n
        pts = np.array([[x - 13, y - 2], [x, y + 3], [x + 13, y - 2], [x, y - 0.5]]) * 16
        cv2.fillPoly(img, [pts.round().astype(np.int32)], (225, 20, 20), cv2.LINE_AA, shift=4)
        frames.append(img)
    return frames


def test_a_small_bird_on_a_night_sky_is_no_black_frame(monkeypatch) -> None:
    frames = bird_over_a_night_sky(41)
    check = check_frames(frames, 8, thumbnails=False).check("black_frames")
    assert check.status == PASSED, check.message
    assert check.details["min_lit_pixels_full"] == checks.BLACK_MIN_LIT_PIXELS  # on the QA page
    monkeypatch.setattr(checks, "BLACK_MIN_LIT_PIXELS", float("inf"))  # the analysis size alone: "41 black frames"
    assert check_frames(frames, 8, thumbnails=False).check("black_frames").value == 41


def test_black_and_crushed_frames_in_the_night_sky_are_black() -> None:
    frames = corpus.inject_black(bird_over_a_night_sky(41), 10, 2, level=12, seed=3)
    frames[30] = (frames[30].astype(np.float32) * 0.06).astype(np.uint8)  # a failed decode: a trace of the picture
    check = check_frames(frames, 8, thumbnails=False).check("black_frames")
    assert check.status == FAILED and check.value == 3, check.message
