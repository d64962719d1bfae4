"""The ghosting check's moving-layer evidence (ghost.layer_evidence): a shot crossfaded with itself 0.375 s later
at a segment join, where what moves is a small ball over a plain sky, is a double exposure (two balls at part
contrast) that the blend, cepstrum and fade evidence miss; the same shot joined continuously, held on twos, or
with the dissolve declared is not flagged."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from productions.lib.qa import FAILED, PASSED, check_frames, checks
from productions.lib.qa.analysis import FrameAnalyzer
from productions.lib.qa.ghost import layer_evidence, layer_frames_after

FPS = 8
N = 41
OFFSET = 3  # the later segment starts 3 frames (0.375 s) later in the shot
OVERLAP = 4  # a 0.5 s crossfade at 8 fps
MIDDLE = N // 2


def ball_shot(count: int) -> list[np.ndarray]:
    """A flat dusk sky at 512x288, a red ball of 12 px radius hopping across it (18 px a frame at 8 fps)."""
    frames = []
    for i in range(count):
        img = np.empty((288, 512, 3), np.uint8)
        img[:] = (236, 178, 120)
        x = 30 + 10.0 * i
        y = 190 - 40 * abs(math.sin(math.pi * i / 7))
        cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), 12 * 16, (170, 40, 70), -1, cv2.LINE_AA, shift=4)
        frames.append(img)
    return frames


def crossfaded_join(shot: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """Segment k (shot[:MIDDLE + OVERLAP]) crossfaded over OVERLAP frames into segment k + 1, which continues the
    shot OFFSET frames later: the old pipeline's 0.5 s xfade at a chained join. (frames, boundary in s)."""
    a = shot[:MIDDLE + OVERLAP]
    b = shot[MIDDLE + OFFSET:MIDDLE + OFFSET + N - MIDDLE]
    out = a[:MIDDLE]
    for k in range(OVERLAP):
        w = (k + 1) / (OVERLAP + 1)
        out.append(cv2.addWeighted(a[MIDDLE + k], 1 - w, b[k], w, 0.0))
    out += b[OVERLAP:]
    assert len(out) == N
    return out, (MIDDLE + OVERLAP // 2) / FPS


def ghosting(frames: list[np.ndarray], boundary: float, **kw) -> checks.CheckResult:
    return check_frames(frames, FPS, boundaries=[boundary], thumbnails=False, **kw).check("ghosting")


def test_a_small_subject_dissolved_into_itself_at_a_join_is_a_ghost() -> None:
    frames, boundary = crossfaded_join(ball_shot(N + OFFSET))
    check = ghosting(frames, boundary)
    assert check.status == FAILED, check.message
    assert check.details["by_kind"]["layer"] >= 2
    assert check.details["thresholds"]["layer"] == checks.GHOST_LAYER  # on the QA page with the other limits
    ghost_frames = set(check.details["frames"])
    assert ghost_frames & set(range(MIDDLE, MIDDLE + OVERLAP)), ghost_frames


def test_without_the_layer_evidence_the_dissolve_is_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    frames, boundary = crossfaded_join(ball_shot(N + OFFSET))
    monkeypatch.setattr(checks, "GHOST_LAYER", 1e9)
    check = ghosting(frames, boundary)
    assert check.status == PASSED, check.message


def test_the_same_shot_joined_continuously_passes() -> None:
    shot = ball_shot(N)
    check = ghosting(shot, MIDDLE / FPS)
    assert check.status == PASSED, check.message


def test_the_shot_on_twos_passes() -> None:
    shot = ball_shot(N)
    held = [shot[i - i % 2] for i in range(N)]
    check = ghosting(held, MIDDLE / FPS)
    assert check.status == PASSED, check.message


def test_a_declared_dissolve_passes() -> None:
    frames, boundary = crossfaded_join(ball_shot(N + OFFSET))
    check = ghosting(frames, boundary, transitions=[(MIDDLE, MIDDLE + OVERLAP)])
    assert check.status == PASSED, check.message


def test_the_layer_is_measured_while_the_frames_stream_in_with_the_same_value() -> None:
    """Each boundary's layer evidence is measured as soon as the frames it needs are in (the encoder is writing
    the same frames meanwhile), not after the last one; the value is the one the whole clip gives."""
    shot = ball_shot(2 * N + OFFSET)
    frames, boundary = crossfaded_join(shot[:N + OFFSET])
    frames += shot[N + OFFSET:]  # the shot goes on: a second, late boundary has too few frames after it
    b = checks.boundary_frame(boundary, FPS)
    late = len(frames) - 3
    analyzer = FrameAnalyzer(FPS, detail=False, boundaries_s=[boundary, late / FPS])
    for i, frame in enumerate(frames):
        analyzer.add(frame)
        if i + 1 == b + layer_frames_after(FPS):
            assert list(analyzer._layers) == [b]  # measured here, before the clip ends
    f = analyzer.finish()
    assert late not in f.layers  # the clip ended too soon for it: measured by the check at the end
    assert f.layers[b] == layer_evidence(f.grays, FPS, b)
    assert f.layers[b][0] >= checks.GHOST_LAYER
