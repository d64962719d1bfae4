"""Entry points: QA of frames already in memory, and of a video file (decoded once at the analysis size)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

import numpy as np

from ..ffmpeg import FFmpegError, read_frames
from .analysis import ANALYSIS_WIDTH, Features, FrameAnalyzer, analysis_size
from .checks import (
    check_black_frames,
    check_blockiness,
    check_blur,
    check_flicker,
    check_fps,
    check_frame_count,
    check_frame_format,
    check_frozen,
    check_ghosting,
    check_grid,
    check_seams,
)
from .prompt import check_prompt_compliance, clip_unavailable_reason
from .results import NOT_MEASURED, CheckResult, QAResult

# Checks that need pixels at the clip's own resolution (codec block grids and fine detail vanish at 256 px).
FULL_RESOLUTION_CHECKS = ("blockiness", "blur")


def _transitions(transitions: Sequence[tuple[int, int]] | None) -> list[tuple[int, int]]:
    """Declared transitions as sorted [start, end) frame ranges; ValueError for a malformed one."""
    out = []
    for item in transitions or ():
        try:
            start, end = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ValueError(f"a transition is a (start, end) pair of frame numbers, not {item!r}") from None
        if start < 0 or end <= start:
            raise ValueError(f"a transition needs 0 <= start < end (frames), got {start}-{end}")
        out.append((start, end))
    return sorted(out)


def _run_checks(analyzer: FrameAnalyzer, *, fps: float | None, expected_frames: int | None,
                expected_fps: float | None, boundaries: Sequence[float] | None, prompt: str | None,
                prompt_frames: list[np.ndarray], thumbnails: bool, full_resolution: bool,
                not_measured_reason: str, transitions: Sequence[tuple[int, int]] = (),
                clip_model_dir: str | None = None) -> tuple[list[CheckResult], Features]:
    f = analyzer.finish()
    checks = [check_frame_format(f), check_frame_count(f.n, expected_frames), check_fps(fps, expected_fps)]
    if f.n:
        checks += [
            check_black_frames(f, thumbnails, transitions),
            check_frozen(f, thumbnails),
            check_flicker(f, thumbnails, transitions),
            check_grid(f, thumbnails),
            check_ghosting(f, thumbnails, transitions, boundaries or ()),
        ]
        if full_resolution:
            checks += [check_blockiness(f, thumbnails), check_blur(f, thumbnails, transitions, boundaries or ())]
        else:
            for name in FULL_RESOLUTION_CHECKS:
                checks.append(CheckResult(name, True, name == "blockiness", None, None, "", "",
                                          f"not measured: {not_measured_reason}", status=NOT_MEASURED))
        if boundaries:
            checks.append(check_seams(f, boundaries, thumbnails))
    if prompt is not None:
        checks.append(check_prompt_compliance(prompt_frames, prompt, model_dir=clip_model_dir))
    return checks, f


def check_frames(
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    expected_frames: int | None = None,
    expected_fps: float | None = None,
    boundaries: Sequence[float] | None = None,
    prompt: str | None = None,
    thumbnails: bool = True,
    analysis_width: int = ANALYSIS_WIDTH,
    transitions: Sequence[tuple[int, int]] = (),
    clip_model_dir: str | None = None,
) -> QAResult:
    """Run every check on frames (H x W x 3 uint8 RGB) held in memory; each frame is looked at once.

    boundaries: times (s) where segments meet continuously, for the seam check; transitions: [start, end) frame
    ranges where the producer chose a dissolve or a fade through black (left out of the ghosting, black-frame,
    flicker and blur checks, with a frame either side); prompt: for the CLIP check (not measured unless
    `clip_model_dir` names local CLIP weights; the app passes TOWER_CLIP_MODEL_DIR). Thumbnails (small JPEGs)
    are attached to the worst frames of failed checks.
    """
    t0 = time.perf_counter()
    transitions = _transitions(transitions)
    analyzer = FrameAnalyzer(fps, analysis_width=analysis_width, detail=True, boundaries_s=boundaries or ())
    keep = prompt is not None and clip_unavailable_reason(clip_model_dir) is None
    kept: list[np.ndarray] = []
    for frame in frames:
        analyzer.add(frame)
        if keep:
            kept.append(np.asarray(frame))
    checks, f = _run_checks(analyzer, fps=fps, expected_frames=expected_frames, expected_fps=expected_fps,
                            boundaries=boundaries, prompt=prompt, prompt_frames=kept, thumbnails=thumbnails,
                            full_resolution=True, not_measured_reason="", transitions=transitions,
                            clip_model_dir=clip_model_dir)
    return QAResult(checks, f.n, fps, f.width or None, f.height or None, f.analysis if f.n else None,
                    time.perf_counter() - t0, "frames")


def check_segment_frames(
    frames: Iterable[np.ndarray],
    fps: float,
    expected_frames: int | None = None,
    *,
    expected_fps: float | None = None,
    prompt: str | None = None,
    thumbnails: bool = True,
    clip_model_dir: str | None = None,
) -> QAResult:
    """QA of one generated segment (frames in memory, e.g. as the backend returned them)."""
    return check_frames(frames, fps, expected_frames=expected_frames, expected_fps=expected_fps, prompt=prompt,
                        thumbnails=thumbnails, clip_model_dir=clip_model_dir)


def check_episode_frames(
    frames: Iterable[np.ndarray],
    fps: float,
    boundaries: Sequence[float] | None,
    *,
    expected_frames: int | None = None,
    thumbnails: bool = True,
    transitions: Sequence[tuple[int, int]] = (),
) -> QAResult:
    """QA of a joined episode in memory, with the seam check at `boundaries` (seconds: the continuous joins)
    and the chosen dissolves/fades at `transitions` ([start, end) frames) left out of the checks they trip."""
    return check_frames(frames, fps, expected_frames=expected_frames, boundaries=boundaries,
                        thumbnails=thumbnails, transitions=transitions)


def _probe_video(path: str | os.PathLike) -> dict:
    """Width, height, fps, frame count and duration of the first video stream (PyAV; no ffprobe here)."""
    import av

    try:
        container = av.open(os.fspath(path))
    except Exception as exc:  # PyAV raises its own FileNotFoundError/InvalidDataError subclasses
        raise FFmpegError(f"cannot open {os.fspath(path)} for QA: {exc}") from exc
    with container:
        if not container.streams.video:
            raise FFmpegError(f"{os.fspath(path)} has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        return {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": fps,
            "frames": int(stream.frames or 0) or None,
            "duration_s": duration,
            "codec": stream.codec_context.name,
        }


def check_video_file(
    path: str | os.PathLike,
    boundaries: list[float] | None = None,
    *,
    expected_frames: int | None = None,
    expected_fps: float | None = None,
    full_resolution: bool = False,
    thumbnails: bool = True,
    analysis_width: int = ANALYSIS_WIDTH,
    transitions: Sequence[tuple[int, int]] = (),
) -> QAResult:
    """QA of a video file (a segment master or an episode): decoded once by ffmpeg.

    `boundaries` (seconds) and `transitions` ([start, end) frames) as for check_frames.
    By default ffmpeg scales to the analysis size while decoding (cheap), and blockiness/blur are reported as
    not measured: they need full-resolution pixels, which the per-segment QA on generated frames has.
    `full_resolution=True` decodes at the file's own size and measures them too (several times slower).
    When `expected_frames` is None the frame count is checked against duration x fps (+-1 frame).
    """
    t0 = time.perf_counter()
    transitions = _transitions(transitions)
    info = _probe_video(path)
    width, height, fps = info["width"], info["height"], info["fps"]
    analyzer = FrameAnalyzer(fps or 24.0, analysis_width=analysis_width, detail=full_resolution,
                             boundaries_s=boundaries or ())
    aw, ah = analysis_size(width, height, analysis_width)
    if full_resolution:
        for frame in read_frames(path, width, height, what=f"decoding {os.fspath(path)} for QA"):
            analyzer.add(frame)
    else:
        # Area averaging, as for frames in memory; read_frames' own scale to the same size is then a no-op.
        vf = f"scale={aw}:{ah}:flags=area"
        for small in read_frames(path, aw, ah, vf=vf, what=f"decoding {os.fspath(path)} for QA"):
            analyzer.add_analysis_frame(small, (width, height))
    n_hint = expected_frames
    if n_hint is None and info["duration_s"] and fps:
        n_hint = int(round(info["duration_s"] * fps))
    checks, f = _run_checks(
        analyzer, fps=fps, expected_frames=None, expected_fps=expected_fps, boundaries=boundaries, prompt=None,
        prompt_frames=[], thumbnails=thumbnails, full_resolution=full_resolution,
        not_measured_reason="file QA decodes at the analysis size (use full_resolution=True)",
        transitions=transitions,
    )
    checks = [_file_frame_count(f.n, expected_frames, n_hint) if c.name == "frame_count" else c for c in checks]
    return QAResult(checks, f.n, fps, width, height, (aw, ah), time.perf_counter() - t0, os.fspath(path),
                    info={"probe": info})


def _file_frame_count(n: int, expected: int | None, from_duration: int | None) -> CheckResult:
    if expected is not None:
        return check_frame_count(n, expected)
    if from_duration is None:
        return check_frame_count(n, None)
    ok = abs(n - from_duration) <= 1 and n >= 2
    msg = f"{n} frames decoded, {from_duration} expected from the stream's duration x fps"
    return CheckResult("frame_count", ok, True, float(n), float(from_duration), "==", "frames", msg,
                       details={"expected_from": "duration x fps", "tolerance": 1})
