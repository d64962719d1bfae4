"""Ghosting features: frames that are a mix of two different pictures (double exposures).

Two ways footage gets them (blended in-betweens, dissolves), three measurements, all on the analysis-size grey
frames the streaming pass keeps anyway (see analysis.FrameAnalyzer):

- **blend** (gap 1): an in-between made by linear blending (ffmpeg `framerate`) is, on the pixels that change,
  cur = a * prev + (1 - a) * next with 0 < a < 1. Slow motion looks like that too (to first order every small
  change is linear), so the blend fit alone cannot tell a ghost from a slow pan. What tells them apart is
  whether *motion* explains the frame as well: the motion-compensated midpoint of prev and next (DIS optical
  flow prev -> next, each warped half way) is a clean in-between. For clean motion it fits cur as well as the
  blend or better; for a ghost it fits much worse (the ghost has two half-contrast copies where the
  midpoint has one). Per 32x18 px block, evidence = (E_mid - E_blend) / (E_mid + E_blend + noise), counted
  only where 0.2 < a < 0.8 and prev and next are at least half a pixel apart (closer copies are one soft
  edge, and a sub-pixel drift or zoom would pass for a blend); the frame's value is the blocks' mean weighted
  by their RMS change. A blend is also *exact*: one weight a explains the whole frame's change but for
  quantisation noise (BLEND_MAX_RESIDUAL), while a camera that pushes in, tilts or rolls slowly leaves a fifth
  or more unexplained, though its midpoint test (optical flow is poor at zooms and rolls) can look like a
  blend's; and what a blend leaves is noise whatever the picture, while a move drawn between pixels leaves
  more the more detail moves (BLEND_MAX_RMS, in levels). Frames that fail the exactness test have no blend
  evidence. Holds (cur == prev or cur == next) fit with a = 1 or 0, outside the blend range. Last,
  in-betweens recur: interpolation keeps every k-th frame as drawn (no evidence there), so the check counts
  blend evidence only in that pattern (in_between_frames).
- **mix** (gap H = DISSOLVE_GAP_S): the same measurement with prev and next H frames away, at half the
  analysis size: a dissolve between two different pictures is a slowly changing blend of both, which motion
  cannot explain (not exact: both pictures go on moving during the dissolve).
- **echo** (gap H): a dissolve between a shot and the same shot half a second later (a crossfade at a join
  where the next segment continues the scene) is locally consistent with motion (both copies move alike), so
  the blend tests miss it. Its frames are two offset copies of one scene: c = (1-t) X + t X(x + D). In the
  Fourier domain that multiplies the spectrum by |(1-t) + t e^(-ik.D)|, a ripple whose cepstrum (inverse
  transform of the log spectrum) has a positive peak at the doubling D. The ratio to a reference frame's
  log spectrum cancels the content (a pan does not change the magnitude spectrum); radially averaged parts
  (gain, blur, noise level) are removed; the peak must show against both the frame H before and H after (the
  middle of a dissolve is more doubled than either side) and, at the same D, in a neighbouring (different,
  not held) frame: a chance peak of changing content lands elsewhere each frame. Last, the doubling must be in
  the pixels over the picture (doubled_share): two look-alike figures side by side or a repeated grass stroke
  make a steady spectral echo of their own, but correlate with themselves only where they are.

Each frame yields three numbers (NaN where not measured); the check (checks.check_ghosting) thresholds them.
At declared segment boundaries, where dissolves happen, two more: **fade** (pixels that ramp in step from the
frame before a dissolve to the frame after it) and **layer** (what moves, seen against the still background,
thins to part contrast in two places for the dissolve's frames); both are explained in their sections below.
Measured through real ffmpeg from 8 to 24 fps (512x288, x264): `framerate` blends flagged on drawn pans and on
most generated clips (one slow generated pan, doubles ~1 px apart at 256 px, passed); `fps=` holds pass;
`minterpolate` mci passed on 4 of 6 clips and was flagged on 2 (a slow pan with a walker crossing trees, a
train): there its occlusion handling blends, and the frames show it (a half-transparent tree over the walker).
Cost at 256x144: about 2.5-3 ms a frame on top of the rest of the pass (two DIS flows, one at half size;
one DFT and one inverse).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Block grid for the blend/mix evidence: 8x8 blocks (32x18 px at 256x144).
GHOST_ROWS = 8
GHOST_COLS = 8
# Blend weight range that counts: a mix where one picture has at least 20 % (the independent check that found
# the defect used 0.2 < a < 0.8; a hold gives a = 0 or 1).
BLEND_A_MIN = 0.2
BLEND_A_MAX = 0.8
# A block takes part when prev and next differ in it by at least this RMS (luma levels): below, nothing moved
# there that could be doubled.
BLEND_CHANGE_RMS = 1.0
# A blend is exact: what it leaves unexplained in a block is quantisation noise, a tiny share of the block's
# change. Motion only looks like a blend to first order; a camera that pushes in, tilts or rolls leaves 18-48 %
# of the change unexplained where the midpoint test alone calls it a blend. A block counts as blended only where
# the blend leaves less than this share (of a(1-a) times the change energy, the part a blend of weight a
# can explain) unexplained. Tuning corpus: `framerate` blends of drawn camera moves <= 0.2 %, of generated
# clips <= 2.6 %; clean camera moves with blend evidence >= 18 %.
BLEND_MAX_RESIDUAL = 0.07
# ... and in absolute terms: quantisation and codec noise do not grow with how much the picture changes, while
# a camera move's departure from a blend does (it grows with the detail that moves). Over the blocks that
# change, what one blend weight leaves unexplained must be under this RMS (luma levels at the analysis size).
# Blends measured: the tuning corpus's (drawn and generated, 24 and 8 fps) 0.12-0.37; held-out draws 15-18
# (seen) 0.08-0.46; through x264, at 512x288 CRF 14 / 18 / 23 / 28 up to 0.36 / 0.46 / 0.80 / 1.22, at the
# analysis size itself (256x144, where no downscale averages the codec's noise away) CRF 14 0.77-1.14 and
# CRF 18 1.08-1.69. Clean camera moves drawn between pixels (bilinear at sub-pixel offsets) that passed the
# relative test: a symmetric tilt 2.0-2.6 and crossfade joins made from it 2.2-2.6 (held-out draw 17), a
# facade under a tilt 1.16-1.76 (tuning corpus, 8 fps); symmetric push-ins 1.04-1.18 (draws 16 and 18) sit
# among the codec's noise at the analysis size and stay a known false positive.
BLEND_MAX_RMS = 1.5
# Noise (luma levels RMS) added to both residuals before comparing them: quantisation and codec noise make
# a perfect fit impossible, and a difference of two tiny residuals means nothing. (Tried 0.5-1.5 on the corpus:
# larger values hide the generator's slow blends, smaller ones let sub-pixel drifts and zooms through.)
BLEND_NOISE_RMS = 0.75
# Blocks where prev and next are less than this far apart (mean optical-flow length, px at the analysis size)
# are no ghosts: two copies under a pixel apart are one slightly soft edge, not a double image, and a sub-pixel
# drift or zoom looks linear (the midpoint's interpolation error would then pass for a ghost).
BLEND_MIN_SHIFT_PX = 0.5
# A dissolve between two pictures changes much of the frame: the mix evidence (blend weights over
# DISSOLVE_GAP_S) is only measured where at least this share of the blocks changes. A sparse shot whose one
# small subject moves slowly changes one or two of the 64 blocks, and a disc a few px wide at half the analysis
# size, moving under a pixel a frame, fits a blend better than the flow's midpoint: 1.9-2.0x the threshold on
# the tuning corpus's sparse shots at 8 fps (render_sparse), every dissolve there changing >= half the blocks.
MIX_MIN_CHANGED = 0.125
# Dissolve gap: prev and next this many seconds away for the mix and echo evidence (a 0.5 s dissolve then has
# both references outside it at its middle).
DISSOLVE_GAP_S = 0.375
# Echo search: doublings from 2 px (at the analysis size: below, the two copies overlap into a softer edge)
# up to a quarter of the frame's smaller side.
ECHO_MIN_PX = 2.0
ECHO_MAX_FRACTION = 0.25
# The same doubling (within this many px) must show in a neighbouring frame too (see _steady_echo).
ECHO_STEADY_PX = 1
# A frame whose mean |difference| to the previous one is under this (luma levels) repeats it (a hold; codec
# noise on a repeated frame stays under it, the slowest motion in the corpus changes more).
HELD_FRAME_DIFF = 0.5
# A dissolve's doubling is in the pixels too, over the whole picture: the frame's detail (high-pass) correlates
# with itself shifted by the doubling wherever there is detail. Two look-alike figures side by side (a spectral
# echo of their own) correlate only where they stand. An echo counts only where at least this share of the
# frame's detail (blocks weighted by their detail energy) correlates at the doubling (block NCC > ECHO_NCC).
# Tuning corpus, 24 fps: same-scene dissolves' echo frames 0.44-0.99 (one generated base 0.22-0.43), clean
# generated clips with two look-alike characters or repeated grass strokes 0.10-0.23.
ECHO_MIN_SHARE = 0.35
# ... looked at only where the steady echo reaches this (2/3 of checks.GHOST_ECHO): lower ones never count.
ECHO_SHARE_FROM = 0.05
ECHO_NCC = 0.15
ECHO_SHARE_ROWS = 6
ECHO_SHARE_COLS = 8
# Power floor added before the log, relative to the mean power: spectral nulls would otherwise dominate.
ECHO_POWER_FLOOR = 1e-3
# Frames with less contrast than this (grey standard deviation, luma levels) carry no picture to double
# (black, a fade's darkest frames): no echo is measured on them.
ECHO_MIN_CONTRAST = 4.0
# Radial bins for removing isotropic changes (gain, blur, noise level) from the log-spectrum ratio.
ECHO_RADIAL_BINS = 64


def dissolve_gap(fps: float) -> int:
    """Frames between a frame and its references for the mix and echo evidence."""
    return max(1, int(round(DISSOLVE_GAP_S * fps)))


def _block_sums(x: np.ndarray, rows: int = GHOST_ROWS, cols: int = GHOST_COLS) -> np.ndarray:
    """Sum of each block of a rows x cols grid over x (float32 image, cropped to a multiple of the grid),
    flattened."""
    h, w = x.shape
    bh, bw = h // rows, w // cols
    means = cv2.resize(x[: bh * rows, : bw * cols], (cols, rows), interpolation=cv2.INTER_AREA)
    return means.ravel().astype(np.float64) * (bh * bw)


class BlendMeter:
    """Blend-vs-motion evidence of a frame against two references (see the module docstring)."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grid: dict[tuple[int, int], np.ndarray] = {}

    def interpolate(self, p8: np.ndarray, n8: np.ndarray, p: np.ndarray, n: np.ndarray, t: float = 0.5
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The frame at fraction t between p and n as motion makes it (p warped t of the DIS flow p -> n, n
        warped back the rest, mixed by t; t = 0.5 is the motion-compensated midpoint), and the length of the
        motion (px) at each pixel."""
        flow = self._dis.calc(p8, n8, None)
        grid = self._grid.get(p.shape)
        if grid is None:
            ys, xs = np.mgrid[0 : p.shape[0], 0 : p.shape[1]].astype(np.float32)
            grid = self._grid[p.shape] = np.dstack([xs, ys])
        wp = cv2.remap(p, grid - flow * t, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        wn = cv2.remap(n, grid + flow * (1 - t), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return cv2.addWeighted(wp, 1 - t, wn, t, 0.0), cv2.magnitude(flow[..., 0], flow[..., 1])

    def evidence(self, p8: np.ndarray, c8: np.ndarray, n8: np.ndarray, *, exact: bool = False,
                 min_changed: float = 0.0) -> float:
        """In [0, 1]: the share of the change between p and n (blocks weighted by their RMS change) where c is a
        blend of p and n that motion does not explain. 0 when nothing changes, and with `exact` also when one
        blend weight leaves more than BLEND_MAX_RESIDUAL of the frame's change unexplained; 0 also when fewer
        than `min_changed` of the blocks change (see MIX_MIN_CHANGED)."""
        if not (p8.shape == c8.shape == n8.shape) or min(c8.shape) < 2 * GHOST_ROWS:
            return float("nan")
        p, c, n = (x.astype(np.float32) for x in (p8, c8, n8))
        e = p - n
        d = c - n
        see = _block_sums(e * e)
        h, w = c.shape
        npx = (h // GHOST_ROWS) * (w // GHOST_COLS)
        changed = see >= npx * BLEND_CHANGE_RMS**2
        if not changed.any() or changed.mean() < min_changed:
            return 0.0
        sde = _block_sums(d * e)
        safe = np.maximum(see, 1e-6)
        a = sde / safe
        blendlike = changed & (a > BLEND_A_MIN) & (a < BLEND_A_MAX)
        # weighted by the RMS change: blocks that change more count more, but one small object changing a
        # lot (a leaf tumbling past) does not decide the frame
        weight = np.sqrt(see)
        if not blendlike.any():  # e.g. a held frame (a = 0 or 1): no need to look at the motion
            return 0.0
        sdd = _block_sums(d * d)
        e_blend = np.maximum(sdd - sde * sde / safe, 0.0)
        mid, shift = self.interpolate(p8, n8, p, n)
        r = c - mid
        e_mid = _block_sums(r * r)
        # where p and n are less than a pixel apart, a blend is no double image (and the midpoint's own
        # interpolation error would pass for one): such blocks count as changed but not as ghosts
        apart = _block_sums(shift) >= npx * BLEND_MIN_SHIFT_PX
        s = np.clip((e_mid - e_blend) / (e_mid + e_blend + npx * BLEND_NOISE_RMS**2), 0.0, 1.0)
        s = np.where(blendlike & apart, s, 0.0)
        if exact and (s > 0).any():
            # one blend weight for the whole frame's change: a blend is exact, motion is not
            total = see[changed].sum()
            common = sde[changed].sum() / total
            resid = (sdd[changed] - 2 * common * sde[changed] + common * common * see[changed]).sum()
            if not (BLEND_A_MIN < common < BLEND_A_MAX) or resid > BLEND_MAX_RESIDUAL * common * (1 - common) * total \
                    or resid > BLEND_MAX_RMS**2 * npx * np.count_nonzero(changed):
                return 0.0
        return float((s * weight)[changed].sum() / weight[changed].sum())


# Blended in-betweens come in the pattern interpolation makes: a clip drawn at 1/k of the rate and raised by
# blending keeps every k-th frame as drawn (an original, which is no blend of its neighbours: no evidence)
# and blends the k - 1 between. Measured on every blend-interpolated item of the tuning corpus and of held-out
# draw 8 (x2, x3; drawn, generated, every camera move): the originals read 0.00, every k-th frame without
# exception. Clean footage that only looks like a blend (a slow push-in of a symmetric scene: 4x the threshold
# on held-out draw 9) has blend evidence on most frames, and the few frames without it fall at no fixed
# period. (Left: a slow drift over a noisy field after a whip, whose evidence alternates like a x2 blend.)
# So blend evidence counts only on a frame around which, at one of these periods
# and within two periods either side, the frames of one phase (at least two measured, the frame itself not of
# that phase) all read under BLEND_ORIGINAL_MAX of the threshold, and the frame's own phase shows evidence at
# least twice more (an in-between recurs every period; two chance blends a period apart do not make a pattern:
# a slow tilt of a symmetric neon street, single frames at 1-2x the threshold a few frames apart).
BLEND_PERIODS = (2, 3, 4)  # drawn at 12, 8, 6 fps for 24 (and the like at other rates)
BLEND_ORIGINAL_MAX = 0.1


def in_between_frames(evidence: np.ndarray) -> np.ndarray:
    """Per frame: does its blend evidence (x its threshold; NaN where not measured) sit in the pattern of
    interpolated in-betweens (see BLEND_PERIODS)? Frames without evidence are False."""
    e = np.asarray(evidence, dtype=np.float64)
    n = e.shape[0]
    known = np.isfinite(e)
    low = known & (np.nan_to_num(e, nan=np.inf) < BLEND_ORIGINAL_MAX)
    out = np.zeros(n, dtype=bool)
    for t in np.flatnonzero(known & ~low):
        for k in BLEND_PERIODS:
            lo, hi = max(0, t - 2 * k), min(n, t + 2 * k + 1)
            own = np.arange(lo + (t - lo) % k, hi, k)
            if np.count_nonzero(known[own] & ~low[own]) < 3:
                continue
            for phase in range(k):
                if phase == t % k:
                    continue
                idx = np.arange(lo + (phase - lo) % k, hi, k)
                idx = idx[known[idx]]
                if idx.size >= 2 and low[idx].all():
                    out[t] = True
                    break
            if out[t]:
                break
    return out


class EchoMeter:
    """Cepstral doubling evidence (see the module docstring). `log_spectrum` once per frame, then
    `ratio_cepstrum(later, earlier)` once per pair of frames `gap` apart; a frame's echo is the peak of
    min(Q(frame vs earlier), -Q(later vs frame)) over the doubling range."""

    def __init__(self) -> None:
        self._window: dict[tuple[int, int], np.ndarray] = {}
        self._radial: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._mask: dict[tuple[int, int], np.ndarray] = {}

    def log_spectrum(self, g8: np.ndarray) -> np.ndarray | None:
        """Log power spectrum of the Hann-windowed frame; None when the frame has too little contrast."""
        g = g8.astype(np.float32)
        if float(g.std()) < ECHO_MIN_CONTRAST or min(g.shape) < 16:
            return None
        h, w = g.shape
        win = self._window.get((h, w))
        if win is None:
            win = self._window[(h, w)] = cv2.createHanningWindow((w, h), cv2.CV_32F)
        f = cv2.dft((g - g.mean()) * win, flags=cv2.DFT_COMPLEX_OUTPUT)[:, : w // 2 + 1]
        power = cv2.magnitude(f[..., 0], f[..., 1]) ** 2
        return np.log(power + ECHO_POWER_FLOOR * float(power.mean()) + 1e-6)

    def ratio_cepstrum(self, later: np.ndarray | None, earlier: np.ndarray | None,
                       width: int) -> np.ndarray | None:
        """Cepstrum of log(|later| / |earlier|) with its radial mean removed, cut to the doubling range
        (positive peaks: `later` is more doubled than `earlier`)."""
        if later is None or earlier is None or later.shape != earlier.shape:
            return None
        d = later - earlier
        key = d.shape
        if key not in self._radial:
            fy = np.fft.fftfreq(d.shape[0])[:, None]
            fx = np.fft.rfftfreq(width)[None, :]
            bins = np.minimum((np.sqrt(fy * fy + fx * fx) / 0.71 * ECHO_RADIAL_BINS).astype(np.int64),
                              ECHO_RADIAL_BINS - 1).ravel()
            self._radial[key] = (bins, np.maximum(np.bincount(bins, minlength=ECHO_RADIAL_BINS), 1))
        bins, counts = self._radial[key]
        means = np.bincount(bins, d.ravel(), minlength=ECHO_RADIAL_BINS) / counts
        d = d - means[bins].reshape(d.shape).astype(np.float32)
        q = np.fft.irfft2(d, s=(d.shape[0], width))
        reach = int(min(q.shape) * ECHO_MAX_FRACTION)
        # keep quefrencies within +-reach (wrapped): a small (2r+1)^2 window is all the peak search needs
        rows = np.r_[0 : reach + 1, q.shape[0] - reach : q.shape[0]]
        cols = np.r_[0 : reach + 1, q.shape[1] - reach : q.shape[1]]
        return np.ascontiguousarray(q[np.ix_(rows, cols)], dtype=np.float32)

    def peak(self, before: np.ndarray | None, after: np.ndarray | None) -> tuple[float, tuple[int, int]]:
        """Echo of a frame from Q(frame vs earlier) and Q(later vs frame): the largest doubling both show, and
        the doubling (dy, dx) in px (a doubling and its mirror image are the same echo: dy >= 0)."""
        if before is None or after is None or before.shape != after.shape:
            return float("nan"), (0, 0)
        key = before.shape
        reach = (key[0] - 1) // 2
        mask = self._mask.get(key)
        if mask is None:
            idx = np.r_[0 : reach + 1, -reach:0]
            rr = np.sqrt(idx[:, None] ** 2 + idx[None, :] ** 2)
            mask = self._mask[key] = (rr >= ECHO_MIN_PX) & (rr <= reach)
        both = np.where(mask, np.minimum(before, -after), -np.inf)
        k = int(np.argmax(both))
        y, x = divmod(k, both.shape[1])
        dy, dx = (y if y <= reach else y - both.shape[0]), (x if x <= reach else x - both.shape[1])
        if dy < 0 or (dy == 0 and dx < 0):
            dy, dx = -dy, -dx
        return float(both[y, x]), (dy, dx)


def doubled_share(g8: np.ndarray, doubling: tuple[int, int]) -> float:
    """The share of the frame's detail that correlates with itself shifted by `doubling` (dy, dx), see
    ECHO_MIN_SHARE; the best over the doubling and its +-1 px neighbours (the cepstral peak's position is only
    good to a pixel, and at the wrong lag sharp detail does not correlate)."""
    g = g8.astype(np.float32)
    hp = g - cv2.GaussianBlur(g, (0, 0), 2.0)
    h, w = hp.shape
    rows, cols = ECHO_SHARE_ROWS, ECHO_SHARE_COLS
    best = 0.0
    for ddy, ddx in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
        dy, dx = doubling[0] + ddy, doubling[1] + ddx
        if abs(dy) >= h // 2 or abs(dx) >= w // 2 or (dy, dx) == (0, 0):
            continue
        a = hp[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)]
        b = hp[max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)]
        bh, bw = a.shape[0] // rows, a.shape[1] // cols
        energy = np.sqrt(_block_sums(a * a, rows, cols) * _block_sums(b * b, rows, cols))
        detailed = energy > bh * bw  # more than 1 level RMS of detail
        if not detailed.any():
            continue
        ncc = _block_sums(a * b, rows, cols) / (energy + 1e-6)
        best = max(best, float((energy * (ncc > ECHO_NCC))[detailed].sum() / energy[detailed].sum()))
        if best >= ECHO_MIN_SHARE:
            break
    return best


class GhostTracker:
    """Computes the three per-frame ghost numbers while frames stream in (each as soon as the frames it needs
    have arrived). Keeps only the last few log spectra and cepstra; the grey frames are the analyser's."""

    def __init__(self, fps: float) -> None:
        self.gap = dissolve_gap(fps)
        self.blend_meter = BlendMeter()
        self.mix_meter = BlendMeter()
        self.echo_meter = EchoMeter()
        self.blend: list[float] = []
        self.mix: list[float] = []
        self.echo: list[float] = []
        self._doubling: dict[int, tuple[int, int]] = {}
        self._same: list[bool] = []  # frame j repeats frame j - 1 (a hold)
        self._small: dict[int, np.ndarray] = {}  # half-size grey frames of the last 2 * gap + 1 frames
        self._spectra: dict[int, np.ndarray | None] = {}
        self._cepstra: dict[int, np.ndarray | None] = {}

    def add(self, grays: list[np.ndarray], repeat: bool = False) -> None:
        """Call after appending frame j = len(grays) - 1; `repeat`: it is frame j - 1 again, pixel for pixel
        (what depends on its pixels alone is then taken from j - 1)."""
        j = len(grays) - 1
        self._small[j] = self._small[j - 1] if repeat else cv2.pyrDown(grays[j])
        self._small.pop(j - 2 * self.gap - 1, None)
        for lst in (self.blend, self.mix, self.echo):
            lst.append(float("nan"))
        g = self.gap
        if j >= 2:
            self.blend[j - 1] = self.blend_meter.evidence(grays[j - 2], grays[j - 1], grays[j], exact=True)
        if j >= 2 * g:
            # at half the analysis size: a dissolve is a change of the whole picture, and this halves the cost
            self.mix[j - g] = self.mix_meter.evidence(self._small[j - 2 * g], self._small[j - g], self._small[j],
                                                      min_changed=MIX_MIN_CHANGED)
        self._same.append(repeat or (j > 0 and grays[j].shape == grays[j - 1].shape and
                                     float(cv2.absdiff(grays[j], grays[j - 1]).mean()) < HELD_FRAME_DIFF))
        width = grays[j].shape[1]
        self._spectra[j] = self._spectra[j - 1] if repeat else self.echo_meter.log_spectrum(grays[j])
        if j >= g:
            self._cepstra[j] = self.echo_meter.ratio_cepstrum(self._spectra[j], self._spectra[j - g], width)
            i = j - g
            if i >= g:
                self.echo[i], self._doubling[i] = self.echo_meter.peak(self._cepstra.get(i), self._cepstra[j])
        self._spectra.pop(j - g, None)
        self._cepstra.pop(j - g, None)

    def finish(self, grays: list[np.ndarray]) -> dict[str, np.ndarray]:
        return {"blend": np.asarray(self.blend, dtype=np.float64), "mix": np.asarray(self.mix, dtype=np.float64),
                "echo": self._steady_echo(grays)}

    def _steady_echo(self, grays: list[np.ndarray]) -> np.ndarray:
        """A dissolve doubles the picture by the same offset over several frames; a chance peak of a content
        change lands somewhere else each frame. A frame's echo counts as far as a neighbouring frame shows it
        too, at the same doubling (+-1 px): min(own, neighbour's), the larger over both neighbours. Held
        frames (anime on twos/threes) repeat their neighbour's picture, so the neighbour looked at is the
        nearest *different* picture on each side."""
        raw = np.asarray(self.echo, dtype=np.float64)
        n = raw.shape[0]
        checked: dict[int, float] = {}

        def pixel_checked(k: int) -> float:
            """raw[k], or 0 where the pixels do not show the doubling over the picture (doubled_share). The
            pixel test costs more than the rest, so it runs only where the echo could count at all."""
            if raw[k] < ECHO_SHARE_FROM:
                return raw[k]
            if k not in checked:
                ok = doubled_share(grays[k], self._doubling[k]) >= ECHO_MIN_SHARE
                checked[k] = raw[k] if ok else 0.0
            return checked[k]

        out = np.full(raw.shape, np.nan)
        for i in range(n):
            if not np.isfinite(raw[i]):
                continue
            left = i - 1
            while left >= 0 and self._same[left + 1]:
                left -= 1
            right = i + 1
            while right < n and self._same[right]:
                right += 1
            best = 0.0
            for j in (left, right):
                if 0 <= j < n and np.isfinite(raw[j]):
                    (ay, ax), (by, bx) = self._doubling[i], self._doubling[j]
                    if abs(ay - by) <= ECHO_STEADY_PX and abs(ax - bx) <= ECHO_STEADY_PX and \
                            min(raw[i], raw[j]) > best:
                        best = max(best, min(pixel_checked(i), pixel_checked(j)))
            out[i] = best
        return out


# ---- fades at a boundary ---------------------------------------------------------------------------------
# A dissolve at a join fades one picture out and the other in: over the dissolve's r frames every pixel that
# differs between the frame before it (P) and the frame after it (Q) moves from P towards Q by the *same*
# fraction t_j = (j + 1) / (r + 1) in frame j, a linear ramp in step across the whole region. Where the camera
# stands still and only a small subject moves (a kite, a walker on a plain ground, twinkling stars), the blend
# and cepstrum evidence above barely see the doubling (a few blocks change; MIX_MIN_CHANGED leaves them out),
# but the subject's old and new places ramp in step. Clean motion does not: a pixel changes when an edge
# passes it, and pixels along the motion change at staggered times, so only thin strips (an edge at one
# sub-pixel phase) ever ramp in step. Measured only at declared segment boundaries (a dissolve happens at a
# join), on the analysis-size grey frames, as soon as the frames it needs have arrived (FrameAnalyzer).
# Rules, each with its reason (each found on the tuning corpus and on held-out draws 2 and 3, already seen,
# with a boundary put in the middle of every negative: bench/RESULTS.md):
# - candidate runs of FADE_MIN_FRAMES .. 1 s + 1 frames whose frames straddle the boundary (+-1 frame);
# - a pixel takes part where P and Q differ by FADE_MIN_CHANGE levels, also after the best global gain and
#   offset (P -> Q) is taken out (a slow dimming or a light coming on ramps every pixel in step, as a
#   dissolve into a darker copy would);
# - ... where P and Q are flat: a central difference under FADE_FLAT of the change (a pixel whose change is
#   about its slope is an edge that moved by a pixel; a fading figure is flat inside);
# - ... and where it is still before and after: within FADE_STILL of the change against *each* of the r frames
#   before P and after Q (a gradient under a steady move ramps for the whole shot, and a periodic facade only
#   looks still against some earlier frames, the ones a period away);
# - each frame's median fraction over those pixels must be within FADE_LINEAR_TOL of the linear ramp (an
#   xfade is linear; holds give flat steps, a cut a step of 1);
# - a pixel is in step where its own fraction is within FADE_PIXEL_TOL of that median in every frame;
# - the in-step pixels are eroded by a 2x2 square, brightening and darkening ones apart (an edge moving a
#   fraction of a pixel brightens one side and darkens the other: thin strips), and the frame's FADE_EDGE_PX
#   border is left out (the erosion keeps a strip there, and a camera move brings new content in there);
# - the motion between P and Q (DIS optical flow) must not explain the middle frame better than the ramp
#   does, by FADE_MOTION_MARGIN levels;
# - evidence = pixels left / FADE_MIN_PIXELS (>= 1: a dissolve). 6 pixels at 256 px wide is a patch of about
#   6 x 6 px at 1024 px.
FADE_MIN_FRAMES = 3
FADE_MAX_S = 1.0
FADE_MIN_CHANGE = 10.0
FADE_LINEAR_TOL = 0.12
FADE_PIXEL_TOL = 0.2
FADE_STILL = 0.35
FADE_FLAT = 0.5
FADE_EDGE_PX = 2
FADE_MOTION_MARGIN = 2.0
FADE_MIN_PIXELS = 6
_ERODE = np.ones((2, 2), np.uint8)


def _fade_longest(fps: float) -> int:
    return max(FADE_MIN_FRAMES, int(round(FADE_MAX_S * fps)) + 1)


def fade_frames_after(fps: float) -> int:
    """How many frames past a boundary fade_evidence looks at: once they are in, it can be measured (the same
    value as on the whole clip)."""
    return 2 * _fade_longest(fps) + 3


def _median(values: np.ndarray) -> float:
    """np.median of a 1-d float32 array, the same value, without np.median's overhead (it is called thousands
    of times per boundary)."""
    k = values.size // 2
    if values.size % 2:
        return float(np.partition(values, k)[k])
    low, high = np.partition(values, (k - 1, k))[k - 1:k + 1]
    return float((low + high) / np.float32(2))


def fade_evidence(grays: list[np.ndarray], fps: float, boundary: int) -> tuple[float, int, int]:
    """(evidence, first frame, frames) of the strongest in-step fade around `boundary` (a frame index), per the
    rules above; (0.0, boundary, 0) where there is none."""
    n = len(grays)
    longest = _fade_longest(fps)
    lo, hi = max(0, boundary - 2 * longest - 2), min(n, boundary + fade_frames_after(fps))
    G = {j: grays[j].astype(np.float32) for j in range(lo, hi)}
    best = (0.0, boundary, 0)
    meter: BlendMeter | None = None
    slopes: dict[int, np.ndarray] = {}

    def steep(j: int) -> np.ndarray:
        """The larger central difference (levels per px) across and down frame j."""
        if j not in slopes:
            g = cv2.copyMakeBorder(G[j], 1, 1, 1, 1, cv2.BORDER_REPLICATE)
            slopes[j] = 0.5 * np.maximum(np.abs(g[1:-1, 2:] - g[1:-1, :-2]), np.abs(g[2:, 1:-1] - g[:-2, 1:-1]))
        return slopes[j]

    centred: dict[int, tuple[np.ndarray, float]] = {}
    drift: dict[tuple[int, int], tuple[int, np.ndarray]] = {}

    def moved(j: int, r: int, step: int) -> np.ndarray:
        """max |G[j + step * k] - G[j]| over k = 1..r (frames outside lo..hi left out), grown from the last
        call for (j, step): the runs grow one frame at a time."""
        done, acc = drift.get((j, step), (0, np.zeros_like(G[j])))
        for k in range(done + 1, r + 1):
            if lo <= j + step * k < hi:
                acc = np.maximum(acc, np.abs(G[j + step * k] - G[j]))
        drift[(j, step)] = (r, acc)
        return acc

    for r in range(FADE_MIN_FRAMES, longest + 1):
        for s in range(max(1, boundary - r), min(n - r, boundary + 2)):
            P, Q = G[s - 1], G[s + r]
            T = Q - P
            change = np.abs(T)
            # a figure fades in and out over its whole area, flat inside: where P or Q is steep (an edge)
            # compared with the change, an edge moved (by about a pixel, T ~ v * gradient). Every test below
            # keeps a subset of these pixels: where too few qualify, nothing more is computed.
            flat = FADE_FLAT * change
            part = (change >= FADE_MIN_CHANGE) & (steep(s - 1) < flat) & (steep(s + r) < flat)
            if np.count_nonzero(part) < FADE_MIN_PIXELS:
                continue
            if s - 1 not in centred:
                pc = P - P.mean()
                centred[s - 1] = (pc, float((pc * pc).mean()))
            pc, var = centred[s - 1]
            gain = float((pc * (T - T.mean())).mean() / var) if var > 1e-6 else 0.0
            own = np.abs(T - T.mean() - gain * pc)  # what a global gain and offset leave
            part &= own >= FADE_MIN_CHANGE
            if np.count_nonzero(part) < FADE_MIN_PIXELS:
                continue
            # still before and after: every one of the r frames before P (after Q) within FADE_STILL of the
            # change of P (Q); a steady move ramps on, and a periodic picture's ramps only look still against
            # some earlier frames (it repeats itself every period), not all of them
            limit = FADE_STILL * change
            part &= (moved(s - 1, r, -1) < limit) & (moved(s + r, r, 1) < limit)
            if np.count_nonzero(part) < FADE_MIN_PIXELS:
                continue
            # the ramp, on the taking-part pixels only (a few hundred of the frame's): each frame's fraction
            # of the way from P to Q
            idx = np.flatnonzero(part)
            p_part, t_part = P.ravel()[idx], T.ravel()[idx]
            steady = np.ones(idx.size, dtype=bool)
            ramp = []
            for k, j in enumerate(range(s, s + r)):
                frac = (G[j].ravel()[idx] - p_part) / t_part
                t = _median(frac)
                if abs(t - (k + 1) / (r + 1)) > FADE_LINEAR_TOL:
                    break
                ramp.append(t)
                steady &= np.abs(frac - t) < FADE_PIXEL_TOL
            else:
                in_step = np.zeros_like(part)
                in_step.ravel()[idx[steady]] = True
                # brightening and darkening pixels apart: an edge moving a fraction of a pixel brightens on
                # one side and darkens on the other, thin strips that the erosion removes; a fading figure
                # brightens (or darkens) over its whole area
                core = np.zeros_like(in_step)
                for sign in (T > 0, T < 0):
                    core |= cv2.erode((in_step & sign).astype(np.uint8), _ERODE).astype(bool)
                # the frame's edge is left out: the erosion keeps a one-pixel strip there (outside counts as
                # set), and a camera move brings new content in there
                core[:FADE_EDGE_PX] = core[-FADE_EDGE_PX:] = False
                core[:, :FADE_EDGE_PX] = core[:, -FADE_EDGE_PX:] = False
                value = np.count_nonzero(core) / FADE_MIN_PIXELS
                if value <= best[0]:
                    continue
                # motion must not explain it (the middle frame of the run)
                k = r // 2
                t = ramp[k]
                meter = meter or BlendMeter()
                by_motion = np.abs(G[s + k] - meter.interpolate(grays[s - 1], grays[s + r], P, Q, t)[0])
                by_ramp = np.abs(G[s + k] - (P + t * T))
                core &= (by_ramp + FADE_MOTION_MARGIN < by_motion)
                value = np.count_nonzero(core) / FADE_MIN_PIXELS
                if value > best[0]:
                    best = (value, s, r)
    return best


# ---- what moves, thinned at a boundary -----------------------------------------------------------------
# A dissolve shows what moves twice, each copy at part of its contrast: frame j of an r-frame dissolve is
# (1 - w) A + w B with w = (j + 1) / (r + 1). Against the still background (the per-pixel median of the frames
# around, a dissolve's few frames among them), the moving layer of a clean frame is one subject at full
# contrast; a dissolve's is (1 - w) of it in one place and w of it in another. Its energy per unit of mass,
# kappa = sum(L^2) / sum(|L|) over the layer's pixels, then falls to (1 - w)^2 + w^2 of a clean frame's where
# the two copies do not overlap (half at the middle of the dissolve), and comes back after: a U in step with the
# dissolve's own shape. Clean motion keeps kappa about level (the subject stays itself), holds repeat it, and
# a subject entering or turning changes it without the dissolve's shape. This sees a small subject over a
# still or slowly moving background (a ball or a kite over a flat sky, a walker in snow, a spirit at a shrine),
# which the blend and cepstrum evidence above miss (too few blocks change; too little of the picture's detail is
# doubled). Measured only at declared segment boundaries, like the fades, on the analysis-size grey frames:
# - the background of frame j: the median of up to LAYER_BACKGROUND_FRAMES frames spread over j +- 2 gaps
#   (DISSOLVE_GAP_S), the moving layer L: |frame - background| where it exceeds LAYER_DEAD_LEVELS (codec noise);
# - candidate dissolves of LAYER_MIN_S (at least 3 frames: a double exposure one can see lasts) .. 1 s + 1
#   frames straddling the boundary (+-1 frame), as for the fades; kappa over each divided by its level outside
#   (the median of kappa over as many frames either side, LAYER_BASELINE_S at least, a frame apart), fitted by
#   depth * the dissolve's dip 1 - ((1 - w)^2 + w^2) (least squares);
# - evidence = depth / (the fit's RMS error + kappa's RMS spread outside + LAYER_NOISE): a dip of the dissolve's
#   shape standing out from kappa's own wander (over half a second at least: at 24 fps a figure bobbing on a
#   shrine's steps wanders over a few frames as much as a dip); the depth must be at least LAYER_MIN_DEPTH of
#   a full dissolve's (overlapping copies thin less; a shallow dip is a subject turning) and at most
#   LAYER_MAX_DEPTH (two copies thin to half at most; deeper, the subject itself faded or shrank).
# Found on held-out draws 15-22 (seen since) and checked on the tuning corpus: see checks.GHOST_LAYER.
LAYER_BACKGROUND_FRAMES = 13
LAYER_DEAD_LEVELS = 2.0
LAYER_NOISE = 0.05
LAYER_MIN_DEPTH = 0.4
LAYER_MAX_DEPTH = 1.15
LAYER_BASELINE_S = 0.5
LAYER_MIN_S = 0.25


def layer_kappa(grays: Sequence[np.ndarray], j: int, gap: int) -> float:
    """kappa of frame j's moving layer (see above); NaN where nothing moves."""
    n = len(grays)
    lo, hi = max(0, j - 2 * gap), min(n, j + 2 * gap + 1)
    idx = np.unique(np.linspace(lo, hi - 1, min(hi - lo, LAYER_BACKGROUND_FRAMES)).round().astype(int))
    background = np.median(np.stack([grays[k] for k in idx]), axis=0)  # of the uint8 frames: the same, faster
    layer = np.abs(grays[j].astype(np.float32) - background.astype(np.float32))
    layer = layer[layer > LAYER_DEAD_LEVELS]
    mass = float(layer.sum())
    return float((layer * layer).sum()) / mass if mass > 0 else float("nan")


def layer_frames_after(fps: float) -> int:
    """How many frames past a boundary layer_evidence looks at (the last dissolve straddling it, its level after,
    each kappa's background): once they are in, it can be measured (the same value as on the whole clip)."""
    return 2 * _fade_longest(fps) + 2 * dissolve_gap(fps) + 2


def layer_evidence(grays: Sequence[np.ndarray], fps: float, boundary: int) -> tuple[float, int, int, float]:
    """(evidence, first frame, frames, depth) of the dissolve-shaped dip of kappa around `boundary` that stands
    out most (see above); (0.0, boundary, 0, 0.0) where there is none."""
    n = len(grays)
    gap = dissolve_gap(fps)
    longest = _fade_longest(fps)
    base = int(round(LAYER_BASELINE_S * fps))
    kappa: dict[int, float] = {}

    def k(j: int) -> float:
        if j not in kappa:
            kappa[j] = layer_kappa(grays, j, gap) if 0 <= j < n else float("nan")
        return kappa[j]

    best = (0.0, boundary, 0, 0.0)
    for r in range(max(FADE_MIN_FRAMES, int(round(LAYER_MIN_S * fps))), longest + 1):
        w = (np.arange(r) + 1) / (r + 1)
        dip = 1 - ((1 - w) ** 2 + w ** 2)
        for s in range(max(1, boundary - r), min(n - r, boundary + 2)):
            m = max(r, base)
            outside = np.array([k(j) for j in (*range(s - m - 1, s - 1), *range(s + r + 1, s + r + m + 1))])
            outside = outside[np.isfinite(outside)]
            if outside.size < 3:
                continue
            level = float(np.median(outside))
            inside = np.array([k(j) for j in range(s, s + r)]) / level
            if not np.isfinite(inside).all():
                continue
            drop = 1 - inside
            depth = float((drop * dip).sum() / (dip * dip).sum())
            if not LAYER_MIN_DEPTH <= depth <= LAYER_MAX_DEPTH:
                continue
            error = float(np.sqrt(((drop - depth * dip) ** 2).mean()))
            spread = float(np.sqrt(((outside / level - 1) ** 2).mean()))
            value = depth / (error + spread + LAYER_NOISE)
            if value > best[0]:
                best = (value, s, r, depth)
    return best
