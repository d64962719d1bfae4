"""A held-out labelled set for the automatic QA checks (productions/lib/qa): footage they were never tuned on.

The checks' thresholds were tuned on tests/qa_corpus.py (cv2-drawn scenes and the built-in generator,
productions/lib/generator.py). A threshold tuned on one source can fail on footage made differently (NOTES.md
section 7: a plain sky over a horizon from another generator was called a grid). This module is a second small
renderer written for the purpose and made differently from both tuning sources, and a labelled set built from
it. NEVER tune a threshold on it: bench/qa_accuracy.py scores it next to the tuning corpus to show how well the
tuning carries over.

How the renderer differs from the tuning sources:

- drawing: Pillow `ImageDraw` polygons on a world canvas drawn at 2x and reduced (supersampled edges, no
  outlines), not cv2 circles/lines with outlines nor the generator's hashed-noise panoramas; primitives are
  jagged mountain polygons, stacked-triangle pines, buildings with window grids, neon tubes, stripes (awnings,
  wallpaper, fences), stars, value-noise textured fields, dunes, and water that mirrors the land above it;
- colour: gradients interpolated in HSV or YCbCr (Pillow's converters), palettes that are muted, neon on dark,
  monochrome, pastel, sepia or dusk;
- camera: a full affine camera (Pillow `Image.transform`) that tilts, dollies (zooms), pans diagonally,
  shakes, rolls, whips, drifts like a hand-held shot, or stays still while the subject moves (the tuning
  sources only pan sideways);
- compositions: a flat sky filling the frame, a horizon straight across the frame (at half or a third of the
  height), exactly mirror-symmetric shots, sparse shots with one small subject on a plain ground, busy streets;
- animated subjects: walkers with swinging limbs, bouncing balls, flapping birds, a kite, boats, a rotating
  windmill, a waving flag, a breathing spirit, rain, snow, cars, shooting stars, glints on water;
- sizes and lengths: 640x360 for 24 fps items (96 frames, 4 s), 1024x576 (the production native size) for
  8 fps items (41 frames, the native 5 s segment).

The labelled set (`iter_heldout(fps)`): per base scene a clean item, a clean "hold" variant (animation on
twos/threes), every defect class of qa_corpus.DEFECT_CLASSES plus GHOSTING, and clean transitions declared to
QA; parameters were chosen a priori, before any score was looked at. Defects reuse qa_corpus's injectors
(inject_tiles, inject_black, ...) with other parameters, plus a few injectors of their own. Items at 24 fps (the
delivered masters and the episode) and at 8 fps (segment QA runs on the native frames in production). At 8 fps
there is no ghosting by interpolation (it is made by 8 -> 24 fps blending) and no seams item: production checks
seams only in the 24 fps episode.

Nothing binary is committed: every frame is drawn in memory from a seed (bit-identical on every run).
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
import zlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tests.qa_corpus import (
    CLEAN,
    DEFECT_CLASSES,
    HARD_NEGATIVE,
    CorpusItem,
    crossfade,
    inject_black,
    inject_blur,
    inject_flicker,
    inject_freeze,
    inject_jpeg,
    inject_tiles,
)

GHOSTING = "ghosting"
# Every defect class scored on the held-out set (the tuning corpus's plus ghosting, whether or not qa_corpus
# has it yet).
CLASSES: tuple[str, ...] = tuple(dict.fromkeys((*DEFECT_CLASSES, GHOSTING)))
SOURCE = "heldout"

SIZE_24 = (640, 360)
SIZE_8 = (1024, 576)
FRAMES_24 = 96  # 4 s
FRAMES_8 = 41  # 5 s at the native 8 fps, as production generates a segment
SS = 2  # supersampling: everything is drawn at 2x and reduced
T_MAX = 7.5  # seconds of camera path a scene is built for (items render up to ~6.5 s)
BASES = 12  # base scenes per rate

Color = tuple[int, int, int]
Shape = tuple[np.ndarray, Color]  # polygon (k x 2, world units) and its fill
Subject = Callable[[float], list[Shape]]


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(("heldout", *key)).encode()))


# --------------------------------------------------------------------------------------------------------
# Palettes: roles -> RGB, from (hue offset, saturation, value) per role and a scheme.
# --------------------------------------------------------------------------------------------------------

PALETTES = ("muted", "neon", "monochrome", "pastel", "sepia", "dusk")

# role: (hue offset from the palette's base hue, saturation, value), per scheme
_SCHEMES: dict[str, dict[str, tuple[float, float, float]]] = {
    "muted": {
        "sky0": (0.0, 0.28, 0.62), "sky1": (0.04, 0.14, 0.86), "far": (0.30, 0.18, 0.56), "mid": (0.36, 0.26, 0.44),
        "near": (0.42, 0.32, 0.30), "ground": (0.12, 0.24, 0.52), "accent": (0.52, 0.45, 0.72),
        "accent2": (0.62, 0.40, 0.58), "dark": (0.0, 0.25, 0.16), "light": (0.0, 0.06, 0.95),
        "subject": (0.55, 0.50, 0.62), "subject2": (0.95, 0.42, 0.82), "water": (0.02, 0.30, 0.45),
    },
    "neon": {
        "sky0": (0.0, 0.65, 0.14), "sky1": (0.06, 0.55, 0.30), "far": (0.0, 0.50, 0.22), "mid": (0.03, 0.45, 0.17),
        "near": (0.0, 0.35, 0.11), "ground": (0.0, 0.30, 0.15), "accent": (0.50, 1.0, 1.0),
        "accent2": (0.83, 1.0, 1.0), "dark": (0.0, 0.3, 0.07), "light": (0.15, 0.25, 1.0),
        "subject": (0.33, 1.0, 0.95), "subject2": (0.10, 1.0, 1.0), "water": (0.0, 0.55, 0.20),
    },
    "monochrome": {
        "sky0": (0.0, 0.08, 0.80), "sky1": (0.0, 0.05, 0.95), "far": (0.0, 0.08, 0.62), "mid": (0.0, 0.10, 0.46),
        "near": (0.0, 0.10, 0.30), "ground": (0.0, 0.06, 0.56), "accent": (0.0, 0.10, 0.16),
        "accent2": (0.0, 0.05, 0.72), "dark": (0.0, 0.1, 0.10), "light": (0.0, 0.0, 1.0),
        "subject": (0.0, 0.12, 0.20), "subject2": (0.0, 0.04, 0.90), "water": (0.0, 0.08, 0.50),
    },
    "pastel": {
        "sky0": (0.0, 0.22, 0.93), "sky1": (0.08, 0.12, 0.98), "far": (0.30, 0.20, 0.88), "mid": (0.38, 0.26, 0.84),
        "near": (0.45, 0.30, 0.77), "ground": (0.15, 0.22, 0.90), "accent": (0.55, 0.35, 0.92),
        "accent2": (0.80, 0.30, 0.95), "dark": (0.70, 0.30, 0.55), "light": (0.0, 0.03, 1.0),
        "subject": (0.95, 0.45, 0.86), "subject2": (0.60, 0.40, 0.80), "water": (0.02, 0.25, 0.85),
    },
    "sepia": {
        "sky0": (0.0, 0.30, 0.78), "sky1": (0.0, 0.18, 0.94), "far": (0.0, 0.35, 0.60), "mid": (0.01, 0.42, 0.45),
        "near": (0.02, 0.48, 0.30), "ground": (0.0, 0.30, 0.66), "accent": (0.0, 0.55, 0.22),
        "accent2": (0.0, 0.20, 0.85), "dark": (0.0, 0.5, 0.12), "light": (0.0, 0.08, 1.0),
        "subject": (0.01, 0.60, 0.25), "subject2": (0.0, 0.15, 0.92), "water": (0.0, 0.30, 0.52),
    },
    "dusk": {
        "sky0": (0.68, 0.55, 0.35), "sky1": (0.05, 0.62, 0.95), "far": (0.75, 0.40, 0.40), "mid": (0.80, 0.38, 0.30),
        "near": (0.85, 0.35, 0.18), "ground": (0.90, 0.30, 0.30), "accent": (0.12, 0.80, 1.0),
        "accent2": (0.55, 0.50, 0.85), "dark": (0.75, 0.4, 0.10), "light": (0.12, 0.25, 1.0),
        "subject": (0.98, 0.70, 0.80), "subject2": (0.14, 0.60, 0.95), "water": (0.72, 0.45, 0.40),
    },
}


def make_palette(scheme: str, seed: int) -> dict[str, Color]:
    rng = _rng("palette", scheme, seed)
    if scheme == "sepia":
        h0 = 0.08 + rng.uniform(-0.02, 0.02)
    elif scheme == "monochrome":
        h0 = rng.random() if rng.random() < 0.6 else 0.0
    else:
        h0 = rng.random()
    out = {}
    for role, (dh, s, v) in _SCHEMES[scheme].items():
        s = float(np.clip(s + rng.uniform(-0.04, 0.04), 0, 1))
        v = float(np.clip(v + rng.uniform(-0.04, 0.04), 0, 1))
        r, g, b = colorsys.hsv_to_rgb((h0 + dh) % 1.0, s, v)
        out[role] = (round(r * 255), round(g * 255), round(b * 255))
    return out


def _shade(c: Color, k: float) -> Color:
    return tuple(int(np.clip(round(v * k), 0, 255)) for v in c)  # type: ignore[return-value]


def _mixc(a: Color, b: Color, t: float) -> Color:
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------------------
# Geometry helpers (world units: pixels of the 1x frame; the first view spans [0, w] x [0, h]).
# --------------------------------------------------------------------------------------------------------


def ellipse_pts(cx: float, cy: float, rx: float, ry: float, n: int = 28, rot: float = 0.0) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(a), ry * np.sin(a)
    c, s = math.cos(rot), math.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def thick_line(p: tuple[float, float], q: tuple[float, float], width: float) -> np.ndarray:
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / n * width / 2, dx / n * width / 2
    return np.array([[p[0] + ox, p[1] + oy], [q[0] + ox, q[1] + oy], [q[0] - ox, q[1] - oy], [p[0] - ox, p[1] - oy]])


class Canvas:
    """A world image drawn at SS x the world scale; world box (x0, y0, x1, y1) in world units."""

    def __init__(self, box: tuple[float, float, float, float], ss: int = SS) -> None:
        self.x0, self.y0, self.x1, self.y1 = box
        self.ss = ss
        self.W = int(math.ceil((self.x1 - self.x0) * ss))
        self.H = int(math.ceil((self.y1 - self.y0) * ss))
        self.img = Image.new("RGB", (self.W, self.H))
        self.draw = ImageDraw.Draw(self.img)

    def px(self, pts: np.ndarray | Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        a = np.asarray(pts, dtype=np.float64)
        return [(float(x), float(y)) for x, y in zip((a[:, 0] - self.x0) * self.ss, (a[:, 1] - self.y0) * self.ss,
                                                       strict=True)]

    def row(self, y: float) -> int:
        return int(np.clip(round((y - self.y0) * self.ss), 0, self.H))

    def col(self, x: float) -> int:
        return int(np.clip(round((x - self.x0) * self.ss), 0, self.W))

    def poly(self, pts: np.ndarray | Sequence[tuple[float, float]], fill: Color) -> None:
        self.draw.polygon(self.px(pts), fill=fill)

    def rect(self, xa: float, ya: float, xb: float, yb: float, fill: Color) -> None:
        self.poly([(xa, ya), (xb, ya), (xb, yb), (xa, yb)], fill)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: Color) -> None:
        s = self.ss
        self.draw.ellipse([(cx - rx - self.x0) * s, (cy - ry - self.y0) * s, (cx + rx - self.x0) * s,
                           (cy + ry - self.y0) * s], fill=fill)

    def line(self, pts: Sequence[tuple[float, float]], fill: Color, width: float) -> None:
        self.draw.line(self.px(pts), fill=fill, width=max(1, round(width * self.ss)), joint="curve")

    def fill(self, color: Color) -> None:
        self.img.paste(color, (0, 0, self.W, self.H))

    def gradient(self, ya: float, yb: float, c0: Color, c1: Color, space: str, anchor0: float | None = None,
                 anchor1: float | None = None) -> None:
        """Fill world rows [ya, yb) with a vertical gradient c0 -> c1 interpolated in `space` ("HSV" or
        "YCbCr"), running from anchor0 to anchor1 (default ya, yb) and constant beyond."""
        r0, r1 = self.row(ya), self.row(yb)
        if r1 <= r0:
            return
        a0 = ya if anchor0 is None else anchor0
        a1 = yb if anchor1 is None else anchor1
        ys = self.y0 + (np.arange(r0, r1) + 0.5) / self.ss
        t = np.clip((ys - a0) / max(1e-6, a1 - a0), 0, 1)[:, None]
        e0 = np.asarray(Image.new("RGB", (1, 1), c0).convert(space), np.float64).reshape(3)
        e1 = np.asarray(Image.new("RGB", (1, 1), c1).convert(space), np.float64).reshape(3)
        if space == "HSV":  # hue is circular: go the short way round
            d = e1[0] - e0[0]
            e1[0] = e0[0] + (d - 256 if d > 128 else d + 256 if d < -128 else d)
        vals = e0 + t * (e1 - e0)
        if space == "HSV":
            vals[:, 0] %= 256
        band = np.repeat(np.round(vals).astype(np.uint8)[:, None, :], self.W, axis=1)
        self.img.paste(Image.frombytes(space, (self.W, r1 - r0), band.tobytes()).convert("RGB"), (0, r0))

    def textured(self, mask_poly: Sequence[tuple[float, float]] | np.ndarray, c0: Color, c1: Color, cell: float,
                 rng: np.random.Generator, octaves: int = 3) -> None:
        """Fill a polygon with value noise mixing c0 and c1 (a grass field, sand, a plaster wall)."""
        noise = value_noise(rng, self.W, self.H, cell * self.ss, octaves)
        a = np.asarray(c0, np.float32)
        b = np.asarray(c1, np.float32)
        tex = Image.fromarray((a + noise[:, :, None] * (b - a)).astype(np.uint8))
        mask = Image.new("L", (self.W, self.H), 0)
        ImageDraw.Draw(mask).polygon(self.px(mask_poly), fill=255)
        self.img.paste(tex, (0, 0), mask)


def value_noise(rng: np.random.Generator, w: int, h: int, cell: float, octaves: int = 3) -> np.ndarray:
    """Smooth noise in [0, 1] (h x w): bicubic-upsampled random grids, octaves halving the cell size."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        gw, gh = max(2, int(w / cell) + 2), max(2, int(h / cell) + 2)
        grid = Image.fromarray(rng.random((gh, gw)).astype(np.float32))
        out += amp * np.asarray(grid.resize((w, h), Image.Resampling.BICUBIC), np.float32)
        total += amp
        amp *= 0.5
        cell = max(2.0, cell / 2)
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(1e-6, hi - lo)


