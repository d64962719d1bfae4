"""QA on kinds of footage made by a third procedure (tests/qa_corpus.py: render_facade, render_sparse,
render_texture_whip; issue 10 item 4): a codec's block grid is looked for at the codec's phase only, a freeze
is a run of frames that all show the run's first picture, and a seam is also a break that motion does not
explain."""

from __future__ import annotations

import numpy as np

from productions.lib.qa import FAILED, PASSED, check_frames
from productions.lib.qa.analysis import blockiness, detail_tiles
from tests import qa_corpus as corpus


def block_steps(phase: int) -> np.ndarray:
    """A wall of 8 px panels of slightly different greys (window frames, tiles), one panel starting after
    column and row `phase`: its steps fall between pixels `phase` and `phase` + 1 of every 8."""
    rng = np.random.default_rng(phase)
    levels = rng.integers(150, 190, size=(288 // 8 + 2, 512 // 8 + 2)).astype(np.uint8)
    img = np.kron(levels, np.ones((8, 8), np.uint8))
    shift = 8 - (phase + 1) % 8
    img = img[shift : shift + 288, shift : shift + 512]
    return np.repeat(img[:, :, None], 3, axis=2)


def test_regular_architecture_off_the_codec_phase_is_not_blocky() -> None:
    score = blockiness(detail_tiles(block_steps(3)))
    assert score == 0.0, score


def test_a_grid_on_the_codec_phase_still_counts() -> None:
    from productions.lib.qa.analysis import CODEC_PHASE

    assert blockiness(detail_tiles(block_steps(CODEC_PHASE))) > 1.5


def test_heavy_jpeg_is_still_blocky() -> None:
    frames = corpus.inject_jpeg(corpus.render_lanterns(0, 12), 6, 0, 12)
    check = check_frames(frames, 24).check("blockiness")
    assert check.status == FAILED, check.message


def test_a_slow_drift_is_not_a_freeze() -> None:
    """A small dark disc crossing a plain shot at 0.13 px a frame (24 fps): each step hides under the
    frame-to-frame limits, but a held frame shows its first picture throughout, and this does not."""
    frames = corpus.render_sparse(3, 72, speed=0.13)
    check = check_frames(frames, 24).check("frozen")
    assert check.status == PASSED, check.message


def test_a_held_frame_in_a_sparse_shot_is_still_frozen() -> None:
    frames = corpus.inject_freeze(corpus.render_sparse(3, 72, speed=1.0), 20, 24)
    check = check_frames(frames, 24).check("frozen")
    assert check.status == FAILED, check.message


def test_a_jump_in_time_in_a_sparse_static_shot_is_a_seam() -> None:
    """One small subject on a plain ground jumps ahead 3 s: the mean change is tiny (under SEAM_MIN_DIFF),
    the change that motion does not explain is not."""
    shot = corpus.render_sparse(60, 144, speed=1.0)
    frames = shot[:36] + shot[108:]
    check = check_frames(frames, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == FAILED, check.message


def test_the_sparse_shot_continued_is_no_seam() -> None:
    shot = corpus.render_sparse(60, 72, speed=1.0)
    check = check_frames(shot, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == PASSED, check.message


def test_a_small_subject_moving_slowly_in_a_sparse_shot_is_no_dissolve() -> None:
    """At 8 fps the dissolve test (blend weights 0.375 s apart, half the analysis size) saw a disc a few px wide
    as a blend: one or two blocks of 64 change, which no dissolve between two pictures does."""
    for seed in (2, 3):
        frames = corpus._drawn(corpus.render_sparse, seed, 24, 8)
        check = check_frames(frames, 8).check("ghosting")
        assert check.status == PASSED, check.message
