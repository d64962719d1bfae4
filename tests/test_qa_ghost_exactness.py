"""A blended frame is its neighbours' blend up to noise (issue 10 item 4: false positives on footage QA was not
tuned on). Clean camera moves drawn between pixels can fit a blend of their neighbours better than optical flow
explains them (a symmetric tilt read 4.9x the threshold), but leave more unexplained than noise does."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.qa import ghost

W, H = 256, 144


def textured(seed: int) -> np.ndarray:
    """A busy picture (grey, float32): many hard-edged patches."""
    rng = np.random.default_rng(seed)
    img = np.full((H + 16, W + 16), 120.0, np.float32)
    for _ in range(300):
        x, y = int(rng.integers(0, W + 8)), int(rng.integers(0, H + 8))
        img[y:y + int(rng.integers(2, 8)), x:x + int(rng.integers(2, 10))] = rng.uniform(30, 220)
    return img


def view(img: np.ndarray, dx: int) -> np.ndarray:
    return img[8:8 + H, 8 + dx:8 + dx + W]


def gray8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


@pytest.fixture
def neighbours() -> tuple[np.ndarray, np.ndarray]:
    """A frame's two neighbours: the same busy picture 4 px apart (a double image if mixed)."""
    img = textured(3)
    return view(img, 0), view(img, 4)


def test_a_blend_with_codec_like_noise_is_a_blend(neighbours) -> None:
    p, n = neighbours
    noise = np.random.default_rng(1).normal(0, 1.0, p.shape)  # x264 CRF 14 at this size: 0.77-1.14
    c = 0.5 * p + 0.5 * n + noise
    assert ghost.BlendMeter().evidence(gray8(p), gray8(c), gray8(n), exact=True) > 0.5


def test_a_frame_that_departs_from_the_blend_by_more_than_noise_is_no_blend(neighbours) -> None:
    """The same blend with a smooth departure of RMS 2.5 levels (a symmetric tilt drawn between pixels departed
    by 2.0-2.6): a small share of this busy change (the relative test alone lets it through), more than any
    codec's noise at the analysis size."""
    p, n = neighbours
    yy, xx = np.mgrid[0:H, 0:W]
    departure = 2.5 * np.sqrt(2) * np.sin(xx / 9.0 + yy / 13.0)
    c = 0.5 * p + 0.5 * n + departure
    meter = ghost.BlendMeter()
    assert meter.evidence(gray8(p), gray8(c), gray8(n), exact=False) > 0.5  # the midpoint test alone: a blend
    assert meter.evidence(gray8(p), gray8(c), gray8(n), exact=True) == 0.0
