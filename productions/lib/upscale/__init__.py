"""Upscalers: native 1024x576 frames -> delivery size (1920x1080).

Contract used by the post-generation pipeline (productions/lib/post.py):
- `ffmpeg_filter(width, height)` returns an ffmpeg filter string when the upscale can run inside ffmpeg
  (classical resampling, e.g. Lanczos), else None;
- `upscale(frames, width, height)` streams frames through the model with bounded memory and yields frames of
  exactly width x height (used when ffmpeg_filter returns None);
- `describe()` says what ran (name, model, weights checksum, device...) for the QA report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np


class Upscaler(Protocol):
    name: str

    def describe(self) -> dict: ...

    def ffmpeg_filter(self, width: int, height: int) -> str | None: ...

    def upscale(self, frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]: ...


class LanczosUpscaler:
    """Classical Lanczos resampling inside ffmpeg: the default on CPU, where AI upscaling takes an hour."""

    name = "lanczos"

    def describe(self) -> dict:
        return {"name": self.name, "model": None, "device": "cpu (ffmpeg swscale)"}

    def ffmpeg_filter(self, width: int, height: int) -> str | None:
        return f"scale={width}:{height}:flags=lanczos"

    def upscale(self, frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]:
        raise NotImplementedError("LanczosUpscaler runs inside ffmpeg: use ffmpeg_filter()")
