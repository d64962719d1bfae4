"""A model whose native aspect is not the delivery's (Wan 2.2: 1280x704, 1.82:1, for 16:9) is cropped, not
stretched: a round subject stays round in the delivered frame."""

import numpy as np

from productions.lib.ffmpeg import read_frames, run_ffmpeg
from productions.lib.planning import Join
from productions.lib.post import Clip, aspect_crop, render_episode_file, upscale_chain
from productions.lib.spec import DeliverySpec


def test_the_centred_crop_to_the_delivery_aspect():
    assert aspect_crop(1280, 704, 1920, 1080) == (1252, 704, 14, 0)
    assert aspect_crop(1024, 576, 1920, 1080) is None and aspect_crop(1280, 720, 1920, 1080) is None
    assert aspect_crop(576, 576, 1920, 1080) == (576, 324, 0, 126)


def disc_clip(path, width, height, frames=4):
    yy, xx = np.mgrid[:height, :width]
    disc = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) <= (height * 0.3) ** 2
    frame = np.where(disc[..., None], 255, 30).astype(np.uint8).repeat(3, axis=2)
    raw = path.with_suffix(".rgb")
    raw.write_bytes(b"".join(frame.tobytes() for _ in range(frames)))
    run_ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "24", "-i", str(raw),
                "-c:v", "libx264rgb", "-qp", "0", str(path)], "test clip")
    return path


def test_a_round_subject_stays_round_through_the_one_pass(tmp_path):
    spec = DeliverySpec(width=320, height=180, fps=24, min_duration_s=0.1, min_bitrate_bps=200_000)
    clip = Clip(disc_clip(tmp_path / "native.mkv", 320, 160), 24, "none", Join(), 4)  # 2:1, wider than 16:9
    out = tmp_path / "out.mp4"
    render_episode_file([clip], spec=spec, upscale=upscale_chain(spec, "scale=320:180:flags=lanczos"),
                        out_path=out)
    frame = next(read_frames(out, 320, 180, what="reading the output"))
    lit = frame[..., 0] > 140
    rows, cols = np.nonzero(lit)
    width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
    assert abs(width - height) <= 2, (width, height)  # stretched, it would be 12 % taller than wide
