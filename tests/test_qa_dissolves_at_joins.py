"""Dissolve evidence (the ghosting check's mix and echo) counts in full near segment joins, where dissolves are
put, and must be GHOST_AWAY_FACTOR times as strong elsewhere (checks.GHOST_JOIN_S, GHOST_AWAY_FACTOR). Blended
in-betweens are looked for everywhere alike."""

from __future__ import annotations

import pytest

from productions.lib.qa import FAILED
from productions.lib.qa.checks import GHOST_AWAY_FACTOR, GHOST_JOIN_S
from tests import qa_corpus as corpus
from tests.test_qa_ghosting import ghosting, shot


def test_a_same_scene_dissolve_at_its_join_counts_in_full() -> None:
    """A shot crossfaded with itself (a chained join crossfaded): at the join the doubling evidence is the
    measured one; with the join not given, the same frames need twice the evidence."""
    frames = corpus.same_scene_dissolve(shot(84, pan=1.0), 30, 12, 12)
    _, at_join = ghosting(frames, boundaries=[36 / 24])
    _, no_join = ghosting(frames)
    assert at_join.status == FAILED, at_join.message
    assert at_join.details["max"]["echo"] == pytest.approx(GHOST_AWAY_FACTOR * no_join.details["max"]["echo"],
                                                           rel=1e-3)
    assert at_join.details["thresholds"]["join_s"] == GHOST_JOIN_S
    assert at_join.details["thresholds"]["away_from_joins"] == GHOST_AWAY_FACTOR


def test_only_frames_near_the_join_count_in_full() -> None:
    """The same dissolve with a join declared two seconds away: the dissolve is away from it."""
    frames = corpus.same_scene_dissolve(shot(120, pan=1.0), 30, 12, 12)
    _, far_join = ghosting(frames, boundaries=[(36 + 48) / 24])
    _, no_join = ghosting(frames)
    assert far_join.details["max"]["echo"] == pytest.approx(no_join.details["max"]["echo"], rel=1e-3)


def test_a_plain_dissolve_between_two_pictures_mid_segment_is_still_flagged() -> None:
    """A model morphing one shot into another in the middle of a segment: no join there, still a ghost."""
    frames = corpus.crossfade(shot(48, pan=2.0, seed=5), shot(48, pan=2.0, seed=11), 12)
    _, check = ghosting(frames)
    assert check.status == FAILED, check.message


def test_blended_in_betweens_are_flagged_away_from_joins() -> None:
    native = shot(24, pan=2.0, fps=8)
    _, check = ghosting(corpus.blend_interpolate(native, 3))
    assert check.status == FAILED and check.details["by_kind"]["blend"] >= 10, check.message