# --------------------------------------------------------------------------------------------------------
# The camera: world -> screen is  screen = zoom * R(angle) * (world - centre) + (w/2, h/2).
# --------------------------------------------------------------------------------------------------------

CAMERA_MOVES = ("static", "tilt", "dolly", "diagonal", "shake", "roll", "whip", "pan", "drift")


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


class Camera:
    def __init__(self, move: str, w: int, h: int, seed: int) -> None:
        self.move, self.w, self.h = move, w, h
        rng = _rng("camera", move, seed)
        sgn = lambda: 1.0 if rng.random() < 0.5 else -1.0  # noqa: E731
        self.v = (sgn() * rng.uniform(0.05, 0.09) * h if move == "tilt"
                  else sgn() * rng.uniform(0.10, 0.22) * w if move == "pan" else 0.0)
        self.k = sgn() * rng.uniform(0.04, 0.08)  # dolly: zoom rate per s
        self.z0 = 1.0 if self.k > 0 else 1.35
        self.vx, self.vy = sgn() * rng.uniform(0.08, 0.15) * w, sgn() * rng.uniform(0.04, 0.08) * h
        self.shake = (rng.uniform(0.004, 0.009) * w, rng.uniform(4.5, 8.0), rng.uniform(5.5, 9.0),
                      rng.uniform(0, 2 * math.pi, 4), rng.uniform(0.03, 0.06) * w * sgn())
        self.omega = sgn() * math.radians(rng.uniform(2.0, 5.0))  # roll, rad per s
        self.whip = (sgn() * rng.uniform(1.2, 1.6) * w, rng.uniform(0.35, 0.6), rng.uniform(1.2, 2.2))
        self.drift = (rng.uniform(0.2, 0.7, 4), rng.uniform(0, 2 * math.pi, 4), rng.uniform(0.012, 0.025) * w)

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(centre x, centre y, zoom, angle in radians) at time t (s)."""
        cx, cy, zoom, ang = self.w / 2, self.h / 2, 1.0, 0.0
        m = self.move
        if m == "tilt":
            cy += self.v * t
        elif m == "pan":
            cx += self.v * t
        elif m == "dolly":
            zoom = self.z0 * math.exp(self.k * t)
        elif m == "diagonal":
            cx += self.vx * t
            cy += self.vy * t
        elif m == "shake":
            a, f1, f2, ph, drift = self.shake
            cx += a * (math.sin(2 * math.pi * f1 * t + ph[0]) + 0.6 * math.sin(2 * math.pi * f2 * t + ph[1]))
            cx += drift * t
            cy += a * (math.sin(2 * math.pi * f2 * t + ph[2]) + 0.6 * math.sin(2 * math.pi * f1 * t + ph[3]))
            ang = math.radians(0.4) * math.sin(2 * math.pi * f1 * t + ph[2])
        elif m == "roll":
            ang = self.omega * t
            zoom = 1.12
        elif m == "whip":
            dist, dur, t0 = self.whip
            cx += dist * _smoothstep((t - t0) / dur) + 0.02 * self.w * t
        elif m == "drift":
            f, ph, a = self.drift
            cx += a * (math.sin(2 * math.pi * f[0] * t + ph[0]) + 0.5 * math.sin(2 * math.pi * f[1] * t + ph[1]))
            cy += 0.6 * a * (math.sin(2 * math.pi * f[2] * t + ph[2]) + 0.5 * math.sin(2 * math.pi * f[3] * t + ph[3]))
            zoom = 1.0 + 0.012 * math.sin(2 * math.pi * 0.3 * t + ph[0])
        return cx, cy, zoom, ang

    def world_box(self, t_max: float = T_MAX) -> tuple[float, float, float, float]:
        """The world rectangle every view along the path sees (with a margin)."""
        corners = np.array([[0, 0], [self.w, 0], [0, self.h], [self.w, self.h]], np.float64) - [self.w / 2, self.h / 2]
        pts = []
        for t in np.linspace(0, t_max, 240):
            cx, cy, zoom, ang = self.at(float(t))
            c, s = math.cos(-ang), math.sin(-ang)
            rot = corners @ np.array([[c, s], [-s, c]]) / zoom
            pts.append(rot + [cx, cy])
        p = np.concatenate(pts)
        m = 8.0
        return (math.floor(p[:, 0].min() - m), math.floor(p[:, 1].min() - m), math.ceil(p[:, 0].max() + m),
                math.ceil(p[:, 1].max() + m))


# --------------------------------------------------------------------------------------------------------
# Animated subjects: functions of time returning polygons in world units.
# --------------------------------------------------------------------------------------------------------


def walker(x0: float, ground: float, vx: float, height: float, body: Color, skin: Color, hair: Color,
           phase: float = 0.0, stride_hz: float = 1.6) -> Subject:
    s = height / 48.0

    def shapes(t: float) -> list[Shape]:
        x = x0 + vx * t
        sw = math.sin(2 * math.pi * stride_hz * t + phase)
        hip = (x, ground - 20 * s - 1.2 * s * abs(sw))
        shoulder = (x, hip[1] - 16 * s)
        out: list[Shape] = []
        for sg in (1, -1):
            a = math.radians(28) * sw * sg
            foot = (hip[0] + math.sin(a) * 20 * s, hip[1] + math.cos(a) * 20 * s)
            out.append((thick_line(hip, foot, 4 * s), _shade(body, 0.6)))
            b = -a * 0.8
            hand = (shoulder[0] + math.sin(b) * 15 * s, shoulder[1] + 2 * s + math.cos(b) * 15 * s)
            out.append((thick_line((shoulder[0], shoulder[1] + 2 * s), hand, 3 * s), skin))
        torso = np.array([[hip[0] - 5 * s, hip[1] + 2 * s], [hip[0] + 5 * s, hip[1] + 2 * s],
                          [shoulder[0] + 6 * s, shoulder[1]], [shoulder[0] - 6 * s, shoulder[1]]])
        out.append((torso, body))
        head = (shoulder[0], shoulder[1] - 7 * s)
        out.append((ellipse_pts(head[0], head[1], 6 * s, 6.5 * s, 20), skin))
        out.append((np.array([[head[0] - 6.5 * s, head[1] + 1 * s], [head[0] - 6 * s, head[1] - 5 * s],
                              [head[0], head[1] - 8 * s], [head[0] + 6 * s, head[1] - 5 * s],
                              [head[0] + 6.5 * s, head[1] - 1 * s], [head[0] + 1 * s, head[1] - 3.5 * s]]), hair))
        return out

    return shapes


def ball(x0: float, ground: float, r: float, vx: float, hop: float, hz: float, color: Color, shadow: Color) -> Subject:
    def shapes(t: float) -> list[Shape]:
        ph = (t * hz) % 1.0
        lift = 4 * ph * (1 - ph)
        squash = 1.0 + 0.3 * max(0.0, 1.0 - min(ph, 1 - ph) * 12)
        x = x0 + vx * t
        y = ground - r / squash - hop * lift
        return [(ellipse_pts(x, ground, r * (1.3 - 0.5 * lift), r * 0.25), shadow),
                (ellipse_pts(x, y, r * squash, r / squash), color),
                (ellipse_pts(x - 0.35 * r, y - 0.35 * r, 0.25 * r, 0.18 * r, 12), _mixc(color, (255, 255, 255), 0.6))]

    return shapes


def bird(x0: float, y0: float, vx: float, vy: float, size: float, hz: float, color: Color) -> Subject:
    def shapes(t: float) -> list[Shape]:
        x, y = x0 + vx * t, y0 + vy * t + 0.3 * size * math.sin(2 * math.pi * 0.4 * t)
        tip = y - 0.6 * size * math.sin(2 * math.pi * hz * t)
        pts = np.array([[x - size, tip], [x - 0.15 * size, y - 0.1 * size], [x, y + 0.15 * size],
                        [x + 0.15 * size, y - 0.1 * size], [x + size, tip], [x, y + 0.35 * size]])
        return [(pts, color)]

    return shapes


def kite(cx: float, cy: float, size: float, color: Color, tail: Color, seed: int) -> Subject:
    ph = _rng("kite", seed).uniform(0, 2 * math.pi, 2)

    def shapes(t: float) -> list[Shape]:
        x = cx + 1.2 * size * math.sin(2 * math.pi * 0.23 * t + ph[0])
        y = cy + 0.6 * size * math.sin(2 * math.pi * 0.37 * t + ph[1])
        a = 0.25 * math.sin(2 * math.pi * 0.5 * t)
        body = ellipse_pts(x, y, 0.5 * size, 0.8 * size, 4, rot=a)
        out: list[Shape] = [(body, color)]
        px, py = x, y + 0.8 * size
        for k in range(5):
            qx = px + 0.25 * size * math.sin(2 * math.pi * 1.2 * t + k)
            qy = py + 0.35 * size
            out.append((thick_line((px, py), (qx, qy), 0.08 * size), tail))
            px, py = qx, qy
        return out

    return shapes


def boat(x0: float, water: float, vx: float, size: float, hull: Color, sail: Color) -> Subject:
    def shapes(t: float) -> list[Shape]:
        x = x0 + vx * t
        y = water + 0.06 * size * math.sin(2 * math.pi * 0.6 * t)
        a = 0.05 * math.sin(2 * math.pi * 0.45 * t)
        c, s = math.cos(a), math.sin(a)

        def rot(p: list[tuple[float, float]]) -> np.ndarray:
            q = np.array(p, np.float64)
            return np.stack([x + c * q[:, 0] - s * q[:, 1], y + s * q[:, 0] + c * q[:, 1]], 1)

        return [(rot([(-size, -0.15 * size), (size, -0.15 * size), (0.7 * size, 0.2 * size),
                      (-0.7 * size, 0.2 * size)]), hull),
                (rot([(-0.05 * size, -0.2 * size), (-0.05 * size, -1.3 * size), (0.75 * size, -0.25 * size)]), sail)]

    return shapes


def windmill(cx: float, cy: float, r: float, omega: float, blade: Color, tower: Color, ground: float) -> Subject:
    def shapes(t: float) -> list[Shape]:
        out: list[Shape] = [(np.array([[cx - 0.12 * r, cy], [cx + 0.12 * r, cy], [cx + 0.22 * r, ground],
                                       [cx - 0.22 * r, ground]]), tower)]
        for k in range(4):
            a = omega * t + k * math.pi / 2
            ca, sa = math.cos(a), math.sin(a)
            tip = (cx + ca * r, cy + sa * r)
            side = (cx + ca * 0.85 * r - sa * 0.22 * r, cy + sa * 0.85 * r + ca * 0.22 * r)
            out.append((np.array([[cx, cy], tip, side]), blade))
        out.append((ellipse_pts(cx, cy, 0.08 * r, 0.08 * r, 12), tower))
        return out

    return shapes


def flag(px: float, py: float, fw: float, fh: float, color: Color, pole: Color) -> Subject:
    def shapes(t: float) -> list[Shape]:
        xs = np.linspace(0, fw, 12)
        wave = 0.12 * fh * np.sin(xs / fw * 2.5 * math.pi - 2 * math.pi * 1.3 * t) * (xs / fw)
        top = np.stack([px + xs, py + wave], 1)
        bottom = np.stack([px + xs[::-1], py + fh + wave[::-1]], 1)
        return [(thick_line((px, py - 0.2 * fh), (px, py + 3.5 * fh), 0.08 * fh), pole),
                (np.concatenate([top, bottom]), color)]

    return shapes


def spirit(cx: float, base: float, height: float, body: Color, eye: Color) -> Subject:
    """A mirror-symmetric figure on the centre line that breathes and bobs (stays symmetric)."""

    def shapes(t: float) -> list[Shape]:
        k = 1.0 + 0.05 * math.sin(2 * math.pi * 0.7 * t)
        y = base - 0.08 * height * (1 + math.sin(2 * math.pi * 0.5 * t))
        hh = height * k
        a = np.linspace(0, math.pi, 16)
        top = np.stack([cx - 0.3 * hh * np.cos(a), y - 0.6 * hh - 0.3 * hh * np.sin(a)], 1)
        pts = np.concatenate([[[cx - 0.32 * hh, y]], top, [[cx + 0.32 * hh, y], [cx + 0.15 * hh, y - 0.1 * hh],
                                                         [cx, y], [cx - 0.15 * hh, y - 0.1 * hh]]])
        e = 0.06 * hh
        return [(pts, body), (ellipse_pts(cx - 0.12 * hh, y - 0.62 * hh, e, 1.4 * e, 14), eye),
                (ellipse_pts(cx + 0.12 * hh, y - 0.62 * hh, e, 1.4 * e, 14), eye)]

    return shapes


def falling(rng: np.random.Generator, box: tuple[float, float, float, float], count: int, speed: float,
            length: float, width: float, color: Color, sway: float = 0.0) -> Subject:
    """Rain (long thin streaks) or snow (length ~ width, swaying)."""
    x0, y0, x1, y1 = box
    xs = rng.uniform(x0, x1, count)
    ys = rng.uniform(y0, y1, count)
    sp = speed * rng.uniform(0.8, 1.2, count)
    ph = rng.uniform(0, 2 * math.pi, count)
    span = y1 - y0

    def shapes(t: float) -> list[Shape]:
        y = y0 + (ys - y0 + sp * t) % span
        x = xs + sway * np.sin(2 * math.pi * 0.4 * t + ph) - 0.08 * sp * t * (sway == 0)
        out: list[Shape] = []
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
            if length > 2 * width:
                out.append((thick_line((xi, yi), (xi - 0.08 * length, yi + length), width), color))
            else:
                out.append((ellipse_pts(xi, yi, width, width, 8), color))
        return out

    return shapes


def car(x0: float, road: float, vx: float, size: float, body: Color, window: Color) -> Subject:
    def shapes(t: float) -> list[Shape]:
        x = x0 + vx * t
        return [(np.array([[x - size, road], [x + size, road], [x + size, road - 0.45 * size],
                           [x - size, road - 0.45 * size]]), body),
                (np.array([[x - 0.55 * size, road - 0.45 * size], [x + 0.45 * size, road - 0.45 * size],
                           [x + 0.3 * size, road - 0.8 * size], [x - 0.4 * size, road - 0.8 * size]]), window),
                (ellipse_pts(x - 0.6 * size, road, 0.18 * size, 0.18 * size, 10), (20, 20, 24)),
                (ellipse_pts(x + 0.6 * size, road, 0.18 * size, 0.18 * size, 10), (20, 20, 24))]

    return shapes


def glints(rng: np.random.Generator, xa: float, xb: float, ya: float, yb: float, count: int, color: Color) -> Subject:
    xs, ys = rng.uniform(xa, xb, count), rng.uniform(ya, yb, count)
    ln, ph = rng.uniform(6, 22, count), rng.uniform(0, 2 * math.pi, count)

    def shapes(t: float) -> list[Shape]:
        x = xs + 4 * np.sin(2 * math.pi * 0.5 * t + ph)
        n = ln * (0.7 + 0.3 * np.sin(2 * math.pi * 0.8 * t + ph))
        return [(thick_line((a, y), (a + b, y), 1.2), color) for a, y, b in zip(x.tolist(), ys.tolist(), n.tolist(),
                                                                                 strict=True)]

    return shapes


def shooting_star(x0: float, y0: float, length: float, period: float, color: Color) -> Subject:
    def shapes(t: float) -> list[Shape]:
        ph = (t % period) / period
        if ph > 0.35:
            return []
        x, y = x0 + ph * 6 * length, y0 + ph * 2.5 * length
        return [(thick_line((x, y), (x - length, y - 0.4 * length), 1.5), color)]

    return shapes


def butterfly(cx: float, cy: float, size: float, color: Color, seed: int) -> Subject:
    ph = _rng("butterfly", seed).uniform(0, 2 * math.pi, 2)

    def shapes(t: float) -> list[Shape]:
        x = cx + 3 * size * math.sin(2 * math.pi * 0.21 * t + ph[0])
        y = cy + 1.5 * size * math.sin(2 * math.pi * 0.33 * t + ph[1])
        f = abs(math.sin(2 * math.pi * 3.0 * t))
        return [(np.array([[x, y], [x - size * (0.3 + 0.7 * f), y - size], [x - 0.2 * size, y + 0.6 * size]]), color),
                (np.array([[x, y], [x + size * (0.3 + 0.7 * f), y - size], [x + 0.2 * size, y + 0.6 * size]]), color)]

    return shapes


# --------------------------------------------------------------------------------------------------------
# Scenes: a static world (drawn once) seen through the camera, with subjects drawn on every frame.
# --------------------------------------------------------------------------------------------------------

KINDS = ("flat_sky", "horizon", "symmetric", "sparse", "city", "lake", "neon", "stars", "field", "interior",
         "dunes", "snow")

SCENE_CAMERAS: dict[str, tuple[str, ...]] = {
    "flat_sky": ("static", "tilt", "roll", "drift"),
    "horizon": ("diagonal", "static", "shake", "dolly"),
    "symmetric": ("dolly", "static", "tilt"),  # moves that keep the mirror axis on the frame's centre
    "sparse": ("static", "dolly", "drift"),
    "city": ("whip", "diagonal", "shake", "pan"),
    "lake": ("tilt", "pan", "dolly", "drift"),
    "neon": ("shake", "static", "drift", "whip"),
    "stars": ("roll", "static", "tilt"),
    "field": ("roll", "diagonal", "drift", "whip"),
    "interior": ("dolly", "static", "pan", "shake"),
    "dunes": ("pan", "whip", "diagonal"),
    "snow": ("diagonal", "tilt", "shake", "static"),
}
SCENE_PALETTES: dict[str, tuple[str, ...]] = {
    "flat_sky": ("pastel", "muted", "monochrome", "dusk"),
    "horizon": ("dusk", "muted", "sepia", "pastel"),
    "symmetric": ("muted", "neon", "pastel", "monochrome"),
    "sparse": ("monochrome", "pastel", "muted", "neon"),
    "city": ("neon", "muted", "dusk", "sepia"),
    "lake": ("muted", "dusk", "monochrome", "pastel"),
    "neon": ("neon",),
    "stars": ("neon", "monochrome", "muted"),
    "field": ("pastel", "sepia", "muted"),
    "interior": ("sepia", "muted", "pastel", "monochrome"),
    "dunes": ("dusk", "sepia", "muted"),
    "snow": ("monochrome", "muted", "pastel"),
}


@dataclasses.dataclass
class SceneSpec:
    kind: str
    seed: int
    camera: str
    palette: str

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.camera}-{self.palette}-{self.seed}"


def scene_spec(kind: str, seed: int, variant: int = 0, camera: str | None = None,
               palette: str | None = None) -> SceneSpec:
    """`variant` cycles through the kind's camera moves (and, with the seed, its palettes)."""
    cams, pals = SCENE_CAMERAS[kind], SCENE_PALETTES[kind]
    return SceneSpec(kind, seed, camera or cams[variant % len(cams)], palette or pals[(variant + seed) % len(pals)])


