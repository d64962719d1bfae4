"""An independent ghost counter, made differently from the QA check (productions/lib/qa): the frame-by-frame
linear-mix test that first found 513 ghosts in 720 frames of a default episode. Used by tests and
bench/interpolation.py as a second opinion on delivered files.

On the pixels that change between a frame's two neighbours, the frame is fitted as a*prev + (1-a)*next; it is a
ghost when 0.2 < a < 0.8 and the fit leaves under 25 % of the neighbours' difference. A clean in-between (the
content moved) leaves far more; a held frame fits with a = 0 or 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

MIX_CHANGE = 12.0  # luma levels: a pixel "changes" between the neighbours
MIX_MIN_AREA = 0.005  # fraction of the frame that must change for the test to apply
MIX_RESIDUAL = 0.25


def linear_mix_ghosts(frames: Iterable[np.ndarray]) -> list[int]:
    """Indexes of the frames that are linear mixes of their neighbours."""
    grays = [np.asarray(f, np.float32).mean(axis=2) for f in frames]
    ghosts = []
    for i in range(1, len(grays) - 1):
        p, c, n = grays[i - 1], grays[i], grays[i + 1]
        d = p - n
        mask = np.abs(d) > MIX_CHANGE
        if mask.mean() < MIX_MIN_AREA:
            continue
        dm, cm = d[mask], (c - n)[mask]
        a = float(np.dot(cm, dm) / np.dot(dm, dm))
        residual = float(np.abs(cm - a * dm).mean() / np.abs(dm).mean())
        if 0.2 < a < 0.8 and residual < MIX_RESIDUAL:
            ghosts.append(i)
    return ghosts


def file_ghosts(path: str | os.PathLike, size: tuple[int, int] = (480, 270)) -> list[int]:
    from productions.lib.ffmpeg import read_frames

    return linear_mix_ghosts(read_frames(path, *size))
