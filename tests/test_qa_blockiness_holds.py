"""Blockiness counts pictures, not frames (issue 10 item 4): a clip fails when at least two frames are blocky
(one odd measurement is not enough), and a drawing held on twos is one measurement shown twice."""

from __future__ import annotations

import numpy as np

from productions.lib.qa import FAILED, PASSED, check_frames
from tests import qa_corpus as corpus


def drifting_sky(n: int = 12) -> list[np.ndarray]:
    """A gradient sky with a cloud drifting 3 px a frame: every frame is a new picture."""
    frames = []
    for i in range(n):
        img = corpus._sky(288, 512, (70, 120, 180), (210, 180, 215))
        corpus._cloud(img, 100 + 3 * i, 90, 30, (240, 235, 245))
        frames.append(corpus._finish(img))
    return frames


def test_one_blocky_drawing_held_for_two_frames_is_one_measurement() -> None:
    frames = drifting_sky()
    blocky = corpus.inject_jpeg(frames, 8, 5, 1)[5]
    held = frames[:5] + [blocky, blocky] + frames[7:]
    check = check_frames(held, 24).check("blockiness")
    assert check.status == PASSED, check.message
    assert check.details["frames_over"] == 2  # both frames are still reported


def test_two_different_blocky_pictures_fail() -> None:
    frames = corpus.inject_jpeg(drifting_sky(), 8, 5, 2)
    check = check_frames(frames, 24).check("blockiness")
    assert check.status == FAILED, check.message


def test_a_blocky_still_shot_fails() -> None:
    """Every frame the same picture: that one picture is all there is to judge by."""
    frames = corpus.inject_jpeg([drifting_sky(1)[0]] * 12, 8, 0, 12)
    check = check_frames(frames, 24).check("blockiness")
    assert check.status == FAILED, check.message
