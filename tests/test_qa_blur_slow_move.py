"""A soft stretch of a slow camera move is found. Soft frames of a flat-shaded shot moving slowly look linear from
one to the next, a blend of their neighbours, and the blur check left every frame that may be a mix out: the
whole stretch went unmeasured. The ghosting check reports blends only in the pattern interpolation makes; a
frame it does not report is now measured, against a level that still leaves every blend-like frame out.
(Held-out draw 23's neon shrine under a tilt, seen since: a Gaussian blur of 4 px over 1.5 s, missed at 0.97.)"""

from __future__ import annotations

import numpy as np

from productions.lib.qa import FAILED, PASSED, check_frames, checks
from productions.lib.qa.analysis import FrameAnalyzer
from tests import qa_corpus as corpus
from tests.qa_heldout import Scene, base_specs

N = 96  # 4 s at 24 fps
SOFT = range(30, 66)  # 1.5 s of it


def neon_tilt() -> list[np.ndarray]:
    spec = base_specs(24, 3, draw=23)[2]
    assert spec.name == "symmetric-tilt-neon-23242"
    return Scene(spec, 640, 360).render([i / 24 for i in range(N)])


def soft_stretch() -> list[np.ndarray]:
    return corpus.inject_blur(neon_tilt(), 4.0, SOFT.start, len(SOFT))


def test_the_clean_tilt_is_sharp() -> None:
    check = check_frames(neon_tilt(), 24, thumbnails=False).check("blur")
    assert check.status == PASSED, check.message


def test_a_soft_stretch_of_the_tilt_is_found() -> None:
    check = check_frames(soft_stretch(), 24, thumbnails=False).check("blur")
    assert check.status == FAILED, check.message
    assert check.value < 0.7
    assert {w.index for w in check.worst_frames} <= set(SOFT)


def test_the_soft_frames_look_like_blends_the_ghosting_check_does_not_report() -> None:
    frames = soft_stretch()
    analyzer = FrameAnalyzer(24)
    for frame in frames:
        analyzer.add(frame)
    f = analyzer.finish()
    soft = np.array(SOFT)
    anywhere, _ = checks.ghost_scores(f, dissolves_at_joins=False, in_between_only=False)
    reported, _ = checks.ghost_scores(f, dissolves_at_joins=False)
    assert np.count_nonzero(np.nan_to_num(anywhere[soft]) >= 1.0) >= len(SOFT) - 2
    assert not (np.nan_to_num(reported[soft]) >= 1.0).any()
    assert check_frames(frames, 24, thumbnails=False).check("ghosting").status == PASSED
