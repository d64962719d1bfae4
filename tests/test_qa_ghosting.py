"""The ghosting check (productions/lib/qa/ghost.py, checks.check_ghosting): blended in-betweens and same-scene
dissolves are flagged; clean motion of any speed, anime holds and a dissolve or fade the producer declared are
not. Also: holds are no freeze and no seam, and declared transitions are left out of the black-frame and
flicker checks. Small drawn clips (256x144) so the whole file runs in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from productions.lib.ffmpeg import pipe_frames_to_ffmpeg, rawvideo_input_args
from productions.lib.qa import FAILED, PASSED, check_episode_frames, check_frames, check_video_file
from productions.lib.qa.checks import GHOST_MIN_FRAMES
from tests import qa_corpus as corpus

W, H = 256, 144


def shot(n: int, pan: float, seed: int = 5, fps: int = 24) -> list[np.ndarray]:
    """A drawn landscape panning `pan` px per 24 fps frame (at 256 px wide), at `fps`."""
    step = 24 // fps
    return corpus.render_landscape(seed, n * step, W, H, pan_px=pan)[::step]


def ghosting(frames: list[np.ndarray], fps: float = 24, **kw):
    result = check_frames(frames, fps, thumbnails=True, **kw)
    return result, result.check("ghosting")


def assert_flagged(check, frames_at: range | None = None) -> None:
    assert check.status == FAILED and check.blocking, check.message
    assert check.value >= check.threshold and check.details["ghost_frames"] >= GHOST_MIN_FRAMES
    if frames_at is not None:
        assert set(check.details["frames"]) <= set(frames_at), (check.details["frames"], frames_at)
    worst = check.worst_frames[0]
    assert worst.thumbnail_jpeg[:2] == b"\xff\xd8"  # a failed check shows its worst frames


def test_blend_interpolated_footage_is_flagged() -> None:
    """8 fps drawings raised to 24 fps by linear blending (ffmpeg `framerate`): 2 of every 3 frames are
    double exposures."""
    native = shot(24, pan=2.0, fps=8)
    frames = corpus.blend_interpolate(native, 3)
    result, check = ghosting(frames)
    assert_flagged(check)
    assert not result.passed and check in result.blocking_failures
    ghosts = set(check.details["frames"])
    blended = {j for j in range(1, len(frames) - 1) if j % 3}
    assert len(ghosts & blended) >= 0.8 * len(blended)
    assert {w.index for w in check.worst_frames} <= blended  # the worst are mixed frames, not the drawings


def test_same_scene_dissolve_is_flagged_where_it_is() -> None:
    """A shot crossfaded with itself half a second later at its join (the chained-join crossfade): doubled
    trees. (Away from joins a doubled picture needs mix evidence too: test_qa_dissolves_at_joins.py.)"""
    frames = corpus.same_scene_dissolve(shot(84, pan=3.0), 30, 12, 12)
    _, check = ghosting(frames, boundaries=[36 / 24])
    assert_flagged(check, range(30 - 2, 30 + 12 + 2))
    assert check.details["by_kind"]["echo"] >= GHOST_MIN_FRAMES


@pytest.mark.parametrize("pan", [0.1, 0.5, 1.5, 6.0, 20.0])
def test_clean_motion_of_any_speed_passes(pan: float) -> None:
    result, check = ghosting(shot(48, pan=pan, seed=7))
    assert check.status == PASSED and check.value < 1.0, check.message
    assert check.details["ghost_frames"] < GHOST_MIN_FRAMES
    assert result.passed, result.summary()


@pytest.mark.parametrize(("fps", "hold"), [(24, 2), (24, 3), (12, 2), (12, 3)])
def test_holds_are_neither_ghosts_nor_freezes(fps: int, hold: int) -> None:
    """Anime on twos/threes: each drawing repeated; at 12 fps a 3-frame hold lasts 0.25 s."""
    drawings = shot(72 // hold, pan=4.0 * hold, seed=9, fps=24)
    frames = corpus.hold_frames(drawings, hold)
    result = check_frames(frames, fps)
    assert result.check("ghosting").status == PASSED, result.check("ghosting").message
    assert result.check("frozen").status == PASSED, result.check("frozen").message
    assert result.check("flicker").status == PASSED, result.check("flicker").message
    assert result.passed, result.summary()
    # ...while a real freeze in the same footage is still caught
    frozen = check_frames(corpus.inject_freeze(frames, 20, int(fps)), fps)
    assert frozen.check("frozen").status == FAILED


def test_a_declared_dissolve_passes_and_the_same_one_undeclared_is_flagged() -> None:
    a, b = shot(36, pan=1.0, seed=11), shot(36, pan=1.0, seed=12)
    joined = corpus.crossfade(a, b, 12)
    declared = [(36 - 12, 36)]
    result = check_episode_frames(joined, 24, None, transitions=declared)
    assert result.check("ghosting").status == PASSED, result.check("ghosting").message
    assert result.check("ghosting").details["transitions"] == [[24, 36]]
    assert result.passed, result.summary()
    _, check = ghosting(joined)
    assert_flagged(check, range(24 - 2, 36 + 2))
    # declaring some other range does not hide it
    assert ghosting(joined, transitions=[(2, 8)])[1].status == FAILED


def test_a_declared_fade_through_black_passes_black_frames_and_flicker() -> None:
    a, b = shot(36, pan=1.0, seed=13), shot(36, pan=1.0, seed=14)
    faded = corpus.fade_through_black(a, b, 12)
    declared = check_frames(faded, 24, transitions=[(24, 36)])
    for name in ("black_frames", "flicker", "ghosting", "frozen"):
        assert declared.check(name).status == PASSED, (name, declared.check(name).message)
    assert declared.passed, declared.summary()
    undeclared = check_frames(faded, 24)
    assert undeclared.check("black_frames").status == FAILED  # the fade's darkest frames are black
    # a black frame outside the declared range is still a glitch
    glitch = corpus.inject_black(faded, 8, 1)
    assert check_frames(glitch, 24, transitions=[(24, 36)]).check("black_frames").status == FAILED


def test_seams_on_held_footage_compare_with_the_frames_that_change() -> None:
    """On threes, 2 of 3 frame differences are 0: a continuous join must not look like a jump next to them,
    and a hard cut must still be one."""
    drawings = shot(32, pan=6.0, seed=15)
    held = corpus.hold_frames(drawings, 3)  # 96 frames, a new drawing every 3rd frame
    smooth = check_episode_frames(held, 24, [48 / 24])
    assert smooth.check("seams").status == PASSED, smooth.check("seams").message
    other = corpus.hold_frames(shot(16, pan=6.0, seed=16), 3)
    cut = check_episode_frames(held[:48] + other, 24, [48 / 24])
    assert cut.check("seams").status == FAILED


def test_malformed_transitions_are_refused() -> None:
    frames = shot(6, pan=1.0)
    for bad in ([(5, 5)], [(-1, 3)], [(3,)], ["ab"]):
        with pytest.raises(ValueError, match="transition"):
            check_frames(frames, 24, transitions=bad)


# --- through real ffmpeg -------------------------------------------------------------------------------


def _encode_8fps_through(frames: list[np.ndarray], vf: str, path: Path) -> Path:
    args = [*rawvideo_input_args(W, H, 8), "-vf", vf, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "14",
            "-pix_fmt", "yuv420p", str(path)]
    pipe_frames_to_ffmpeg(frames, args, "encoding a ghosting test clip")
    return path


@pytest.fixture(scope="module")
def native_8fps() -> list[np.ndarray]:
    return shot(20, pan=2.0, seed=17, fps=8)


def test_ffmpeg_framerate_blending_is_flagged(native_8fps, tmp_path: Path) -> None:
    path = _encode_8fps_through(native_8fps, "framerate=fps=24", tmp_path / "blend.mp4")
    result = check_video_file(path)
    assert result.fps == pytest.approx(24)
    check = result.check("ghosting")
    assert check.status == FAILED, check.message
    assert check.details["ghost_frames"] >= 0.4 * result.frames  # about 2 in 3


def test_ffmpeg_hold_to_24fps_passes(native_8fps, tmp_path: Path) -> None:
    path = _encode_8fps_through(native_8fps, "fps=24", tmp_path / "hold.mp4")
    result = check_video_file(path)
    assert result.fps == pytest.approx(24)
    for name in ("ghosting", "frozen", "flicker"):
        assert result.check(name).status == PASSED, (name, result.check(name).message)
