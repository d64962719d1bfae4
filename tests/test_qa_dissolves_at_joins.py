"""Dissolve evidence counts in full near segment joins, where dissolves are put (checks.GHOST_JOIN_S): elsewhere
it must be GHOST_AWAY_FACTOR times as strong, and a doubled picture (echo) counts only where the blend weights say
dissolve too (GHOST_AWAY_ECHO_MIX). Blended in-betweens are looked for everywhere alike."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.qa import FAILED
from productions.lib.qa.analysis import FrameAnalyzer
from productions.lib.qa.checks import GHOST_AWAY_ECHO_MIX, GHOST_AWAY_FACTOR, GHOST_JOIN_S, ghost_scores
from tests import qa_corpus as corpus
from tests.test_qa_ghosting import ghosting, shot


def test_a_same_scene_dissolve_is_looked_for_at_its_join() -> None:
    """A shot crossfaded with itself (a chained join crossfaded): flagged at its join, as a doubled picture; with
    the join not given, its doubling does not count (motion explains its blend weights: no mix evidence)."""
    frames = corpus.same_scene_dissolve(shot(84, pan=1.0), 30, 12, 12)
    _, at_join = ghosting(frames, boundaries=[36 / 24])
    _, no_join = ghosting(frames)
    assert at_join.status == FAILED, at_join.message
    assert at_join.details["by_kind"]["echo"] >= 2 and at_join.details["max"]["echo"] > 1.0
    assert no_join.details["max"]["echo"] is None and no_join.details["by_kind"]["echo"] == 0
    assert at_join.details["thresholds"]["join_s"] == GHOST_JOIN_S
    assert at_join.details["thresholds"]["echo_away_needs_mix"] == GHOST_AWAY_ECHO_MIX
    assert at_join.details["thresholds"]["away_from_joins"] == GHOST_AWAY_FACTOR


def test_only_frames_near_the_join_are_looked_at_for_echoes() -> None:
    """The same dissolve with a join declared two seconds away: the dissolve is away from it, and only frames
    within GHOST_JOIN_S of the join carry echo evidence."""
    frames = corpus.same_scene_dissolve(shot(120, pan=1.0), 30, 12, 12)
    _, far_join = ghosting(frames, boundaries=[(36 + 48) / 24])
    assert far_join.details["by_kind"]["echo"] == 0
    analyzer = FrameAnalyzer(24, boundaries_s=[(36 + 48) / 24])
    for frame in frames:
        analyzer.add(frame)
    _, parts = ghost_scores(analyzer.finish(), boundaries_s=[(36 + 48) / 24])
    looked = np.flatnonzero(np.isfinite(parts["echo"]))
    assert looked.size and np.abs(looked - (36 + 48)).max() <= round(GHOST_JOIN_S * 24) + 1


def test_a_dissolve_between_two_pictures_needs_twice_the_evidence_away_from_joins() -> None:
    frames = corpus.crossfade(shot(48, pan=2.0, seed=5), shot(48, pan=2.0, seed=11), 12)
    _, at_join = ghosting(frames, boundaries=[42 / 24])
    _, no_join = ghosting(frames)
    assert at_join.details["max"]["mix"] == pytest.approx(GHOST_AWAY_FACTOR * no_join.details["max"]["mix"],
                                                          rel=1e-3)


def test_a_plain_dissolve_between_two_pictures_mid_segment_is_still_flagged() -> None:
    """A model morphing one shot into another in the middle of a segment: no join there, still a ghost. Its
    doubled picture counts at half strength, since its blend weights say dissolve too."""
    frames = corpus.crossfade(shot(48, pan=2.0, seed=5), shot(48, pan=2.0, seed=11), 12)
    _, check = ghosting(frames)
    _, at_join = ghosting(frames, boundaries=[42 / 24])
    assert check.status == FAILED, check.message
    assert check.details["by_kind"]["echo"] >= 2
    assert at_join.details["max"]["echo"] == pytest.approx(GHOST_AWAY_FACTOR * check.details["max"]["echo"],
                                                           rel=1e-3)


def test_blended_in_betweens_are_flagged_away_from_joins() -> None:
    native = shot(24, pan=2.0, fps=8)
    _, check = ghosting(corpus.blend_interpolate(native, 3))
    assert check.status == FAILED and check.details["by_kind"]["blend"] >= 10, check.message
