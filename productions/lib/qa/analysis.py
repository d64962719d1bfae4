"""One streaming pass over the frames: per-frame features the checks are computed from.

Each frame is reduced once to the analysis size (256 px wide by default) and measured there; blockiness and
sharpness need the original pixels: blockiness is measured on a few small tiles cut from the frame at its own
resolution (aligned to 16 px, so codec block grids keep their phase), sharpness on the edges of the whole
frame (flat-shaded drawings have few edges, and tiles at fixed places can miss all of them). Only small things
are kept per frame: the analysis-size grey image, a 128 px thumbnail and a handful of numbers. The ghost
evidence (ghost.py) is computed in the same pass from the grey images, each frame's as soon as the frames it
is compared with have arrived; it keeps a few log spectra and cepstra of the last frames only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .ghost import GhostTracker, fade_evidence, fade_frames_after, layer_evidence, layer_frames_after

# OpenCV's own thread pool stays off: QA's pictures are 256 px wide, and the episode QA runs beside the
# encoder, which takes every core. Splitting work this small across threads only adds CPU (a default episode's
# QA: 4.5-5.6 -> 3.6-4.2 CPU s on 2 cores, the same results) and takes it from the encode.
cv2.setNumThreads(1)

ANALYSIS_WIDTH = 256
THUMB_WIDTH = 128
# Block grid for local statistics (freeze, flicker): 8x8 blocks, 32x18 px at 256x144.
BLOCK_ROWS = 8
BLOCK_COLS = 8
# Luma below 10 % of full scale counts as black (ffmpeg blackdetect's default pix_th=0.10).
BLACK_PIXEL_LUMA = 0.10 * 255
# Luma above 25 % of full scale is lit: a lamp, a window, a sign, the moon. (A black frame's noise stays far
# under it.)
LIT_PIXEL_LUMA = 0.25 * 255
# A frame looks black when at least this share of its pixels is under BLACK_PIXEL_LUMA (blackdetect's pic_th;
# the rest of the rule is checks.BLACK_MAX_LIT). Where the analysis size shows that and the frame's own pixels are
# at hand, its lit pixels are also counted there (`lit_pixels`): a small subject on a dark sky is averaged with
# the dark around it at 256 px (a red bird of about 25x6 px over a navy sky at 1024x576, held-out draw 23, seen
# since: too few lit pixels at the analysis size, a clip of "41 black frames"), and lights its own pixels at full
# size. About 0.5 ms a 1024x576 frame, only on frames that look black.
BLACK_PICTURE_FRACTION = 0.98
# Detail tiles for blockiness: 6x4 tiles of 64x64 px at the frame's own resolution. (4x3 sampled 8 % of a
# 1024x576 frame: one tile on regular architecture could decide a clip, and a flat or dark shot's blocking was
# missed when its tiles fell on the flat parts. With 6x4, over the held-out draws 2-4 and the tuning corpus, 8
# and 24 fps (all seen): the clean and hard-negative clips' highest score 1.37 -> 0.38 (9 false positives -> 0),
# blocky clips found per draw at 8 fps 0.67/0.67/0.58 -> 0.67/0.75/0.75, at 24 fps 0.83/0.75/0.83 -> 0.75 each;
# the tuning corpus's all, before and after.)
DETAIL_TILE = 64
DETAIL_COLS = 6
DETAIL_ROWS = 4
# Tiles with less than FLAT_TILE_LEVELS between their darkest and lightest pixel are plain (a codec cannot make
# steps there). Where most spread tiles are plain, DETAIL_EXTRA more are cut where the picture has the most edges
# (EDGE_TILE_LEVELS between neighbours at the analysis size) and the plain ones are left out: over a plain sky
# compression blocks show only around the few subjects, and averaging in the plain tiles hid them (seen held-out
# draw 15: JPEG q5 of a plain pink sky, a small blocky balloon in no tile, read 0.38). Only there: on busy frames
# the edge-richest places are regular architecture (tiles put on a facade's window grid raised a clean one from
# 0.17 to 0.67-0.8, the tuning corpus's render_facade), and leaving out a busy frame's few plain tiles made the
# score touchy: a neon street under a whip, 0.83 -> 1.53 (seen held-out draw 18).
DETAIL_EXTRA = 8
EDGE_TILE_LEVELS = 8
FLAT_TILE_LEVELS = 3
# Block grid looked for (px): 8 = JPEG / MPEG / H.264 8x8 transforms; 4x4 transforms and 16x16 macroblocks
# also put a step on every 8th line, so one period covers them (and testing several periods only adds noise).
BLOCK_PERIOD = 8
# Codec grids start at the frame's top-left corner and the detail tiles start on a 16 px grid, so a codec's
# block edges fall between tile pixels 7 and 8 (15 and 16, ...): the steps at phase 7 of the gradient profile
# folded by BLOCK_PERIOD. Only that phase is measured. Regular content (windows, pillars, beams, railings)
# can put a row and a column of steps on the same phase of the fold too, but at a phase of its own: when any
# matching phase counted, clean architecture under slow camera moves scored 0.93-1.7 on held-out draw 2; on
# the tuning corpus every heavy JPEG (q3-q12, also of half-size pictures blown up 2x) peaks at phase 7. Phase 7
# must be the strongest in both directions (a window grid can step at phase 7 too, next to a stronger phase).
CODEC_PHASE = BLOCK_PERIOD - 1
# |gradient| is clipped here (luma levels) before averaging: quantisation steps are small, content edges big.
BLOCK_CLIP = 16.0
# Banding on the codec's grid, in one direction (see grid_banding): heavy compression flattens a smooth gradient
# (a sky, a sea, a wall in soft light) into flat bands whose edges all sit on block boundaries, while the other
# direction stays plain, so the two-direction score above reads ~0 (held-out draws 13-14: JPEG q5 of flat skies
# 0.11-0.56). A band edge: a jump of at least BAND_STEP levels across 3 px whose 1 px steps peak in the middle,
# with nothing over BAND_FLAT in the 3 px either side (flat on both sides; a half-size picture blown up 2x spreads
# its edge over 3 px and still counts, its centre on the same phase). Edges are counted with their sign per tile
# and phase, so the up-and-down edges of regular windows cancel where the one-way steps of a gradient add up;
# and the line holding the most is left out: one straight edge on the grid (a horizon, a letterbox bar) is not
# banding (a plain horizon on the phase read 0.25 with it in), bands come several to a picture.
# Tuning corpus (its 20 scenes and 8 camera moves, JPEG q3-q12 whole and of half-size pictures blown up, 2nd
# worst of 8 frames each; tests/qa_corpus.py): see bench/RESULTS.md. BANDING_AT_LIMIT reads as the check's
# limit (checks.BLOCKINESS_MAX).
BAND_STEP = 6.0
BAND_FLAT = 1.0
# The codec phase's net share must stand this many times the largest other phase's above it: a gradient's bands
# have no edges off the grid, while stripes of unequal widths (9 and 7 px, a wallpaper 16 px apart) step one way
# on the codec phase and back one phase off (against the other phases' mean, such a wallpaper under a handheld
# shake read 1.1-2.4, 1.7 on held-out draw 17; against their largest, 0; the tuning corpus's JPEG recall the same).
BAND_MARGIN = 2.0
BANDING_AT_LIMIT = 0.2
BLOCKINESS_PER_BANDING = 3.5
# Sharpness is measured on edge pixels only: where the gradient of the frame blurred by SHARPNESS_SIGMA (px at
# the frame's own resolution) is at least EDGE_LEVELS luma levels per px. Flat areas (skies, cel shading)
# and noise (grain, codec noise: well under 6 levels per px once blurred) stay out of it.
SHARPNESS_SIGMA = 1.0
EDGE_LEVELS = 6.0
# A frame with fewer edge pixels than this fraction has nothing to measure sharpness on (a blank frame).
MIN_EDGE_FRACTION = 2e-4
# A pixel whose luma changes by more than this (levels, at the analysis size) from the previous frame has
# changed: codec noise on a repeated frame (and the corpus's sigma 0.8 noise, averaged down to the analysis
# size) stays far under it, while an edge moving by a tenth of a pixel changes by about that much.
CHANGED_PIXEL_LUMA = 6.0
# Change is also measured at the frame's own resolution, where small things are still drawn: the largest mean
# |difference| from the previous frame over a block of MOVED_BLOCK x MOVED_BLOCK pixels, in any of R, G and B
# (the limit is checks.FREEZE_MOVED_BLOCK). A bird of a few pixels crossing a plain sky changes nothing at the
# analysis size (held-out draw 21, seen since: at most 3 levels there), but 42 levels in its own blocks.
MOVED_BLOCK = 8
# It is measured (about 1 ms a 1024x576 frame) only where the analysis size shows little change: a largest block
# change (`block_mad`) under this; beyond it the frame has changed anyway (checks.FREEZE_BLOCK_DIFF is lower).
MOVED_MEASURED_BELOW = 1.0
# Brightness steps are measured after undoing the camera's shift between two frames (phase correlation at the
# analysis size) when it moved at least this far (px): a handheld shake moves a horizon or a sky gradient up
# and down, which changes every block's mean like a flicker would.
SHIFT_MIN_PX = 0.25
# A phase-correlation peak under this response is no shift one can trust. Tuning corpus: cuts 0.05 or less, a
# dissolve across a jump 0.2; camera moves over drawn or generated footage 0.37-1.2.
SHIFT_MIN_RESPONSE = 0.3
# Grid sampling: score 2 frames per second for tiling (10 per 5 s segment). Tiling persists over a clip (the
# generator keeps its init image's layout); scoring a frame costs ~5 ms, every frame would cost 12x more.
GRID_SAMPLES_PER_S = 2.0


def boundary_frame(t: float, fps: float) -> int:
    """The index of the first frame after a segment boundary at `t` seconds: the later segment's first frame.
    Every check turns boundary times into frames here, so they agree on where a join is."""
    return int(round(t * fps))


def analysis_size(width: int, height: int, analysis_width: int = ANALYSIS_WIDTH) -> tuple[int, int]:
    """(w, h) of the analysis image: `analysis_width` wide (never upscaled), even height, same aspect."""
    aw = min(analysis_width, width)
    ah = max(2, int(round(height * aw / width / 2)) * 2)
    return aw, ah


def downscale(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average down to `size`. Frames more than 2x larger first go through a bilinear step to 2x the
    target: OpenCV's area filter is slow for non-integer ratios (10 ms for 1080p -> 256 px, 1.2 ms this way)."""
    w, h = size
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    if fw > 2 * w and fh > 2 * h:
        frame = cv2.resize(frame, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def block_means(img: np.ndarray, rows: int = BLOCK_ROWS, cols: int = BLOCK_COLS) -> np.ndarray:
    """Mean of each block of a rows x cols grid (img float32, cropped to a multiple of the grid)."""
    h, w = img.shape[:2]
    bh, bw = h // rows, w // cols
    return cv2.resize(img[: bh * rows, : bw * cols], (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float64)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = (a - a.mean()).ravel()
    b = (b - b.mean()).ravel()
    den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / den) if den > 1e-6 else 0.0


# Regional consistency: the overlap of two compared parts is cut into REGIONS x REGIONS regions; tiles match
# in every region that has content, a periodic row (lanterns, a fence) or two look-alike objects only in a
# few. Regions whose mean gradient (after GRADIENT_FLOOR) is under REGION_MIN_ENERGY have no content; with
# content in fewer than REGION_MIN_COUNT regions (a plain sky with two look-alike clouds) the missing ones
# count as mismatches: too little is there to call it a repeat.
REGIONS = 3
REGION_MIN_ENERGY = 0.3
REGION_MIN_COUNT = 4
# Except an exact repeat: where the parts match at EXACT_REPEAT or more overall, with content in one region
# at least and some drawing (REGION_TRACE_ENERGY: a cloud's soft edge, a kite's string) in REGION_TRACE_COUNT
# regions or more, little content is still a tile (a plain sky squeezed into two tiles: two kites, two birds,
# two clouds, pixel for pixel; held-out draws 5-8 0.15-0.50 without this, 1.00 with it). Two look-alike clouds
# match where they are, but whatever else is drawn does not repeat at the tile lag, and the overall match falls
# short of an exact one. Two regions with a trace are enough: a kite and a bird, each twice (held-out draw 20,
# seen since: 0.50 with three, as only the kite's string now and then traced a third). With two, on the seen draws
# 15-20: that sky 0.50 -> 1.00, draw 19's 0.12 -> 1.00, three time-offset tiles of a sparse static shot 0.24 ->
# 0.96 (draw 15) and 0 -> 0.98 (draw 20); no other verdict changed there or on the tuning corpus.
EXACT_REPEAT = 0.95
REGION_TRACE_ENERGY = 0.02
REGION_TRACE_COUNT = 2


# Below this global NCC the regional test is skipped (the evidence is the smaller of the two anyway).
REGION_SKIP_BELOW = 0.3


def _regional_ncc(a: np.ndarray, b: np.ndarray, g: float | None = None) -> float:
    """min(global NCC, median NCC over the regions with content); regions without content count as 0 when
    fewer than REGION_MIN_COUNT have content (too little to call it a repeat)."""
    if g is None:
        g = _ncc(a, b)
    if g < REGION_SKIP_BELOW:
        return max(g, 0.0)
    h, w = a.shape
    rh, rw = h // REGIONS, w // REGIONS
    shape = (REGIONS, rh, REGIONS, rw)
    ra = a[: rh * REGIONS, : rw * REGIONS].reshape(shape).transpose(0, 2, 1, 3).reshape(REGIONS**2, -1)
    rb = b[: rh * REGIONS, : rw * REGIONS].reshape(shape).transpose(0, 2, 1, 3).reshape(REGIONS**2, -1)
    ma, mb = ra.mean(axis=1), rb.mean(axis=1)
    content = (ma + mb) >= 2 * REGION_MIN_ENERGY
    ca, cb = ra - ma[:, None], rb - mb[:, None]
    num = (ca * cb).sum(axis=1)
    den = np.sqrt((ca * ca).sum(axis=1) * (cb * cb).sum(axis=1))
    ncc = np.where(den > 1e-6, num / np.maximum(den, 1e-6), 0.0)
    vals = ncc[content].tolist()
    if len(vals) < REGION_MIN_COUNT:
        traced = ncc[(ma + mb) >= 2 * REGION_TRACE_ENERGY]
        if vals and g >= EXACT_REPEAT and traced.size >= REGION_TRACE_COUNT:
            return min(g, float(np.median(traced)))
        vals += [0.0] * (REGION_MIN_COUNT - len(vals))
    return min(g, float(np.median(vals)))


def _hann(shape: tuple[int, int], cache: dict) -> np.ndarray:
    win = cache.get(shape)
    if win is None:
        win = cache[shape] = cv2.createHanningWindow((shape[1], shape[0]), cv2.CV_32F)
    return win


def _border_rows(mask: np.ndarray) -> np.ndarray:
    """For each column of `mask` (edge yes/no per pixel), the fraction of rows with an edge at that column or
    a neighbour (a border may wobble by a pixel after resampling)."""
    near = mask.copy()
    near[:, 1:] |= mask[:, :-1]
    near[:, :-1] |= mask[:, 1:]
    return near.mean(axis=0)


# Gradient level (0-255 luma per px at analysis size) that counts as an edge for the panel-border profile.
BORDER_EDGE_LEVEL = 12.0
# Gradients weaker than this (luma levels per px) are dropped before correlating: the 1-level steps of
# quantised sky gradients (banding) and film grain are periodic or random textures, not content.
GRADIENT_FLOOR = 3.0
# Phase-correlation peak from which a shift counts fully: tiles (even shifted, scaled or a few frames apart)
# gave 0.78-1.0 on the corpus; periodic textures (lanterns, regular wave strokes) 0.1-0.45, their energy
# being split over several shifts. Weaker peaks scale the evidence down proportionally.
PC_FULL_RESPONSE = 0.6
# Largest tile-to-tile shift the phase correlation may report, as a fraction of the part compared; beyond it
# the match is a different alignment (periodic textures), not a tile.
MAX_TILE_SHIFT = 0.15


def _grad(img: np.ndarray, axis: int) -> np.ndarray:
    g = np.abs(np.diff(img, axis=axis))
    g = np.maximum(g - GRADIENT_FLOOR, 0.0)
    # A 1 px blur makes the correlation tolerant of the sub-pixel phase a resampled tile lands on.
    return cv2.GaussianBlur(g, (5, 5), 1.0)


def _shifted_ncc(a: np.ndarray, b: np.ndarray, dx: int, dy: int) -> float:
    """NCC of a and b (same shape) over their overlap when b is displaced by (dx, dy)."""
    h, w = a.shape
    if abs(dx) >= w // 2 or abs(dy) >= h // 2:
        return 0.0
    a2 = a[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
    b2 = b[max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)]
    return _regional_ncc(a2, b2)


def _phase_shift(a: np.ndarray, b: np.ndarray, cache: dict) -> tuple[tuple[float, float], float]:
    """cv2.phaseCorrelate of two equal-size float32 images with a Hann window: ((dx, dy), response).
    phaseCorrelate multiplies its inputs by the window in place (OpenCV 5), so it gets copies: callers pass
    views of, or the very images, that other measurements read afterwards."""
    return cv2.phaseCorrelate(a.copy(), b.copy(), _hann(a.shape, cache))


def _pc_ncc(a: np.ndarray, b: np.ndarray, cache: dict) -> float:
    """Phase-correlate two parts of a frame, then verify: NCC of the parts aligned by the shift found,
    scaled down when the correlation peak is weak (a periodic texture spreads it over several shifts)."""
    (sx, sy), resp = _phase_shift(a, b, cache)
    h, w = a.shape
    if abs(sx) > MAX_TILE_SHIFT * w or abs(sy) > MAX_TILE_SHIFT * h:
        return 0.0
    return _shifted_ncc(a, b, -int(round(sx)), -int(round(sy))) * min(1.0, float(resp) / PC_FULL_RESPONSE)


def _level_scores(gx: np.ndarray, gy: np.ndarray, cache: dict) -> tuple[float, float, float, float]:
    """ncc_x, ncc_y, pc_x, pc_y (see grid_scores) from a frame's gradients across (gx) and down (gy)."""
    h, w = gx.shape[0], gy.shape[1]  # the frame's size (each gradient is one shorter along its axis)

    def lag_ncc(g: np.ndarray, lag: int, axis: int) -> float:
        n = g.shape[axis]
        pairs = []
        for lg in (lag - 1, lag, lag + 1):
            if 0 < lg < n:
                a, b = (g[:, : n - lg], g[:, lg:]) if axis == 1 else (g[: n - lg], g[lg:])
                pairs.append((_ncc(a, b), a, b))
        if not pairs:
            return 0.0
        best, a, b = max(pairs, key=lambda p: p[0])
        return _regional_ncc(a, b, best)

    ncc_x = max(lag_ncc(gx, round(w / 2), 1), lag_ncc(gx, round(w / 3), 1))
    ncc_y = max(lag_ncc(gy, round(h / 2), 0), lag_ncc(gy, round(h / 3), 0))
    wx, hy = gx.shape[1], gy.shape[0]
    t, u = wx // 3, hy // 3
    pc_x = max(
        _pc_ncc(gx[:, : wx // 2], gx[:, wx - wx // 2 :], cache),
        _pc_ncc(gx[:, :t], gx[:, t : 2 * t], cache),
        _pc_ncc(gx[:, t : 2 * t], gx[:, 2 * t : 3 * t], cache),
    )
    pc_y = max(
        _pc_ncc(gy[: hy // 2], gy[hy - hy // 2 :], cache),
        _pc_ncc(gy[:u], gy[u : 2 * u], cache),
        _pc_ncc(gy[u : 2 * u], gy[2 * u : 3 * u], cache),
    )
    return ncc_x, ncc_y, pc_x, pc_y


def _periodicity(g: np.ndarray, axis: int) -> float:
    """How periodic a gradient image is along `axis`: its highest normalised autocorrelation (1 at lag 0) at a
    lag short of the tile lags (6 px to n/2 - 4, away from n/3 +-4). A fence or a facade repeats every few px
    about as much as at half the frame; ordinary content, tiled or not, correlates little at those lags."""
    n = g.shape[axis]
    c = g - g.mean()
    spec = np.fft.rfft(c, n=2 * n, axis=axis)
    a = np.fft.irfft(spec * np.conj(spec), axis=axis).sum(axis=1 - axis)[:n]
    if a[0] <= 1e-9:
        return 0.0
    a = a / (n - np.arange(n)) / a[0] * n
    lags = np.arange(n)
    shorter = (lags >= 6) & (lags <= n // 2 - 4) & (np.abs(lags - n / 3) > 4)
    return float(np.clip(a[shorter].max(), 0.0, 1.0)) if shorter.any() else 0.0


def _level_grid_scores(gray: np.ndarray, cache: dict, suffix: str) -> dict[str, float]:
    """ncc, pc and periodicity across and down (see grid_scores) at one level, the keys ending in `suffix`."""
    gx, gy = _grad(gray, 1), _grad(gray, 0)
    ncc_x, ncc_y, pc_x, pc_y = _level_scores(gx, gy, cache)
    return {f"ncc_x{suffix}": ncc_x, f"ncc_y{suffix}": ncc_y, f"pc_x{suffix}": pc_x, f"pc_y{suffix}": pc_y,
            f"periodic_x{suffix}": _periodicity(gx, 1), f"periodic_y{suffix}": _periodicity(gy, 0)}


def grid_scores(gray: np.ndarray, cache: dict) -> dict[str, float]:
    """Repeated-content scores of one analysis-size grey frame (float32), each in [0, 1].

    - ncc_x / ncc_y: normalised cross-correlation of |d/dx| (|d/dy|) with itself shifted by W/2 or W/3
      (H/2 or H/3), best of the lag and its +-1 px neighbours. Gradients, not intensities: a plain sky or a
      horizon is shift-invariant in intensity and would score ~1.
    - pc_x / pc_y: phase correlation between the halves (and neighbouring thirds) of the same gradient
      images finds tiles shifted against each other; the score is the NCC of the parts once aligned by the
      shift found (the raw phase-correlation peak also fires on banding and periodic textures).
    - periodic_x / periodic_y: see _periodicity (a fence repeats at half the frame too, and at every post).
    All six at the analysis size and again at half of it (keys ending `_half`), where a few % of scale between
    tiles is < 1 px. Each level keeps its own periodicity: the half level's +-1 px reaches lags the analysis
    size's integer lags miss, so a fence whose period does not divide the tile lag lines up there alone, and
    only that level's periodicity tells (checks.grid_evidence).
    - border_v1/v2, border_h1/h2: the two strongest straight full-height (full-width) edges at the tile
      positions W/3, W/2, 2W/3 (H/3, H/2, 2H/3), as the fraction of rows (columns) they cover.
    """
    h, w = gray.shape
    out = _level_grid_scores(gray, cache, "")
    half = _level_grid_scores(cv2.pyrDown(gray), cache, "_half") if min(h, w) >= 64 else \
        {f"{k}_half": v for k, v in out.items()}
    out.update(half)

    cols = _border_rows(np.abs(np.diff(gray, axis=1)) >= BORDER_EDGE_LEVEL)
    rows = _border_rows((np.abs(np.diff(gray, axis=0)) >= BORDER_EDGE_LEVEL).T)

    def at(profile: np.ndarray, n: int, frac: float) -> float:
        c = int(round(n * frac))
        lo, hi = max(0, c - 3), min(profile.shape[0], c + 3)
        return float(profile[lo:hi].max()) if hi > lo else 0.0

    v = sorted((at(cols, w, f) for f in (1 / 3, 1 / 2, 2 / 3)), reverse=True)
    hz = sorted((at(rows, h, f) for f in (1 / 3, 1 / 2, 2 / 3)), reverse=True)
    out["border_v1"], out["border_v2"] = v[0], v[1]
    out["border_h1"], out["border_h2"] = hz[0], hz[1]
    return out


def detail_tiles(frame: np.ndarray, small_gray: np.ndarray | None = None) -> list[np.ndarray]:
    """Grey tiles of DETAIL_TILE px spread over an RGB frame at its own resolution, origins on a 16 px grid
    (only the tiles are converted to grey: converting a whole 1080p frame would cost more than the rest).
    With `small_gray` (the frame at the analysis size), when most of those are plain (`_plain`), also up to
    DETAIL_EXTRA tiles where it has the most edges, and the plain ones left out: a plain sky's blocking shows
    only around its few subjects."""
    h, w = frame.shape[:2]
    size = min(DETAIL_TILE, (h // DETAIL_ROWS) // 16 * 16 or 16, (w // DETAIL_COLS) // 16 * 16 or 16)
    origins = []
    for r in range(DETAIL_ROWS):
        for c in range(DETAIL_COLS):
            cy = (2 * r + 1) * h // (2 * DETAIL_ROWS)
            cx = (2 * c + 1) * w // (2 * DETAIL_COLS)
            origins.append((max(0, (cy - size // 2) // 16 * 16), max(0, (cx - size // 2) // 16 * 16)))
    tiles = _cut_tiles(frame, origins, size)
    plain = [_plain(t) for t in tiles]
    if small_gray is not None and DETAIL_EXTRA and 2 * sum(plain) > len(tiles):
        extra = _cut_tiles(frame, _edge_tiles(small_gray, w, h, size, origins), size)
        kept = [t for t, p in zip(tiles, plain, strict=True) if not p] + [t for t in extra if not _plain(t)]
        return kept or tiles
    return tiles


def _cut_tiles(frame: np.ndarray, origins: list[tuple[int, int]], size: int) -> list[np.ndarray]:
    tiles = []
    for y0, x0 in origins:
        tile = frame[y0 : y0 + size, x0 : x0 + size]
        if tile.shape[:2] == (size, size):
            tiles.append(cv2.cvtColor(np.ascontiguousarray(tile), cv2.COLOR_RGB2GRAY))
    return tiles


def _plain(tile: np.ndarray) -> bool:
    """Less than FLAT_TILE_LEVELS between the tile's darkest and lightest pixel: nothing a codec could step."""
    return int(tile.max()) - int(tile.min()) < FLAT_TILE_LEVELS


def _edge_tiles(small_gray: np.ndarray, w: int, h: int, size: int, taken: list[tuple[int, int]]
                ) -> list[tuple[int, int]]:
    """Origins (y, x) of up to DETAIL_EXTRA size x size tiles of a w x h frame on the cells of a size px grid
    where `small_gray` has the most edge pixels (at least one), none overlapping a tile in `taken` by half."""
    rows, cols = h // size, w // size
    if rows < 1 or cols < 1:
        return []
    g = small_gray.astype(np.int16)
    edges = np.zeros(g.shape, np.float32)
    edges[:, 1:] += np.abs(np.diff(g, axis=1)) >= EDGE_TILE_LEVELS
    edges[1:, :] += np.abs(np.diff(g, axis=0)) >= EDGE_TILE_LEVELS
    sh, sw = g.shape
    cells = cv2.resize(edges[: sh * rows * size // h, : sw * cols * size // w], (cols, rows),
                       interpolation=cv2.INTER_AREA)
    out: list[tuple[int, int]] = []
    for k in np.argsort(cells, axis=None)[::-1]:
        if len(out) == DETAIL_EXTRA or cells.flat[k] <= 0:
            break
        y0, x0 = int(k // cols) * size, int(k % cols) * size
        if all(abs(y0 - ty) * 2 >= size or abs(x0 - tx) * 2 >= size for ty, tx in taken + out):
            out.append((y0, x0))
    return out


def _grid_step(profile: np.ndarray, k: int = CODEC_PHASE) -> float:
    """How far phase `k` of `profile` folded by BLOCK_PERIOD stands above the mean of the other phases,
    relative to that mean (floored at 0.25 levels so flat content stays ~0); 0 unless it is the strongest."""
    m = profile.shape[0] // BLOCK_PERIOD * BLOCK_PERIOD
    phase = profile[:m].reshape(-1, BLOCK_PERIOD).mean(axis=0)
    if int(phase.argmax()) != k:
        return 0.0
    others = (float(phase.sum()) - float(phase[k])) / (BLOCK_PERIOD - 1)
    return (float(phase[k]) - others) / max(others, 0.25)


def blockiness(tiles: list[np.ndarray]) -> float:
    """Blockiness of one frame from its detail tiles.

    The luma steps on a BLOCK_PERIOD px grid against those between grid lines: |gradient| clipped at BLOCK_CLIP
    (so a few strong real edges do not decide it, while the small steps of coarse quantisation in smooth areas
    all count), averaged over the tiles per column (row), folded by the period; the excess of the strongest phase
    over the others. Codec grids start at the frame's corner, so the columns and the rows must both step at the
    codec phase; this part is the smaller of the two (a straight horizon or pillar that happens to sit on the
    grid shows in one direction only). The phase is the codec's (CODEC_PHASE), not the strongest one, and it
    must be the strongest in both directions: regular architecture peaks wherever its edges fall. ~0-0.3 for
    clean frames.
    The score is the larger of that and the banding on the grid in one direction (`grid_banding`, scaled so
    that BANDING_AT_LIMIT reads as the check's limit): a flat sky compressed hard steps in one direction only,
    and a half-size picture blown up 2x centres its softened steps on the same phase.
    A 16 px grid as such is not looked for: a 16 px fold paired over neighbouring phases found it on the tuning
    corpus, but doubled the false positives on a fresh draw of the held-out set (regularly spaced windows and
    pillars); see bench/RESULTS.md.
    """
    if not tiles:
        return float("nan")
    stack = np.stack(tiles).astype(np.float32)
    dx = np.abs(np.diff(stack, axis=2))  # n, s, s-1
    dy = np.abs(np.diff(stack, axis=1))  # n, s-1, s
    col_excess = _grid_step(np.minimum(dx, BLOCK_CLIP).mean(axis=(0, 1)))
    row_excess = _grid_step(np.minimum(dy, BLOCK_CLIP).mean(axis=(0, 2)))
    grid = max(0.0, min(col_excess, row_excess))
    # grid_banding stacks the tiles again, as int16: its comparisons run faster so than on these float32
    # differences (0.85 against 0.92-1.0 ms a 1024x576 frame, same values)
    return max(grid, BLOCKINESS_PER_BANDING * grid_banding(tiles))


def _band_edges(stack: np.ndarray) -> np.ndarray:
    """Per phase of BLOCK_PERIOD along axis 1 of `stack` (tiles, rows, columns; int16): the band edges (see
    BAND_STEP) summed with their sign in each tile, |sum| added over the tiles, less the line (the same row
    of every tile) that holds the most, per row of tile width."""
    n, rows, cols = stack.shape
    d = np.abs(np.diff(stack, axis=1))  # d[:, i]: between rows i and i + 1
    m = rows - 1
    jump = stack[:, 6 : m - 2] - stack[:, 3 : m - 5]  # across rows i - 1 .. i + 2, for i = 4 .. m - 5
    edge = np.abs(jump) >= BAND_STEP
    if not edge.any():
        return np.zeros(BLOCK_PERIOD)
    mid = d[:, 4 : m - 4]
    edge &= (mid >= d[:, 3 : m - 5]) & (mid > d[:, 5 : m - 3])  # the 1 px steps peak in the middle
    widest = np.maximum(np.maximum(d[:, : m - 2], d[:, 1 : m - 1]), d[:, 2:])  # over 3 steps
    edge &= np.maximum(widest[:, : m - 8], widest[:, 6 : m - 2]) <= BAND_FLAT  # flat 3 px either side
    signed = (np.sign(jump) * edge).sum(axis=2)  # tiles, rows i
    phase = np.arange(4, m - 4) % BLOCK_PERIOD
    net = np.zeros(BLOCK_PERIOD)
    for k in range(BLOCK_PERIOD):
        lines = signed[:, phase == k]  # tiles, the lines of phase k in a tile
        net[k] = max(0.0, float(np.abs(lines.sum(axis=1)).sum()) - float(np.abs(lines).sum(axis=0).max()))
    return net / (n * cols)


def grid_banding(tiles: list[np.ndarray]) -> float:
    """Banding on the codec's grid in either direction: the net share of band edges at CODEC_PHASE less
    BAND_MARGIN times the largest other phase's, the larger direction's; 0 for clean frames and off the grid."""
    if not tiles or tiles[0].shape[0] < 2 * BLOCK_PERIOD + 2:
        return 0.0
    stack = np.stack(tiles).astype(np.int16)
    best = 0.0
    for s in (stack, np.ascontiguousarray(stack.transpose(0, 2, 1))):
        share = _band_edges(s)
        others = float(np.delete(share, CODEC_PHASE).max())
        best = max(best, float(share[CODEC_PHASE]) - BAND_MARGIN * others)
    return best


def edge_sharpness(frame: np.ndarray) -> tuple[float, float]:
    """(sharpness, edge fraction) of one RGB frame at its own resolution.

    sharpness: on the edge pixels (see EDGE_LEVELS), the gradient energy of the frame over that of the frame
    blurred by SHARPNESS_SIGMA. A crisp drawn edge loses most of its peak gradient to that blur (ratio ~2-2.5
    for anti-aliased lines); an edge that is already soft loses little (ratio -> 1). How many edges there are
    and how strong cancels out, so a flat-shaded shot with a few outlines is measured like a busy one.
    NaN when fewer than MIN_EDGE_FRACTION of the pixels are edges. edge fraction: the share of edge pixels.
    """
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    r = cv2.GaussianBlur(g, (0, 0), SHARPNESS_SIGMA)
    rx = cv2.Sobel(r, cv2.CV_32F, 1, 0, ksize=3)
    ry = cv2.Sobel(r, cv2.CV_32F, 0, 1, ksize=3)
    e_blur = rx * rx + ry * ry
    edges = e_blur >= (4.0 * EDGE_LEVELS) ** 2  # a 3x3 Sobel reads 4x the per-px step
    fraction = float(np.count_nonzero(edges)) / edges.size
    if fraction < MIN_EDGE_FRACTION:
        return float("nan"), fraction
    e_full = gx * gx + gy * gy
    return float(e_full[edges].sum() / e_blur[edges].sum()), fraction


@dataclass
class Features:
    """Per-frame measurements of a whole clip (index i = frame i)."""

    fps: float
    width: int
    height: int
    analysis: tuple[int, int]
    luma: np.ndarray  # mean luma
    dark: np.ndarray  # fraction of pixels darker than BLACK_PIXEL_LUMA
    lit: np.ndarray  # fraction of pixels at least LIT_PIXEL_LUMA
    mad: np.ndarray  # mean |difference| to the previous frame (0 for frame 0)
    block_mad: np.ndarray  # largest block mean |difference| to the previous frame
    changed: np.ndarray  # fraction of pixels changed by more than CHANGED_PIXEL_LUMA (1 for frame 0)
    # largest MOVED_BLOCK-px block mean |difference| to the previous frame at full resolution, any colour; NaN
    # for frame 0, where the full-resolution pixels were not seen (episode QA works on analysis-size frames) and
    # where block_mad is MOVED_MEASURED_BELOW or more
    moved: np.ndarray
    # pixels at LIT_PIXEL_LUMA or more at full resolution; NaN where not measured (no full-resolution pixels, or
    # the analysis size does not look black: BLACK_PICTURE_FRACTION)
    lit_pixels: np.ndarray
    gain_step: np.ndarray  # brightness change from the previous frame, camera shift undone (see _gain_step)
    shift: np.ndarray  # the camera's shift from the previous frame (analysis px; 0 where not found, see _gain_step)
    grid: dict[str, np.ndarray]  # per-frame grid scores, NaN where the frame was not sampled
    blockiness: np.ndarray  # NaN when not measured (no full-resolution pixels)
    sharpness: np.ndarray  # edge sharpness (see edge_sharpness); NaN when not measured
    edges: np.ndarray  # fraction of pixels on edges
    grays: list[np.ndarray]  # analysis-size grey, uint8
    thumbs: list[np.ndarray]  # THUMB_WIDTH px RGB
    bad_shapes: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    # per-frame ghost evidence (see ghost.py): "blend", "mix", "echo"; NaN where not measured
    ghost: dict[str, np.ndarray] = field(default_factory=dict)
    ghost_gap: int = 1  # frames between a frame and its references for "mix" and "echo"
    # fade evidence (ghost.fade_evidence) at boundary frames, measured while the frames streamed in
    fades: dict[int, tuple[float, int, int]] = field(default_factory=dict)
    # layer evidence (ghost.layer_evidence) at boundary frames, measured while the frames streamed in
    layers: dict[int, tuple[float, int, int, float]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.luma)

    @property
    def shapes_ok(self) -> bool:
        """Every frame has the first frame's size and an RGB(A)/grey layout."""
        return not self.bad_shapes


def _moved(previous: np.ndarray | None, frame: np.ndarray | None) -> float:
    """The largest mean |difference| between two full-resolution RGB frames over a MOVED_BLOCK-px block, in any
    colour; NaN without both frames (or smaller than a block)."""
    if previous is None or frame is None or previous.shape != frame.shape:
        return float("nan")
    rows, cols = frame.shape[0] // MOVED_BLOCK, frame.shape[1] // MOVED_BLOCK
    if not rows or not cols:
        return float("nan")
    return float(block_means(cv2.absdiff(previous, frame), rows, cols).max())


def _lit_pixels(frame: np.ndarray | None) -> float:
    """How many pixels of a full-resolution RGB frame are lit (LIT_PIXEL_LUMA); NaN without the frame."""
    if frame is None:
        return float("nan")
    return float(np.count_nonzero(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) >= LIT_PIXEL_LUMA))


class FrameAnalyzer:
    """Feed frames one by one with `add()`; `finish()` returns the Features."""

    def __init__(self, fps: float, *, analysis_width: int = ANALYSIS_WIDTH, detail: bool = True,
                 boundaries_s: Sequence[float] = ()) -> None:
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 24.0
        # The evidence at each boundary frame (fades, the moving layer: ghost.py) is measured as soon as the frames
        # it needs are in, while the rest streams in (an encoder is usually writing the same frames), not all at
        # the end: the layer's 0.16 s a boundary at 24 fps, after the last frame, lengthened every stitch of a
        # default episode by 0.6-0.8 s (bench/RESULTS.md). Entries: (frame count due, boundary, measure, results).
        self._fades: dict[int, tuple[float, int, int]] = {}
        self._layers: dict[int, tuple[float, int, int, float]] = {}
        boundaries = sorted({boundary_frame(t, self.fps) for t in boundaries_s})
        self._due: list[tuple[int, int, Callable, dict]] = [
            (b + after(self.fps), b, measure, results) for b in boundaries if b > 0
            for after, measure, results in ((fade_frames_after, fade_evidence, self._fades),
                                            (layer_frames_after, layer_evidence, self._layers))]
        self.analysis_width = analysis_width
        self.detail = detail
        self.grid_stride = max(1, int(round(self.fps / GRID_SAMPLES_PER_S)))
        self._size: tuple[int, int] | None = None
        self._full: tuple[int, int] | None = None
        self._cache: dict = {}
        self._prev: np.ndarray | None = None  # the previous frame's analysis-size grey (float32) ...
        self._prev_blocks: np.ndarray | None = None  # ... and its block means
        self._prev_pixels: tuple[np.ndarray, np.ndarray | None] | None = None  # ... and copies of its pixels
        self._rows: dict[str, list[float]] = {k: [] for k in ("luma", "dark", "lit", "mad", "block_mad", "changed",
                                                               "moved", "gain_step", "shift", "blockiness",
                                                               "sharpness", "edges", "lit_pixels")}
        self._grid: dict[str, list[float]] = {}
        self._grays: list[np.ndarray] = []
        self._thumbs: list[np.ndarray] = []
        self._bad: list[tuple[int, tuple[int, ...]]] = []
        self._ghost = GhostTracker(self.fps)

    def add(self, frame: np.ndarray) -> None:
        i = len(self._grays)
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            self._bad.append((i, tuple(frame.shape)))
            return
        if frame.shape[2] == 4:
            frame = frame[:, :, :3]
        if frame.dtype != np.uint8:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
        fh, fw = frame.shape[:2]
        if self._full is None:
            self._full = (fw, fh)
            self._size = analysis_size(fw, fh, self.analysis_width)
        elif (fw, fh) != self._full:
            self._bad.append((i, tuple(frame.shape)))
        assert self._size is not None
        frame = np.ascontiguousarray(frame)
        small = downscale(frame, self._size)
        self._add_small(small, frame if self.detail else None)

    def _repeats(self, small: np.ndarray, full: np.ndarray | None) -> bool:
        """Is this frame the previous one again, pixel for pixel (a drawing held on twos or threes)? Keeps
        copies of its pixels for the next frame's question (the caller may reuse its buffers)."""
        prev = self._prev_pixels
        same = (prev is not None and prev[0].shape == small.shape and np.array_equal(prev[0], small)
                and (full is None or full is small or (prev[1] is not None and prev[1].shape == full.shape
                                                       and np.array_equal(prev[1], full))))
        if not same:
            self._prev_pixels = (small.copy(), None if full is None or full is small else full.copy())
        return same

    def _add_repeat(self) -> None:
        """A frame that repeats the previous one pixel for pixel: what depends on its pixels alone is the previous
        frame's, its change from the previous frame is none (a camera that did not move: shift 0), and what
        depends on its neighbours is measured as for any frame. On held footage (every other delivered frame of
        an episode raised from 12 fps by holds) that, with fade_evidence's ramp on its pixels only, took a
        default episode's QA from 3.5 to 2.6 CPU s."""
        i = len(self._grays)
        r = self._rows
        for k in ("luma", "dark", "lit", "blockiness", "sharpness", "edges", "lit_pixels"):
            r[k].append(r[k][-1])
        for k in ("mad", "block_mad", "changed", "moved", "gain_step", "shift"):
            r[k].append(0.0)
        self._sample_grid(i, self._prev)
        self._keep(self._grays[-1], self._thumbs[-1], repeat=True)

    def _sample_grid(self, i: int, gray: np.ndarray) -> None:
        """Frame i's grid scores on every grid_stride-th frame, NaN on the others."""
        if i % self.grid_stride == 0:
            for k, v in grid_scores(gray, self._cache).items():
                self._grid.setdefault(k, [float("nan")] * i).append(v)
        for lst in self._grid.values():
            if len(lst) < i + 1:
                lst.append(float("nan"))

    def _keep(self, gray8: np.ndarray, thumb: np.ndarray, repeat: bool) -> None:
        """Keep the frame's grey and thumbnail; measure what needed it (ghost evidence, boundary evidence now
        due)."""
        self._grays.append(gray8)
        self._thumbs.append(thumb)
        self._ghost.add(self._grays, repeat=repeat)
        for entry in [e for e in self._due if len(self._grays) >= e[0]]:
            _, b, measure, results = entry
            results[b] = measure(self._grays, self.fps, b)
            self._due.remove(entry)

    def _add_small(self, small: np.ndarray, full: np.ndarray | None) -> None:
        previous_full = self._prev_pixels[1] if self._prev_pixels is not None else None
        if self._repeats(small, full):
            self._add_repeat()
            return
        i = len(self._grays)
        gray8 = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        gray = gray8.astype(np.float32)
        r = self._rows
        r["luma"].append(float(gray.mean()))
        r["dark"].append(float(np.count_nonzero(gray8 < BLACK_PIXEL_LUMA)) / gray8.size)
        r["lit"].append(float(np.count_nonzero(gray8 >= LIT_PIXEL_LUMA)) / gray8.size)
        r["lit_pixels"].append(_lit_pixels(full) if r["dark"][-1] >= BLACK_PICTURE_FRACTION else float("nan"))
        blocks = block_means(gray)
        if self._prev is None:
            r["mad"].append(0.0)
            r["block_mad"].append(0.0)
            r["changed"].append(1.0)
            r["moved"].append(float("nan"))
            r["gain_step"].append(0.0)
            r["shift"].append(0.0)
        else:
            diff = np.abs(gray - self._prev)
            r["mad"].append(float(diff.mean()))
            block_mad = float(block_means(diff).max())
            r["block_mad"].append(block_mad)
            r["changed"].append(float(np.count_nonzero(diff > CHANGED_PIXEL_LUMA)) / diff.size)
            r["moved"].append(_moved(previous_full, full) if block_mad < MOVED_MEASURED_BELOW else float("nan"))
            step, shift = self._gain_step(self._prev, gray, self._prev_blocks, blocks)
            r["gain_step"].append(step)
            r["shift"].append(shift)
        self._prev, self._prev_blocks = gray, blocks
        self._sample_grid(i, gray)
        if full is not None:
            b = blockiness(detail_tiles(full, gray8))
            s, t = edge_sharpness(full)
        else:
            b, s, t = float("nan"), float("nan"), float("nan")
        r["blockiness"].append(b)
        r["sharpness"].append(s)
        r["edges"].append(t)
        tw = min(THUMB_WIDTH, small.shape[1])
        th = max(2, int(round(small.shape[0] * tw / small.shape[1])))
        self._keep(gray8, cv2.resize(small, (tw, th), interpolation=cv2.INTER_AREA), repeat=False)

    def _gain_step(self, prev: np.ndarray, cur: np.ndarray, prev_blocks: np.ndarray, cur_blocks: np.ndarray
                   ) -> tuple[float, float]:
        """The whole picture's brightness change from `prev` to `cur` (luma levels; their block means given,
        each frame's are computed once): the median over the blocks
        of each block's mean change (a moving object or a lit window does not count), as it is and with the
        camera's shift undone (the blocks at the frame's edge, where the shift brings new content in, left
        out), whichever is smaller: a change of light is there either way, a shake's is not once undone, and
        a fast pan over layers moving at different speeds is better left as it is. Also returns the camera's
        shift (px at the analysis size: phase correlation, 0 where its peak is too weak to trust)."""
        plain = float(np.median(cur_blocks - prev_blocks))
        (dx, dy), response = _phase_shift(prev, cur, self._cache)
        distance = math.hypot(dx, dy)
        shift = distance if response >= SHIFT_MIN_RESPONSE else 0.0
        if distance < SHIFT_MIN_PX or abs(dx) > prev.shape[1] / BLOCK_COLS or abs(dy) > prev.shape[0] / BLOCK_ROWS:
            return plain, shift
        moved = cv2.warpAffine(prev, np.float32([[1, 0, dx], [0, 1, dy]]), (prev.shape[1], prev.shape[0]),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        undone = float(np.median((cur_blocks - block_means(moved))[1:-1, 1:-1]))
        return (undone if abs(undone) < abs(plain) else plain), shift

    def add_analysis_frame(self, small: np.ndarray, full_size: tuple[int, int]) -> None:
        """Add a frame that is already at the analysis size (a decoder scaled it); no detail tiles."""
        if self._full is None:
            self._full = full_size
            self._size = (small.shape[1], small.shape[0])
        self._add_small(np.ascontiguousarray(small), None)

    def finish(self) -> Features:
        n = len(self._grays)
        r = {k: np.asarray(v, dtype=np.float64) for k, v in self._rows.items()}
        grid = {k: np.asarray(v[:n], dtype=np.float64) for k, v in self._grid.items()}
        full = self._full or (0, 0)
        return Features(
            fps=self.fps, width=full[0], height=full[1], analysis=self._size or (0, 0),
            luma=r["luma"], dark=r["dark"], lit=r["lit"], mad=r["mad"], block_mad=r["block_mad"],
            changed=r["changed"], moved=r["moved"], lit_pixels=r["lit_pixels"], gain_step=r["gain_step"],
            shift=r["shift"],
            grid=grid, blockiness=r["blockiness"], sharpness=r["sharpness"], edges=r["edges"],
            grays=self._grays, thumbs=self._thumbs, bad_shapes=self._bad,
            ghost=self._ghost.finish(self._grays), ghost_gap=self._ghost.gap, fades=dict(self._fades),
            layers=dict(self._layers),
        )
