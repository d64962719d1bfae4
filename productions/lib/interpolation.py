"""From the native rate to the delivery rate without double exposures.

Methods (the episode's choice; the default depends on the backend, see `default_profile`):
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

from .planning import HOLD, INTERPOLATIONS

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


def default_profile(backend: str, fps: int) -> GenerationProfile:
    """The built-in generator draws any rate cheaply (8 ms a frame at 1024x576): it draws on twos, and Tower
    holds each drawing for two frames, like hand-drawn anime. ComfyUI runs SVD at 8 fps (its img2vid models
    move best at 6-8 fps) and RIFE on the server where it is installed; Tower's mci covers the servers
    without it. Never `blend`."""
    if backend == "comfyui":
        return GenerationProfile(8, "rife", "SVD generates at 8 fps; RIFE on the server, mci where it is missing")
    if fps % 2 == 0:
        return GenerationProfile(fps // 2, HOLD, f"the built-in generator draws on twos ({fps // 2} drawings/s)")
    return GenerationProfile(fps, "none", "the built-in generator draws every frame at the delivery rate")


def resolve_profile(backend: str, fps: int, native_fps: int | None, interpolation: str) -> GenerationProfile:
    """The episode's own choices where it made them, the backend's defaults elsewhere."""
    default = default_profile(backend, fps)
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
