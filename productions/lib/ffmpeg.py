"""Finding and running ffmpeg, with failures turned into plain-worded errors.

The binary is `TOWER_FFMPEG` when set, else the one the `imageio-ffmpeg` wheel ships (ffmpeg 9 with libx264),
so a fresh machine needs no system package. Frames go in and out through pipes as raw RGB24.

Every ffmpeg is started through `start_ffmpeg`: in a process group of its own, so a Ctrl-C at the terminal
(which signals the whole foreground group) never reaches it, and registered, so the process that started it
can stop its renders at a time of its own choosing (`stop_ffmpeg_children`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from functools import cache
from typing import BinaryIO, TypeVar

import numpy as np

T = TypeVar("T")

_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


def start_ffmpeg(cmd: Sequence[str], **popen_kwargs) -> subprocess.Popen:
    """Popen for an ffmpeg command: its own process group (the terminal's SIGINT is for Tower, which decides
    how its renders stop), remembered until `forget_ffmpeg` so `stop_ffmpeg_children` can end it. The frame
    pipes (stdin, stdout) are widened (`widen_pipe`)."""
    proc = subprocess.Popen(list(cmd), process_group=0, **popen_kwargs)
    with _children_lock:
        _children.add(proc)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            widen_pipe(pipe)
    return proc


@cache
def _pipe_size() -> int:
    """1 MiB, or the system's cap on a pipe's size (`/proc/sys/fs/pipe-max-size`) when lower."""
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            return min(1 << 20, int(f.read()))
    except (OSError, ValueError):
        return 1 << 20


def widen_pipe(pipe: BinaryIO) -> None:
    """Give a pipe to or from ffmpeg a 1 MiB buffer where the system allows (Linux; 64 KiB by default).

    A raw frame is 1-6 MB: through 64 KiB it takes 30-100 hand-overs between writer and reader, each a wake-up
    on both sides. Measured on a segment's 366 frames at 1024x576 into the clip writer: 5.4 -> 5.2 CPU s
    (median of 5). Elsewhere, or when refused, the pipe keeps its size."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is not None:
        with suppress(OSError, ValueError):
            fcntl.fcntl(pipe.fileno(), setsize, _pipe_size())


def forget_ffmpeg(proc: subprocess.Popen) -> None:
    with _children_lock:
        _children.discard(proc)


def stop_ffmpeg_children() -> int:
    """Kill every ffmpeg this process started that is still running (a worker that is stopping). The code
    waiting on each one then sees it fail. Returns how many were killed."""
    with _children_lock:
        running = [proc for proc in _children if proc.poll() is None]
    for proc in running:
        proc.kill()  # Popen.kill is a no-op for a process already reaped
    return len(running)


class FFmpegError(RuntimeError):
    """ffmpeg failed. `str()` is a plain sentence with the tail of ffmpeg's own message."""

    def __init__(self, what: str, stderr: str = "", returncode: int | None = None):
        self.what = what
        self.stderr = stderr
        self.returncode = returncode
        self.cause = ffmpeg_cause(stderr)  # a known cause in plain words, "" when ffmpeg's log must speak
        super().__init__(f"{what}: {explain_ffmpeg_failure(stderr)}" if stderr else what)


def ffmpeg_cause(stderr: str) -> str:
    """A common cause of an ffmpeg failure in plain words; "" when the log names none that we know."""
    lowered = stderr.lower()
    if "no space left on device" in lowered:
        return "the disk is full (No space left on device); free space and resume the render"
    if "permission denied" in lowered:
        return "permission denied writing the output; check the data folder's permissions"
    return ""


def explain_ffmpeg_failure(stderr: str) -> str:
    """The useful part of ffmpeg's stderr, with the common causes said in plain words."""
    cause = ffmpeg_cause(stderr)
    if cause:
        return cause
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:]) if lines else "ffmpeg exited with an error"


_configured_binary = ""


def use_ffmpeg(binary: str | None) -> None:
    """Which ffmpeg the media core runs: a path or a name on PATH (the settings pass TOWER_FFMPEG when the app
    starts); blank for imageio-ffmpeg's."""
    global _configured_binary
    _configured_binary = binary or ""
    ffmpeg_binary.cache_clear()


