"""The package's segment clips (productions.lib.package.write_segment_clip): delivery size and rate, exactly the
frames the segment puts on the timeline, from a native clip (upscaled here by Lanczos) or from an AI upscaler's
cached clip (already at delivery size); a chained segment loses its repeated first frame."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from productions.lib.ffmpeg import read_frames
from productions.lib.package import PackageSegment, write_segment_clip
from productions.lib.planning import Join, clip_frames
from productions.lib.post import NATIVE_CODEC_ARGS, upscale_chain
from productions.lib.spec import DeliverySpec

SPEC = DeliverySpec(width=320, height=180, fps=24, min_bitrate_bps=200_000)


def numbered_clip(path: Path, width: int, height: int, frames: int, fps: int) -> Path:
    """A lossless clip whose frame i is flat grey 10 * i (so each output frame says which input it shows)."""
    data = b"".join(bytes([10 * i]) * (width * height * 3) for i in range(frames))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                    "-r", str(fps), "-i", "pipe:0", *NATIVE_CODEC_ARGS, str(path)], input=data, check=True)
    return path


def shown(path: Path) -> list[int]:
    """Which input frame each output frame shows (its grey level / 10)."""
    return [int(round(float(np.mean(f)) / 10)) for f in read_frames(path, SPEC.width, SPEC.height)]


@pytest.mark.parametrize("upscaled", [False, True])
def test_a_chained_segment_clip_is_its_delivered_frames(tmp_path, upscaled):
    native_fps, native_frames = 12, 9
    size = (SPEC.width, SPEC.height) if upscaled else (160, 90)
    source = numbered_clip(tmp_path / "source.mkv", *size, native_frames, native_fps)
    frames = clip_frames(native_frames, native_fps, SPEC.fps, "hold", chained=True)  # 16
    segment = PackageSegment(index=2, join=Join("continuous"), frames=frames, source=source,
                             source_fps=native_fps, upscaled=upscaled, native=source)
    upscale = upscale_chain(SPEC, f"scale={SPEC.width}:{SPEC.height}:flags=lanczos")
    out = tmp_path / "clip.mp4"
    write_segment_clip(segment, SPEC, "hold", None if upscaled else upscale, out)
    # Native frame 0 is the previous segment's last: dropped; each drawing is then held for two frames.
    assert shown(out) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]
    assert len(shown(out)) == frames


def test_the_first_segment_keeps_its_first_frame(tmp_path):
    source = numbered_clip(tmp_path / "source.mkv", SPEC.width, SPEC.height, 5, 24)
    segment = PackageSegment(index=0, join=Join("cut"), frames=4, source=source, source_fps=24, upscaled=True,
                             native=source)
    write_segment_clip(segment, SPEC, "none", None, tmp_path / "clip.mp4")
    assert shown(tmp_path / "clip.mp4") == [0, 1, 2, 3]  # the last trimmed to the frames it shows
