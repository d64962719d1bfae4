"""The blur check measures the sharpness of edges, so flat-shaded pictures (a sky with a kite, a night street)
are measured, not skipped; and it compares each shot with itself, so two shots drawn with differently crisp
lines are no blur."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from productions.lib.qa import FAILED, NOT_MEASURED, PASSED, check_frames
from tests import qa_corpus as corpus


@pytest.mark.parametrize("render", [corpus.render_flat_sky, corpus.render_night, corpus.render_horizon])
@pytest.mark.parametrize("kind", ["sigma1.5", "box5", "half"])
def test_soft_frames_in_flat_shaded_scenes_are_found(render, kind: str) -> None:
    clean = render(1, 48)
    assert check_frames(clean, 24).check("blur").status == PASSED
    frames = (corpus.inject_blur(clean, 1.5, 20, 12) if kind == "sigma1.5"
              else corpus.inject_soft(clean, kind, 20, 12))
    check = check_frames(frames, 24).check("blur")
    assert check.status == FAILED, check.message
    assert {w.index for w in check.worst_frames} <= set(range(20, 32))


def test_two_shots_of_different_crispness_are_not_blur() -> None:
    crisp = corpus.render_landscape(2, 36)
    soft = [cv2.GaussianBlur(f, (0, 0), 0.8) for f in corpus.render_landscape(9, 36)]  # drawn softer
    result = check_frames(crisp + soft, 24, boundaries=[36 / 24])
    assert result.check("blur").status == PASSED, result.check("blur").message


def test_a_plain_sky_is_not_measured() -> None:
    sky = [np.full((288, 512, 3), (120, 170, 230), np.uint8) for _ in range(24)]
    assert check_frames(sky, 24).check("blur").status == NOT_MEASURED
