"""Automatic QA on a small subset of the labelled corpus: every defect class is caught, clean segments and
hard negatives pass. The full corpus runs in bench/qa_accuracy.py."""

from __future__ import annotations

import base64
import json
from functools import cache

import pytest

from productions.lib.qa import FAILED, QAResult, check_frames
from tests import qa_corpus as corpus


@cache
def _results() -> list[tuple[corpus.CorpusItem, QAResult]]:
    out = []
    for item in corpus.small_corpus():
        result = check_frames(item.frames, item.fps, expected_frames=item.expected_frames,
                              boundaries=item.boundaries_s, transitions=item.transitions)
        item.frames = []  # keep memory small; the results are what the tests look at
        out.append((item, result))
    return out


def test_small_corpus_covers_every_class() -> None:
    labels = {item.label for item, _ in _results()}
    assert set(corpus.DEFECT_CLASSES) <= labels
    assert {corpus.CLEAN, corpus.HARD_NEGATIVE} <= labels
    variants = {item.variant for item, _ in _results() if item.label == corpus.HARD_NEGATIVE}
    assert {"flat_sky", "horizon", "symmetric", "fast_pan", "tiny_motion", "hold_2s", "hold_3s",
            "pan_speed"} <= variants
    ghosts = {item.variant for item, _ in _results() if item.label == corpus.GHOSTING}
    assert {"blend_x3", "same_scene_dissolve", "chained_dissolve", "undeclared_dissolve"} <= ghosts
    declared = {item.variant for item, _ in _results() if item.transitions}
    assert {"crossfade_join", "fade_black_join"} <= declared
    # a drawn same-scene dissolve (a camera move: the whole picture doubled) is among those that must be caught
    assert any(i.variant == "same_scene_dissolve" and not documented_miss(i) for i, _ in _results())


def documented_miss(item: corpus.CorpusItem) -> bool:
    """Defects the checks are documented not to catch (see GHOST_ECHO in productions/lib/qa/checks.py): a
    same-scene dissolve of the built-in generator's slow pans doubles only a small foreground on a static
    detailed background. The bench reports them in its recall; this test does not insist on them."""
    return (item.label == corpus.GHOSTING and item.source == "generator"
            and item.variant in ("same_scene_dissolve", "chained_dissolve"))


@pytest.mark.parametrize("defect", corpus.DEFECT_CLASSES)
def test_each_defect_class_is_detected(defect: str) -> None:
    items = [(item, r) for item, r in _results() if item.label == defect and not documented_miss(item)]
    assert items
    for item, result in items:
        check = result.check(defect)
        assert check.status == FAILED, f"{item.name}: {check.message} (value {check.value})"
        if check.blocking:
            assert not result.passed and check in result.blocking_failures
        else:
            assert check in result.warnings


def test_clean_segments_and_hard_negatives_pass() -> None:
    negatives = [(item, r) for item, r in _results() if not item.is_defect]
    assert len(negatives) >= 10
    for item, result in negatives:
        failed = [f"{c.name}: {c.message}" for c in result.failures]
        assert not failed, f"{item.name} ({item.variant}): {failed}"
        assert result.passed


def test_defects_are_reported_by_their_own_check_only() -> None:
    """A black frame is not also called flicker or a freeze, a blocky run not also blur, and so on."""
    for item, result in _results():
        if item.is_defect:
            others = [c.name for c in result.failures if c.name != item.label]
            assert not others, f"{item.name}: also {others}"


def test_thresholds_and_values_are_in_as_dict() -> None:
    item, result = next((i, r) for i, r in _results() if i.label == "grid")
    data = json.loads(json.dumps(result.as_dict()))
    assert data["passed"] is False and "grid" in data["blocking_failures"]
    by_name = {c["name"]: c for c in data["checks"]}
    for name in ("frame_count", "fps", "black_frames", "frozen", "flicker", "grid", "blockiness", "blur"):
        c = by_name[name]
        assert {"status", "passed", "blocking", "value", "threshold", "comparison", "unit", "message",
                "worst_frames", "details"} <= set(c)
        assert c["value"] is not None and c["threshold"] is not None, name
    grid = by_name["grid"]
    assert grid["value"] >= grid["threshold"] and grid["comparison"] == "<"


def test_worst_frames_point_at_the_defect() -> None:
    item, result = next((i, r) for i, r in _results() if i.label == "black_frames" and i.variant == "1f")
    check = result.check("black_frames")
    assert check.details["runs"] and check.worst_frames
    start = check.details["runs"][0][0]
    assert check.worst_frames[0].index == start
    jpeg = check.worst_frames[0].thumbnail_jpeg
    assert jpeg and jpeg[:2] == b"\xff\xd8"
    encoded = check.as_dict()["worst_frames"][0]["thumbnail_jpeg_b64"]
    assert base64.b64decode(encoded) == jpeg
    assert check.worst_frames[0].time_s == pytest.approx(start / item.fps)
    # passing checks keep indices and values but carry no thumbnails
    assert all(w.thumbnail_jpeg is None for c in result.checks if c.passed for w in c.worst_frames)


def test_seams_only_at_the_given_boundaries() -> None:
    cut = next(i for i, _ in _results() if i.variant == "hard_cut")
    result = next(r for i, r in _results() if i is cut)
    seams = result.check("seams")
    assert seams.status == FAILED and seams.value >= seams.threshold
    boundary = seams.details["boundaries"][0]["frame"]
    assert abs(boundary - round(cut.boundaries_s[0] * cut.fps)) <= 1
    assert seams.worst_frames[0].index == boundary
    crossfaded = [r for i, r in _results() if i.variant == "crossfade_join"]
    assert crossfaded and all(r.check("seams").passed for r in crossfaded)
