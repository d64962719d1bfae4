"""The QA entry points: frame count / fps / format sanity, the CLIP "not measured" path, video files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from productions.lib.ffmpeg import pipe_frames_to_ffmpeg, rawvideo_input_args
from productions.lib.qa import (
    CLIP_ENV,
    FAILED,
    NOT_MEASURED,
    check_episode_frames,
    check_prompt_compliance,
    check_segment_frames,
    check_video_file,
)
from tests import qa_corpus as corpus


def _clip(n: int = 24, seed: int = 3) -> list[np.ndarray]:
    return corpus.render_landscape(seed, n, 256, 144, pan_px=1.0)


def test_segment_passes_and_reports_sizes() -> None:
    frames = _clip()
    result = check_segment_frames(frames, 24, 24)
    assert result.passed and not result.warnings, result.summary()
    assert (result.frames, result.width, result.height, result.fps) == (24, 256, 144, 24)
    assert result.elapsed_s > 0
    json.dumps(result.as_dict())  # serialisable (raises otherwise)


def test_frames_can_be_a_generator_and_are_read_once() -> None:
    frames = _clip()
    seen = []

    def gen():
        for f in frames:
            seen.append(1)
            yield f

    result = check_segment_frames(gen(), 24, 24)
    assert result.passed and len(seen) == 24


def test_frame_count_and_fps() -> None:
    frames = _clip()
    short = check_segment_frames(frames[:-3], 24, 24)
    assert short.check("frame_count").status == FAILED and not short.passed
    assert "-3" in short.check("frame_count").message
    assert check_segment_frames(frames, 0, 24).check("fps").status == FAILED
    assert check_segment_frames(frames, 500, 24).check("fps").status == FAILED
    wrong = check_segment_frames(frames, 25, 24, expected_fps=24)
    assert wrong.check("fps").status == FAILED
    assert check_segment_frames(frames, 24, None).check("frame_count").passed


def test_frame_format_and_empty_input() -> None:
    frames = _clip(6)
    frames[3] = frames[3][:100]
    result = check_segment_frames(frames, 24, 6)
    assert result.check("frame_format").status == FAILED and not result.passed
    empty = check_segment_frames([], 24, 10)
    assert not empty.passed
    assert {c.name for c in empty.blocking_failures} >= {"frame_format", "frame_count"}


def test_clip_not_measured_without_weights() -> None:
    check = check_prompt_compliance(_clip(4), "a girl walks along a river")
    assert check.status == NOT_MEASURED and check.value is None and check.passed and not check.blocking
    assert CLIP_ENV in check.message and check.details["reason"]
    data = check.as_dict()
    assert data["status"] == "not_measured" and data["value"] is None


def test_clip_not_measured_with_a_bad_folder(tmp_path: Path) -> None:
    check = check_prompt_compliance(_clip(4), "a cat", model_dir=str(tmp_path / "missing"))
    assert check.status == NOT_MEASURED and check.value is None and "not a folder" in check.message
    check = check_prompt_compliance(_clip(4), "a cat", model_dir=str(tmp_path))
    assert check.status == NOT_MEASURED and check.value is None  # no open_clip/transformers installed here
    result = check_segment_frames(_clip(), 24, 24, prompt="a cat", clip_model_dir=str(tmp_path))
    check = result.check("prompt_compliance")
    assert check.status == NOT_MEASURED and check.value is None and check.details["reason"]
    assert result.passed and result.not_measured


def test_episode_frames_seam() -> None:
    a, b = _clip(24, 1), _clip(24, 2)
    cut = check_episode_frames(a + b, 24, [1.0])
    assert cut.check("seams").status == FAILED
    smooth = check_episode_frames(corpus.crossfade(a, b, 8), 24, [(24 - 4) / 24])
    assert smooth.check("seams").passed


def _encode(frames: list[np.ndarray], path: Path, fps: int = 24) -> None:
    h, w = frames[0].shape[:2]
    args = [*rawvideo_input_args(w, h, fps), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12",
            "-pix_fmt", "yuv420p", str(path)]
    pipe_frames_to_ffmpeg(frames, args, "encoding a QA test clip")


def test_video_file_decodes_once_and_finds_a_seam(tmp_path: Path) -> None:
    a = corpus.render_landscape(1, 24, 512, 288, pan_px=1.0)
    b = corpus.render_landscape(2, 24, 512, 288, pan_px=1.0)
    path = tmp_path / "episode.mp4"
    _encode(a + b, path)
    result = check_video_file(path, [1.0])
    assert result.frames == 48 and result.fps == pytest.approx(24)
    assert (result.width, result.height, result.analysis_size) == (512, 288, (256, 144))
    assert result.check("frame_count").passed
    assert result.check("seams").status == FAILED and not result.passed
    assert result.check("blockiness").status == NOT_MEASURED  # needs full resolution
    clean = check_video_file(path, [0.5])  # a boundary inside a smooth shot is no seam
    assert clean.check("seams").passed
    full = check_video_file(path, full_resolution=True)
    assert full.check("blockiness").status != NOT_MEASURED and full.check("blockiness").passed
    assert "seams" not in {c.name for c in full.checks}


def test_video_file_freeze(tmp_path: Path) -> None:
    frames = corpus.inject_freeze(corpus.render_landscape(4, 48, 512, 288, pan_px=2.0), 10, 24)
    path = tmp_path / "frozen.mp4"
    _encode(frames, path)
    result = check_video_file(path)
    frozen = result.check("frozen")
    assert frozen.status == FAILED and frozen.value == pytest.approx(1.0, abs=0.05)
    assert abs(frozen.worst_frames[0].index - 10) <= 1


@pytest.mark.parametrize("shape", [(36, 64, 3), (61, 97, 3), (288, 512, 4), (144, 256)])
def test_odd_frame_shapes_do_not_crash(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, shape, dtype=np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(10)]
    result = check_segment_frames(frames, 8, 10)
    assert result.check("frame_format").passed
    json.dumps(result.as_dict())  # serialisable (raises otherwise)


def test_float_frames_are_accepted() -> None:
    frames = [f.astype(np.float32) for f in _clip(8)]
    result = check_segment_frames(frames, 24, 8)
    assert result.passed, result.summary()


def test_unreadable_file_is_a_plain_error(tmp_path: Path) -> None:
    from productions.lib.ffmpeg import FFmpegError

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(FFmpegError, match="cannot open"):
        check_video_file(bad)
    with pytest.raises(FFmpegError, match="cannot open"):
        check_video_file(tmp_path / "missing.mp4")