def _night(pal: dict[str, Color]) -> dict[str, Color]:
    """Darken sky and land for a night scene: sky value (HSV) at least 12 %, land at least 6 %. Saturated dark
    hues have less luma than value (a neon night can have 99 % of its pixels under 10 % luma while its signs,
    rain and walker stay plainly visible)."""
    out = dict(pal)
    for role, k in (("sky0", 0.35), ("sky1", 0.55), ("far", 0.35), ("mid", 0.3), ("near", 0.25), ("ground", 0.3)):
        h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in pal[role]))
        v = max(0.12 if role.startswith("sky") else 0.06, v * k)
        r, g, b = colorsys.hsv_to_rgb(h, min(1.0, s * 1.2 + 0.1), v)
        out[role] = (round(r * 255), round(g * 255), round(b * 255))
    return out


class Scene:
    def __init__(self, spec: SceneSpec, w: int, h: int) -> None:
        self.spec, self.w, self.h = spec, w, h
        self.camera = Camera(spec.camera, w, h, spec.seed)
        box = self.camera.world_box()
        if spec.kind == "symmetric":  # a world symmetric about x = w/2
            half = max(w / 2 - box[0], box[2] - w / 2)
            box = (w / 2 - half, box[1], w / 2 + half, box[3])
        self.canvas = Canvas(box)
        self.rng = _rng("scene", spec.kind, spec.seed)
        self.pal = make_palette(spec.palette, spec.seed)
        self.subjects: list[Subject] = getattr(self, f"_build_{spec.kind}")()
        if spec.kind == "symmetric":
            img = np.asarray(self.canvas.img).copy()
            half_px = img.shape[1] // 2
            img[:, img.shape[1] - half_px:] = img[:, :half_px][:, ::-1]
            self.canvas.img = Image.fromarray(img)
        # The world reduced once to the frame scale: edges drawn at SS x come out anti-aliased.
        self.world = self.canvas.img.reduce(SS)

    # ---- rendering --------------------------------------------------------------------------------------

    def matrix(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(A, b): screen = A @ world + b (world units -> screen pixels)."""
        cx, cy, zoom, ang = self.camera.at(t)
        c, s = math.cos(ang), math.sin(ang)
        a = zoom * np.array([[c, -s], [s, c]])
        return a, np.array([self.w / 2, self.h / 2]) - a @ np.array([cx, cy])

    def frame(self, t: float, t_subject: float | None = None) -> np.ndarray:
        """The frame at camera time t (s); subjects at t_subject (default t: animation on ones)."""
        a, b = self.matrix(t)
        cv = self.canvas
        # Pillow maps each output pixel to a world image pixel: world = A^-1 (screen - b), image px = world - x0.
        ai = np.linalg.inv(a)
        off = -ai @ b - np.array([cv.x0, cv.y0])
        data = (ai[0, 0], ai[0, 1], off[0], ai[1, 0], ai[1, 1], off[1])
        img = self.world.transform((self.w, self.h), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
        frame = np.asarray(img)
        ts = t if t_subject is None else t_subject
        polys = [(np.asarray(pts, np.float64) @ a.T + b, fill)
                 for subject in self.subjects for pts, fill in subject(ts)]
        if not polys:
            return frame
        # Subjects: drawn at SS x into a colour image (on black) and a coverage mask over their bounding box,
        # both reduced, then composited (premultiplied): anti-aliased edges without a dark fringe.
        allp = np.concatenate([p for p, _ in polys])
        x0 = int(np.clip(math.floor(allp[:, 0].min()) - 1, 0, self.w))
        y0 = int(np.clip(math.floor(allp[:, 1].min()) - 1, 0, self.h))
        x1 = int(np.clip(math.ceil(allp[:, 0].max()) + 2, 0, self.w))
        y1 = int(np.clip(math.ceil(allp[:, 1].max()) + 2, 0, self.h))
        if x1 <= x0 or y1 <= y0:
            return frame
        size = ((x1 - x0) * SS, (y1 - y0) * SS)
        color, mask = Image.new("RGB", size), Image.new("L", size)
        dc, dm = ImageDraw.Draw(color), ImageDraw.Draw(mask)
        for pts, fill in polys:
            xy = [(float(x), float(y)) for x, y in (pts - [x0, y0]) * SS]
            dc.polygon(xy, fill=fill)
            dm.polygon(xy, fill=255)
        cov = np.asarray(mask.reduce(SS), np.uint16)[:, :, None]
        col = np.asarray(color.reduce(SS), np.uint16)
        out = frame.copy()
        patch = out[y0:y1, x0:x1].astype(np.uint16)
        out[y0:y1, x0:x1] = np.minimum((patch * (255 - cov) + 127) // 255 + col, 255).astype(np.uint8)
        return out

    def render(self, times: Sequence[float], subject_times: Sequence[float] | None = None) -> list[np.ndarray]:
        if subject_times is None:
            return [self.frame(t) for t in times]
        return [self.frame(t, ts) for t, ts in zip(times, subject_times, strict=True)]

    # ---- scene builders: draw the world on self.canvas, return the subjects ---------------------------

    def _sky(self, horizon: float, space: str | None = None) -> None:
        cv, p = self.canvas, self.pal
        space = space or ("HSV" if self.rng.random() < 0.5 else "YCbCr")
        cv.gradient(cv.y0, horizon, p["sky0"], p["sky1"], space, anchor0=-0.1 * self.h, anchor1=horizon)

    def _mountains(self, base: float, height: float, color: Color, snow: Color | None, step: float) -> None:
        cv, rng = self.canvas, self.rng
        xs = np.arange(cv.x0 - step, cv.x1 + 2 * step, step)
        ys = base - height * rng.uniform(0.2, 1.0, xs.size)
        ys[1::2] = base - height * rng.uniform(0.0, 0.35, ys[1::2].size)  # valleys between jagged peaks
        xs = xs + rng.uniform(-0.3, 0.3, xs.size) * step
        cv.poly(np.concatenate([np.stack([xs, ys], 1), [[cv.x1 + step, cv.y1], [cv.x0 - step, cv.y1]]]), color)
        if snow is not None:
            for i in range(0, xs.size, 2):
                if base - ys[i] > 0.6 * height:
                    d = 0.25 * (base - ys[i])
                    cv.poly([(xs[i], ys[i]), (xs[i] + 0.35 * step, ys[i] + d), (xs[i], ys[i] + 0.7 * d),
                             (xs[i] - 0.35 * step, ys[i] + d)], snow)

    def _pine(self, x: float, ground: float, height: float, color: Color, trunk: Color) -> None:
        cv = self.canvas
        cv.rect(x - 0.04 * height, ground - 0.2 * height, x + 0.04 * height, ground, trunk)
        for k in range(3):
            top = ground - height * (1.0 - 0.22 * k)
            wd = 0.18 * height + 0.08 * height * k
            cv.poly([(x, top), (x + wd, top + 0.45 * height), (x - wd, top + 0.45 * height)], color)

    def _building(self, x: float, ground: float, bw: float, bh: float, color: Color, lit: Color, dark: Color,
                  roof: str) -> None:
        cv, rng = self.canvas, self.rng
        top = ground - bh
        cv.rect(x, top, x + bw, ground, color)
        if roof == "gable":
            cv.poly([(x - 2, top), (x + bw / 2, top - 0.25 * bw), (x + bw + 2, top)], _shade(color, 0.75))
        elif roof == "step":
            cv.rect(x + 0.2 * bw, top - 0.12 * bh, x + 0.8 * bw, top, _shade(color, 0.85))
        ww = float(rng.uniform(3.0, 6.0))
        gx, gy = ww * float(rng.uniform(1.8, 2.6)), ww * float(rng.uniform(2.0, 2.8))
        yy = top + gy * 0.6
        while yy + ww * 1.3 < ground - 4:
            xx = x + (bw - (int((bw - ww) / gx) * gx + ww)) / 2
            while xx + ww <= x + bw - 2:
                cv.rect(xx, yy, xx + ww, yy + ww * 1.3, lit if rng.random() < 0.45 else dark)
                xx += gx
            yy += gy

    def _build_flat_sky(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        cv.fill(p["sky1"])  # flat: one colour over the whole sky
        if rng.random() < 0.5:  # a few flat clouds, far apart
            for _ in range(2):
                cx, cy = rng.uniform(cv.x0, cv.x1), rng.uniform(0.1, 0.5) * h
                for dx, r in ((0, 1.0), (-0.8, 0.7), (0.8, 0.6)):
                    cv.ellipse(cx + dx * 0.05 * w, cy, r * 0.05 * w, r * 0.03 * w, p["light"])
        subs: list[Subject] = [kite(rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.55) * h, 0.045 * w, p["accent"],
                                    p["subject2"], self.spec.seed)]
        subs.append(bird(rng.uniform(0.05, 0.3) * w, rng.uniform(0.15, 0.35) * h, rng.uniform(0.05, 0.1) * w, 0.0,
                         0.02 * w, 2.5, p["dark"]))
        return subs

    def _build_horizon(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        y0 = h / 2 if self.spec.seed % 2 == 0 else h * (1 / 3 if self.spec.seed % 4 == 1 else 2 / 3)
        self._sky(y0)
        cv.gradient(y0, cv.y1, p["water"], _shade(p["water"], 0.7), "YCbCr", anchor0=y0, anchor1=h * 1.2)
        sx = rng.uniform(0.2, 0.8) * w
        cv.ellipse(sx, y0 - 0.12 * h, 0.05 * w, 0.05 * w, p["light"])
        return [boat(rng.uniform(0.2, 0.5) * w, y0 + 0.15 * (h - y0), rng.uniform(0.02, 0.05) * w, 0.06 * w,
                     p["subject"], p["subject2"]),
                glints(rng, cv.x0, cv.x1, y0 + 4, cv.y1, 14, p["light"]),
                bird(0.1 * w, y0 - 0.3 * h, 0.08 * w, -0.01 * h, 0.018 * w, 3.0, p["dark"])]

    def _build_symmetric(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        ground = h * 0.78
        cx = w / 2
        self._sky(ground)
        cv.rect(cv.x0, ground, cv.x1, cv.y1, p["ground"])
        cv.poly([(cx - 0.06 * w, ground), (cx + 0.06 * w, ground), (cx + 0.22 * w, cv.y1), (cx - 0.22 * w, cv.y1)],
                p["light"])  # the path
        # a gate / shrine: pillars, two beams, a roof, drawn on both sides (the left half is mirrored anyway)
        for sgn in (-1, 1):
            x = cx + sgn * 0.14 * w
            cv.rect(x - 0.012 * w, ground - 0.5 * h, x + 0.012 * w, ground, p["accent"])
            px = cx + sgn * float(rng.uniform(0.3, 0.42)) * w
            self._pine(px, ground, float(rng.uniform(0.3, 0.45)) * h, p["near"], p["dark"])
        cv.rect(cx - 0.2 * w, ground - 0.5 * h, cx + 0.2 * w, ground - 0.46 * h, p["accent"])
        cv.poly([(cx - 0.24 * w, ground - 0.52 * h), (cx + 0.24 * w, ground - 0.52 * h),
                 (cx + 0.2 * w, ground - 0.58 * h), (cx - 0.2 * w, ground - 0.58 * h)], p["dark"])
        cv.rect(cx - 0.16 * w, ground - 0.4 * h, cx + 0.16 * w, ground - 0.38 * h, p["accent"])
        cv.ellipse(cx, ground - 0.72 * h, 0.04 * w, 0.04 * w, p["light"])  # moon / sun on the axis
        return [spirit(cx, ground - 0.02 * h, 0.18 * h, p["subject2"], p["dark"])]

    def _build_sparse(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        cv.fill(p["ground"])  # a plain ground filling the frame
        ground = h * float(rng.uniform(0.55, 0.8))
        which = self.spec.seed % 3
        if which == 0:
            return [ball(rng.uniform(0.3, 0.6) * w, ground, 0.022 * w, rng.uniform(-0.04, 0.04) * w, 0.12 * h,
                         rng.uniform(0.8, 1.4), p["subject"], _shade(p["ground"], 0.8))]
        if which == 1:
            return [walker(rng.uniform(0.2, 0.4) * w, ground, rng.uniform(0.03, 0.06) * w, 0.1 * h, p["subject"],
                           p["light"], p["dark"])]
        return [bird(rng.uniform(0.2, 0.4) * w, ground - 0.2 * h, rng.uniform(0.04, 0.07) * w, -0.02 * h, 0.025 * w,
                     2.2, p["subject"])]

    def _build_city(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        ground = h * 0.82
        self._sky(ground)
        for layer, (scale, col) in enumerate(((0.75, p["far"]), (1.0, p["mid"]))):
            x = cv.x0 - rng.uniform(0, 40)
            while x < cv.x1:
                bw = float(rng.uniform(0.06, 0.14)) * w * scale
                bh = float(rng.uniform(0.25, 0.6)) * h * scale
                self._building(x, ground - 0.03 * h * (1 - layer), bw, bh, _shade(col, float(rng.uniform(0.85, 1.1))),
                               p["accent2"] if layer else p["light"], p["dark"],
                               str(rng.choice(["flat", "gable", "step"])))
                x += bw + float(rng.uniform(2, 0.05 * w))
        cv.rect(cv.x0, ground, cv.x1, cv.y1, p["near"])
        x = cv.x0
        while x < cv.x1:  # shop awnings with stripes of a random period
            aw = float(rng.uniform(0.08, 0.16)) * w
            stripe = float(rng.uniform(4, 9))
            for k in range(int(aw / stripe)):
                cv.rect(x + k * stripe, ground - 0.1 * h, x + (k + 1) * stripe, ground - 0.07 * h,
                        p["accent"] if k % 2 else p["light"])
            x += aw + float(rng.uniform(0.05, 0.2)) * w
        subs: list[Subject] = []
        for k in range(5):
            subs.append(walker(rng.uniform(cv.x0, cv.x1), ground + 0.12 * h, rng.uniform(-0.06, 0.06) * w, 0.13 * h,
                               _shade(p["subject"], float(rng.uniform(0.7, 1.2))), p["light"], p["dark"],
                               phase=k * 1.3))
        for _ in range(2):
            subs.append(car(rng.uniform(cv.x0, cv.x1), cv.y1 - 0.02 * h if cv.y1 < h else h * 0.98,
                            rng.uniform(0.1, 0.25) * w * (1 if rng.random() < 0.5 else -1), 0.06 * w,
                            p["subject2"], p["light"]))
        subs.append(bird(0.2 * w, 0.15 * h, 0.1 * w, 0.0, 0.02 * w, 2.8, p["dark"]))
        return subs

    def _build_lake(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        water = h * float(rng.uniform(0.52, 0.62))
        self._sky(water)
        self._mountains(water, 0.35 * h, p["far"], p["light"], float(rng.uniform(0.08, 0.14)) * w)
        self._mountains(water, 0.12 * h, p["mid"], None, float(rng.uniform(0.04, 0.07)) * w)
        x = cv.x0
        while x < cv.x1:
            self._pine(x, water, float(rng.uniform(0.06, 0.12)) * h, p["near"], p["dark"])
            x += float(rng.uniform(0.02, 0.08)) * w
        # the reflection: the land above mirrored below the waterline, rippled and darkened
        img = np.asarray(cv.img).copy()
        r = cv.row(water)
        depth = min(r, img.shape[0] - r)
        refl = img[r - depth:r][::-1].astype(np.float32)
        rows = np.arange(depth)
        ripple = np.sin(rows / (3.0 * cv.ss) + rng.uniform(0, 6)) * (rows / max(1, depth))
        shift = np.round(2.5 * cv.ss * ripple).astype(int)
        cols = (np.arange(img.shape[1])[None, :] + shift[:, None]) % img.shape[1]
        refl = np.take_along_axis(refl, cols[:, :, None].repeat(3, 2), axis=1)
        tint = np.asarray(p["water"], np.float32)
        img[r:r + depth] = np.clip(0.65 * refl + 0.35 * tint, 0, 255).astype(np.uint8)
        if r + depth < img.shape[0]:
            img[r + depth:] = np.asarray(p["water"], np.uint8)
        cv.img = Image.fromarray(img)
        cv.draw = ImageDraw.Draw(cv.img)
        return [boat(rng.uniform(0.3, 0.6) * w, water + 0.12 * h, rng.uniform(-0.03, 0.03) * w, 0.05 * w,
                     p["subject"], p["light"]),
                glints(rng, cv.x0, cv.x1, water + 3, min(cv.y1, h * 1.2), 10, p["light"]),
                bird(0.6 * w, 0.2 * h, -0.07 * w, 0.01 * h, 0.02 * w, 2.6, p["dark"])]

    def _build_neon(self) -> list[Subject]:
        self.pal = p = _night(self.pal)
        cv, rng, w, h = self.canvas, self.rng, self.w, self.h
        ground = h * 0.85
        self._sky(ground, "YCbCr")
        x = cv.x0
        while x < cv.x1:
            bw, bh = float(rng.uniform(0.1, 0.22)) * w, float(rng.uniform(0.4, 0.8)) * h
            cv.rect(x, ground - bh, x + bw, ground, _shade(p["mid"], float(rng.uniform(0.8, 1.3))))
            if rng.random() < 0.7:  # a neon sign: a tube outline
                sx, sy = x + bw * 0.2, ground - bh * float(rng.uniform(0.4, 0.8))
                sw, sh = bw * 0.6, float(rng.uniform(0.05, 0.1)) * h
                col = p["accent"] if rng.random() < 0.5 else p["accent2"]
                cv.line([(sx, sy), (sx + sw, sy), (sx + sw, sy + sh), (sx, sy + sh), (sx, sy)], col, 2.0)
                cv.line([(sx + 0.2 * sw, sy + 0.5 * sh), (sx + 0.8 * sw, sy + 0.5 * sh)], p["subject2"], 1.5)
            x += bw + float(rng.uniform(1, 0.03 * w))
        cv.rect(cv.x0, ground, cv.x1, cv.y1, p["ground"])
        return [falling(rng, (cv.x0, cv.y0, cv.x1, cv.y1), 70, 1.6 * h, 0.05 * h, 0.8, _shade(p["light"], 0.6)),
                walker(0.2 * w, ground + 0.1 * h, 0.07 * w, 0.2 * h, p["subject"], p["light"], p["dark"])]

    def _build_stars(self) -> list[Subject]:
        self.pal = p = _night(self.pal)
        cv, rng, w, h = self.canvas, self.rng, self.w, self.h
        horizon = h * float(rng.uniform(0.7, 0.85))
        self._sky(horizon, "HSV")
        img = np.asarray(cv.img).copy()
        hz = cv.row(horizon)
        n = int(img.shape[1] * hz / (cv.ss * cv.ss * 220))
        ys = rng.integers(0, max(1, hz - 2 * cv.ss), n)
        xs = rng.integers(0, img.shape[1] - 2 * cv.ss, n)
        bright = rng.uniform(0.5, 1.0, n)
        for x, y, b in zip(xs.tolist(), ys.tolist(), bright.tolist(), strict=True):
            sz = cv.ss * (2 if b > 0.9 else 1)
            img[y:y + sz, x:x + sz] = np.asarray(_mixc(p["sky1"], (255, 255, 250), b), np.uint8)
        cv.img = Image.fromarray(img)
        cv.draw = ImageDraw.Draw(cv.img)
        self._mountains(horizon, 0.12 * h, p["near"], None, float(rng.uniform(0.05, 0.1)) * w)
        cv.rect(cv.x0, horizon, cv.x1, cv.y1, p["near"])
        return [shooting_star(rng.uniform(0.1, 0.5) * w, rng.uniform(0.05, 0.2) * h, 0.08 * w, 2.5, (255, 255, 240)),
                walker(0.3 * w, horizon + 0.02 * h, 0.03 * w, 0.12 * h, p["dark"], _shade(p["light"], 0.5), p["dark"])]

    def _build_field(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        horizon = h * float(rng.uniform(0.45, 0.6))
        self._sky(horizon)
        cv.textured([(cv.x0, horizon), (cv.x1, horizon), (cv.x1, cv.y1), (cv.x0, cv.y1)], p["near"], p["ground"],
                    float(rng.uniform(6, 14)), rng)
        for _ in range(int((cv.x1 - cv.x0) * (cv.y1 - horizon) / 300)):  # flowers: dots, denser near the camera
            fx, fy = rng.uniform(cv.x0, cv.x1), horizon + (cv.y1 - horizon) * rng.random() ** 0.7
            r = 0.6 + 2.0 * (fy - horizon) / max(1.0, cv.y1 - horizon)
            cv.ellipse(fx, fy, r, r, p["accent2"] if rng.random() < 0.5 else p["light"])
        x, spacing = cv.x0, float(rng.uniform(0.03, 0.07)) * w  # a fence, posts at a random spacing
        fy = horizon + 0.18 * h
        cv.line([(cv.x0, fy - 0.05 * h), (cv.x1, fy - 0.05 * h)], p["dark"], 1.5)
        while x < cv.x1:
            cv.rect(x, fy - 0.08 * h, x + 0.006 * w, fy, p["dark"])
            x += spacing
        mx, my = rng.uniform(0.55, 0.8) * w, horizon - 0.12 * h
        omega = math.radians(rng.uniform(40, 90))
        return [windmill(mx, my, 0.09 * h, omega, p["light"], p["accent"], horizon + 0.01 * h),
                butterfly(rng.uniform(0.2, 0.5) * w, horizon + 0.2 * h, 0.015 * w, p["subject2"], self.spec.seed),
                flag(0.15 * w, horizon - 0.05 * h, 0.07 * w, 0.04 * w, p["subject"], p["dark"])]

    def _build_interior(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        floor = h * 0.72
        period = float(rng.uniform(9, 23))  # wallpaper stripes
        x = cv.x0
        k = 0
        while x < cv.x1:
            cv.rect(x, cv.y0, x + period, floor, p["sky1"] if k % 2 else _shade(p["sky1"], 0.9))
            x += period
            k += 1
        wx, wy = rng.uniform(0.15, 0.45) * w, 0.12 * h  # a window with the sky outside
        win = (wx, wy, wx + 0.3 * w, wy + 0.35 * h)
        sky = Canvas((win[0], win[1], win[2], win[3]))
        sky.gradient(win[1], win[3], p["accent2"], p["light"], "HSV")
        cv.img.paste(sky.img.resize((cv.col(win[2]) - cv.col(win[0]), cv.row(win[3]) - cv.row(win[1]))),
                     (cv.col(win[0]), cv.row(win[1])))
        cv.line([(win[0], win[1]), (win[2], win[1]), (win[2], win[3]), (win[0], win[3]), (win[0], win[1])],
                p["dark"], 3)
        cv.line([((win[0] + win[2]) / 2, win[1]), ((win[0] + win[2]) / 2, win[3])], p["dark"], 2)
        cv.rect(cv.x0, floor, cv.x1, cv.y1, p["ground"])
        vx = w / 2 + float(rng.uniform(-0.2, 0.2)) * w  # floor boards converging on a vanishing point
        for xb in np.arange(cv.x0 - w, cv.x1 + w, 0.08 * w):
            cv.line([(vx + (xb - vx) * 0.3, floor), (xb, cv.y1)], _shade(p["ground"], 0.85), 1.2)
        tx = rng.uniform(0.5, 0.75) * w  # a table
        cv.rect(tx, floor - 0.12 * h, tx + 0.2 * w, floor - 0.1 * h, p["mid"])
        cv.rect(tx + 0.01 * w, floor - 0.1 * h, tx + 0.02 * w, floor + 0.05 * h, p["mid"])
        cv.rect(tx + 0.18 * w, floor - 0.1 * h, tx + 0.19 * w, floor + 0.05 * h, p["mid"])
        return [ball(tx + 0.1 * w, floor - 0.12 * h, 0.02 * w, 0.0, 0.08 * h, 1.1, p["subject2"],
                     _shade(p["mid"], 0.7)),
                walker(0.1 * w, floor + 0.2 * h, 0.05 * w, 0.3 * h, p["subject"], p["light"], p["dark"])]

    def _build_dunes(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        horizon = h * float(rng.uniform(0.5, 0.62))
        self._sky(horizon, "HSV")
        cv.ellipse(rng.uniform(0.2, 0.8) * w, horizon - 0.25 * h, 0.06 * w, 0.06 * w, p["light"])
        cv.rect(cv.x0, horizon, cv.x1, cv.y1, p["far"])
        for layer, col in enumerate((p["mid"], p["ground"], p["near"])):
            x = cv.x0 - 0.3 * w
            top = horizon + layer * 0.1 * h
            while x < cv.x1 + 0.3 * w:
                rx = float(rng.uniform(0.2, 0.45)) * w
                cv.ellipse(x, top + 0.12 * h, rx, 0.12 * h, _shade(col, float(rng.uniform(0.9, 1.1))))
                x += rx * float(rng.uniform(0.9, 1.5))
            cv.rect(cv.x0, top + 0.12 * h, cv.x1, cv.y1, col)
        ground = horizon + 0.12 * h
        return [walker(rng.uniform(0.2, 0.5) * w, ground, 0.04 * w, 0.12 * h, p["subject"], p["light"], p["dark"]),
                walker(rng.uniform(0.1, 0.3) * w, ground, 0.04 * w, 0.11 * h, p["subject2"], p["light"], p["dark"],
                       phase=1.1),
                bird(0.7 * w, 0.2 * h, -0.06 * w, 0.0, 0.02 * w, 2.0, p["dark"])]

    def _build_snow(self) -> list[Subject]:
        cv, p, rng, w, h = self.canvas, self.pal, self.rng, self.w, self.h
        ground = h * float(rng.uniform(0.6, 0.75))
        self._sky(ground, "YCbCr")
        self._mountains(ground, 0.2 * h, p["far"], p["light"], 0.1 * w)
        cv.rect(cv.x0, ground, cv.x1, cv.y1, p["light"])
        xs = sorted(rng.uniform(cv.x0, cv.x1, int((cv.x1 - cv.x0) / (0.05 * w))).tolist())
        for x in xs:
            gy = ground + float(rng.uniform(-0.02, 0.15)) * h
            self._pine(x, gy, float(rng.uniform(0.15, 0.35)) * h, p["near"], p["dark"])
        return [falling(rng, (cv.x0, cv.y0, cv.x1, cv.y1), 90, 0.12 * h, 1.6, 1.6, (250, 250, 255), sway=6.0),
                walker(0.3 * w, ground + 0.2 * h, 0.03 * w, 0.2 * h, p["subject"], p["light"], p["dark"])]


# --------------------------------------------------------------------------------------------------------
# Frame-rate conversions, holds, transitions.
# --------------------------------------------------------------------------------------------------------


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def blend_to_24(native: Sequence[np.ndarray], n_out: int, native_fps: int = 8, fps: int = 24) -> list[np.ndarray]:
    """Linear-blend interpolation like ffmpeg `framerate` (interp_start 15, interp_end 240): output frame k at
    t = k / fps between native frames a, b is (1 - w) * a + w * b, w the fraction of the way from a to b
    (w under 15/256 or over 240/256 takes the nearer frame)."""
    out = []
    for k in range(n_out):
        pos = k * native_fps / fps
        a = min(int(math.floor(pos + 1e-9)), len(native) - 1)
        b = min(a + 1, len(native) - 1)
        wgt = pos - a
        if wgt * 256 < 15 or a == b:
            out.append(native[a].copy())
        elif wgt * 256 > 240:
            out.append(native[b].copy())
        else:
            out.append(_u8(native[a].astype(np.float32) * (1 - wgt) + native[b].astype(np.float32) * wgt))
    return out


def hold(frames: Sequence[np.ndarray], pattern: Sequence[int], n_out: int) -> list[np.ndarray]:
    """Animation on twos/threes: drawing j (frames[j]) held for pattern[j % len(pattern)] frames."""
    out: list[np.ndarray] = []
    j = 0
    while len(out) < n_out:
        out.extend([frames[min(j, len(frames) - 1)]] * pattern[j % len(pattern)])
        j += 1
    return out[:n_out]


def hold_starts(pattern: Sequence[int], n_out: int) -> list[int]:
    """Output frame index at which each drawing starts, for `hold` with `pattern`."""
    starts, i, j = [], 0, 0
    while i < n_out:
        starts.append(i)
        i += pattern[j % len(pattern)]
        j += 1
    return starts


def dissolve(a: Sequence[np.ndarray], b: Sequence[np.ndarray], start: int, length: int) -> list[np.ndarray]:
    """a until `start`, a linear dissolve into b over `length` frames, then b (same length as a)."""
    out = list(a[:start])
    for k in range(length):
        t = (k + 1) / (length + 1)
        out.append(_u8(a[start + k].astype(np.float32) * (1 - t) + b[start + k].astype(np.float32) * t))
    out.extend(b[start + length:len(a)])
    return out


def fade_through_black(a: Sequence[np.ndarray], b: Sequence[np.ndarray], start: int, out_len: int, black: int,
                       in_len: int) -> list[np.ndarray]:
    """a fades to black over out_len frames, `black` black frames, b fades in over in_len frames."""
    out = list(a[:start])
    for k in range(out_len):
        out.append(_u8(a[start + k].astype(np.float32) * (1 - (k + 1) / (out_len + 1))))
    out.extend([np.zeros_like(a[0])] * black)
    s = start + out_len + black
    for k in range(in_len):
        out.append(_u8(b[s + k].astype(np.float32) * ((k + 1) / (in_len + 1))))
    out.extend(b[s + in_len:len(a)])
    return out


# --------------------------------------------------------------------------------------------------------
# Injectors of the held-out set's own (next to qa_corpus's).
# --------------------------------------------------------------------------------------------------------


def inject_crushed(frames: Sequence[np.ndarray], start: int, count: int, gain: float = 0.06) -> list[np.ndarray]:
    """Frames that are almost black but keep a trace of the picture (a failed decode or exposure)."""
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        out[i] = _u8(frames[i].astype(np.float32) * gain)
    return out


def inject_lift(frames: Sequence[np.ndarray], pattern: str, levels: float, start: int, count: int) -> list[np.ndarray]:
    """Additive brightness flicker: "pop" lifts one frame by `levels`; "gamma" alternates gamma 1 +- levels/100."""
    out = list(frames)
    if pattern == "pop":
        out[start] = _u8(frames[start].astype(np.float32) + levels)
        return out
    for i in range(start, min(len(frames), start + count)):
        g = 1 + (levels / 100) * (1 if (i - start) % 2 else -1)
        out[i] = _u8(255 * (frames[i].astype(np.float32) / 255) ** g)
    return out


def inject_defocus(frames: Sequence[np.ndarray], radius: float, start: int, count: int) -> list[np.ndarray]:
    """Soft frames: a box blur (a defocus-like kernel) or, for radius < 0, a 2x downscale and upscale."""
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        im = Image.fromarray(frames[i])
        if radius < 0:
            w, h = im.size
            im = im.resize((w // 2, h // 2), Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
        else:
            im = im.filter(ImageFilter.BoxBlur(radius))
        out[i] = np.asarray(im)
    return out


def inject_jpeg_upscaled(frames: Sequence[np.ndarray], quality: int) -> list[np.ndarray]:
    """Heavy JPEG at half size, then upscaled 2x (a compressed low-resolution clip blown up: a 16 px grid)."""
    import io

    out = []
    for f in frames:
        im = Image.fromarray(f)
        w, h = im.size
        buf = io.BytesIO()
        im.resize((w // 2, h // 2), Image.Resampling.BILINEAR).save(buf, "JPEG", quality=quality)
        buf.seek(0)
        out.append(np.asarray(Image.open(buf).convert("RGB").resize((w, h), Image.Resampling.BILINEAR)))
    return out


def grade(frames: Sequence[np.ndarray], gain: float, tint: tuple[float, float, float]) -> list[np.ndarray]:
    """A colour grade (per-channel gain): the next segment came out in another grade."""
    k = gain * np.asarray(tint, np.float32)
    return [_u8(f.astype(np.float32) * k) for f in frames]


def add_noise(frames: Sequence[np.ndarray], seed: int, sigma: float) -> list[np.ndarray]:
    rng = _rng("noise", seed)
    return [_u8(f.astype(np.float32) + rng.normal(0, sigma, f.shape).astype(np.float32)) for f in frames]


# --------------------------------------------------------------------------------------------------------
# The labelled held-out set.
# --------------------------------------------------------------------------------------------------------

_HAS_TRANSITIONS_FIELD = any(f.name == "transitions" for f in dataclasses.fields(CorpusItem))


def make_item(name: str, label: str, frames: list[np.ndarray], fps: int, expected: int | None, variant: str,
              *, boundaries: list[float] | None = None, transitions: list[tuple[int, int]] | None = None,
              **params: object) -> CorpusItem:
    """A CorpusItem of the held-out set. `transitions`: frame ranges [start, end) of chosen dissolves/fades,
    to be passed to check_frames(transitions=...) (set as an attribute if CorpusItem has no such field yet)."""
    kw = {"transitions": list(transitions or [])} if _HAS_TRANSITIONS_FIELD else {}
    item = CorpusItem(name, label, frames, fps, expected, boundaries_s=boundaries, variant=variant, source=SOURCE,
                      params=dict(params), **kw)
    if not _HAS_TRANSITIONS_FIELD:
        item.transitions = transitions  # type: ignore[attr-defined]
    return item


def base_specs(fps: int, count: int = BASES, draw: int = 0) -> list[SceneSpec]:
    """The base scenes of one rate: every kind in turn; other seeds, camera moves and palettes per rate.
    `draw` > 0 makes a fresh draw of the same set: other seeds, and camera moves and palettes shifted."""
    offset = (0 if fps == 24 else 1) + draw
    return [scene_spec(KINDS[b % len(KINDS)], seed=fps * 10 + b + 1000 * draw,
                       variant=offset + 2 * (b // len(KINDS))) for b in range(count)]


def extra_specs(fps: int, count: int, draw: int = 0) -> list[SceneSpec]:
    """Clean-only scenes (more negatives): other seeds, camera moves and palettes than the bases."""
    offset = (2 if fps == 24 else 3) + draw
    return [scene_spec(KINDS[b % len(KINDS)], seed=100 + 31 * b + fps + 1000 * draw,
                       variant=offset + 2 * (b // len(KINDS))) for b in range(count)]


def _frames_for(seconds: float, fps: int) -> int:
    return max(1, int(round(seconds * fps)))


# Defect variants, chosen before scoring (cycled over the bases).
GRID_VARIANTS = ((1, 2, "squeeze-exact", 0), (2, 1, "crop-shift", 0), (2, 2, "crop-scale", 0),
                 (1, 3, "squeeze-time", 0), (1, 2, "crop-time", 6), (2, 3, "squeeze-shift", 0),
                 (2, 1, "squeeze-scale", 0), (1, 3, "crop-exact", 5), (2, 2, "squeeze-time", 0),
                 (1, 2, "squeeze-scale", 0), (3, 1, "crop-exact", 0), (2, 2, "squeeze-shift", 3))
SEAM_KINDS = ("hard_cut", "time_skip", "grade_jump", "time_back")
HOLD_PATTERNS = {"threes": (3,), "twos": (2,), "mixed23": (2, 3, 3, 2), "subject_twos": ()}
TRANSITIONS_24 = ("dissolve_0.5s", "fade_black", "crossfade_join", "dissolve_1s", "fade_in", "fade_out")
TRANSITIONS_8 = ("dissolve_0.5s", "fade_black", "fade_in", "dissolve_1s", "fade_out", "crossfade_join")


def _defects(base: list[np.ndarray], name: str, b: int, fps: int, spec: SceneSpec,
             hold_frames: list[np.ndarray] | None) -> Iterator[CorpusItem]:
    """Every defect class of qa_corpus injected into one base (variant picked by b)."""
    n = len(base)
    rng = _rng("defects", name, fps)

    def item(label: str, frames: list[np.ndarray], variant: str, expected: int | None = n, **kw: object) -> CorpusItem:
        return make_item(f"{name}/{label}/{variant}", label, frames, fps, expected, variant, scene=spec.name, **kw)

    rows, cols, mode, gutter = GRID_VARIANTS[b % len(GRID_VARIANTS)]
    yield item("grid", inject_tiles(base, rows, cols, mode, 500 + b, gutter),
               f"{rows}x{cols}-{mode}" + (f"-gutter{gutter}" if gutter else ""))

    kind = b % 4
    if kind == 3:
        count = _frames_for(0.25, fps)
        start = int(rng.integers(1, n - count))
        yield item("black_frames", inject_crushed(base, start, count), f"crushed-{count}f")
    else:
        count = (1, 3, _frames_for(1.0, fps))[kind]
        start = int(rng.integers(1, n - count))
        yield item("black_frames", inject_black(base, start, count, level=(0, 12)[b % 2], seed=b),
                   f"{count}f" + ("-noisy" if b % 2 else ""))

    seconds = (0.6, 1.0, 1.5, "rest")[b % 4]
    src = hold_frames if (hold_frames is not None and b % 2 == 1) else base
    if seconds == "rest":  # the clip stops moving for good
        start = int(rng.integers(n // 4, n // 2))
        count = n - start
    else:
        count = _frames_for(float(seconds), fps)
        start = int(rng.integers(0, n - count + 1))
    yield item("frozen", inject_freeze(src, start, count, noise=(0.0, 1.0)[(b // 2) % 2], seed=b),
               f"{seconds}s" + ("-noisy" if (b // 2) % 2 else "") + ("-on_holds" if src is not base else ""))

    start = int(rng.integers(2, n // 2))
    k = b % 6
    if k < 4:
        pattern = ("alternate", "random", "pop", "burst")[k]
        amp = (0.08, 0.12, 0.18, 0.25)[(b // 2) % 4]
        yield item("flicker", inject_flicker(base, pattern, amp, start, _frames_for(0.5, fps), seed=b),
                   f"{pattern}-{amp}")
    elif k == 4:
        yield item("flicker", inject_lift(base, "pop", 14.0, start, 1), "lift-pop-14")
    else:
        yield item("flicker", inject_lift(base, "gamma", 12.0, start, _frames_for(0.5, fps)), "gamma-alternate-12")

    k = b % 4
    if k == 3:
        yield item("blockiness", inject_jpeg_upscaled(base, 8), "q8-half-size-upscaled")
    else:
        quality = (5, 8, 12)[k]
        whole = b % 2 == 0
        start = 0 if whole else int(rng.integers(0, n // 2))
        yield item("blockiness", inject_jpeg(base, quality, start, n if whole else _frames_for(1.5, fps)),
                   f"q{quality}-" + ("all" if whole else "1.5s"))

    k = b % 5
    seconds = (0.5, 1.0, 1.5)[b % 3]
    count = max(2, _frames_for(seconds, fps))
    start = int(rng.integers(0, n - count))
    if k < 3:
        sigma = (1.5, 2.5, 4.0)[k]
        yield item("blur", inject_blur(base, sigma, start, count), f"gauss{sigma}-{seconds}s")
    elif k == 3:
        yield item("blur", inject_defocus(base, 3.0, start, count), f"box3-{seconds}s")
    else:
        yield item("blur", inject_defocus(base, -1, start, count), f"half-res-{seconds}s")

    delta = (-2, 1, -_frames_for(1.0, fps), 3)[b % 4]
    frames = base[:n + delta] if delta < 0 else base + [base[-1]] * delta
    yield item("frame_count", frames, f"{delta:+d}", expected=n)


def _transition_item(kind: str, a: list[np.ndarray], b_: list[np.ndarray], name: str, fps: int, n: int,
                     spec: str) -> CorpusItem:
    m = n // 2
    if kind.startswith("dissolve"):
        length = _frames_for(0.5 if kind.endswith("0.5s") else 1.0, fps)
        start = m - length // 2
        frames = dissolve(a, b_, start, length)
        return make_item(f"{name}/transition/{kind}", HARD_NEGATIVE, frames, fps, n, kind,
                         transitions=[(start, start + length)], scene=spec)
    if kind == "fade_black":
        half = _frames_for(0.5, fps)
        black = max(1, _frames_for(0.1, fps))
        start = m - half - black // 2
        frames = fade_through_black(a, b_, start, half, black, half)
        return make_item(f"{name}/transition/{kind}", HARD_NEGATIVE, frames, fps, n, kind,
                         transitions=[(start, start + 2 * half + black)], scene=spec)
    if kind == "fade_in":
        length = _frames_for(0.75, fps)
        frames = [_u8(f.astype(np.float32) * min(1.0, i / length)) for i, f in enumerate(a)]
        return make_item(f"{name}/transition/{kind}", HARD_NEGATIVE, frames, fps, n, kind,
                         transitions=[(0, length)], scene=spec)
    if kind == "fade_out":
        length = _frames_for(0.75, fps)
        frames = [_u8(f.astype(np.float32) * min(1.0, (n - 1 - i) / length)) for i, f in enumerate(a)]
        return make_item(f"{name}/transition/{kind}", HARD_NEGATIVE, frames, fps, n, kind,
                         transitions=[(n - length - 1, n)], scene=spec)
    if kind == "crossfade_join":  # two segments of different scenes joined like the episode (0.5 s xfade)
        overlap = _frames_for(0.5, fps)
        joined = crossfade(a[:m + overlap], b_[m:], overlap)
        return make_item(f"{name}/transition/{kind}", HARD_NEGATIVE, joined, fps, None, kind,
                         boundaries=[(m + overlap // 2) / fps], transitions=[(m, m + overlap)], scene=spec)
    raise ValueError(kind)


def _whip_across_boundary(scene: Scene, frames: list[np.ndarray], name: str, fps: int) -> CorpusItem:
    """A whip pan running across a segment boundary (the fastest frame-to-frame change there): no seam."""
    _, dur, t0 = scene.camera.whip
    return make_item(f"{name}/joins/whip_across_boundary", HARD_NEGATIVE, frames, fps, None, "whip_across_boundary",
                     boundaries=[t0 + dur / 2], scene=scene.spec.name)


def iter_heldout(fps: int = 24, bases: int = BASES, extra_clean: int | None = None, draw: int = 0
                 ) -> Iterator[CorpusItem]:
    """Yield the held-out items of one rate (24 or 8 fps), one base scene at a time (bounded memory). `draw`:
    0 is the set scored since it was made; 1, 2, ... are fresh draws of it (other seeds, moves, palettes)."""
    if fps not in (8, 24):
        raise ValueError("the held-out set exists at 24 and 8 fps")
    w, h = SIZE_24 if fps == 24 else SIZE_8
    n = FRAMES_24 if fps == 24 else FRAMES_8
    extra_clean = bases if extra_clean is None else extra_clean
    skip = _frames_for(1.0, fps)
    overlap = _frames_for(0.5, fps)
    previous: tuple[str, list[np.ndarray]] | None = None
    transitions = TRANSITIONS_24 if fps == 24 else TRANSITIONS_8
    for b, spec in enumerate(base_specs(fps, bases, draw)):
        scene = Scene(spec, w, h)
        name = f"{fps}fps/{spec.name}"
        full = scene.render([i / fps for i in range(n + skip + overlap)])  # continuous shot, longer than n
        base = full[:n]
        yield make_item(f"{name}/clean", CLEAN, base, fps, n, "clean", scene=spec.name, camera=spec.camera,
                        palette=spec.palette, kind=spec.kind)

        # clean holds (animation on twos/threes): drawings held, never blended
        hold_frames: list[np.ndarray] | None = None
        hold_kind = tuple(HOLD_PATTERNS)[b % len(HOLD_PATTERNS)] if fps == 24 else ("subject_twos", "twos")[b % 2]
        if hold_kind == "subject_twos":  # camera on ones, the animated subjects on twos
            ts = [i / fps for i in range(n)]
            hold_frames = scene.render(ts, [(i // 2) * 2 / fps for i in range(n)])
        else:
            pattern = HOLD_PATTERNS[hold_kind]
            starts = hold_starts(pattern, n)
            drawings = [full[s] for s in starts]  # drawing j shows the moment its hold starts
            hold_frames = hold(drawings, pattern, n)
        yield make_item(f"{name}/holds/{hold_kind}", HARD_NEGATIVE, hold_frames, fps, n, f"holds_{hold_kind}",
                        scene=spec.name)

        yield from _defects(base, name, b, fps, spec, hold_frames if fps == 24 else None)

        # ghosting: same-scene dissolve (segment k+1 continues segment k's shot; a 0.5 s crossfade mixes the shot
        # with itself 0.5 s later), and at 24 fps blended 8 -> 24 interpolation
        m = n // 2
        seg_a = full[:m + overlap]
        seg_b = full[m + overlap - 1:m + overlap - 1 + n - m]
        ghost = crossfade(seg_a, seg_b, overlap)
        yield make_item(f"{name}/ghosting/same_scene_dissolve", GHOSTING, ghost, fps, n, "same_scene_dissolve",
                        boundaries=[(m + overlap // 2) / fps], scene=spec.name)
        if fps == 24:
            native = full[::3]  # the same shot at 8 fps (t = k/8)
            yield make_item(f"{name}/ghosting/blend_8to24", GHOSTING, blend_to_24(native, n), fps, n, "blend_8to24",
                            scene=spec.name)

        # seams (24 fps: the episode is where production checks them)
        if fps == 24:
            seam = SEAM_KINDS[b % len(SEAM_KINDS)]
            if seam == "hard_cut" and previous is None:
                seam = "time_skip"
            if seam == "hard_cut":
                assert previous is not None
                frames = previous[1][:m] + base[m:]
            elif seam == "time_skip":
                frames = full[:m] + full[m + skip:m + skip + n - m]
            elif seam == "time_back":
                back = _frames_for(0.75, fps)
                frames = full[:m] + full[m - back:m - back + n - m]
            else:
                frames = full[:m] + grade(full[m:n], 0.88, (1.0, 0.97, 1.06))
            yield make_item(f"{name}/seams/{seam}", "seams", frames, fps, None, seam, boundaries=[m / fps],
                            scene=spec.name)
            if b % 2 == 0:  # a chained join: segment k+1 starts on k's last frame, which is dropped: continuous
                yield make_item(f"{name}/joins/chained", HARD_NEGATIVE, base, fps, None, "chained_join",
                                boundaries=[m / fps], scene=spec.name)
            if spec.camera == "whip":
                yield _whip_across_boundary(scene, base, name, fps)

        # clean transitions, declared to QA
        if previous is not None:
            kind = transitions[(b - 1) % len(transitions)]
            first = base if kind in ("fade_in", "fade_out") else previous[1][:n]
            yield _transition_item(kind, first, base, name, fps, n, spec.name)
        if b % 4 == 1:  # film grain and mild compression on a clean shot
            yield make_item(f"{name}/grain", HARD_NEGATIVE, add_noise(base, b, 2.5), fps, n, "grain", scene=spec.name)
        if b % 4 == 3:
            yield make_item(f"{name}/jpeg80", HARD_NEGATIVE, inject_jpeg(base, 80, 0, n), fps, n, "mild_jpeg",
                            scene=spec.name)
        previous = (name, full)

    for e, spec in enumerate(extra_specs(fps, extra_clean, draw)):
        scene = Scene(spec, w, h)
        frames = scene.render([i / fps for i in range(n)])
        yield make_item(f"{fps}fps/{spec.name}/clean", CLEAN, frames, fps, n, "clean_extra", scene=spec.name,
                        camera=spec.camera, palette=spec.palette, kind=spec.kind)
        if fps == 24 and spec.camera == "whip":
            yield _whip_across_boundary(scene, frames, f"{fps}fps/{spec.name}", fps)
        if e % 3 == 2:  # light that changes slowly (a cloud passing / dusk): a monotonic fade, not flicker
            depth = 0.3
            dimmed = [_u8(f.astype(np.float32) * (1 - depth * i / (n - 1))) for i, f in enumerate(frames)]
            yield make_item(f"{fps}fps/{spec.name}/slow_dim", HARD_NEGATIVE, dimmed, fps, n, "slow_dim",
                            scene=spec.name)


def iter_all(bases: int = BASES) -> Iterator[CorpusItem]:
    for fps in (24, 8):
        yield from iter_heldout(fps, bases)


def small_heldout() -> list[CorpusItem]:
    """A few items for the CI smoke test (seconds, not minutes)."""
    return list(iter_heldout(24, bases=2, extra_clean=0))
