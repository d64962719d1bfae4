"""Post-generation in one pass: generated frames -> lossless native clip; native clips -> the delivery file.

The shape of Video2X 6 (decode once, process in memory, encode once):
- while a segment is generated, its frames stream through one ffmpeg process that writes the lossless native
  clip and the small review proxy (`SegmentClipWriter`): nothing at 1080p, nothing lossy kept for later;
- an AI upscaler that runs outside ffmpeg (Real-ESRGAN on torch) caches its frames losslessly at the native
  rate (`write_upscaled_clip`), so a rejected segment does not re-run the network on every other segment;
- the delivery file is made by ONE ffmpeg run from the native (or upscaled) clips (`render_episode_file`):
  per clip upscale + interpolate (+ drop a chained clip's duplicated first frame), join (concat for
  continuous joins and cuts, `xfade` for chosen dissolves and fades through black), encode; a second output
  of the same run streams the same edit at analysis size to the episode QA (each clip split from the picture
  where it is resized, so nothing at 1080p is scaled back down).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from .encoding import delivery_encode_args
from .ffmpeg import (
    FFmpegError,
    ffmpeg_command,
    forget_ffmpeg,
    frame_bytes,
    pipe_frames_to_ffmpeg,
    rawvideo_input_args,
    read_frames,
    run_ffmpeg,
    run_ffmpeg_with_frames,
    start_ffmpeg,
)
from .files import atomic_path
from .interpolation import BLEND_FILTER, MCI_FILTER, clip_method
from .planning import FADE, Join, timeline_frames
from .spec import DeliverySpec
from .upscale import Upscaler

T = TypeVar("T")

# Lossless RGB H.264: bit-exact like ffv1, but 3.6x less CPU and 30 % smaller on generated frames (measured).
NATIVE_CODEC_ARGS = ["-c:v", "libx264rgb", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "rgb24"]
# The review proxy: what the producer plays per segment. Half of 1080p, plays in any browser, cheap to make.
# A constant quantiser, not CRF: CRF has x264 estimate each frame's cost on a half-size copy to weigh it, a
# quarter of this ultrafast encode's CPU. On a default episode's 366 native frames QP 18 gives 47.3 dB PSNR in
# 5.2 MB where CRF 23 gave 48.1 dB in 6.2 MB, and the clip writer (native clip + proxy) went 4.04 -> 3.67 CPU s
# (median of 7, interleaved).
PROXY_WIDTH = 960
PROXY_CODEC_ARGS = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "18", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart"]


@dataclass(frozen=True)
class SegmentFiles:
    """The one place a segment's media layout is decided: every file lives in the segment's folder."""

    folder: Path

    @property
    def native(self) -> Path:  # the generated frames, lossless, at the clip's own rate
        return self.folder / "native.mkv"

    @property
    def proxy(self) -> Path:  # the review player: PROXY_WIDTH wide, lossy, at the clip's rate
        return self.folder / "proxy.mp4"

    @property
    def upscaled(self) -> Path:  # an outside-ffmpeg upscaler's frames at delivery size, lossless, native rate
        return self.folder / "upscaled.mkv"

    @property
    def last_frame(self) -> Path:  # where the next chained segment starts
        return self.folder / "last.png"

    @property
    def preview(self) -> Path:
        return self.folder / "preview.jpg"

    @property
    def keyframe(self) -> Path:  # the shot's own first frame, for segments that are not chained
        return self.folder / "keyframe.png"

    @property
    def closing_keyframe(self) -> Path:  # anchored models: the last frame of a segment before a new shot
        return self.folder / "closing.png"


def proxy_size(width: int, height: int) -> tuple[int, int]:
    w = min(PROXY_WIDTH, width - width % 2)
    return w, max(2, int(round(height * w / width / 2)) * 2)


class SegmentClipWriter:
    """One ffmpeg process fed the generated frames as they come; it writes the native clip and the proxy.

        with SegmentClipWriter(files, width, height, fps) as writer:
            for frame in frames: writer.write(frame)
            writer.commit()          # both files renamed into place; without it, nothing is left behind

    Memory: one frame at a time (the pipe's buffer), whatever the segment's length.
    """

    def __init__(self, files: SegmentFiles, width: int, height: int, fps: float) -> None:
        self.files = files
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self._stack = ExitStack()
        self._proc: subprocess.Popen | None = None
        self._err = None
        self._committed = False

    def __enter__(self) -> SegmentClipWriter:
        native_tmp = self._stack.enter_context(atomic_path(self.files.native))
        proxy_tmp = self._stack.enter_context(atomic_path(self.files.proxy))
        self._tmps = (native_tmp, proxy_tmp)
        pw, ph = proxy_size(self.width, self.height)
        # One thread per encoder: the two run side by side anyway, and x264's frame threads cost CPU on frames
        # this small (measured on a default episode's 366 native frames: 2.06 -> 1.85 CPU s, wall 1.2 -> 1.0 s).
        args = [
            *rawvideo_input_args(self.width, self.height, self.fps),
            "-filter_complex", f"[0:v]split=2[n][p];[p]scale={pw}:{ph}:flags=bilinear,setsar=1[px]",
            "-map", "[n]", "-an", *NATIVE_CODEC_ARGS, "-threads", "1", os.fspath(native_tmp),
            "-map", "[px]", "-an", *PROXY_CODEC_ARGS, "-threads", "1", os.fspath(proxy_tmp),
        ]
        self._err = self._stack.enter_context(tempfile.TemporaryFile())
        self._proc = start_ffmpeg(ffmpeg_command(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=self._err)
        return self

    def write(self, frame: np.ndarray) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(f"frame {self.frames} is {frame.shape}, the clip is {self.width}x{self.height} RGB")
        try:
            self._proc.stdin.write(frame_bytes(frame))
        except BrokenPipeError:
            self._fail("ffmpeg closed its input early")
        self.frames += 1

    def _fail(self, fallback: str) -> None:
        assert self._proc is not None and self._err is not None
        self._proc.kill()
        self._proc.wait()
        self._err.seek(0)
        raise FFmpegError(f"writing the clips of {self.files.folder.name}",
                          self._err.read().decode("utf-8", "replace") or fallback, self._proc.returncode)

    def commit(self) -> None:
        """Finish encoding; both files are renamed into place when the `with` block ends. Leaving the block
        without commit() (a try that failed QA and will be made again, or an error) leaves nothing behind."""
        assert self._proc is not None and self._proc.stdin is not None
        if not self.frames:
            raise ValueError("a segment needs at least one frame")
        with suppress(BrokenPipeError):
            self._proc.stdin.close()
        if self._proc.wait() != 0:
            self._fail("ffmpeg failed")
        self._committed = True

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc is not None and self._proc.stdin is not None and not self._proc.stdin.closed:
            with suppress(BrokenPipeError):
                self._proc.stdin.close()
        if self._proc is not None:
            forget_ffmpeg(self._proc)
        if exc_type is None and not self._committed:
            exc_type, exc = _Discarded, _Discarded()  # atomic_path removes what an exception passes through
        self._stack.__exit__(exc_type, exc, tb)
        return exc_type is _Discarded


class _Discarded(Exception):
    """Internal: a writer left without commit()."""


def aspect_crop(width: int, height: int, target_width: int, target_height: int) -> tuple[int, int, int, int] | None:
    """(w, h, x, y): the centred crop of a width x height frame to the target's aspect ratio, as an editor
    frames a picture for a wider or taller screen (never stretched); None when nothing is cut. The same
    rounding as the ffmpeg expression of `upscale_chain`. Wan 2.2's 1280x704 for 16:9: (1252, 704, 14, 0)."""
    w = min(width, int((height * target_width / target_height + 0.5) / 2) * 2)
    h = min(height, int((width * target_height / target_width + 0.5) / 2) * 2)
    if (w, h) == (width, height):
        return None
    return w, h, (width - w) // 2, (height - h) // 2


def upscale_chain(spec: DeliverySpec, upscale: str) -> str:
    """The ffmpeg filters from a clip, whatever its size, to the delivery size: a centred crop to the
    delivery's aspect at the clip's own size (a pass-through for a 16:9 clip; Wan 2.2's 1280x704 loses 14
    columns a side instead of being stretched 2.3 %), then the upscaler's own filter."""
    W, H = spec.width, spec.height
    crop = (f"crop=w='min(iw,trunc((ih*{W}/{H}+0.5)/2)*2)':h='min(ih,trunc((iw*{H}/{W}+0.5)/2)*2)'")
    return f"{crop},{upscale}"


def write_upscaled_clip(files: SegmentFiles, *, native_size: tuple[int, int], fps: float, spec: DeliverySpec,
                        upscaler: Upscaler) -> None:
    """Run an outside-ffmpeg upscaler over the native clip once, cropped to the delivery's aspect first; keep
    its frames losslessly (atomically)."""
    w, h = native_size
    frames = read_frames(files.native, w, h, what=f"decoding {files.native.name} for upscaling")
    crop = aspect_crop(w, h, spec.width, spec.height)
    if crop is not None:
        cw, ch, x, y = crop
        frames = (np.ascontiguousarray(f[y:y + ch, x:x + cw]) for f in frames)
    with atomic_path(files.upscaled) as tmp:
        pipe_frames_to_ffmpeg(
            upscaler.upscale(frames, spec.width, spec.height),
            [*rawvideo_input_args(spec.width, spec.height, fps), "-an", *NATIVE_CODEC_ARGS, os.fspath(tmp)],
            f"writing the upscaled clip {files.upscaled}",
        )


@dataclass(frozen=True)
class Clip:
    """One segment's input to the episode: its file, that file's rate, what to do to it, where it goes."""

    path: Path
    fps: float  # the file's frame rate
    interpolation: str  # the episode's method (clip_method() decides what this clip really needs)
    join: Join  # into this clip from the one before (ignored for the first)
    frames: int  # frames it puts on the timeline (planning.clip_frames, trimmed for the last clip)
    upscaled: bool = False  # already at delivery size (an outside-ffmpeg upscaler made it)


def _clip_steps(i: int, clip: Clip, spec: DeliverySpec, pix_fmt: str) -> tuple[list[str], list[str]]:
    """Input i's filters in two halves: those at the clip's own size, and those after the resize to the
    output size (the caller puts the resize between them), ending in `pix_fmt`."""
    method = clip_method(clip.interpolation, clip.fps, spec.fps)
    before = [f"setpts=N/({clip.fps:g}*TB)"]
    after = [f"format={pix_fmt}", "setsar=1"]
    drop_first = ["trim=start_frame=1", "setpts=PTS-STARTPTS"] if clip.join.chained and i else []
    if method in ("hold", "none"):
        before += drop_first
        if method == "hold":
            after += ["tpad=stop_mode=clone:stop=1", f"fps={spec.fps}"]
    else:
        interpolate = (MCI_FILTER if method == "mci" else BLEND_FILTER).format(fps=spec.fps)
        before += ["tpad=stop_mode=clone:stop=2", interpolate]
        after += drop_first
    after += [f"trim=end_frame={clip.frames}", f"settb=1/{spec.fps}", "setpts=N"]
    return before, after


def clip_filter(i: int, clip: Clip, spec: DeliverySpec, upscale: str | None) -> str:
    """The filter chain of input i -> [c{i}]: exactly `clip.frames` frames at the delivery size, rate and
    pixel format, with timestamps 0..frames-1 on a 1/fps timebase.

    hold / none: drop a chained clip's duplicated first frame, upscale at the native rate, then hold (the `fps`
    filter repeats each drawing; a cloned tail frame gives the last drawing its full hold).
    mci / blend: interpolate at the native size (a cloned tail frame gives the last in-betweens a frame to go
    to), upscale, then drop a chained clip's first frame (it is the previous clip's last).
    """
    before, after = _clip_steps(i, clip, spec, spec.pix_fmt)
    return f"[{i}:v]" + ",".join(before + _resize(clip, upscale) + after) + f"[c{i}]"


def _resize(clip: Clip, upscale: str | None) -> list[str]:
    return [] if clip.upscaled or not upscale else [upscale]


# A fade through black as an editor means it: the outgoing shot fades down to black over the first half of the
# join, then the incoming one up from black; the two pictures are never on screen together. (ffmpeg's own
# `fadeblack` cross-dissolves them through a darkened middle: both show, dimmed, at mid-point.) xfade's P runs
# from 1 to 0 across the transition; black is 16 in luma and 128 in chroma (limited-range YUV).
_BLACK = "if(eq(PLANE,0),16,128)"
DIP_TO_BLACK = f"if(gt(P,0.5),{_BLACK}+(A-{_BLACK})*(2*P-1),{_BLACK}+(B-{_BLACK})*(1-2*P))"
# The analysis picture's format until it leaves as RGB: YUV like the delivery's, so the same transition
# expressions apply, but 4:4:4 at the analysis size, as the delivery frames scaled down would be.
ANALYSIS_PIX_FMT = "yuv444p"


def _joins(clips: Sequence[Clip], spec: DeliverySpec, prefix: str, out: str) -> list[str]:
    """The joins of the clips' chains [{prefix}c0].. into one [out]."""
    parts: list[str] = []
    previous, elapsed = f"{prefix}c0", clips[0].frames
    for i in range(1, len(clips)):
        join = clips[i].join
        label = out if i == len(clips) - 1 else f"{prefix}j{i}"
        if join.overlap:
            transition = f"custom:expr='{DIP_TO_BLACK}'" if join.kind == FADE else "fade"
            offset = (elapsed - join.overlap) / spec.fps
            parts.append(f"[{previous}][{prefix}c{i}]xfade=transition={transition}"
                         f":duration={join.overlap / spec.fps:.6f}:offset={offset:.6f},settb=1/{spec.fps},setpts=N"
                         f"[{label}]")
            elapsed += clips[i].frames - join.overlap
        else:
            parts.append(f"[{previous}][{prefix}c{i}]concat=n=2:v=1:a=0,settb=1/{spec.fps},setpts=N[{label}]")
            elapsed += clips[i].frames
        previous = label
    if len(clips) == 1:
        parts.append(f"[{prefix}c0]null[{out}]")
    return parts


def episode_graph(clips: Sequence[Clip], spec: DeliverySpec, upscale: str | None, out: str = "out",
                  analysis_size: tuple[int, int] | None = None) -> str:
    """The filtergraph of the whole episode; output label [`out`].

    With `analysis_size`, a second output [qa] (RGB at that size) carries the same edit for QA: every clip is
    split where it is resized, after its interpolation, and its analysis branch goes through the same holds,
    trims and joins at the small size. QA sees every frame of the edit (its holds, in-betweens, dissolves and
    fades) without the run scaling 1080p frames back down (that cost 4-9 % of the encode's CPU)."""
    if analysis_size is None:
        parts = [clip_filter(i, clip, spec, upscale) for i, clip in enumerate(clips)]
        return ";".join(parts + _joins(clips, spec, "", out))
    w, h = analysis_size
    shrink = upscale_chain(spec, f"scale={w}:{h}:flags=area")
    parts = []
    for i, clip in enumerate(clips):
        before, after = _clip_steps(i, clip, spec, spec.pix_fmt)
        _, small = _clip_steps(i, clip, spec, ANALYSIS_PIX_FMT)
        parts += [f"[{i}:v]" + ",".join(before) + f",split=2[v{i}][a{i}]",
                  f"[v{i}]" + ",".join(_resize(clip, upscale) + after) + f"[c{i}]",
                  f"[a{i}]" + ",".join([shrink, *small]) + f"[ac{i}]"]
    parts += _joins(clips, spec, "", out) + _joins(clips, spec, "a", "analysis")
    return ";".join([*parts, "[analysis]format=rgb24[qa]"])


def render_episode_file(
    clips: Sequence[Clip],
    *,
    spec: DeliverySpec,
    upscale: str | None,
    out_path: Path,
    preset: str | None = None,
    analyse: Callable[[Iterator[np.ndarray]], T] | None = None,
    analysis_size: tuple[int, int] = (256, 144),
) -> tuple[int, T | None]:
    """Make the delivery file from the clips in one ffmpeg run, atomically: decode each clip once, upscale
    (`upscale` is the ffmpeg filter, None when the clips are already at delivery size), interpolate, join,
    encode. With `analyse`, the same run streams the edit's frames at `analysis_size` (see `episode_graph`) to
    that callable while it encodes. Returns (frame count, what `analyse` returned)."""
    if not clips:
        raise ValueError("an episode needs at least one clip")
    total = timeline_frames([c.frames for c in clips], [c.join for c in clips])
    # The filters run in one thread: the encoder sets the pace and takes every core, and slicing the resizes
    # across threads beside it only adds CPU (a default episode's stitch: 18.0 -> 17.7 CPU s, median of 4
    # runs, the same wall time). So does each decoder: it has its own thread beside the encoder anyway, and
    # frame threads only add CPU (a default episode's six clips through the graph to null: 1.76 -> 1.67 CPU s,
    # median of 4).
    inputs = ["-filter_complex_threads", "1"]
    for clip in clips:
        inputs += ["-threads", "1", "-i", os.fspath(clip.path)]
    what = f"making {out_path.name} from {len(clips)} clips"
    with atomic_path(out_path) as tmp:
        encode = ["-frames:v", str(total), *delivery_encode_args(spec, preset), os.fspath(tmp)]
        if analyse is None:
            graph = episode_graph(clips, spec, upscale)
            run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[out]", *encode], what)
            return total, None
        w, h = analysis_size
        graph = episode_graph(clips, spec, upscale, analysis_size=analysis_size)
        result = run_ffmpeg_with_frames(
            [*inputs, "-filter_complex", graph, "-map", "[out]", *encode,
             "-map", "[qa]", "-frames:v", str(total), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
            w, h, analyse, what,
        )
    return total, result

