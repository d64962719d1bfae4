"""The delivery spec (the studio's "KB article 71"): the one place its numbers live."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction


@dataclass(frozen=True)
class DeliverySpec:
    width: int = 1920
    height: int = 1080
    fps: int = 24
    min_duration_s: float = 30.0
    min_bitrate_bps: int = 10_000_000
    codec: str = "h264"
    profile: str = "High"
    pix_fmt: str = "yuv420p"

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.fps, 1)

    @property
    def target_bitrate_bps(self) -> int:
        """What the encoder is asked for: 20 % above the floor so CBR padding never dips under it."""
        return int(self.min_bitrate_bps * 1.2)

    @property
    def min_frames(self) -> int:
        return int(round(self.min_duration_s * self.fps))

    def as_dict(self) -> dict:
        return asdict(self)


DELIVERY_SPEC = DeliverySpec()

# Native generation size of Stable Video Diffusion (img2vid): generate here, then upscale.
NATIVE_WIDTH = 1024
NATIVE_HEIGHT = 576
