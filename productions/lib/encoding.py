"""Encoder settings of the delivery encode (to spec).

Delivery: H.264 High, yuv420p, constant frame rate, CBR with `nal-hrd=cbr` (without it x264 undershoots
badly on flat anime content and the video stream lands far under the bitrate floor), `+faststart`.
"""

from __future__ import annotations

from .spec import DeliverySpec

DEFAULT_PRESET = "veryfast"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")


def delivery_encode_args(spec: DeliverySpec, preset: str | None = None) -> list[str]:
    """`preset`: the x264 preset (settings.TOWER_X264_PRESET in the app); DEFAULT_PRESET when None."""
    rate = spec.target_bitrate_bps
    return [
        "-an",
        "-c:v", "libx264",
        "-preset", preset or DEFAULT_PRESET,
        "-profile:v", spec.profile.lower(),
        "-pix_fmt", spec.pix_fmt,
        "-r", str(spec.fps),
        "-fps_mode", "cfr",
        "-b:v", str(rate), "-minrate", str(rate), "-maxrate", str(rate), "-bufsize", str(rate),
        # 8x8dct keeps the stream High profile even at ultrafast, which otherwise falls to Constrained Baseline.
        "-x264-params", "nal-hrd=cbr:force-cfr=1:8x8dct=1",
        "-movflags", "+faststart",
    ]
