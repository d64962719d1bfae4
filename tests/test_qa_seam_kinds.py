"""Seams that hide in small or busy pictures. A join that jumps back in time (checks.SEAM_RETURN_*): the frame after
the join is closer to a picture shown earlier than to the frame before it, which forward motion never does. A join
where the grade changes (checks.SEAM_GAIN_MIN_STEP): the whole picture's brightness steps, with the camera's motion
undone."""

from __future__ import annotations

import numpy as np

from productions.lib.qa import FAILED, PASSED, check_frames
from productions.lib.qa.analysis import FrameAnalyzer, boundary_frame
from productions.lib.qa.checks import SEAM_GAIN_MIN_STEP, SEAM_RATIO, SEAM_RETURN_MATCH, _Returns, seam_scores
from tests import qa_corpus as corpus


def seam_ratio(frames, fps: int, at_s: float) -> float:
    analyzer = FrameAnalyzer(fps, boundaries_s=[at_s])
    for frame in frames:
        analyzer.add(frame)
    [(_, ratio, _)] = seam_scores(analyzer.finish(), [boundary_frame(at_s, fps)])
    return ratio


def test_a_sparse_shot_that_jumps_back_half_a_second_is_a_seam() -> None:
    """One small subject crossing a plain ground slowly, the next segment started 12 frames too early: the mean
    change at the join is tiny and motion explains most of it, but the frame repeats one 12 frames back."""
    shot = corpus.render_sparse(61, 72, speed=1.0)
    frames = shot[:36] + shot[24:60]
    check = check_frames(frames, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == FAILED, check.message
    assert seam_ratio(frames, 24, 36 / 24) >= 3 * SEAM_RATIO


def test_a_jump_back_at_the_native_rate_is_a_seam_too() -> None:
    shot = corpus.render_sparse(61, 24, speed=3.0)  # 8 fps: three times the motion per frame
    frames = shot[:12] + shot[8:20]
    assert check_frames(frames, 8, boundaries=[12 / 8]).check("seams").status == FAILED


def test_a_shake_across_a_join_is_no_seam() -> None:
    """An anime screen shake: the picture jumps between two offsets every frame, so each frame repeats the one two
    before it exactly, before the join as after it. The frame's return is divided by its predecessors' (undivided
    it is far over SEAM_RATIO). A handheld shake's frames come back less exactly (SEAM_RETURN_MATCH)."""
    shot = corpus.render_landscape(5, 72, pan_px=0.0, walk=0.0)
    frames = [np.roll(f, 6 if i >= 12 and i % 2 else 0, axis=0) for i, f in enumerate(shot)]
    check = check_frames(frames, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == PASSED, check.message
    analyzer = FrameAnalyzer(24)
    for frame in frames:
        analyzer.add(frame)
    returns = _Returns(analyzer.finish())
    assert max(returns.ratio(b) for b in (35, 36, 37)) >= 3 * SEAM_RATIO
    assert max(returns(b) for b in (35, 36, 37)) < SEAM_RATIO / 2
    handheld = corpus.render_camera_move(407, 72, move="shake")
    assert check_frames(handheld, 24, boundaries=[30 / 24]).check("seams").status == PASSED


def test_drawings_held_on_twos_and_threes_across_a_join_are_no_seam() -> None:
    """A new drawing is as far from the held one before it as from that drawing's first frame: no return."""
    shot = corpus.render_landscape(201, 72, pan_px=4.0)
    for factor in (2, 3):
        held = corpus.hold_frames(shot[::factor], factor, 72)
        for at in (35, 36, 37):  # the join on a new drawing and on a held one
            assert seam_ratio(held, 24, at / 24) < SEAM_RATIO / 2, (factor, at)


def test_a_subtle_change_of_grade_on_a_fast_pan_is_a_seam() -> None:
    """A gamma of 1.08 and a slightly warmer balance after the join: 7 levels of brightness, less than the pan's
    own change from frame to frame (its mean change alone scores about 3x)."""
    pan = corpus.render_fast_pan(50, 72)
    frames = pan[:36] + corpus.regrade(pan[36:], 1.08, (1.02, 1.0, 0.97))
    check = check_frames(frames, 24, boundaries=[36 / 24]).check("seams")
    assert check.status == FAILED, check.message
    assert seam_ratio(frames, 24, 36 / 24) >= 3 * SEAM_RATIO
    assert check_frames(pan, 24, boundaries=[36 / 24]).check("seams").status == PASSED


def test_light_that_falls_steadily_across_a_join_is_no_change_of_grade() -> None:
    """A shot darkening by 5 levels a frame (a lamp dimmed, dusk in a hurry; over SEAM_GAIN_MIN_STEP) steps in
    brightness on every frame alike."""
    shot = [np.clip(f - 5.0 * i, 0, 255).astype(np.uint8)
            for i, f in enumerate(corpus.render_landscape(3, 32, pan_px=0.5))]
    analyzer = FrameAnalyzer(24, boundaries_s=[16 / 24])
    for frame in shot:
        analyzer.add(frame)
    assert abs(analyzer.finish().gain_step[16]) >= SEAM_GAIN_MIN_STEP
    assert seam_ratio(shot, 24, 16 / 24) < SEAM_RATIO / 1.5


def test_a_light_that_comes_back_on_while_the_picture_moves_on_is_no_return() -> None:
    """A window lit again 21 frames after it went dark, the characters walking meanwhile: the frame is nearer that
    older frame than its predecessor (the window), but no older frame matches the whole picture
    (SEAM_RETURN_MATCH): a jump back brings everything back at once."""
    frames = []
    for i, frame in enumerate(corpus.render_landscape(4, 72, pan_px=0.0, walk=0.3)):
        frame = frame.copy()
        frame[0:72, 384:448] = (255, 255, 255) if i <= 14 or i >= 36 else (20, 20, 30)
        frames.append(frame)
    analyzer = FrameAnalyzer(24)
    for frame in frames:
        analyzer.add(frame)
    returns = _Returns(analyzer.finish())
    assert returns.ratio(36) >= SEAM_RATIO and returns.closest_older(36) > SEAM_RETURN_MATCH
    assert returns(36) == 0.0
