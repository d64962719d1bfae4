"""QA on shots whose camera does more than pan: a push-in, a tilt, a roll, diagonal drifts and a handheld
shake. Slow smooth motion looks like a blend to first order and a shake moves a sky gradient like a flicker;
neither may be reported, while the same moves blended up from a lower rate are double exposures."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.qa import FAILED, PASSED, check_frames
from tests import qa_corpus as corpus


def move(name: str, n: int, fps: int = 24, seed: int = 3) -> list[np.ndarray]:
    step = 24 // fps
    return corpus.render_camera_move(seed, n * step, move=name)[::step]


@pytest.mark.parametrize("name", ["dolly", "tilt", "roll", "diagonal", "slow_diagonal", "drift", "shake"])
def test_clean_camera_moves_pass_every_check(name: str) -> None:
    frames = move(name, 48)
    result = check_frames(frames, 24, expected_frames=len(frames))
    assert result.passed, [(c.name, c.message) for c in result.failures]
    assert result.check("ghosting").status == PASSED


@pytest.mark.parametrize("name", ["dolly", "roll", "slow_diagonal"])
def test_camera_moves_blended_up_are_double_exposures(name: str) -> None:
    full = move(name, 48 * 3)
    frames = corpus.blend_interpolate(full[::3], 3, 48)
    check = check_frames(frames, 24).check("ghosting")
    assert check.status == FAILED, check.message
    assert check.details["by_kind"]["blend"] >= 2


def test_flicker_on_a_shaking_shot_is_still_flicker() -> None:
    """Undoing the shake must not undo a real brightness flicker on top of it."""
    frames = corpus.inject_flicker(move("shake", 48), "alternate", 0.06, 16, 12, seed=1)
    check = check_frames(frames, 24).check("flicker")
    assert check.status == FAILED, check.message


def test_shake_alone_has_no_brightness_swing() -> None:
    check = check_frames(move("shake", 48), 24).check("flicker")
    assert check.status == PASSED and check.value < 0.5, check.message
