"""Blend evidence counts only in the pattern interpolation makes (ghost.in_between_frames): in-betweens recur
every k frames around originals that are no blend, where clean motion that only looks like a blend does not."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.qa.ghost import in_between_frames

MARKS = {".": np.nan, "0": 0.0, "-": 0.3, "+": 0.7, "#": 2.0}


def evidence(pattern: str) -> np.ndarray:
    """Blend evidence per frame (x the threshold) from marks: . not measured, 0 none, - + weak, # over it."""
    return np.array([MARKS[c] for c in pattern])


def kept(pattern: str) -> str:
    return "".join("k" if k else "_" for k in in_between_frames(evidence(pattern)))


@pytest.mark.parametrize("pattern", [
    ".#0#0#0#0#0#0#0#.",  # drawn at 12 fps, blended up to 24: every other frame
    ".##0##0##0##0##0#.",  # at 8 fps: two of every three
    ".###0###0###0###0#.",  # at 6 fps: three of every four
    ".##0--0##0+#0##0##.",  # slow content: some in-betweens barely blended
])
def test_interpolated_in_betweens_keep_their_evidence(pattern):
    out = kept(pattern)
    assert all(o == "k" for c, o in zip(pattern, out, strict=True) if c in "#+-"), out
    assert all(o == "_" for c, o in zip(pattern, out, strict=True) if c in ".0"), out


@pytest.mark.parametrize("pattern", [
    ".0000#####0###0##0########0#######0####0######.",  # a slow push-in of a symmetric scene (held-out draw 9)
    ".##########################.",  # blend-like everywhere: no frame is an original
    ".000000000#00000000000000#0000000#00000000000#00#0000#0000.",  # chance frames, no recurring phase
])
def test_blend_evidence_outside_the_pattern_does_not_count(pattern):
    assert "k" not in kept(pattern)


def test_a_blended_stretch_inside_clean_footage_is_kept():
    assert kept(".0000000000##0##0##0##0000000000.") == "___________kk_kk_kk_kk___________"
