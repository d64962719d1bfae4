"""From the native rate to the delivery rate without double exposures.

Methods (the episode's choice; the default is the model profile's, see `default_profile`):
- `none`: the backend generates at the delivery rate already; nothing to do.
- `hold`: anime's own way: each drawing is held for F / r frames (on twos at 12 fps, on threes at 8 fps).
  No frame is ever a mix of two drawings.
- `mci`: motion-compensated in-betweens (ffmpeg `minterpolate`, bidirectional motion estimation, overlapped
  block compensation), run at the native size before upscaling, where it costs a fraction of what it costs at
  1080p (10.7 vs 3.0 fps measured on 2 cores).
- `rife`: RIFE in-betweens inside ComfyUI (the `svd_img2vid_rife` workflow) where the server has the node; a clip
  that comes back at a lower rate (a server without it) gets `mci` here.
- `blend`: linear blending of neighbouring frames (ffmpeg `framerate`). Two of every three frames at 8 -> 24 fps
  are ghosts of their neighbours; only used when a producer asks for it by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model_profiles import ModelProfile
from .planning import INTERPOLATIONS

LABELS = {
    "none": "none (generated at the delivery rate)",
    "hold": "hold (each drawing held, anime on twos/threes)",
    "mci": "motion-compensated (mci)",
    "rife": "RIFE in ComfyUI (mci where a server lacks it)",
    "blend": "blend (double exposures on motion)",
}
# minterpolate's motion-compensated mode, bidirectional estimation and overlapped-block compensation: the
# settings with the fewest block artefacts in its documentation's comparisons.
MCI_FILTER = "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
BLEND_FILTER = "framerate=fps={fps}"


@dataclass(frozen=True)
class GenerationProfile:
    """At which rate a backend generates for an episode, and how Tower brings that to the delivery rate."""

    native_fps: int
    interpolation: str
    reason: str

    def label(self) -> str:
        return LABELS[self.interpolation]


REACH_REASONS = {
    "hold": "draws at {rate} fps; Tower holds each drawing (anime on {twos})",
    "rife": "generates at {rate} fps; RIFE on the server, mci where it is missing",
    "mci": "generates at {rate} fps; Tower's motion-compensated in-betweens",
    "none": "generates at the delivery rate",
}


def default_profile(model: ModelProfile, fps: int) -> GenerationProfile:
    """The model's own rate and way to the delivery rate (never `blend`): the built-in generator draws on
    twos and Tower holds each drawing; SVD-XT runs at 6 fps with RIFE on the server; Wan 2.2 TI2V-5B makes
    24 fps itself."""
    rate, method = model.rate_for(fps), model.interpolation_for(fps)
    twos = {2: "twos", 3: "threes"}.get(fps // rate if rate and fps % rate == 0 else 0, f"{fps / rate:g}s")
    return GenerationProfile(rate, method, f"{model.label} " + REACH_REASONS[method].format(rate=rate, twos=twos))


def resolve_profile(model: ModelProfile, fps: int, native_fps: int | None, interpolation: str) -> GenerationProfile:
    """The episode's own choices where it made them, the model's defaults elsewhere."""
    default = default_profile(model, fps)
    method = interpolation or default.interpolation
    if method not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {method!r}; use one of {', '.join(INTERPOLATIONS)}")
    if native_fps:
        rate = native_fps
    elif method == "none":
        rate = fps
    else:  # an interpolating method needs a lower native rate than the delivery's
        rate = default.native_fps if default.native_fps < fps else max(1, fps // 2)
    reason = default.reason if (method, rate) == (default.interpolation, default.native_fps) else "chosen"
    return GenerationProfile(rate, method, reason)


def clip_method(method: str, clip_fps: float, fps: int) -> str:
    """What to do with one clip: nothing once it is at the delivery rate (RIFE did it on the server, or the
    backend generated at that rate), `mci` for a `rife` or `none` clip that came back slower, else `method`."""
    if abs(clip_fps - fps) < 1e-6:
        return "none"
    if method in ("rife", "none"):
        return "mci"
    return method
