"""A labelled, deterministic corpus for the automatic QA checks (productions/lib/qa).

Nothing binary is committed: every item is built in memory from a seed.

- clean segments: the built-in generator (productions/lib/generator.py) for several prompts and seeds; when it
  cannot be imported, the drawn scenes below stand in (the bench prints which was used);
- defects injected into those clean segments: grid tiles (2x2 and 1x3; exact, shifted, scaled, time-offset,
  with gutters), black frames, freezes, flicker, heavy blockiness, blurred runs, wrong frame counts, hard
  seams between two segments of an episode, and ghosting: blend-interpolated footage (drawn at 8 or 12 fps and
  raised to 24 fps by linear blending, as ffmpeg's `framerate` filter does), a segment crossfaded with itself
  0.5 s later, two chained segments (the second continues the first) crossfaded, and a dissolve between two
  different segments that nobody declared;
- hard negatives drawn here on purpose to look like defects to a naive check: flat skies, a horizon across
  the frame, mirror-symmetric compositions, a row of identical lanterns, fast pans, still shots with tiny
  motion, a dark night scene, a slow fade, film grain, mild JPEG compression, crossfaded and chained segment
  joins, a fast pan across a segment boundary; for ghosting: anime holds (each drawing on twos or threes),
  pans at many speeds (sub-pixel to 24 px/frame), and chosen transitions declared to QA (a dissolve between
  two scenes, a fade through black).

Items are built at 512x288 (2x the QA analysis size) so the checks also exercise their downscale, at 24 fps
like the delivered masters or (`fps=8`) at the native rate segment QA sees. `iter_corpus()` yields items one
base at a time so memory stays bounded.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

WIDTH = 512
HEIGHT = 288
FPS = 24
SEGMENT_FRAMES = 72  # 3 s at 24 fps

CLEAN = "clean"
HARD_NEGATIVE = "hard_negative"
GHOSTING = "ghosting"
# Defect classes, named after the QA check expected to catch them.
DEFECT_CLASSES = ("grid", "black_frames", "frozen", "flicker", "blockiness", "blur", "frame_count", "seams",
                  GHOSTING)
# Crossfades and dissolves last this long, like the episode's (0.5 s).
DISSOLVE_S = 0.5
# Camera speeds (px per 24 fps frame at 512 px wide) of the clean motion items: sub-pixel drifts to whip pans.
PAN_SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 24.0)

PROMPTS = (
    "a girl with a red scarf walks along a river at sunset, anime style",
    "a robot and a cat sit on a rooftop under the stars",
    "a busy market street in the rain, lanterns glowing",
    "a boy flies a kite over green hills on a windy day",
    "a dragon circles a mountain temple above the clouds",
    "two friends talk in a classroom, afternoon light",
    "a train crosses a bridge over the sea at dawn",
    "a samurai stands in a bamboo forest, leaves falling",
)


@dataclass
class CorpusItem:
    name: str
    label: str  # CLEAN, HARD_NEGATIVE, or one of DEFECT_CLASSES
    frames: list[np.ndarray]
    fps: float = FPS
    expected_frames: int | None = None
    boundaries_s: list[float] | None = None  # episode items: where segments meet
    variant: str = ""
    # [start, end) frame ranges of transitions the producer chose (a dissolve, a fade through black): passed
    # to check_frames(transitions=...), which leaves them out of the checks they trip by design
    transitions: list[tuple[int, int]] = field(default_factory=list)
    source: str = ""  # "generator" or "drawn"
    params: dict = field(default_factory=dict)

    @property
    def is_defect(self) -> bool:
        return self.label in DEFECT_CLASSES


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# --------------------------------------------------------------------------------------------------------
# Drawn scenes: flat-coloured, outlined, anime-like layers with a moving camera.
# --------------------------------------------------------------------------------------------------------

OUTLINE = (30, 24, 40)


def _sky(h: int, w: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    sky = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return np.repeat(sky, w, axis=1)


def _cloud(img: np.ndarray, cx: float, cy: float, size: float, color: tuple[int, int, int]) -> None:
    for dx, dy, r in ((0, 0, 1.0), (-0.9, 0.25, 0.7), (0.9, 0.2, 0.75), (0.4, -0.4, 0.65), (-0.4, -0.3, 0.6)):
        cv2.circle(img, (int(cx + dx * size), int(cy + dy * size)), int(r * size), color, -1, cv2.LINE_AA)


def _hills(img: np.ndarray, rng: np.random.Generator, base: float, amp: float, color, offset: float,
           period: float) -> None:
    h, w = img.shape[:2]
    xs = np.arange(-4, w + 5, 4, dtype=np.float32)
    phase = rng.uniform(0, 2 * math.pi, 3)
    ys = base + amp * (
        np.sin((xs + offset) / period + phase[0]) * 0.6
        + np.sin((xs + offset) / (period * 0.43) + phase[1]) * 0.3
        + np.sin((xs + offset) / (period * 0.19) + phase[2]) * 0.1
    )
    pts = np.concatenate([np.stack([xs, ys], 1), [[w + 5, h + 5], [-5, h + 5]]]).astype(np.int32)
    cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
    cv2.polylines(img, [pts[:-2]], False, OUTLINE, 2, cv2.LINE_AA)


def _character(img: np.ndarray, x: float, y: float, scale: float, t: float, colors, blink: bool = False,
               sway: float = 0.0) -> None:
    """A simple chibi figure: body, head, hair, eyes; `t` animates a small bob."""
    bob = 2.0 * math.sin(t * 2 * math.pi * 1.5) * scale
    s = scale
    body = np.array([[x - 14 * s, y], [x + 14 * s, y], [x + 10 * s, y - 40 * s], [x - 10 * s, y - 40 * s]])
    body[:, 1] += bob
    cv2.fillPoly(img, [body.astype(np.int32)], colors[0], cv2.LINE_AA)
    cv2.polylines(img, [body.astype(np.int32)], True, OUTLINE, 2, cv2.LINE_AA)
    hx, hy = x, y - 58 * s + bob
    cv2.circle(img, (int(hx), int(hy)), int(20 * s), (250, 224, 205), -1, cv2.LINE_AA)
    cv2.circle(img, (int(hx), int(hy)), int(20 * s), OUTLINE, 2, cv2.LINE_AA)
    hair = np.array([[hx - 22 * s, hy - 2 * s], [hx - 18 * s + sway, hy - 22 * s], [hx + 20 * s + sway, hy - 24 * s],
                     [hx + 23 * s, hy - 1 * s], [hx + 8 * s, hy - 12 * s], [hx - 10 * s, hy - 10 * s]])
    cv2.fillPoly(img, [hair.astype(np.int32)], colors[1], cv2.LINE_AA)
    for ex in (-7, 7):
        if blink:
            cv2.line(img, (int(hx + ex * s - 3 * s), int(hy + 3 * s)), (int(hx + ex * s + 3 * s), int(hy + 3 * s)),
                     OUTLINE, 2, cv2.LINE_AA)
        else:
            cv2.ellipse(img, (int(hx + ex * s), int(hy + 3 * s)), (int(3 * s), int(5 * s)), 0, 0, 360, colors[2],
                        -1, cv2.LINE_AA)


def _tree(img: np.ndarray, x: float, ground: float, size: float, color) -> None:
    cv2.rectangle(img, (int(x - 4 * size), int(ground - 40 * size)), (int(x + 4 * size), int(ground)),
                  (110, 72, 50), -1)
    cv2.circle(img, (int(x), int(ground - 55 * size)), int(26 * size), color, -1, cv2.LINE_AA)
    cv2.circle(img, (int(x), int(ground - 55 * size)), int(26 * size), OUTLINE, 2, cv2.LINE_AA)


def _pal(rng: np.random.Generator) -> dict:
    def c(lo: int, hi: int) -> tuple[int, int, int]:
        return tuple(int(v) for v in rng.integers(lo, hi, 3))

    return {
        "sky_top": c(60, 160), "sky_bottom": c(170, 250), "far": c(80, 160), "near": c(40, 140),
        "ground": c(60, 170), "clothes": c(40, 230), "hair": c(20, 200), "eyes": c(10, 90),
        "tree": c(30, 150),
    }


def _finish(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).astype(np.uint8)


def render_landscape(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT, *, pan_px: float = 1.5,
                     walk: float = 1.0, clouds: int = 4) -> list[np.ndarray]:
    """Sky, two hill layers with parallax, clouds, trees, a walking character; camera pans `pan_px`/frame."""
    rng = _rng("landscape", seed)
    pal = _pal(rng)
    cl = [(rng.uniform(0, w * 2), rng.uniform(0.08, 0.35) * h, rng.uniform(14, 30)) for _ in range(clouds)]
    trees = [(rng.uniform(0, w * 3), rng.uniform(0.6, 1.1)) for _ in range(5)]
    frames = []
    for i in range(n):
        cam = i * pan_px
        img = _sky(h, w, pal["sky_top"], pal["sky_bottom"])
        for cx, cy, size in cl:
            _cloud(img, (cx - cam * 0.2 + i * 0.3) % (w * 1.5) - 0.25 * w, cy, size, (250, 250, 252))
        _hills(img, _rng("far", seed), h * 0.55, h * 0.08, pal["far"], cam * 0.4, 90)
        _hills(img, _rng("near", seed), h * 0.72, h * 0.05, pal["near"], cam, 60)
        ground = h * 0.9
        for tx, ts in trees:
            _tree(img, (tx - cam) % (w * 1.6) - 0.3 * w, ground, ts, pal["tree"])
        _character(img, w * 0.45 + walk * i * 0.6, ground, 1.2, i / FPS, (pal["clothes"], pal["hair"], pal["eyes"]))
        frames.append(_finish(img))
    return frames


def render_flat_sky(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """Almost all sky: a smooth gradient with a few soft clouds drifting slowly and a bird."""
    rng = _rng("sky", seed)
    pal = _pal(rng)
    cl = [(rng.uniform(0, w), rng.uniform(0.2, 0.8) * h, rng.uniform(18, 40)) for _ in range(3)]
    frames = []
    for i in range(n):
        img = _sky(h, w, pal["sky_top"], pal["sky_bottom"])
        for cx, cy, size in cl:
            _cloud(img, cx + i * 0.8, cy, size, tuple(min(255, v + 40) for v in pal["sky_bottom"]))
        bx, by = w * 0.2 + i * 2.5, h * 0.3 + 6 * math.sin(i / 5)
        cv2.ellipse(img, (int(bx), int(by)), (7, 3), 0, 0, 360, OUTLINE, -1, cv2.LINE_AA)
        frames.append(_finish(img))
    return frames


def render_horizon(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """Sea and sky meeting in one straight line across the whole frame (at mid-height for even seeds)."""
    rng = _rng("horizon", seed)
    pal = _pal(rng)
    y0 = h // 2 if seed % 2 == 0 else int(h * rng.uniform(0.35, 0.65))
    sea = np.array(pal["far"], np.float32)
    frames = []
    for i in range(n):
        img = _sky(h, w, pal["sky_top"], pal["sky_bottom"])
        img[y0:] = sea
        for k in range(10):  # wave strokes drifting sideways
            yy = y0 + 8 + k * (h - y0 - 10) / 10
            xx = (k * 97 + i * (1.0 + k * 0.2)) % (w + 80) - 40
            cv2.line(img, (int(xx), int(yy)), (int(xx + 30 + 3 * k), int(yy)), (230, 240, 250), 2, cv2.LINE_AA)
        sx = w * 0.7
        cv2.circle(img, (int(sx), int(y0 - 30)), 18, (255, 240, 200), -1, cv2.LINE_AA)
        frames.append(_finish(img))
    return frames


def render_symmetric(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """A mirror-symmetric shot: a torii gate centred, identical trees at mirrored places, a centred figure."""
    rng = _rng("sym", seed)
    pal = _pal(rng)
    ground = h * 0.85
    frames = []
    for i in range(n):
        img = _sky(h, w, pal["sky_top"], pal["sky_bottom"])
        img[int(ground):] = np.array(pal["ground"], np.float32)
        cv2.line(img, (0, int(ground)), (w, int(ground)), OUTLINE, 2, cv2.LINE_AA)
        for xf in (0.12, 0.3):  # mirrored pairs
            for x in (w * xf, w * (1 - xf)):
                _tree(img, x, ground, 1.3, pal["tree"])
        gate = (200, 40, 40)
        for x in (w * 0.4, w * 0.6):
            cv2.rectangle(img, (int(x - 6), int(h * 0.35)), (int(x + 6), int(ground)), gate, -1)
        cv2.rectangle(img, (int(w * 0.34), int(h * 0.3)), (int(w * 0.66), int(h * 0.36)), gate, -1)
        cv2.rectangle(img, (int(w * 0.37), int(h * 0.42)), (int(w * 0.63), int(h * 0.45)), gate, -1)
        _character(img, w * 0.5, ground, 1.1, i / FPS, (pal["clothes"], pal["hair"], pal["eyes"]),
                   blink=(i % 40) in (20, 21, 22))
        frames.append(_finish(img))
    return frames


def render_lanterns(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """A row of identical lanterns (a regular repeat) in front of a street, with a walking figure."""
    rng = _rng("lanterns", seed)
    pal = _pal(rng)
    spacing = float(rng.uniform(30, 48))
    frames = []
    for i in range(n):
        img = _sky(h, w, (40, 30, 70), (90, 60, 90))
        _hills(img, _rng("bld", seed), h * 0.5, h * 0.1, pal["far"], i * 0.5, 40)
        cv2.line(img, (0, int(h * 0.18)), (w, int(h * 0.22)), OUTLINE, 2, cv2.LINE_AA)
        x = -spacing + (i * 0.5) % spacing
        while x < w + spacing:
            y = h * 0.18 + (x / w) * h * 0.04 + 12
            cv2.ellipse(img, (int(x), int(y)), (8, 11), 0, 0, 360, (240, 90, 60), -1, cv2.LINE_AA)
            cv2.ellipse(img, (int(x), int(y)), (8, 11), 0, 0, 360, OUTLINE, 1, cv2.LINE_AA)
            x += spacing
        _character(img, w * 0.3 + i * 1.2, h * 0.92, 1.1, i / FPS, (pal["clothes"], pal["hair"], pal["eyes"]))
        frames.append(_finish(img))
    return frames


def render_fast_pan(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT, start: int = 0) -> list[np.ndarray]:
    """A whip-like pan: the camera moves 9-16 px per frame (at 512 px wide) over a landscape."""
    speed = float(_rng("pan", seed).uniform(9, 16))
    full = render_landscape(seed, start + n, w, h, pan_px=speed, walk=0.0)
    return full[start:]


# ---- a third procedure (issue 10 item 4): kinds of footage neither the scenes above nor the generator make.
# Plain numpy rectangles and discs (no cv2 outlines, no anti-aliasing but a final 2x reduction), camera moves by
# integer-free resampling of a larger canvas; scenes: regular architecture, sparse shots, repeated textures
# under whips. Drawn for the tuning side only.


def _canvas_view(canvas: np.ndarray, w: int, h: int, x: float, y: float, zoom: float = 1.0) -> np.ndarray:
    """A w x h view of `canvas` (float32, drawn at 2x) with its top-left at (x, y) in canvas px, zoomed in by
    `zoom` around the view's centre, reduced 2x (area)."""
    a = np.float32([[1.0 / zoom, 0, x + w * (1 - 1 / zoom)], [0, 1.0 / zoom, y + h * (1 - 1 / zoom)]])
    view = cv2.warpAffine(canvas, a, (2 * w, 2 * h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)
    return _finish(cv2.resize(view, (w, h), interpolation=cv2.INTER_AREA))


def render_facade(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """Regular architecture: a building front with a grid of identical windows, pillars and beams (spacings
    of 8-32 px, some multiples of a codec's block), under a slow tilt, push-in or sideways drift."""
    rng = _rng("facade", seed)
    pal = _pal(rng)
    cw, ch = 3 * w, 3 * h
    canvas = np.empty((ch, cw, 3), np.float32)
    canvas[:] = np.array(pal["far"], np.float32) * 0.6 + 80
    step_x, step_y = int(rng.choice([16, 24, 32, 40])), int(rng.choice([16, 24, 32, 48]))
    win_w, win_h = step_x // 2, step_y // 2
    ox, oy = int(rng.integers(0, step_x)), int(rng.integers(0, step_y))
    lit = np.array(pal["sky_bottom"], np.float32)
    dark = np.array(pal["near"], np.float32) * 0.5
    for yy in range(oy, ch, step_y):
        for xx in range(ox, cw, step_x):
            canvas[yy : yy + win_h, xx : xx + win_w] = lit if rng.random() < 0.6 else dark
    pillar = np.array(pal["tree"], np.float32)
    for xx in range(ox, cw, 4 * step_x):
        canvas[:, xx : xx + 6] = pillar
    for yy in range(oy, ch, 3 * step_y):
        canvas[yy : yy + 4] = pillar
    move = ("tilt", "dolly", "drift")[seed % 3]
    frames = []
    for i in range(n):
        if move == "tilt":
            frames.append(_canvas_view(canvas, w, h, w * 0.5, h * 0.3 + 0.6 * i))
        elif move == "dolly":
            frames.append(_canvas_view(canvas, w, h, w * 0.5, h * 0.5, 1.0 + 0.003 * i))
        else:
            frames.append(_canvas_view(canvas, w, h, w * 0.3 + 0.35 * i, h * 0.5 + 0.15 * i))
    return frames


def render_sparse(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT, *, speed: float | None = None
                  ) -> list[np.ndarray]:
    """A sparse shot: a plain two-tone ground and sky, one small subject (a ball or a figure-sized block)
    crossing very slowly (0.1-0.3 px a frame at 24 fps, 2.4-7 px a second: slower is a near-freeze), the camera
    still or drifting as slowly."""
    rng = _rng("sparse", seed)
    pal = _pal(rng)
    speed = float(rng.uniform(0.1, 0.3)) if speed is None else speed
    drift = float(rng.choice([0.0, 0.08]))
    cw, ch = 2 * w + 200, 2 * h + 200
    base = np.empty((ch, cw, 3), np.float32)
    horizon = int(ch * rng.uniform(0.4, 0.7))
    base[:horizon] = np.array(pal["sky_top"], np.float32)
    base[horizon:] = np.array(pal["ground"], np.float32)
    r = int(rng.integers(12, 24))
    color = np.array(OUTLINE, np.float32)
    ys, xs = np.mgrid[0:ch, 0:cw]
    frames = []
    for i in range(n):
        img = base.copy()
        cx, cy = cw * 0.3 + 2 * speed * i, horizon - r - 2
        img[(xs - cx) ** 2 + (ys - cy) ** 2 < r * r] = color
        frames.append(_canvas_view(img, w, h, 100 + drift * i, 100))
    return frames


def render_texture_whip(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """A repeated texture (a picket fence, rows of identical flowers) under a whip: a slow drift, then a 20-40 px
    a frame pan with motion blur, then the drift again."""
    rng = _rng("texture", seed)
    pal = _pal(rng)
    cw = 6 * w
    canvas = np.empty((2 * h, 2 * cw, 3), np.float32)
    canvas[:] = np.array(pal["ground"], np.float32)
    canvas[: int(h * 0.6)] = np.array(pal["sky_top"], np.float32)
    period = int(rng.integers(14, 40))
    post = np.array(pal["tree"], np.float32)
    for xx in range(0, 2 * cw, 2 * period):
        canvas[int(h * 0.7) : int(h * 1.4), xx : xx + period] = post
    flower = np.array(pal["clothes"], np.float32)
    for yy in range(int(h * 1.5), 2 * h, period):
        for xx in range((yy // period % 2) * period, 2 * cw, 2 * period):
            canvas[yy : yy + period // 2, xx : xx + period // 2] = flower
    speed = float(rng.uniform(20, 40))
    x, frames = 0.0, []
    for i in range(n):  # never quite still: a 0.5 px a frame drift before and after the whip
        v = 0.5 + speed * math.sin(math.pi * min(1.0, max(0.0, (i - n * 0.25) / (n * 0.5))))
        x += v
        frame = _canvas_view(canvas, w, h, 2 * x, 0)
        k = int(abs(v))
        if k >= 3:  # motion blur along the pan
            frame = cv2.blur(frame, (k, 1))
        frames.append(frame)
    return frames


# Camera moves other than a horizontal pan (per 24 fps frame): a push-in, a tilt, a roll, diagonal pans.
CAMERA_MOVES = {
    "dolly": dict(zoom=0.004),
    "slow_dolly": dict(zoom=0.0012),
    "tilt": dict(dy=0.8),
    "roll": dict(angle=0.12),
    "diagonal": dict(dx=0.7, dy=0.5),
    "slow_diagonal": dict(dx=0.3, dy=0.2),
    "drift": dict(dx=0.25, zoom=0.0006, angle=0.03),
    "shake": dict(shake=3.0),  # a handheld shake: up to 3 px up and down, half that sideways, every frame
}


def render_camera_move(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT, *, move: str = "dolly"
                       ) -> list[np.ndarray]:
    """A landscape seen through a camera that pushes in, tilts, rolls or drifts diagonally (CAMERA_MOVES): the
    scene is drawn at 1.5x and each frame is an affine view of it (bilinear, like a real camera's resampling)."""
    m = CAMERA_MOVES[move]
    big_w, big_h = int(w * 1.5), int(h * 1.5)
    scene = render_landscape(seed, n, big_w, big_h, pan_px=0.0, walk=0.5)
    frames = []
    for i, img in enumerate(scene):
        scale = 1.0 + m.get("zoom", 0.0) * i
        a = cv2.getRotationMatrix2D((big_w / 2, big_h / 2), m.get("angle", 0.0) * i, scale)
        shake = m.get("shake", 0.0)
        a[0, 2] += -(big_w - w) / 2 - m.get("dx", 0.0) * i - 0.5 * shake * math.sin(2.3 * i)
        a[1, 2] += -(big_h - h) / 2 - m.get("dy", 0.0) * i - shake * math.sin(1.7 * i + 0.5)
        frames.append(cv2.warpAffine(img, a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return frames


def render_tiny_motion(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """A still shot that is not frozen: hair sways a pixel, a blink, a leaf drifts, a very slow push-in."""
    rng = _rng("tiny", seed)
    pal = _pal(rng)
    base = render_landscape(seed, 1, w, h, pan_px=0.0, walk=0.0, clouds=2)[0].astype(np.float32)
    frames = []
    for i in range(n):
        img = base.copy()
        _character(img, w * 0.6, h * 0.9, 1.6, 0.0, (pal["clothes"], pal["hair"], pal["eyes"]),
                   blink=(i % 48) in (30, 31, 32), sway=1.5 * math.sin(i / 6))
        lx, ly = w * 0.2 + i * 0.4, h * 0.3 + i * 0.5
        cv2.ellipse(img, (int(lx), int(ly)), (4, 2), (i * 7) % 180, 0, 360, (90, 160, 60), -1, cv2.LINE_AA)
        zoom = 1.0 + 0.0004 * i
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
        frames.append(_finish(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REFLECT)))
    return frames


def render_night(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """A dark night town (most pixels dark but not black): moon, lit windows, a figure walking."""
    rng = _rng("night", seed)
    frames = []
    wins = [(rng.uniform(0, w), rng.uniform(0.45, 0.8) * h) for _ in range(14)]
    for i in range(n):
        img = _sky(h, w, (8, 10, 28), (25, 28, 60))
        _hills(img, _rng("nb", seed), h * 0.5, h * 0.12, (18, 18, 34), i * 0.5, 35)
        cv2.circle(img, (int(w * 0.8), int(h * 0.18)), 16, (230, 230, 200), -1, cv2.LINE_AA)
        for wx, wy in wins:
            cv2.rectangle(img, (int(wx), int(wy)), (int(wx + 6), int(wy + 8)), (200, 170, 80), -1)
        _character(img, w * 0.3 + i * 1.0, h * 0.95, 1.0, i / FPS, ((40, 40, 70), (30, 30, 40), (200, 200, 220)))
        frames.append(_finish(img))
    return frames


def render_new_moon(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """A moonless street: 99 % of the pixels under 10 % luma, yet a picture (a few lamps and windows, stars,
    a dim figure walking under a lamp): black by blackdetect's pixel count, not a black frame."""
    rng = _rng("new_moon", seed)
    lamps = [(rng.uniform(0.1, 0.9) * w, rng.uniform(0.35, 0.6) * h) for _ in range(3)]
    stars = [(rng.uniform(0, w), rng.uniform(0, 0.3) * h) for _ in range(12)]
    frames = []
    for i in range(n):
        img = _sky(h, w, (2, 2, 6), (8, 9, 16))
        _hills(img, _rng("nm", seed), h * 0.55, h * 0.1, (4, 4, 8), i * 0.4, 30)
        for sx, sy in stars:
            cv2.circle(img, (int(sx), int(sy)), 1, (180, 180, 200), -1, cv2.LINE_AA)
        for lx, ly in lamps:
            cv2.circle(img, (int(lx), int(ly)), 3, (255, 230, 160), -1, cv2.LINE_AA)
            cv2.circle(img, (int(lx), int(ly)), 9, (40, 34, 20), 1, cv2.LINE_AA)
        _character(img, w * 0.2 + i * 0.8, h * 0.95, 1.0, i / FPS, ((14, 14, 22), (10, 10, 14), (60, 60, 70)))
        frames.append(_finish(img))
    return frames


def render_slow_fade(seed: int, n: int, w: int = WIDTH, h: int = HEIGHT) -> list[np.ndarray]:
    """Lighting that changes steadily (dusk): brightness falls by up to half over the segment."""
    frames = render_landscape(seed, n, w, h, pan_px=0.5)
    depth = float(_rng("fade", seed).uniform(0.3, 0.5))
    return [_finish(f.astype(np.float32) * (1 - depth * i / max(1, n - 1))) for i, f in enumerate(frames)]


def add_grain(frames: list[np.ndarray], seed: int, sigma: float = 3.0) -> list[np.ndarray]:
    rng = _rng("grain", seed)
    return [_finish(f.astype(np.float32) + rng.normal(0, sigma, f.shape).astype(np.float32)) for f in frames]


# --------------------------------------------------------------------------------------------------------
# Clean segments from the built-in generator.
# --------------------------------------------------------------------------------------------------------


def generator_available() -> bool:
    try:
        from productions.lib.generator import BuiltinGenerator  # noqa: F401
    except Exception:
        return False
    return True


def clean_segment(prompt_index: int, seed: int, n: int = SEGMENT_FRAMES, w: int = WIDTH,
                  h: int = HEIGHT, fps: int = FPS) -> tuple[list[np.ndarray], str]:
    """A clean segment: the built-in generator's output for PROMPTS[prompt_index] and `seed`."""
    if generator_available():
        from productions.lib.backend import KeyframeRequest, SegmentRequest, never_cancel, no_progress
        from productions.lib.generator import BuiltinGenerator

        gen = BuiltinGenerator()
        prompt = PROMPTS[prompt_index % len(PROMPTS)]
        key = gen.generate_keyframe(KeyframeRequest(prompt=prompt, seed=seed, width=w, height=h), no_progress,
                                    never_cancel)
        result = gen.generate_segment(
            SegmentRequest(prompt=prompt, seed=seed, init_image=key, width=w, height=h, num_frames=n, fps=fps),
            no_progress, never_cancel,
        )
        frames = [np.ascontiguousarray(f[:, :, :3], dtype=np.uint8) for f in result.frames]
        return frames, "generator"
    pan = [0.0, 1.0, 2.5, 4.0][(prompt_index + seed) % 4] * FPS / fps
    return render_landscape(prompt_index * 1000 + seed, n, w, h, pan_px=pan), "drawn"


# --------------------------------------------------------------------------------------------------------
# Defect injection.
# --------------------------------------------------------------------------------------------------------


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def _tile_view(frame: np.ndarray, tw: int, th: int, mode: str, rng: np.random.Generator, k: int) -> np.ndarray:
    """One tile's content: the whole scene squeezed into the tile ("squeeze") or a centred crop at the tile's
    aspect ("crop"), with the tile-to-tile jitter given by `mode`."""
    h, w = frame.shape[:2]
    if mode.startswith("crop"):
        cw = min(w, int(round(h * tw / th)))
        x0 = (w - cw) // 2
        src = frame[:, x0:x0 + cw]
    else:
        src = frame
    if k == 0 or not (mode.endswith("shift") or mode.endswith("scale")):
        return _resize(src, tw, th)
    sh, sw = src.shape[:2]
    if mode.endswith("shift"):
        dx, dy = rng.uniform(-0.03, 0.03) * sw, rng.uniform(-0.03, 0.03) * sh
        m = np.float32([[1, 0, dx], [0, 1, dy]])
    else:  # scale (with a little shift)
        s = rng.uniform(1.03, 1.08) if rng.random() < 0.5 else rng.uniform(0.93, 0.97)
        m = cv2.getRotationMatrix2D((sw / 2 + rng.uniform(-4, 4), sh / 2 + rng.uniform(-4, 4)), 0.0, s)
    warped = cv2.warpAffine(src, m, (sw, sh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return _resize(warped, tw, th)


def inject_tiles(frames: list[np.ndarray], rows: int, cols: int, mode: str, seed: int,
                 gutter: int = 0) -> list[np.ndarray]:
    """Replace every frame by a rows x cols grid of tiles showing the scene again (the "twins" failure).

    mode: "{squeeze|crop}-{exact|shift|scale|time}"; time = each tile shows another moment of the clip.
    gutter: width in px of a drawn panel border (white or black) between tiles.
    """
    h, w = frames[0].shape[:2]
    rng = _rng("tiles", seed, rows, cols, mode)
    offsets = [int(rng.integers(3, 10)) * k for k in range(rows * cols)]
    jitter_seeds = [int(rng.integers(1 << 30)) for _ in range(rows * cols)]
    gutter_color = (255, 255, 255) if rng.random() < 0.5 else (15, 15, 15)
    out = []
    for i in range(len(frames)):
        canvas = np.zeros_like(frames[0])
        for k in range(rows * cols):
            r, c = divmod(k, cols)
            y0, y1 = r * h // rows, (r + 1) * h // rows
            x0, x1 = c * w // cols, (c + 1) * w // cols
            src = frames[(i + offsets[k]) % len(frames)] if mode.endswith("time") else frames[i]
            canvas[y0:y1, x0:x1] = _tile_view(src, x1 - x0, y1 - y0, mode, np.random.default_rng(jitter_seeds[k]), k)
        if gutter:
            for c in range(1, cols):
                x = c * w // cols
                canvas[:, x - gutter // 2:x - gutter // 2 + gutter] = gutter_color
            for r in range(1, rows):
                y = r * h // rows
                canvas[y - gutter // 2:y - gutter // 2 + gutter, :] = gutter_color
        out.append(canvas)
    return out


def inject_black(frames: list[np.ndarray], start: int, count: int, level: int = 0,
                 seed: int = 0) -> list[np.ndarray]:
    """`count` frames from `start` replaced by black (with faint noise up to `level`)."""
    rng = _rng("black", seed)
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        out[i] = rng.integers(0, level + 1, frames[i].shape, dtype=np.uint8) if level else np.zeros_like(frames[i])
    return out


def inject_freeze(frames: list[np.ndarray], start: int, count: int, noise: float = 0.0,
                  seed: int = 0) -> list[np.ndarray]:
    """Frame `start` held for `count` frames (then the clip jumps on); `noise` mimics codec noise."""
    rng = _rng("freeze", seed)
    out = list(frames)
    held = frames[start].astype(np.float32)
    for i in range(start, min(len(frames), start + count)):
        out[i] = _finish(held + rng.normal(0, noise, held.shape)) if noise else frames[start].copy()
    return out


def inject_flicker(frames: list[np.ndarray], pattern: str, amplitude: float, start: int, count: int,
                   seed: int = 0) -> list[np.ndarray]:
    """Brightness gain changes: "alternate" (+a, -a, ...), "random" (+-a per frame), "pop" (one frame +a),
    "dip" (one frame -a), "burst" (3 random frames)."""
    rng = _rng("flicker", seed, pattern)
    out = list(frames)
    end = min(len(frames), start + count)
    gains = {}
    if pattern == "alternate":
        gains = {i: 1 + amplitude * (1 if (i - start) % 2 else -1) for i in range(start, end)}
    elif pattern == "random":
        gains = {i: 1 + amplitude * rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.0) for i in range(start, end)}
    elif pattern == "pop":
        gains = {start: 1 + amplitude}
    elif pattern == "dip":
        gains = {start: 1 - amplitude}
    elif pattern == "burst":
        for i in rng.choice(np.arange(start, end), size=min(3, end - start), replace=False):
            gains[int(i)] = 1 + amplitude * rng.choice([-1.0, 1.0])
    else:
        raise ValueError(pattern)
    for i, g in gains.items():
        out[i] = _finish(frames[i].astype(np.float32) * g)
    return out


def inject_jpeg(frames: list[np.ndarray], quality: int, start: int, count: int) -> list[np.ndarray]:
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        ok, buf = cv2.imencode(".jpg", frames[i][:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        out[i] = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
    return out


def inject_jpeg_upscaled(frames: list[np.ndarray], quality: int, start: int, count: int) -> list[np.ndarray]:
    """JPEG at half size (area downscale), decoded and scaled back up 2x (bilinear)."""
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        h, w = frames[i].shape[:2]
        small = cv2.resize(frames[i], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
        out[i] = np.ascontiguousarray(cv2.resize(decoded, (w, h), interpolation=cv2.INTER_LINEAR))
    return out


def inject_blur(frames: list[np.ndarray], sigma: float, start: int, count: int) -> list[np.ndarray]:
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        out[i] = cv2.GaussianBlur(frames[i], (0, 0), sigma)
    return out


def inject_soft(frames: list[np.ndarray], kind: str, start: int, count: int) -> list[np.ndarray]:
    """Soft frames of other kinds than a Gaussian: "box5" (a 5x5 box blur, like a defocus) or "half" (the frame
    made at half resolution and scaled back up)."""
    out = list(frames)
    for i in range(start, min(len(frames), start + count)):
        f = frames[i]
        if kind == "box5":
            out[i] = cv2.blur(f, (5, 5))
        else:
            h, w = f.shape[:2]
            small = cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            out[i] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def crossfade(a: list[np.ndarray], b: list[np.ndarray], overlap: int) -> list[np.ndarray]:
    """Join two clips like the episode's xfade: `overlap` frames blended linearly."""
    mixed = []
    for k in range(overlap):
        t = (k + 1) / (overlap + 1)
        mixed.append(_finish(a[len(a) - overlap + k].astype(np.float32) * (1 - t) + b[k].astype(np.float32) * t))
    return a[:len(a) - overlap] + mixed + b[overlap:]


def fade_through_black(a: list[np.ndarray], b: list[np.ndarray], overlap: int) -> list[np.ndarray]:
    """Join two clips with a fade to black and back (xfade's `fadeblack`): over `overlap` frames `a` fades out
    in the first half and `b` fades in in the second."""
    mixed = []
    for k in range(overlap):
        t = (k + 1) / (overlap + 1)
        src = a[len(a) - overlap + k] if t < 0.5 else b[k]
        mixed.append(_finish(src.astype(np.float32) * abs(1 - 2 * t)))
    return a[:len(a) - overlap] + mixed + b[overlap:]


def blend_interpolate(native: list[np.ndarray], factor: int, n: int | None = None) -> list[np.ndarray]:
    """Raise the frame rate `factor` times by linear blending, like ffmpeg's `framerate` filter: output frame j
    sits at native time j / factor and is (1 - w) * native[k] + w * native[k + 1] with k, w its integer and
    fractional parts (w = 1/3 and 2/3 at 8 -> 24 fps: two of every three frames are double exposures)."""
    out = []
    total = (len(native) - 1) * factor + 1
    for j in range(total if n is None else min(n, total)):
        k, r = divmod(j, factor)
        if r == 0:
            out.append(native[k])
        else:
            w = r / factor
            out.append(_finish(native[k].astype(np.float32) * (1 - w) + native[k + 1].astype(np.float32) * w + 0.5))
    return out


def hold_frames(native: list[np.ndarray], factor: int, n: int | None = None) -> list[np.ndarray]:
    """Anime's "on twos/threes": each drawing held for `factor` frames (ffmpeg `fps=` from the lower rate)."""
    out = [frame for frame in native for _ in range(factor)]
    return out[:n] if n is not None else out


def same_scene_dissolve(shot: list[np.ndarray], start: int, overlap: int, offset: int) -> list[np.ndarray]:
    """`shot` crossfaded with itself `offset` frames later: the first part runs to frame start + overlap, then
    dissolves over `overlap` frames into the shot resumed `offset` frames ahead (every mixed frame shows the
    scene twice, `offset` frames apart)."""
    return crossfade(shot[: start + overlap], shot[start + offset :], overlap)


# --------------------------------------------------------------------------------------------------------
# The corpus.
# --------------------------------------------------------------------------------------------------------

TILE_VARIANTS = (
    (2, 2, "squeeze-exact", 0), (1, 3, "crop-exact", 0), (2, 2, "squeeze-shift", 0), (1, 3, "crop-shift", 0),
    (2, 2, "squeeze-scale", 0), (1, 3, "squeeze-scale", 0), (2, 2, "squeeze-time", 0), (1, 3, "crop-time", 0),
    (2, 2, "crop-exact", 4), (1, 3, "squeeze-time", 4), (2, 2, "crop-shift", 0), (1, 3, "squeeze-exact", 0),
)

# Tiles of hard scenes (grid items): a plain sky squeezed into two tiles (two of each cloud and bird: little
# content, but an exact repeat), and two panels of a night street with a gutter between them (the gutter's line
# breaks the tiles' match; one border, where the panel rule wanted two).
SPARSE_TILES = {"flat_sky": (1, 2, "squeeze-exact", 0), "night": (1, 2, "crop-time", 5)}

HARD_NEGATIVES: dict[str, Callable[[int, int], list[np.ndarray]]] = {
    "flat_sky": render_flat_sky,
    "horizon": render_horizon,
    "symmetric": render_symmetric,
    "lanterns": render_lanterns,
    "fast_pan": render_fast_pan,
    "tiny_motion": render_tiny_motion,
    "night": render_night,
    "new_moon": render_new_moon,
    "slow_fade": render_slow_fade,
}

# The third procedure's scenes (issue 10 item 4). Scored by bench/qa_accuracy.py as part of the tuning corpus
# (`iter_corpus(third_source=True)`); not in the unit tests' small corpus: the checks still fail some of them
# (perfectly periodic window grids and textures read as tiles and as doubled pictures; bench/RESULTS.md).
THIRD_SOURCE: dict[str, Callable[[int, int], list[np.ndarray]]] = {
    "facade": render_facade,
    "sparse": render_sparse,
    "texture_whip": render_texture_whip,
}


def defect_items(base: list[np.ndarray], name: str, k: int, source: str, fps: int = FPS) -> Iterator[CorpusItem]:
    """Every defect class injected into one clean segment; `k` picks the variants (cycled over bases).
    Durations are in seconds, so the same defects are made at any frame rate."""
    n = len(base)

    def frames_for(seconds: float) -> int:
        return max(1, int(round(seconds * fps)))
    rng = _rng("defects", name)

    def item(label: str, frames: list[np.ndarray], variant: str, **kw) -> CorpusItem:
        return CorpusItem(f"{name}/{label}/{variant}", label, frames, fps, kw.pop("expected", n),
                          boundaries_s=kw.pop("boundaries_s", None), variant=variant, source=source, params=kw)

    for j in range(2):
        rows, cols, mode, gutter = TILE_VARIANTS[(2 * k + j) % len(TILE_VARIANTS)]
        yield item("grid", inject_tiles(base, rows, cols, mode, k * 10 + j, gutter),
                   f"{rows}x{cols}-{mode}" + (f"-gutter{gutter}" if gutter else ""))
    count = (1, 2, 5, frames_for(0.5))[k % 4]
    start = int(rng.integers(1, n - count))
    yield item("black_frames", inject_black(base, start, count, level=(0, 6)[k % 2], seed=k),
               f"{count}f" + ("-noisy" if k % 2 else ""))
    seconds = (0.5, 0.75, 1.0, 2.0)[k % 4]
    count = frames_for(seconds)
    start = int(rng.integers(0, n - count + 1))
    yield item("frozen", inject_freeze(base, start, count, noise=(0.0, 0.8)[(k // 2) % 2], seed=k),
               f"{seconds}s" + ("-noisy" if (k // 2) % 2 else ""))
    pattern = ("alternate", "random", "pop", "dip", "burst")[k % 5]
    amp = (0.04, 0.06, 0.1, 0.15)[k % 4]
    start = int(rng.integers(2, n // 2))
    yield item("flicker", inject_flicker(base, pattern, amp, start, frames_for(0.5), seed=k), f"{pattern}-{amp}")
    quality = (3, 6, 10)[k % 3]
    whole = k % 2 == 0
    start = 0 if whole else int(rng.integers(0, n // 2))
    if k % 4 == 3:  # compressed at half size and blown up 2x: a 16 px grid, each step over two pixels
        yield item("blockiness", inject_jpeg_upscaled(base, quality + 2, start, n if whole else frames_for(1.0)),
                   f"q{quality + 2}-half-upscaled-" + ("all" if whole else "1s"))
    else:
        yield item("blockiness", inject_jpeg(base, quality, start, n if whole else frames_for(1.0)),
                   f"q{quality}-" + ("all" if whole else "1s"))
    yield blur_item(base, name, k, source, fps)
    delta = (-1, -4, 2)[k % 3]
    frames = base[:n + delta] if delta < 0 else base + base[-1:] * delta
    yield item("frame_count", frames, f"{delta:+d}", expected=n)
    # ghosting: the clip drawn at a third (half) of its rate and raised back by linear blending (at 24 fps:
    # 8 -> 24 and 12 -> 24 fps like ffmpeg `framerate`), and the clip crossfaded with itself 0.5 s later
    factor = (3, 2)[k % 2]
    frames = blend_interpolate(base[::factor], factor, n)
    yield item(GHOSTING, frames, f"blend_x{factor}", expected=len(frames))
    overlap = max(2, int(round(DISSOLVE_S * fps)))
    start = int(rng.integers(frames_for(0.25), max(frames_for(0.25) + 1, n - 2 * overlap - frames_for(0.25))))
    frames = same_scene_dissolve(base, start, overlap, overlap)  # at the join of two segments, like the episode's
    yield item(GHOSTING, frames, "same_scene_dissolve", expected=len(frames),
               boundaries_s=[(start + overlap // 2) / fps])


def blur_item(base: list[np.ndarray], name: str, k: int, source: str, fps: int = FPS) -> CorpusItem:
    """A run of soft frames in `base`: Gaussian (sigma 1-4 px), box or half resolution, 0.25-1 s."""
    n = len(base)
    rng = _rng("blur", name)
    seconds = (0.25, 0.5, 1.0)[(k // 3) % 3]
    count = max(2, int(round(seconds * fps)))
    start = int(rng.integers(0, n - count))
    kind = ("sigma1.0", "sigma1.5", "box5", "sigma2.5", "half", "sigma4.0")[k % 6]
    frames = (inject_blur(base, float(kind[5:]), start, count) if kind.startswith("sigma")
              else inject_soft(base, kind, start, count))
    return CorpusItem(f"{name}/blur/{kind}-{seconds}s", "blur", frames, fps, n, variant=f"{kind}-{seconds}s",
                      source=source)


def _drawn(render: Callable[[int, int], list[np.ndarray]], seed: int, n: int, fps: int) -> list[np.ndarray]:
    """A drawn scene at `fps`: drawn at 24 fps (motion is set per 24 fps frame) and subsampled."""
    step = max(1, int(round(FPS / fps)))
    return render(seed, n * step)[::step]


def iter_corpus(*, bases: int = 24, hard_negative_seeds: int = 4, frames: int = SEGMENT_FRAMES,
                seams: bool = True, fps: int = FPS, third_source: bool = False) -> Iterator[CorpusItem]:
    """Yield the corpus: per clean base its clean item and defect items; then hard negatives; then seams.
    `fps`: 24 (delivered masters) or the native rate of generated clips (e.g. 8); `frames` per segment."""
    previous: tuple[str, list[np.ndarray]] | None = None
    seam_k = 0
    for b in range(bases):
        p, seed = b % len(PROMPTS), 1000 + b // len(PROMPTS) * 17 + b
        base, source = clean_segment(p, seed, frames, fps=fps)
        name = f"p{p}s{seed}"
        yield CorpusItem(f"{name}/clean", CLEAN, base, fps, len(base), variant="generator", source=source)
        if b % 4 == 3:  # a clean copy with film grain, and one with mild JPEG
            yield CorpusItem(f"{name}/grain", HARD_NEGATIVE, add_grain(base, b), fps, len(base), variant="grain",
                             source=source)
            yield CorpusItem(f"{name}/jpeg85", HARD_NEGATIVE, inject_jpeg(base, 85, 0, len(base)), fps,
                             len(base), variant="mild_jpeg", source=source)
        if b % 4 == 1:  # the clip as anime holds it: every 2nd (3rd) frame held for 2 (3) frames
            for factor in (2, 3):
                held = hold_frames(base[::factor], factor, len(base))
                yield CorpusItem(f"{name}/hold{factor}", HARD_NEGATIVE, held, fps, len(held),
                                 variant=f"hold_{factor}s", source=source)
        yield from defect_items(base, name, b, source, fps)
        if seams and previous is not None:
            yield from seam_items(previous, (name, base), seam_k, source, fps)
            seam_k += 1
        previous = (name, base)
    hard = {**HARD_NEGATIVES, **(THIRD_SOURCE if third_source else {})}
    for kind, render in hard.items():
        for s in range(hard_negative_seeds):
            drawn = _drawn(render, s, frames, fps)
            yield CorpusItem(f"hard/{kind}/{s}", HARD_NEGATIVE, drawn, fps, frames, variant=kind, source="drawn")
            if s == 0:  # soft frames in the hard scenes too: a flat sky or a night street can be blurred
                yield blur_item(drawn, f"hard/{kind}", len(kind), "drawn", fps)
            if s == 0 and kind in SPARSE_TILES:  # tiles of the scenes with the least in them
                rows, cols, mode, gutter = SPARSE_TILES[kind]
                yield CorpusItem(f"hard/{kind}/grid", "grid", inject_tiles(drawn, rows, cols, mode, len(kind), gutter),
                                 fps, frames, variant=f"{kind}_{rows}x{cols}_{mode}", source="drawn")
    yield from ghost_items(hard_negative_seeds, frames, fps)
    if seams:
        for s in range(max(1, hard_negative_seeds // 2)):  # a fast pan that runs across the boundary
            pan = _drawn(render_fast_pan, s + 50, 2 * frames, fps)
            yield CorpusItem(f"hard/pan_across_boundary/{s}", HARD_NEGATIVE, pan, fps, None,
                             boundaries_s=[frames / fps], variant="pan_across_boundary", source="drawn")
            # the same pan, the segment after the join graded slightly differently: the step hides in the motion
            yield CorpusItem(f"drawn/seams/pan_grade_jump/{s}", "seams",
                             pan[:frames] + regrade(pan[frames:], 1.08, (1.02, 1.0, 0.97)), fps, None,
                             boundaries_s=[frames / fps], variant="pan_grade_jump", source="drawn")
        for s in range(max(1, hard_negative_seeds // 2) if third_source else 0):  # a sparse shot jumps in time
            shot = _drawn(lambda seed, m: render_sparse(seed, m, speed=1.0), 60 + s, 2 * frames, fps)
            half = frames // 2
            yield CorpusItem(f"sparse{s}/seams/time_skip", "seams", shot[:half] + shot[half + frames:], fps, None,
                             boundaries_s=[half / fps], variant="sparse_time_skip", source="drawn")
            back = max(2, int(round(0.5 * fps)))
            yield CorpusItem(f"sparse{s}/seams/time_back", "seams", shot[:half] + shot[half - back:frames - back], fps,
                             None, boundaries_s=[half / fps], variant="sparse_time_back", source="drawn")
            yield CorpusItem(f"sparse{s}/chained", CLEAN, shot[:frames], fps, None, boundaries_s=[half / fps],
                             variant="chained_join", source="drawn")


def regrade(frames: list[np.ndarray], gamma: float = 1.2, warm: tuple[float, float, float] = (1.05, 1.0, 0.93)
            ) -> list[np.ndarray]:
    """The same frames graded differently (a segment made with other colour settings): a darker gamma and a
    warmer balance."""
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255)
    return [np.clip(lut[f] * np.float32(warm), 0, 255).astype(np.uint8) for f in frames]


def seam_items(a: tuple[str, list[np.ndarray]], b: tuple[str, list[np.ndarray]], k: int,
               source: str, fps: int = FPS) -> Iterator[CorpusItem]:
    """Two segments joined: a hard cut and a jump within a shot (defects), and the clean joins (a 0.5 s
    crossfade like the episode's; a chained join, where the next segment continues the shot)."""
    (na, fa), (nb, fb) = a, b
    n = len(fa)
    yield CorpusItem(f"{na}+{nb}/seams/hard_cut", "seams", fa + fb, fps, None, boundaries_s=[n / fps],
                     variant="hard_cut", source=source)
    skip = n // 3  # the next segment did not start from the previous one's last frame: the shot jumps ahead
    yield CorpusItem(f"{nb}/seams/time_skip", "seams", fb[: n // 2] + fb[n // 2 + skip :], fps,
                     None, boundaries_s=[(n // 2) / fps], variant="time_skip", source=source)
    # ...or started from an earlier frame: the shot jumps back (every other pair), or was graded differently
    half = n // 2
    if k % 2 == 0:
        back = max(2, int(round(0.5 * fps)))
        yield CorpusItem(f"{nb}/seams/time_back", "seams", fb[:half] + fb[half - back: n - back], fps, None,
                         boundaries_s=[half / fps], variant="time_back", source=source)
    else:
        gamma, warm = ((1.2, (1.05, 1.0, 0.93)), (1.08, (1.02, 1.0, 0.97)))[k // 2 % 2]  # plain, and subtle
        yield CorpusItem(f"{nb}/seams/grade_jump", "seams", fb[:half] + regrade(fb[half:], gamma, warm), fps, None,
                         boundaries_s=[half / fps], variant="grade_jump", source=source)
    overlap = max(2, int(round(DISSOLVE_S * fps)))
    joined = crossfade(fa, fb, overlap)
    # the producer chose this dissolve: QA is told where it is
    yield CorpusItem(f"{na}+{nb}/crossfade", CLEAN, joined, fps, None, boundaries_s=[(n - overlap // 2) / fps],
                     variant="crossfade_join", source=source, transitions=[(n - overlap, n)])
    yield CorpusItem(f"{na}+{nb}/fade_black", CLEAN, fade_through_black(fa, fb, overlap), fps, None,
                     variant="fade_black_join", source=source, transitions=[(n - overlap, n)])
    yield CorpusItem(f"{na}/chained", CLEAN, fa, fps, None, boundaries_s=[half / fps], variant="chained_join",
                     source=source)
    # ...and the same dissolve nobody declared is a double exposure
    yield CorpusItem(f"{na}+{nb}/ghosting/undeclared_dissolve", GHOSTING, joined, fps, None,
                     boundaries_s=[(n - overlap // 2) / fps], variant="undeclared_dissolve", source=source)
    # two chained segments (the second starts on the first's last frame and continues the shot) crossfaded:
    # every mixed frame shows the shot twice, `overlap - 1` frames apart
    start = half - overlap // 2
    ghost = same_scene_dissolve(fa, start, overlap, overlap - 1)
    yield CorpusItem(f"{na}/ghosting/chained_dissolve", GHOSTING, ghost, fps, None,
                     boundaries_s=[(start + overlap // 2) / fps], variant="chained_dissolve", source=source)


def ghost_items(seeds: int, frames: int, fps: int = FPS) -> Iterator[CorpusItem]:
    """Drawn ghosting defects and their clean counterparts: a landscape panning at 1-8 px/frame, blended up
    from a third of the rate and crossfaded with itself 0.5 s later; the same held on twos and threes; and
    clean pans at every speed in PAN_SPEEDS; camera moves (CAMERA_MOVES) clean and blended up."""
    overlap = max(2, int(round(DISSOLVE_S * fps)))
    step = max(1, int(round(FPS / fps)))
    for s in range(seeds):
        pan = (1.0, 2.0, 4.0, 8.0)[s % 4]
        shot = render_landscape(200 + s, (frames + overlap) * step, pan_px=pan)[::step]
        blended = blend_interpolate(shot[::3], 3, frames)
        yield CorpusItem(f"drawn/ghosting/blend_x3/{s}", GHOSTING, blended, fps, len(blended), variant="blend_x3",
                         source="drawn", params={"pan": pan})
        ghost = same_scene_dissolve(shot, frames // 2 - overlap, overlap, overlap)
        yield CorpusItem(f"drawn/ghosting/same_scene_dissolve/{s}", GHOSTING, ghost, fps, len(ghost),
                         boundaries_s=[(frames // 2 - overlap + overlap // 2) / fps],
                         variant="same_scene_dissolve", source="drawn", params={"pan": pan})
        for factor in (2, 3):
            held = hold_frames(shot[::factor], factor, frames)
            yield CorpusItem(f"drawn/hold{factor}/{s}", HARD_NEGATIVE, held, fps, len(held),
                             boundaries_s=[(frames // 2) / fps],  # chained across a join: no seam either
                             variant=f"hold_{factor}s", source="drawn", params={"pan": pan})
    for pan in PAN_SPEEDS:
        shot = render_landscape(300, frames * step, pan_px=pan)[::step]
        yield CorpusItem(f"hard/pan_speed/{pan:g}", HARD_NEGATIVE, shot, fps, frames, variant="pan_speed",
                         source="drawn", params={"pan": pan})
    # camera moves other than a pan: clean (slow smooth motion looks like a blend to first order), and blended
    # up from a third (half) of the rate
    for k, move in enumerate(CAMERA_MOVES):
        shot = render_camera_move(400 + k, frames * step, move=move)[::step]
        yield CorpusItem(f"hard/camera/{move}", HARD_NEGATIVE, shot, fps, frames, variant="camera_move",
                         boundaries_s=[(frames // 2) / fps],  # chained across a join (a shake comes back)
                         source="drawn", params={"move": move})
        factor = (3, 2)[k % 2]
        full = render_camera_move(400 + k, frames * factor * step, move=move)[::step]
        blended = blend_interpolate(full[::factor], factor, frames)
        yield CorpusItem(f"drawn/ghosting/camera_{move}_x{factor}", GHOSTING, blended, fps, frames,
                         variant=f"blend_x{factor}", source="drawn", params={"move": move})


def small_corpus() -> list[CorpusItem]:
    """A fast subset for the unit tests: 2 bases of 48 frames, 1 seed per hard negative."""
    return list(iter_corpus(bases=2, hard_negative_seeds=1, frames=48))
