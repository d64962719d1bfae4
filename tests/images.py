"""Test frames for the upscaler tests: cel-shaded-looking RGB uint8 images, and PSNR and mean absolute
difference between two of them."""

from __future__ import annotations

import numpy as np


def anime_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Flat colour regions, soft gradients and thin dark outlines, like a cel-shaded frame (RGB uint8)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = rng.uniform(80, 200, 3)
    img += (yy / h)[..., None] * rng.uniform(-40, 40, 3)
    for _ in range(5):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(h / 8, h / 2.5)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        inside = np.clip(r - d + 0.5, 0, 1)[..., None]
        ring = np.clip(1.2 - np.abs(d - r), 0, 1)[..., None]
        img = img * (1 - inside) + rng.uniform(0, 255, 3) * inside
        img = img * (1 - ring) + 25 * ring
    return np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).round().astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference, 0-255."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
