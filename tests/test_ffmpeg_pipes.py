"""Frames reach ffmpeg through widened pipes and without a copy of each frame."""

import fcntl
import subprocess

import numpy as np
import pytest

from productions.lib.ffmpeg import (
    _pipe_size,
    ffmpeg_command,
    forget_ffmpeg,
    frame_bytes,
    pipe_frames_to_ffmpeg,
    rawvideo_input_args,
    read_frames,
    start_ffmpeg,
)

F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", None)


@pytest.mark.skipif(F_GETPIPE_SZ is None, reason="pipe sizes are a Linux feature")
def test_ffmpeg_frame_pipes_are_widened():
    with open("/proc/sys/fs/pipe-max-size") as f:
        expected = min(1 << 20, int(f.read()))
    assert _pipe_size() == expected
    proc = start_ffmpeg(ffmpeg_command(["-f", "rawvideo", "-s", "2x2", "-pix_fmt", "rgb24", "-i", "pipe:0",
                                        "-f", "rawvideo", "pipe:1"]),
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert fcntl.fcntl(proc.stdin.fileno(), F_GETPIPE_SZ) == expected
        assert fcntl.fcntl(proc.stdout.fileno(), F_GETPIPE_SZ) == expected
        out, _ = proc.communicate(bytes(range(12)))
    finally:
        forget_ffmpeg(proc)
    assert proc.returncode == 0 and out == bytes(range(12))


def test_frame_bytes_shares_a_contiguous_frame_and_copies_only_a_view():
    frame = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    view = frame_bytes(frame)
    assert np.shares_memory(np.frombuffer(view, dtype=np.uint8), frame)  # no copy
    assert view.tobytes() == frame.tobytes()
    crop = frame[:, 1:5]  # not contiguous: copied once, bytes in order
    assert frame_bytes(crop).tobytes() == np.ascontiguousarray(crop).tobytes()
    assert frame_bytes(frame.astype(np.float32)).tobytes() == frame.tobytes()  # cast to uint8


def test_frames_round_trip_through_the_pipes_bit_exact(tmp_path):
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, (96, 160, 3), dtype=np.uint8) for _ in range(5)]
    out = tmp_path / "clip.mkv"
    pipe_frames_to_ffmpeg((f[:, ::-1] for f in frames),  # views that are not contiguous
                          [*rawvideo_input_args(160, 96, 8), "-c:v", "libx264rgb", "-qp", "0", str(out)], "test")
    back = list(read_frames(out, 160, 96))
    assert len(back) == 5
    assert all(np.array_equal(b, f[:, ::-1]) for b, f in zip(back, frames, strict=True))