@cache
def ffmpeg_binary() -> str:
    configured = _configured_binary
    if configured:
        path = shutil.which(configured) or configured
        if not os.path.exists(path):
            raise FFmpegError(f"TOWER_FFMPEG points to {configured!r}, which does not exist")
        return path
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - imageio-ffmpeg is a declared dependency
        found = shutil.which("ffmpeg")
        if not found:
            raise FFmpegError("no ffmpeg found: install imageio-ffmpeg or set TOWER_FFMPEG") from None
        return found
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_command(args: Sequence[str]) -> list[str]:
    """The ffmpeg command line for `args`: no banner, no reading of the terminal, outputs overwritten."""
    return [ffmpeg_binary(), "-hide_banner", "-nostdin", "-y", *args]


def _rgb_frames(stream: BinaryIO, width: int, height: int) -> Iterator[np.ndarray]:
    """Read-only H x W x 3 uint8 frames from a stream of rawvideo rgb24, until it ends (a partial frame is
    dropped)."""
    frame_size = width * height * 3
    while len(buf := stream.read(frame_size)) == frame_size:
        yield np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)


def run_ffmpeg(args: Sequence[str], what: str, *, input_bytes: bytes | None = None) -> str:
    """Run ffmpeg to completion; return stderr (it carries filter logs); raise FFmpegError on failure."""
    cmd = ffmpeg_command(args)
    try:
        proc = start_ffmpeg(cmd, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise FFmpegError(what, str(exc)) from exc
    try:
        _, err = proc.communicate(input_bytes)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        forget_ffmpeg(proc)
    stderr = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise FFmpegError(what, stderr, proc.returncode)
    return stderr


def frame_bytes(frame: np.ndarray) -> memoryview:
    """A frame's pixels as bytes for a pipe, without a copy when it is already contiguous uint8."""
    return memoryview(np.ascontiguousarray(frame, dtype=np.uint8)).cast("B")


def rawvideo_input_args(width: int, height: int, fps: float) -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0"]


def pipe_frames_to_ffmpeg(frames: Iterable[np.ndarray], args: Sequence[str], what: str) -> str:
    """Start ffmpeg with `args` (which read rawvideo from pipe:0), write every frame, wait, check.

    stderr goes to a temporary file rather than a pipe so a chatty ffmpeg can never block the writer.
    """
    import tempfile

    cmd = ffmpeg_command(args)
    with tempfile.TemporaryFile() as err:
        proc = start_ffmpeg(cmd, stdin=subprocess.PIPE, stderr=err, stdout=subprocess.DEVNULL)
        assert proc.stdin is not None
        broken = False
        try:
            for frame in frames:
                proc.stdin.write(frame_bytes(frame))
        except BrokenPipeError:
            broken = True
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                broken = True
            returncode = proc.wait()
            forget_ffmpeg(proc)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if returncode != 0 or broken:
        raise FFmpegError(what, stderr or "ffmpeg closed its input early", returncode)
    return stderr


def run_ffmpeg_with_frames(
    args: Sequence[str], width: int, height: int, consumer: Callable[[Iterator[np.ndarray]], T], what: str
) -> T:
    """Run ffmpeg whose `args` also write rawvideo rgb24 frames of width x height to pipe:1, and hand those
    frames to `consumer` as they come (it runs while ffmpeg does). Returns what the consumer returns.

    Memory stays at one frame whatever the length; stderr goes to a file so ffmpeg can never block on it.
    """
    import tempfile

    cmd = ffmpeg_command(args)
    with tempfile.TemporaryFile() as err:
        proc = start_ffmpeg(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            result = consumer(_rgb_frames(proc.stdout, width, height))
            while proc.stdout.read(1 << 20):  # the consumer may stop early: let ffmpeg finish its other outputs
                pass
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
            returncode = proc.wait()
            forget_ffmpeg(proc)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if returncode != 0:
        raise FFmpegError(what, stderr, returncode)
    return result


def read_frames(
    path: str | os.PathLike, width: int, height: int, *, vf: str | None = None, what: str = "decoding video"
) -> Iterator[np.ndarray]:
    """Decode a video to RGB24 frames of width x height (after the optional filter `vf`), one at a time."""
    filters = [vf] if vf else []
    filters.append(f"scale={width}:{height}")
    cmd = [
        ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", os.fspath(path),
        "-vf", ",".join(filters), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]
    proc = start_ffmpeg(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        yield from _rgb_frames(proc.stdout, width, height)
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        returncode = proc.wait()
        forget_ffmpeg(proc)
    if returncode != 0:
        raise FFmpegError(what, stderr, returncode)
