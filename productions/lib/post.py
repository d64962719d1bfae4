"""Post-generation: native clip -> 1080p24 segment master; masters -> crossfaded, delivery-encoded episode.

Frames flow through memory and pipes: the generated frames are piped once into one ffmpeg process that
writes both the lossless native clip and the upscaled, interpolated master (or, for AI upscalers that run
outside ffmpeg, the upscaler streams frames into the master encoder). The episode is made by one ffmpeg run
that decodes every master, crossfades them with `xfade` and encodes to the delivery spec.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from .encoding import delivery_encode_args, master_encode_args
from .ffmpeg import pipe_frames_to_ffmpeg, rawvideo_input_args, run_ffmpeg, run_ffmpeg_with_frames
from .files import atomic_path
from .planning import crossfaded_frames
from .spec import DeliverySpec
from .upscale import Upscaler

T = TypeVar("T")

INTERPOLATIONS = {
    # Linear blend between neighbouring native frames: fast (hundreds of fps at 1080p on 2 cores).
    "blend": "framerate=fps={fps}",
    # Motion-compensated interpolation: better motion, ~3 fps at 1080p on 2 cores.
    "mci": "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir",
}
# Lossless RGB H.264: bit-exact like ffv1, but 3.6x less CPU and 30 % smaller on generated frames (measured).
NATIVE_CODEC_ARGS = ["-an", "-c:v", "libx264rgb", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "rgb24"]


@dataclass(frozen=True)
class SegmentFiles:
    native: Path  # the generated frames, lossless, at the native rate (for re-upscaling and QA)
    master: Path  # upscaled to delivery size, interpolated to the delivery rate; what the episode is cut from


def interpolation_filter(method: str, fps: int) -> str:
    try:
        return INTERPOLATIONS[method].format(fps=fps)
    except KeyError:
        raise ValueError(f"unknown interpolation {method!r}; use one of {sorted(INTERPOLATIONS)}") from None


def master_filter(upscale: str | None, spec: DeliverySpec, interpolation: str) -> str:
    """Upscale (when ffmpeg does it), go to the delivery pixel format, pad the tail so interpolation has a
    frame after the last one, then interpolate to the delivery rate (constant frame rate).

    Converting to yuv420p before interpolating halves the bytes every blended frame costs.
    """
    steps = [upscale] if upscale else []
    steps += [
        "format=" + spec.pix_fmt,
        "setsar=1",
        "tpad=stop_mode=clone:stop=2",
        interpolation_filter(interpolation, spec.fps),
        f"fps={spec.fps}",
    ]
    return ",".join(steps)


def write_segment_files(
    frames: Sequence[np.ndarray],
    *,
    native_fps: int,
    delivered_frames: int,
    spec: DeliverySpec,
    upscaler: Upscaler,
    files: SegmentFiles,
    interpolation: str = "blend",
) -> None:
    """Write the native clip and the delivery-size master for one segment, each atomically."""
    if not frames:
        raise ValueError("a segment needs at least one frame")
    height, width = frames[0].shape[:2]
    upscale = upscaler.ffmpeg_filter(spec.width, spec.height)
    master_out = ["-frames:v", str(delivered_frames), *master_encode_args(spec)]
    with atomic_path(files.native) as native_tmp, atomic_path(files.master) as master_tmp:
        if upscale:
            # One decode-free pass: the same piped frames feed both outputs.
            args = [
                *rawvideo_input_args(width, height, native_fps),
                "-filter_complex",
                f"[0:v]split=2[native][up];[up]{master_filter(upscale, spec, interpolation)}[master]",
                "-map", "[native]", *NATIVE_CODEC_ARGS, os.fspath(native_tmp),
                "-map", "[master]", *master_out, os.fspath(master_tmp),
            ]
            pipe_frames_to_ffmpeg(frames, args, f"writing segment files {files.master.name}")
        else:
            pipe_frames_to_ffmpeg(
                frames,
                [*rawvideo_input_args(width, height, native_fps), *NATIVE_CODEC_ARGS, os.fspath(native_tmp)],
                f"writing native clip {files.native.name}",
            )
            args = [
                *rawvideo_input_args(spec.width, spec.height, native_fps),
                "-vf", master_filter(None, spec, interpolation),
                *master_out, os.fspath(master_tmp),
            ]
            pipe_frames_to_ffmpeg(
                upscaler.upscale(frames, spec.width, spec.height), args,
                f"writing segment master {files.master.name}",
            )


def crossfade_graph(frame_counts: Sequence[int], crossfade_frames: int, fps: int) -> str:
    """An ffmpeg filtergraph chaining `xfade` over inputs 0..n-1; output label [out].

    Timestamps are put on a 1/fps timebase first, so every offset is a whole number of frames and the output
    has exactly sum(frames) - (n-1) * crossfade_frames frames.
    """
    n = len(frame_counts)
    parts = [f"[{i}:v]settb=1/{fps},setpts=N,setsar=1[s{i}]" for i in range(n)]
    if n == 1:
        parts.append("[s0]null[out]")
        return ";".join(parts)
    duration = crossfade_frames / fps
    previous = "s0"
    elapsed = frame_counts[0]
    for i in range(1, n):
        offset = (elapsed - crossfade_frames) / fps
        label = "out" if i == n - 1 else f"x{i}"
        parts.append(
            f"[{previous}][s{i}]xfade=transition=fade:duration={duration:.6f}:offset={offset:.6f}[{label}]"
        )
        previous = label
        elapsed += frame_counts[i] - crossfade_frames
    return ";".join(parts)


def stitch_episode(
    masters: Sequence[Path],
    frame_counts: Sequence[int],
    *,
    crossfade_frames: int,
    spec: DeliverySpec,
    out_path: Path,
    preset: str | None = None,
    analyse: Callable[[Iterator[np.ndarray]], T] | None = None,
    analysis_size: tuple[int, int] = (256, 144),
) -> tuple[int, T | None]:
    """Crossfade the masters and encode once to the delivery spec, atomically.

    With `analyse`, the same ffmpeg run also streams the finished frames, scaled to `analysis_size`, to that
    callable while it encodes (episode QA without decoding the file again). Returns (frame count, its result).
    """
    total = crossfaded_frames(frame_counts, crossfade_frames)
    inputs: list[str] = []
    for master in masters:
        inputs += ["-i", os.fspath(master)]
    graph = crossfade_graph(frame_counts, crossfade_frames, spec.fps)
    what = f"stitching and encoding {out_path.name}"
    with atomic_path(out_path) as tmp:
        encode = ["-frames:v", str(total), *delivery_encode_args(spec, preset), os.fspath(tmp)]
        if analyse is None:
            run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[out]", *encode], what)
            return total, None
        w, h = analysis_size
        graph += f";[out]split=2[enc][ana];[ana]scale={w}:{h}:flags=area,format=rgb24[qa]"
        result = run_ffmpeg_with_frames(
            [*inputs, "-filter_complex", graph, "-map", "[enc]", *encode,
             "-map", "[qa]", "-frames:v", str(total), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
            w, h, analyse, what,
        )
    return total, result
