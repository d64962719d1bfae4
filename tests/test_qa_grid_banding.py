"""Blockiness of plain pictures (issue 10 item 4): heavy compression flattens a smooth sky into bands whose edges
all sit on the codec's 8 px grid, and only across the gradient; QA finds it, while one straight edge on the grid
(a horizon) and the up-and-down edges of regular stripes are not banding. Over a plain sky, blocks show only
around its few subjects: tiles are cut there too."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from productions.lib.qa import FAILED, PASSED, check_frames
from productions.lib.qa.analysis import (
    BANDING_AT_LIMIT,
    BLOCKINESS_PER_BANDING,
    FLAT_TILE_LEVELS,
    analysis_size,
    detail_tiles,
    downscale,
    grid_banding,
)
from productions.lib.qa.checks import BLOCKINESS_MAX
from tests import qa_corpus as corpus

W, H = 512, 288


def plain_sky(n: int = 12) -> list[np.ndarray]:
    """A vertical gradient and nothing else: every row is one colour, so a codec's steps show across it only."""
    frame = corpus._finish(corpus._sky(H, W, (70, 120, 180), (210, 180, 215)))
    return [frame.copy() for _ in range(n)]


def test_the_banding_limit_reads_as_the_checks_limit() -> None:
    assert math.isclose(BANDING_AT_LIMIT * BLOCKINESS_PER_BANDING, BLOCKINESS_MAX)


def test_a_clean_gradient_sky_has_no_banding() -> None:
    frames = plain_sky()
    assert grid_banding(detail_tiles(frames[0])) == 0.0
    assert check_frames(frames, 24).check("blockiness").status == PASSED


@pytest.mark.parametrize("quality", [5, 8, 12])
def test_a_hard_compressed_sky_is_blocky(quality: int) -> None:
    frames = corpus.inject_jpeg(plain_sky(), quality, 0, 12)
    assert grid_banding(detail_tiles(frames[0])) >= BANDING_AT_LIMIT
    check = check_frames(frames, 24).check("blockiness")
    assert check.status == FAILED, check.message


def test_a_hard_compressed_half_size_sky_blown_up_is_blocky() -> None:
    """Its band edges spread over 3 px (the 2x upscale), centred on the same phase."""
    frames = corpus.inject_jpeg_upscaled(plain_sky(), 8, 0, 12)
    check = check_frames(frames, 24).check("blockiness")
    assert check.status == FAILED, check.message


def test_mild_compression_of_the_sky_is_not_blocky() -> None:
    frames = corpus.inject_jpeg(plain_sky(), 30, 0, 12)
    assert check_frames(frames, 24).check("blockiness").status == PASSED


@pytest.mark.parametrize("y0", [80, 96, 160])
def test_a_straight_horizon_on_the_grid_is_not_banding(y0: int) -> None:
    """Sea under sky in one razor-straight line between rows y0 - 1 and y0: on the codec's phase, inside the
    detail tiles, flat on both sides. One line is not banding (with it counted, it read 0.25, over the limit)."""
    sky = corpus._sky(H, W, (70, 120, 180), (180, 200, 220))
    sky[y0:] = (60, 90, 110)
    frames = [corpus._finish(sky)] * 12
    assert grid_banding(detail_tiles(frames[0])) == 0.0
    assert check_frames(frames, 24).check("blockiness").status == PASSED


def test_regular_stripes_on_the_grid_cancel() -> None:
    """Flat stripes 8 px wide, their edges on the codec's phase, going up and down in turn (windows, pillars)."""
    row = np.kron(np.tile([120, 160], W // 16 + 1), np.ones(8))[:W].astype(np.uint8)
    assert {int(i) % 8 for i in np.nonzero(np.diff(row.astype(int)))[0]} == {7}
    frame = np.repeat(np.repeat(row[None, :], H, axis=0)[:, :, None], 3, axis=2)
    assert grid_banding(detail_tiles(frame)) == 0.0


def plain_sky_with_a_balloon(n: int = 12) -> list[np.ndarray]:
    """One flat colour and a small disc drifting between the spread detail tiles (their gaps at 512x288: x
    320-351, y 128-143): JPEG leaves the plain parts plain and blocks only around the disc."""
    frames = []
    for i in range(n):
        img = np.zeros((H, W, 3), np.float32)
        img[:] = (225, 95, 185)
        cv2.circle(img, (336 + i, 136), 10, (200, 60, 90), -1, cv2.LINE_AA)
        frames.append(corpus._finish(img))
    return frames


def test_blocks_around_the_one_subject_of_a_plain_sky_are_found() -> None:
    """Most spread tiles see only the plain sky, so tiles are also cut where the picture has edges, and the plain
    ones are left out (averaged in, they hid the blocks)."""
    frames = plain_sky_with_a_balloon()
    tiles = detail_tiles(frames[0], small_gray(frames[0]))
    assert tiles and all(int(t.max()) - int(t.min()) >= FLAT_TILE_LEVELS for t in tiles)
    assert all(int(t.max()) - int(t.min()) < FLAT_TILE_LEVELS for t in detail_tiles(frames[0]))
    check = check_frames(corpus.inject_jpeg(frames, 8, 0, 12), 24).check("blockiness")
    assert check.status == FAILED, check.message
    for clean in (frames, corpus.inject_jpeg(frames, 85, 0, 12)):
        assert check_frames(clean, 24).check("blockiness").status == PASSED


def test_busy_frames_get_no_extra_tiles() -> None:
    """On a busy frame the edge-richest places are regular architecture (a facade's window grid), where one
    tile would decide the frame: the spread tiles are enough there, plain ones included."""
    frame = corpus._drawn(corpus.render_facade, 0, 8, 24)[4]
    busy = detail_tiles(frame, small_gray(frame))
    assert len(busy) == len(detail_tiles(frame)) == 24
    assert all(np.array_equal(a, b) for a, b in zip(busy, detail_tiles(frame), strict=True))


def small_gray(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return cv2.cvtColor(downscale(frame, analysis_size(w, h)), cv2.COLOR_RGB2GRAY)


@pytest.mark.parametrize("offset", range(16))
def test_stripes_of_unequal_widths_are_not_banding(offset: int) -> None:
    """A wallpaper of 9 and 7 px stripes: at some offsets every stripe steps up on the codec's phase and back
    down one phase off. A gradient's bands have no edges off the grid; these do."""
    row = np.roll(np.concatenate([np.full(9, 230), np.full(7, 200)] * (W // 16 + 1))[:W], offset).astype(np.uint8)
    frame = np.repeat(np.repeat(row[None, :], H, axis=0)[:, :, None], 3, axis=2)
    assert grid_banding(detail_tiles(frame)) == 0.0
