"""The QA checks, computed from the per-frame Features of one clip.

Every threshold is a module-level constant with the reason for its value. Values were tuned on the labelled
corpus (tests/qa_corpus.py, run by bench/qa_accuracy.py): drawn and generated clips with injected defects,
plus hard negatives built to fool naive checks. They are stated in luma levels (0-255), seconds or plain
ratios so they hold at any frame rate and resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from .analysis import BLACK_PICTURE_FRACTION, CHANGED_PIXEL_LUMA, Features, block_means, boundary_frame
from .ghost import (
    BLEND_ORIGINAL_MAX,
    BLEND_PERIODS,
    FADE_MIN_PIXELS,
    fade_evidence,
    in_between_frames,
    layer_evidence,
)
from .results import NOT_MEASURED, CheckResult, WorstFrame

Transitions = Sequence[tuple[int, int]]

# ---- frame count / fps -------------------------------------------------------------------------------
# A clip whose frame count differs from what was asked for breaks the episode's timing (crossfade offsets
# count frames), so any difference fails.
FRAME_COUNT_TOLERANCE = 0
# Frame rates outside this range are not video we make (native clips run 6-25 fps, deliveries 24).
MIN_FPS = 1.0
MAX_FPS = 120.0
# A stated fps may differ from the expected one by rounding only (23.976 vs 24 is a different rate).
FPS_TOLERANCE = 0.01

# ---- black frames ------------------------------------------------------------------------------------
# A frame is black when at least 98 % of its pixels are under 10 % luma (ffmpeg blackdetect's defaults,
# pic_th=0.98, pix_th=0.10) and almost nothing in it is lit (BLACK_MAX_LIT of its pixels at 25 % luma or
# more). A dark night scene can have 99 % of its pixels under 10 % and still be a picture: lit windows, a moon,
# signs (0.5-1 % of the night scenes in the tuning corpus); a black glitch, noisy or not, has none.
BLACK_MAX_LIT = 0.001
# ... nor at the frame's own resolution, where it was seen (analysis.BLACK_PICTURE_FRACTION): a frame with this
# many lit pixels there (a patch of 4x4 px) shows something. The navy sky's red bird: 189-328; a black frame with
# noise up to 12 levels, or a picture crushed to 6 % (a failed decode), none.
BLACK_MIN_LIT_PIXELS = 16
# Generated clips never contain a black frame on purpose: one is already a glitch.
MAX_BLACK_FRAMES = 0

# ---- frozen runs -------------------------------------------------------------------------------------
# Two consecutive frames are "the same" when no 1/64th of the frame (8x8 blocks at the analysis size)
# changes by more than this mean |difference| (luma levels). A held frame with noise added (sigma 0.8, like
# codec noise) stays well under it; the slowest motion in the corpus (a drifting leaf, a 1 px hair sway, a
# 0.04 %/frame push-in) moves some block by more: its longest "held" run was 0.21 s.
FREEZE_BLOCK_DIFF = 0.75
# ... and hardly a pixel may change visibly (analysis.CHANGED_PIXEL_LUMA): a figure bobbing slowly, seen at a
# low native rate, changes no block's mean by much near its turning points, but the pixels along its outline
# change by several levels. 0.05 % is ~18 px at 256x144: a frame's noise never reaches it, a moving outline
# does.
FREEZE_CHANGED_FRACTION = 0.0005
# ... and, where the frames were seen at their own resolution, no block there may change by this much
# (analysis.MOVED_BLOCK: mean |difference| over 8x8 px, any colour): a small thing crossing a plain picture (a
# bird over a flat sky) is invisible at the analysis size but not to a viewer. A bird of 14x5 px at 1024x576
# reads 38, held-out draw 21's 42; a still picture coded again by x264 (an I-frame after P-frames, 1024x576)
# 9 at CRF 18, 15 at CRF 28, 22 at CRF 35, 26 at CRF 40; noise far less.
FREEZE_MOVED_BLOCK = 30.0
# ... and every frame of the run must still be the run's first picture: no block further than this from it
# (x2 for noise) and no more changed pixels than FREEZE_CHANGED_FRACTION. A very slow drift hides under the
# frame-to-frame limits (a sparse shot drifting ~0.1 px a frame at 24 fps was "held" for 3 s on held-out draw
# 2, its run's ends being close in block means); against the run's first frame it soon shows, and the run ends
# there.
FREEZE_DRIFT_DIFF = 1.5
# A held frame becomes visible as a stall at about half a second (12 frames at 24 fps, 4 at 8 fps). Anime's
# own holds (each drawing on twos or threes: 2-3 frames, 0.08-0.125 s at 24 fps, 0.17-0.25 s at 12 fps) stay
# well under it.
FREEZE_MIN_S = 0.5

# ---- flicker -----------------------------------------------------------------------------------------
# Flicker is a brightness change of the whole picture that goes one way and comes back within a quarter of
# a second. The frame-to-frame brightness change is the median over 64 blocks of each block's mean change
# (so a moving object does not count), as it is and with the camera's shift between the two frames undone,
# whichever is smaller (a handheld shake moves a sky gradient or a horizon up and down like a flicker; see
# analysis.FrameAnalyzer._gain_step); a swing is min(rise, fall) around a peak or a trough within
# FLICKER_WINDOW_S on each side. Monotonic changes (fades, crossfades, dusk) have no swing.
FLICKER_WINDOW_S = 0.25
# Swing (luma levels) that counts as flicker. Clean clips, film grain, fast pans, fades and crossfades in the
# corpus stay under 0.1; injected gain changes of 4-15 % swing 2.9-40 levels (a 4 % random jitter on a dark
# 8 fps clip only 1.1: missed). 2 levels (~1 % of full scale over the whole picture) is about where a
# frame-to-frame brightness change becomes noticeable; real generated video has more natural brightness
# wobble than the corpus, so the limit is not set lower.
FLICKER_LEVELS = 2.0

# ---- grid / multi-panel frames -----------------------------------------------------------------------
# Per sampled frame, the repeated-content evidence is the largest of the gradient-domain NCC at W/2, W/3,
# H/2, H/3 lags and the verified phase-correlation NCC between halves/thirds (see analysis.grid_scores).
# On the corpus: exact tiles ~0.95-1, shifted/scaled/time-offset tiles >= 0.76 at 24 fps (one scaled 1x3
# at 8 fps: 0.67, missed); clean generated clips <= 0.32; hard negatives (flat skies, horizons, symmetric
# shots, lantern rows; 40 seeds each) <= 0.59. Tiles separated by drawn gutters score lower (0.58-0.68)
# and are caught by the panel-border rule instead.
GRID_SIMILARITY = 0.68
# Panel borders: a straight edge covering this fraction of the rows (columns) at a tile position.
# Two full-height borders (1x3 panels) or a full-height and a full-width one crossing (2x2) count as panels;
# a single full-width line does not (horizons, floors, roof lines are full-width straight lines).
BORDER_COVERAGE = 0.95
# A single border (two panels side by side, or stacked, a gutter or the tiles' own seam between them) is a
# panel border when the content repeats across it at least this much in that direction: the border's edges
# lower the panels' match. Held-out draws 5 and 8 (seen): two panels of a city with a 6 px gutter 0.62, two
# stacked tiles 0.63-0.67, found by it; a horizon, a floor or a pillar at a tile position has nothing repeating
# across it (no negative of the tuning corpus or of draws 5-8 changed).
GRID_BORDER_SIMILARITY = 0.5
# Tiling persists through a clip (the generator keeps the layout of its init image): the clip's evidence is
# the level reached by at least this fraction of the sampled frames, so a momentary coincidence is ignored.
GRID_PERSISTENCE = 0.5
# Repeated content is a tile's only where it repeats at the tile lag more than at shorter ones: where the
# gradient image's autocorrelation at a lag short of the tile lags (analysis._periodicity) reaches this share of
# the direction's similarity, the direction is a periodic texture (a fence's posts, a field's rows, a facade's
# windows) and its similarity does not count. Held-out draw 5: a fence across a field 0.97-1.10 (clean, and its
# 2x2 tiles, still found by the other direction); tiles 0.08-0.81 (the highest with gutters: the gutter's lines
# repeat too). Clean interiors and lakes just over the similarity limit read 0.72-0.74: not periodic enough to
# leave out, they stay false positives.
GRID_PERIODIC = 0.9

# ---- blockiness --------------------------------------------------------------------------------------
# Per frame: how much stronger luma steps are on an 8 px block grid than between grid lines (0 = no grid;
# see analysis.blockiness). On the corpus clips (2nd-worst frame): clean, grainy, mild JPEG (q85), fast pans,
# fades <= 0.45; heavy JPEG (q3-q10) >= 1.5. Single frames: q50 0.3-0.7, q30 0.6-1.1. 0.9 sat between
# (geometric mean of 0.45 and 1.5): it flags heavy blocking, not ordinary compression. Heavy JPEG of a
# half-size picture blown up 2x (its grid is 16 px and soft) is found only in part.
# Measured at the codec's phase only (analysis.CODEC_PHASE), clean frames of the tuning corpus (with its third
# procedure's facades: regular window grids) stay <= 0.27 (were up to 0.45, 1.18 on a facade), so the limit
# could drop from 0.9 to 0.7: still above ordinary compression (JPEG q50: 0.15-0.68 per frame on the drawn and
# generated scenes), under q30 of most scenes (0.5-1.0) and catching more of the q5-q12 of half-size pictures
# blown up 2x (0.4-1.7). Held-out draw 2 (seen: validation only) had q5 / q12 items at 0.73-0.75.
# The value is the larger of that and the banding on the grid in one direction (analysis.grid_banding: a plain
# sky compressed hard steps across its gradient only), scaled so that analysis.BANDING_AT_LIMIT reads as this
# limit.
BLOCKINESS_MAX = 0.7
# A clip fails when this many frames are that blocky (one odd measurement is not enough). Frames that repeat
# the previous picture (anime holds: `repeats_previous`, as the freeze check tells them) are that picture's
# measurement again, not another one: on held-out draw 16 a striped wall under a push-in lined its stripes up
# with the codec's grid in one drawing (0.77), held on twos, and that alone failed a clean clip.
BLOCKINESS_MIN_FRAMES = 2

# ---- blur / quality consistency ----------------------------------------------------------------------
# Per frame edge sharpness (analysis.edge_sharpness: the gradient energy of the edges against that of the same
# edges blurred by 1 px, so how many edges there are and how strong cancels out) relative to its shot's
# median (see relative_sharpness): frames that lose the crispness the rest of the shot has. A clip fails when
# sharpness drops under this fraction of the median for BLUR_MIN_FRAMES consecutive frames. On the tuning
# corpus (generated segments and the drawn hard negatives: flat skies, horizons, night streets, symmetric
# shots, lanterns, fades, camera moves, at 24 and 8 fps): clean clips >= 0.95; Gaussian blur sigma >= 1 px,
# 5x5 box blur and half-resolution frames over 0.25-1 s <= 0.76. 0.85 sits between.
BLUR_RELATIVE = 0.85
BLUR_MIN_FRAMES = 2
# A clip whose median frame has fewer edge pixels than this fraction (a plain sky with nothing in it) has
# nothing to be sharp: the check is not measured. A flat-shaded drawing with a few outlines has ~2 %.
BLUR_MIN_EDGES = 1e-3
# A quality dip is a warning, not a regeneration: soft focus, motion blur or a flat shot can look like one.
BLUR_BLOCKING = False

# ---- seams at segment boundaries ---------------------------------------------------------------------
# At a known boundary frame b, d(b) / median(d(b-4..b+4) without b), d = mean |difference| to the
# previous frame. Measured on real segments here: 4-16x at a hard seam, <= 1.3 elsewhere. On the tuning corpus
# (8 bases; the check's value is the largest of this ratio and the three below): at 24 fps hard cuts and 1 s
# jumps within a shot >= 5.4, crossfaded and continuous joins <= 1.52; at 8 fps a 1.6 s jump within a pan
# 2.64-2.99 (per-frame motion is 3x larger there), joins <= 1.80. The limit sits in that gap (its geometric
# middle, 2.2); it was 3.0, over the 8 fps jumps, when the joins reached 2.0.
SEAM_RATIO = 2.2
SEAM_CONTEXT = 4
# Boundaries are given in seconds: look one frame either side of the rounded frame.
SEAM_SEARCH = 1
# Below this change (luma levels) a jump is invisible however still the neighbours are.
SEAM_MIN_DIFF = 3.0
# The neighbours' median is floored at this (luma levels) so a static shot does not make any change a seam.
# The median is over the neighbours that change (block change >= FREEZE_BLOCK_DIFF), so held drawings (anime
# on twos/threes: 1 of 2 or 2 of 3 differences are ~0) do not make every new drawing a seam.
SEAM_MIN_CONTEXT = 0.5

# The same ratio on the change that motion does not explain: per frame, the largest block mean |difference|
# between it and the previous frame moved onto it by optical flow. A cut or a jump in time breaks the motion
# however little of the picture changes (a sparse static shot whose one subject jumps, a kite on a flat sky)
# and however much the neighbours move (a hard cut during a whip pan: the pan is explained, the cut is not).
# The frame's is compared with the *largest* of its neighbours' (floored at SEAM_MC_MIN_CONTEXT), not their
# median: footage that moves in steps (on twos or threes, or generated at a low rate) has a spike of its own
# every 2-3 frames (built-in generator footage: 4-5.4 levels against a median of 1.4), a seam is a break larger
# than any of them. The frame's own must reach SEAM_MC_MIN_DIFF (levels in one block: a jump one can see).
SEAM_MC_MIN_DIFF = 8.0
SEAM_MC_MIN_CONTEXT = 1.5

# A segment started from an earlier frame than the last one before the join (the previous segment's first
# frame, or its keyframe again) jumps back in time: the frame after the join shows a picture the clip has already
# shown, and nearly exactly (an image-to-video model's first frame is the frame it was given). In a static or
# sparse shot that jump can be small against the neighbours' motion, and the ratios above miss it, but motion
# going forward never brings a frame closer to an older frame than to the one just before it (held drawings make
# them equal). Return ratio: D(b, b-1) / min D(b, b-k) over 2 <= k <= SEAM_RETURN_LOOKBACK_S of frames, D the
# largest block mean |difference| (levels), the minimum floored at SEAM_RETURN_MIN_CONTEXT; compared with
# SEAM_RATIO, and only where D(b, b-1) reaches SEAM_MC_MIN_DIFF (a jump one can see) and the older frame matches
# within SEAM_RETURN_MATCH (the picture comes back whole, as a jump back brings it: a light that blinks back on
# while the rest of the picture moves on matches no older frame that closely; on held-out draw 7 a neon sign did,
# 12 levels off, at a chained join where a whip began: 5.5x). Content that comes back by itself (a shake, a
# cycle, a flicker) does so before the join too: the frame's return ratio is divided by the largest of its
# predecessors' over SEAM_RETURN_CONTEXT_S (when above 1). An anime screen shake between two offsets repeats each
# frame exactly two later: 19x undivided at a join, about 1 divided. A handheld shake (CAMERA_MOVES in
# tests/qa_corpus.py) returns 3-4.2x undivided, 6.6 levels off (over SEAM_RETURN_MATCH); divided, at most 2.6
# with 4 frames of context, 1.6 with 0.5 s. Tuning corpus at 24 fps: jumps back of 0.5 s 9.9-24 (sparse shots
# 9.9-14, where the ratios above give 0.35-0.67); no negative reaches 1.
SEAM_RETURN_LOOKBACK_S = 1.0
SEAM_RETURN_CONTEXT_S = 0.5
SEAM_RETURN_MIN_CONTEXT = 1.0
# Levels (largest block mean |difference| at the analysis size): a generator's first frame is its conditioning
# frame through the model's VAE, a level or two off once averaged over a block; codec noise is less.
SEAM_RETURN_MATCH = 4.0

# A segment graded differently from the one before it (another colour setting, a model's drift in exposure)
# steps the whole picture's brightness at the join. On a fast pan the step hides in the motion's change (the
# ratios above: 2.9-3.4 for a gamma of 1.08 on the tuning corpus's fast pans), but the brightness change with
# the camera's shift undone (Features.gain_step, a median over the blocks: a moving object does not count) is
# near 0 on every clean frame, so the step stands out against the largest of its SEAM_CONTEXT neighbours'
# (floored at SEAM_MIN_CONTEXT): 13-14x there. It must reach SEAM_GAIN_MIN_STEP (levels) to count. A
# dissolve's or a fade's frames all step alike (about 1x).
SEAM_GAIN_MIN_STEP = 3.0
# A jump ahead in time within a camera move: the picture moves N times farther from the frame before than at
# any of its SEAM_CONTEXT neighbours (Features.shift, phase correlation at the analysis size; the neighbours'
# floored at SEAM_SHIFT_MIN_CONTEXT px), a break in the camera's pace that the picture's change can hide (a slow
# pan over a plain sky changes few pixels however far it jumps). The jump must reach SEAM_SHIFT_MIN_PX (1 px at
# 256 wide is 7.5 px of a 1080p picture). Tuning corpus: clean and hard-negative joins, holds and camera moves
# (shake, roll, dolly, whip) at most 1.12 at 24 fps and 1.52 at 8 fps; 0.5-1 s jumps within a pan 1.6-68 (those
# under 2.2 found by the ratios above). A cut usually reads no shift (the tuning corpus's peaks are under
# analysis.SHIFT_MIN_RESPONSE); where two unrelated pictures do correlate, the join is broken anyway.
SEAM_SHIFT_MIN_PX = 1.0
SEAM_SHIFT_MIN_CONTEXT = 0.5

# ---- ghosting (double exposures) ---------------------------------------------------------------------
# Per frame, three pieces of evidence (productions/lib/qa/ghost.py, where the method is explained), each
# compared with its own threshold; a frame's ghost score is the largest evidence / threshold (1.0 = at the
# threshold). Corpus values below are the 2nd-highest frame per item (what GHOST_MIN_FRAMES makes count),
# tests/qa_corpus.py at 24 and 8 fps.
# blend: share of the change between a frame's neighbours where the frame is a linear blend of them that
# motion does not explain, counted only when one blend weight explains the whole frame's change to within
# ghost.BLEND_MAX_RESIDUAL (a `framerate` blend is exact; slow camera moves only look like one to first order).
# Tuning corpus and its camera moves (push-ins, tilts, rolls, diagonal drifts, shakes), 24 and 8 fps: clean
# footage, holds and pans of every speed 0.00; blend-interpolated footage (drawn or generated, x2 and x3)
# >= 0.26 (the generator's slow pans at 24 fps, doubles about a pixel apart at 256 px). Before the exactness
# test, clean camera moves reached 0.48 and the threshold had to sit at 0.27, over the weakest blends. 0.12
# leaves room for codec noise on both sides.
GHOST_BLEND = 0.12
# mix: the same at half the analysis size with the neighbours ghost.DISSOLVE_GAP_S away: dissolves between
# two different pictures that nobody declared >= 0.67 (8 fps) / 0.79 (24 fps); clean footage, holds, the other
# defects <= 0.25. 0.42 sits between.
GHOST_MIX = 0.42
# echo: cepstral peak (log-power units) of a doubling that a frame shows against both references and a
# neighbouring frame shows at the same offset. Same-scene dissolves (a shot crossfaded with itself 0.5 s
# later; chained segments crossfaded) where the doubled content is much of the picture's detail (camera moves,
# walkers, rain): 0.09-0.36; clean footage, pans, flat skies, night, holds, blur, heavy JPEG <= 0.065 (tiled
# frames, which repeat their content by construction, are left to the grid check). Missed: a doubled small
# foreground on a static detailed background (the built-in generator's slow pans) 0.01-0.05, and drawn pans
# dissolved over 4 frames at 8 fps 0.05-0.07.
GHOST_ECHO = 0.075
# layer: at a segment boundary, how far the moving layer's contrast dips in the shape of a dissolve, against its
# own wander (ghost.layer_evidence). Held-out draws 15-22 (seen), a boundary put in the middle of every negative
# without one: at 8 fps, same-scene dissolves up to 12.0, 13 of the 34 that blend, mix, echo and fade all missed
# at 5.0 or more (small subjects over still or slowly moving backgrounds: a ball, a kite and a bird, stars with a
# walker, a neon sign's figures); every clean shot, hold, grain, JPEG and slow dimming <= 3.53 (a whip into a
# city street, the dip fitted over 9 frames). At 24 fps (draws 15-20), 2 of the 15 missed at 5.0 or more (up to
# 10.6), negatives <= 4.08 (a lake dimming slowly; chained joins of a shrine with a bobbing spirit 3.74-3.85).
# Tuning corpus: no verdict changed at either rate. 5.0 sits 1.23x over the highest negative.
GHOST_LAYER = 5.0
# A clip fails with at least this many ghost frames within GHOST_WINDOW_S of each other (at least 3 frames):
# a double exposure one can see lasts: a 0.5 s dissolve has 4 frames even at 8 fps, a blended clip 1 in 2 or
# 2 in 3. Single borderline frames seconds apart are not one: clean built-in footage generated at 24 fps had
# 4 such frames in 5 s (blend evidence 1.14 x the threshold, each alone), which a plain count failed.
GHOST_MIN_FRAMES = 2
GHOST_WINDOW_S = 0.25
# Dissolves happen at joins: the crossfades this check exists for were put at segment joins, and a dissolve the
# producer chose is declared. Near a segment boundary (a 1 s dissolve centred on it, plus the gap between a
# frame and its references: GHOST_JOIN_S either side) the dissolve evidence (mix, echo) counts as measured;
# elsewhere it must be GHOST_AWAY_FACTOR times as strong. Clean footage only looks like a dissolve by chance,
# anywhere: a field or a facade under a diagonal pan or a whip (periodic content the flow and the cepstrum can
# alias), 1.0-2.0x the thresholds on held-out draws 3 and 4 at 8 fps, where every dissolve sat at a join. The
# price: a dissolve in the middle of a generated segment (a model morphing one shot into another) is flagged
# only when it is plain. Of the tuning corpus's 14 dissolves between two different shots (8 and 24 fps), 11
# would still be flagged with their join not given, 3 not (0.80-0.94x); at their join all 14 are.
# A doubled picture (the echo evidence) away from joins counts only where the frame's blend weights say
# dissolve too (its mix evidence at least GHOST_AWAY_ECHO_MIX of the mix threshold): a dissolve of a shot into
# itself later is what a crossfade does where the next segment continues the scene, and a generated segment does
# not dissolve into itself; one between two pictures shows in both. A sparse shot's look-alike figures double
# the picture as a dissolve does, without any blend: a kite and a bird held on twos over a flat sky while the
# camera tilts, echo 6.4x the threshold with mix <= 0.13 (the held-out set's known false positive); a crossfade
# between two drawn shots in mid-segment, echo 2.4x with mix 1.0-1.25 on the same frames. So segment QA (no
# joins) and a file checked without its boundaries (`manage.py qa --boundaries`) find a shot dissolved into
# itself only where its blend weights say dissolve too; at its join it is found in full.
GHOST_JOIN_S = 0.875
GHOST_AWAY_FACTOR = 2.0
GHOST_AWAY_ECHO_MIX = 0.5
# Declared transitions (a chosen dissolve or a fade through black) are left out of the checks that a
# transition trips by design (ghosting, black frames, flicker, blur), with this many frames either side.
TRANSITION_MARGIN = 1

# How many worst frames a check reports, and the thumbnails' JPEG quality.
WORST_FRAMES = 3
THUMB_QUALITY = 70


def _thumb(features: Features, index: int) -> bytes | None:
    if not (0 <= index < len(features.thumbs)):
        return None
    ok, buf = cv2.imencode(".jpg", features.thumbs[index][:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    return buf.tobytes() if ok else None


def worst_frames(features: Features, scores: np.ndarray, *, highest: bool = True, count: int = WORST_FRAMES,
                 thumbnails: bool = True, min_gap: int = 3) -> list[WorstFrame]:
    """The `count` frames with the highest (or lowest) finite scores, at least `min_gap` frames apart."""
    idx = np.flatnonzero(np.isfinite(scores))
    if idx.size == 0:
        return []
    order = idx[np.argsort(-scores[idx] if highest else scores[idx], kind="stable")]
    picked: list[int] = []
    for i in order:
        if all(abs(int(i) - j) >= min_gap for j in picked):
            picked.append(int(i))
        if len(picked) == count:
            break
    fps = features.fps
    return [
        WorstFrame(i, float(scores[i]), i / fps if fps else None, _thumb(features, i) if thumbnails else None)
        for i in picked
    ]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end_exclusive) of each run of True."""
    runs = []
    start = None
    for i, v in enumerate(mask.tolist()):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(mask)))
    return runs


def transition_frames(n: int, transitions: Transitions, margin: int = TRANSITION_MARGIN) -> np.ndarray:
    """Per frame: True inside a declared transition [start, end), widened by `margin` frames either side."""
    mask = np.zeros(n, dtype=bool)
    for start, end in transitions or ():
        mask[max(0, int(start) - margin) : max(0, min(n, int(end) + margin))] = True
    return mask


# ------------------------------------------------------------------------------------------------------


def check_frame_format(features: Features) -> CheckResult:
    ok = features.shapes_ok and features.n > 0
    if features.n == 0 and not features.bad_shapes:
        msg = "no frames"
    elif not features.shapes_ok:
        i, shape = features.bad_shapes[0]
        msg = (f"{len(features.bad_shapes)} frame(s) differ in size or layout from the first "
               f"({features.width}x{features.height} RGB): frame {i} is {shape}")
    else:
        msg = f"{features.n} frames of {features.width}x{features.height} RGB"
    return CheckResult("frame_format", ok, True, float(len(features.bad_shapes)), 0.0, "<=", "frames", msg,
                       details={"bad_frames": [[i, list(s)] for i, s in features.bad_shapes[:10]]})


def check_frame_count(n: int, expected: int | None) -> CheckResult:
    if expected is None:
        ok = n >= 2
        return CheckResult("frame_count", ok, True, float(n), 2.0, ">=", "frames",
                           f"{n} frames (no expected count given; a clip needs at least 2)")
    ok = abs(n - expected) <= FRAME_COUNT_TOLERANCE
    msg = f"{n} frames, {expected} expected" + ("" if ok else f" ({n - expected:+d})")
    return CheckResult("frame_count", ok, True, float(n), float(expected), "==", "frames", msg,
                       details={"expected": expected, "tolerance": FRAME_COUNT_TOLERANCE})


def check_fps(fps: float | None, expected: float | None = None) -> CheckResult:
    if fps is None or not math.isfinite(fps):
        return CheckResult("fps", False, True, None, None, "==", "fps", "the frame rate is unknown")
    ok = MIN_FPS <= fps <= MAX_FPS
    msg = f"{fps:g} fps"
    if not ok:
        msg += f" is outside {MIN_FPS:g}-{MAX_FPS:g} fps"
    if expected is not None and abs(fps - expected) > FPS_TOLERANCE:
        ok = False
        msg += f", {expected:g} fps expected"
    return CheckResult("fps", ok, True, float(fps), float(expected) if expected is not None else MAX_FPS,
                       "==" if expected is not None else "<=", "fps", msg,
                       details={"min_fps": MIN_FPS, "max_fps": MAX_FPS, "expected": expected})


def black_frames(f: Features) -> np.ndarray:
    """Per frame: True where it is black (BLACK_PICTURE_FRACTION of its pixels under 10 % luma, nothing lit)."""
    return (f.dark >= BLACK_PICTURE_FRACTION) & (f.lit < BLACK_MAX_LIT) & ~(f.lit_pixels >= BLACK_MIN_LIT_PIXELS)


def check_black_frames(f: Features, thumbnails: bool = True, transitions: Transitions = ()) -> CheckResult:
    black = black_frames(f) & ~transition_frames(f.n, transitions)  # a fade through black is chosen
    count = int(black.sum())
    ok = count <= MAX_BLACK_FRAMES
    runs = _runs(black)
    msg = "no black frames" if not count else (
        f"{count} black frame(s) in {len(runs)} run(s), first at frame {runs[0][0]}")
    scores = np.where(black, f.dark, np.nan) if count else f.dark
    return CheckResult("black_frames", ok, True, float(count), float(MAX_BLACK_FRAMES), "<=", "frames", msg,
                       worst_frames=worst_frames(f, scores, thumbnails=thumbnails and not ok),
                       details={"runs": [[a, b - a] for a, b in runs[:20]],
                                "picture_fraction": BLACK_PICTURE_FRACTION, "pixel_luma": 0.10 * 255,
                                "max_lit": BLACK_MAX_LIT, "min_lit_pixels_full": BLACK_MIN_LIT_PIXELS,
                                "transitions": [[int(a), int(b)] for a, b in transitions]})


def repeats_previous(f: Features) -> np.ndarray:
    """Per frame: does it show the previous frame's picture again (a held drawing, a freeze)? No block changes
    by FREEZE_BLOCK_DIFF and hardly a pixel visibly (FREEZE_CHANGED_FRACTION), nor at the frame's own resolution
    where that was seen (FREEZE_MOVED_BLOCK). Frame 0 never does."""
    same = (f.block_mad < FREEZE_BLOCK_DIFF) & (f.changed < FREEZE_CHANGED_FRACTION) & \
        ~(f.moved >= FREEZE_MOVED_BLOCK)
    same[0] = False
    return same


def _frozen_runs(f: Features) -> list[tuple[int, int]]:
    """(first, end_exclusive) frame runs where every frame equals the previous one (black runs excluded)."""
    same = repeats_previous(f) & ~black_frames(f)
    runs = []
    for a, b in _runs(same):
        # frame a equals frame a-1: a run starts at a-1 (its anchor) and lasts while each frame is still the
        # anchor's picture; a slow drift hides under the frame-to-frame limit but not for long against the anchor
        first = a - 1
        anchor = f.grays[first].astype(np.float32)
        for j in range(a, b):
            if not _same_picture(anchor, f.grays[j]):
                runs.append((first, j))
                first, anchor = j - 1, f.grays[j - 1].astype(np.float32)
                if not _same_picture(anchor, f.grays[j]):  # cannot happen for a `same` frame, but be safe
                    first, anchor = j, f.grays[j].astype(np.float32)
        runs.append((first, b))
    return [r for r in runs if r[1] - r[0] >= 2]


def _same_picture(anchor: np.ndarray, gray: np.ndarray) -> bool:
    """A frame still shows the anchor's picture: no block drifted by FREEZE_DRIFT_DIFF and fewer than
    FREEZE_CHANGED_FRACTION of the pixels changed visibly (the limits a held frame meets against the last one,
    the block one doubled for noise)."""
    d = np.abs(gray.astype(np.float32) - anchor)
    return float(block_means(d).max()) < FREEZE_DRIFT_DIFF and \
        float(np.count_nonzero(d > CHANGED_PIXEL_LUMA)) / d.size < FREEZE_CHANGED_FRACTION


def check_frozen(f: Features, thumbnails: bool = True) -> CheckResult:
    if f.n < 2:
        return CheckResult("frozen", True, True, None, FREEZE_MIN_S, "<", "s", "fewer than 2 frames",
                           status=NOT_MEASURED)
    runs = _frozen_runs(f)
    longest = max(runs, key=lambda r: r[1] - r[0], default=None)
    longest_s = (longest[1] - longest[0]) / f.fps if longest else 0.0
    min_frames = max(2, int(math.ceil(FREEZE_MIN_S * f.fps - 1e-9)))
    bad = [r for r in runs if r[1] - r[0] >= min_frames]
    ok = not bad
    if ok:
        msg = f"longest held frame run {longest_s:.2f} s (limit {FREEZE_MIN_S} s)"
    else:
        a, b = max(bad, key=lambda r: r[1] - r[0])
        msg = f"frame {a} is held for {b - a} frames ({(b - a) / f.fps:.2f} s)" + (
            f"; {len(bad)} frozen runs" if len(bad) > 1 else "")
    scores = np.full(f.n, np.nan)
    for a, b in runs:
        scores[a] = (b - a) / f.fps
    return CheckResult("frozen", ok, True, float(longest_s), FREEZE_MIN_S, "<", "s", msg,
                       worst_frames=worst_frames(f, scores, thumbnails=thumbnails and not ok),
                       details={"runs": [[a, b - a] for a, b in runs if b - a >= 3][:20],
                                "block_diff": FREEZE_BLOCK_DIFF,
                                "changed_fraction": FREEZE_CHANGED_FRACTION, "moved_block": FREEZE_MOVED_BLOCK,
                                "min_frames": min_frames})


def flicker_swings(f: Features) -> np.ndarray:
    """Per frame: the brightness swing (luma levels) peaking or bottoming out at that frame."""
    n = f.n
    swings = np.zeros(n)
    if n < 3:
        return swings
    step = f.gain_step[1:]  # n-1: global brightness change into frame i+1, camera shake undone
    level = np.concatenate([[0.0], np.cumsum(step)])
    w = max(1, int(round(FLICKER_WINDOW_S * f.fps)))
    for i in range(1, n - 1):
        before = level[max(0, i - w) : i]
        after = level[i + 1 : i + 1 + w]
        up = min(level[i] - before.min(), level[i] - after.min())
        down = min(before.max() - level[i], after.max() - level[i])
        swings[i] = max(up, down, 0.0)
    return swings


def check_flicker(f: Features, thumbnails: bool = True, transitions: Transitions = ()) -> CheckResult:
    if f.n < 3:
        return CheckResult("flicker", True, True, None, FLICKER_LEVELS, "<", "luma levels",
                           "fewer than 3 frames", status=NOT_MEASURED)
    # A black frame is a swing too, but the black-frame check reports it; a declared fade through black
    # swings by design.
    swings = np.where(black_frames(f) | transition_frames(f.n, transitions), 0.0, flicker_swings(f))
    worst = float(swings.max())
    ok = worst < FLICKER_LEVELS
    count = int((swings >= FLICKER_LEVELS).sum())
    msg = (f"largest brightness swing {worst:.1f} levels" if ok else
           f"brightness jumps and comes back by {worst:.1f} levels ({count} frame(s))")
    return CheckResult("flicker", ok, True, worst, FLICKER_LEVELS, "<", "luma levels", msg,
                       worst_frames=worst_frames(f, swings, thumbnails=thumbnails and not ok),
                       details={"window_s": FLICKER_WINDOW_S, "frames_over": count})


def _direction_similarity(g: dict[str, np.ndarray], axis: str, level: str) -> np.ndarray:
    """One direction's repeated-content similarity at one level (see analysis.grid_scores); none where that
    level's content repeats at shorter lags as much as at the tile lag (a periodic texture there)."""
    sim = np.fmax(g[f"ncc_{axis}{level}"], g[f"pc_{axis}{level}"])
    return np.where(g[f"periodic_{axis}{level}"] >= GRID_PERIODIC * sim, 0.0, sim)


def grid_evidence(f: Features) -> tuple[np.ndarray, np.ndarray]:
    """Per sampled frame: (similarity evidence in [0, 1], panel borders found (0/1)); NaN if not sampled."""
    g = f.grid
    if not g:
        return np.full(f.n, np.nan), np.full(f.n, np.nan)
    sim_x = np.fmax(_direction_similarity(g, "x", ""), _direction_similarity(g, "x", "_half"))
    sim_y = np.fmax(_direction_similarity(g, "y", ""), _direction_similarity(g, "y", "_half"))
    sim = np.fmax(sim_x, sim_y)
    v1, v2, h1 = g["border_v1"], g["border_v2"], g["border_h1"]
    panels = ((v1 >= BORDER_COVERAGE) & (v2 >= BORDER_COVERAGE)) | ((v1 >= BORDER_COVERAGE) & (h1 >= BORDER_COVERAGE))
    # one border between two panels whose content repeats across it (side by side, or stacked)
    panels |= ((v1 >= BORDER_COVERAGE) & (sim_x >= GRID_BORDER_SIMILARITY)) | \
        ((h1 >= BORDER_COVERAGE) & (sim_y >= GRID_BORDER_SIMILARITY))
    border = np.where(np.isnan(v1), np.nan, panels.astype(float))
    return sim, border


def grid_level(f: Features, evidence: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float] | None:
    """(similarity level reached by GRID_PERSISTENCE of the sampled frames, fraction of sampled frames with
    panel borders); None when no frame was sampled. `evidence`: grid_evidence(f), when already computed."""
    sim, border = evidence if evidence is not None else grid_evidence(f)
    sampled = np.isfinite(sim)
    if not sampled.any():
        return None
    return float(np.quantile(sim[sampled], 1.0 - GRID_PERSISTENCE)), float(border[sampled].mean())


def is_tiled(f: Features) -> bool:
    """The grid check's verdict: the frames repeat themselves (tiles or panels)."""
    level = grid_level(f)
    return level is not None and (level[0] >= GRID_SIMILARITY or level[1] >= GRID_PERSISTENCE)


def check_grid(f: Features, thumbnails: bool = True) -> CheckResult:
    sim, border = grid_evidence(f)
    sampled = np.isfinite(sim)
    levels = grid_level(f, (sim, border))
    if levels is None:
        return CheckResult("grid", True, True, None, GRID_SIMILARITY, "<", "ncc", "no frames sampled",
                           status=NOT_MEASURED)
    level, border_frac = levels
    panels = border_frac >= GRID_PERSISTENCE
    ok = level < GRID_SIMILARITY and not panels
    if ok:
        msg = f"repeated-content similarity {level:.2f} (limit {GRID_SIMILARITY})"
    elif panels and level < GRID_SIMILARITY:
        msg = f"straight panel borders across the frame in {border_frac:.0%} of sampled frames"
    else:
        msg = f"the frame repeats itself (tiles/panels): similarity {level:.2f} in most sampled frames"
    score = np.where(sampled, np.fmax(sim, np.nan_to_num(border)), np.nan)
    g = f.grid
    details = {k: round(float(np.nanmedian(v)), 3) for k, v in g.items()}
    details.update({"sampled_frames": int(sampled.sum()), "border_fraction": round(border_frac, 3),
                    "border_coverage": BORDER_COVERAGE, "border_similarity": GRID_BORDER_SIMILARITY,
                    "persistence": GRID_PERSISTENCE})
    return CheckResult("grid", ok, True, level, GRID_SIMILARITY, "<", "ncc", msg,
                       worst_frames=worst_frames(f, score, thumbnails=thumbnails and not ok), details=details)


def check_blockiness(f: Features, thumbnails: bool = True) -> CheckResult:
    b = f.blockiness
    if not np.isfinite(b).any():
        return CheckResult("blockiness", True, True, None, BLOCKINESS_MAX, "<", "ratio",
                           "not measured: no full-resolution pixels", status=NOT_MEASURED)
    vals = np.sort(b[np.isfinite(b)])[::-1]
    pictures = np.sort(b[np.isfinite(b) & ~repeats_previous(f)])[::-1]  # one measurement per picture shown
    if not pictures.size:
        pictures = vals[:1]
    value = float(pictures[min(BLOCKINESS_MIN_FRAMES, pictures.size) - 1])
    over = int((b >= BLOCKINESS_MAX).sum())
    ok = value < BLOCKINESS_MAX
    msg = (f"blockiness {value:.2f} (limit {BLOCKINESS_MAX})" if ok else
           f"{over} frame(s) show a compression block grid (blockiness up to {vals[0]:.2f})")
    return CheckResult("blockiness", ok, True, value, BLOCKINESS_MAX, "<", "ratio", msg,
                       worst_frames=worst_frames(f, b, thumbnails=thumbnails and not ok),
                       details={"frames_over": over, "median": round(float(np.median(vals)), 3),
                                "trace": [round(float(x), 3) if np.isfinite(x) else None for x in b]})


def relative_sharpness(f: Features, transitions: Transitions = (), boundaries_s: Sequence[float] = ()
                       ) -> np.ndarray:
    """Per frame sharpness over its shot's median (of the frames that are no mix of two pictures, nor may be);
    NaN for frames reported by a more specific check (black, blocky, double exposures: a mix of two pictures is
    softer than either), without edges, or inside a declared transition (a dissolve is softer by design). Shots
    are the stretches between segment boundaries and transitions (declared or not): two shots can be drawn with
    differently crisp lines, and neither is a defect."""
    # Left out: the frames the ghosting check reports (a blend in the in-between pattern, a dissolve). A frame
    # that only looks like a blend is measured: soft frames of a slow camera move look linear from one to the
    # next, and leaving them out hid a soft stretch whole (a Gaussian blur of 4 px over 1.5 s of a tilt, every
    # soft frame 1.3-1.7x the blend threshold: tests/test_qa_blur_slow_move.py). The level each shot is measured
    # against still leaves out every frame that may be a mix (softer than either picture, a whip's smear).
    score, parts = ghost_scores(f, transitions, dissolves_at_joins=False)
    skip = ~np.isfinite(f.sharpness) | black_frames(f) | (f.blockiness >= BLOCKINESS_MAX) | (score >= 1.0)
    skip |= transition_frames(f.n, transitions)
    s = np.where(skip, np.nan, f.sharpness)
    if not np.isfinite(s).any():
        return s
    may_mix, _ = ghost_scores(f, transitions, dissolves_at_joins=False, in_between_only=False)
    level = np.where(np.nan_to_num(may_mix) >= 1.0, np.nan, s)
    if not np.isfinite(level).any():
        level = s
    # shots end at boundaries, declared transitions and undeclared dissolves between two pictures (the ghosting
    # check's mix evidence)
    cuts = {0, f.n} | {boundary_frame(t, f.fps) for t in boundaries_s} | {int(x) for tr in transitions for x in tr}
    cuts |= {int(x) for run in _runs(np.nan_to_num(parts["mix"]) >= 1.0) for x in run}
    cuts = sorted(c for c in cuts if 0 <= c <= f.n)
    whole = float(np.nanmedian(level))
    out = np.full(f.n, np.nan)
    for a, b in zip(cuts, cuts[1:], strict=False):
        part = level[a:b]
        # a shot too short to have its own median is compared with the whole clip
        out[a:b] = s[a:b] / (float(np.nanmedian(part)) if np.isfinite(part).sum() >= 3 * BLUR_MIN_FRAMES else whole)
    return out


def check_blur(f: Features, thumbnails: bool = True, transitions: Transitions = (),
               boundaries_s: Sequence[float] = ()) -> CheckResult:
    edges = f.edges[np.isfinite(f.edges)]
    if edges.size < 3:
        return CheckResult("blur", True, BLUR_BLOCKING, None, BLUR_RELATIVE, ">", "ratio",
                           "not measured: too few full-resolution frames", status=NOT_MEASURED)
    if float(np.median(edges)) < BLUR_MIN_EDGES:
        return CheckResult("blur", True, BLUR_BLOCKING, None, BLUR_RELATIVE, ">", "ratio",
                           f"not measured: the clip has almost no edges ({100 * float(np.median(edges)):.2f} % of"
                           f" the pixels < {100 * BLUR_MIN_EDGES:.1f} %)", status=NOT_MEASURED)
    rel = relative_sharpness(f, transitions, boundaries_s)
    if np.isfinite(rel).sum() < 3:
        return CheckResult("blur", True, BLUR_BLOCKING, None, BLUR_RELATIVE, ">", "ratio",
                           "not measured: too few frames with edges", status=NOT_MEASURED)
    k = BLUR_MIN_FRAMES
    filled = np.where(np.isfinite(rel), rel, np.inf)
    sustained = np.array([filled[i : i + k].max() for i in range(len(filled) - k + 1)]) if len(filled) >= k \
        else filled
    value = float(sustained.min()) if np.isfinite(sustained.min()) else 1.0
    ok = value > BLUR_RELATIVE
    low = rel < BLUR_RELATIVE
    msg = (f"sharpness never drops under {value:.2f} of its shot's median" if ok else
           f"{int(np.nansum(low))} frame(s) lose detail: sharpness {value:.2f} of the shot's median")
    return CheckResult("blur", ok, BLUR_BLOCKING, value, BLUR_RELATIVE, ">", "ratio", msg,
                       worst_frames=worst_frames(f, rel, highest=False, thumbnails=thumbnails and not ok),
                       details={"min_frames": k, "trace": [round(float(x), 3) if np.isfinite(x) else None
                                                            for x in rel]})


def _unexplained_change(prev: np.ndarray, cur: np.ndarray, dis: cv2.DISOpticalFlow) -> float:
    """The largest block mean |difference| between `cur` and `prev` moved onto it by optical flow (luma
    levels, analysis-size grey frames): the part of a frame's change that motion does not explain."""
    flow = dis.calc(cur, prev, None)
    h, w = cur.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    moved = cv2.remap(prev.astype(np.float32), xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return float(block_means(np.abs(cur.astype(np.float32) - moved)).max())


def seam_scores(f: Features, boundary_frames: Sequence[int]) -> list[tuple[int, float, float]]:
    """For each boundary: (frame, ratio, jump) at the worst frame within SEAM_SEARCH of it. The ratio is the
    largest of five: the frame's mean change against its neighbours', the change motion does not explain
    (_unexplained_change) against its neighbours' (SEAM_MC_*), how much closer the frame is to an older one
    than to its predecessor (a jump back in time, SEAM_RETURN_*), the camera's shift against its neighbours'
    (a jump ahead within a move, SEAM_SHIFT_*), and its step in brightness against its neighbours' (a change of
    grade, SEAM_GAIN_MIN_STEP)."""
    d = f.mad
    mc = _motion_residuals(f, boundary_frames)
    returns = _Returns(f)
    out = []
    for b0 in boundary_frames:
        best = (int(b0), 0.0, 0.0)
        for b in range(b0 - SEAM_SEARCH, b0 + SEAM_SEARCH + 1):
            if not (1 <= b < f.n):
                continue
            around = [j for j in range(b - SEAM_CONTEXT, b + SEAM_CONTEXT + 1) if j != b and 1 <= j < f.n]
            if not around:
                continue
            # Footage held on twos/threes repeats each drawing: its held frames change by ~0 and would make
            # every new drawing look like a jump. Compare with the frames that change.
            moving = [j for j in around if f.block_mad[j] >= FREEZE_BLOCK_DIFF]
            ctx = [d[j] for j in (moving or around)]
            base = max(float(np.median(ctx)), SEAM_MIN_CONTEXT)
            ratio = float(d[b]) / base
            if float(d[b]) < SEAM_MIN_DIFF:
                ratio = min(ratio, SEAM_RATIO * 0.999)  # too small a change to be seen, however still around
            if b in mc:
                ctx_mc = [mc[j] for j in around if j in mc]
                if ctx_mc:
                    mc_ratio = mc[b] / max(max(ctx_mc), SEAM_MC_MIN_CONTEXT)
                    if mc[b] < SEAM_MC_MIN_DIFF:
                        mc_ratio = min(mc_ratio, SEAM_RATIO * 0.999)
                    ratio = max(ratio, mc_ratio)
            ratio = max(ratio, returns(b))
            shift = float(f.shift[b])
            if shift >= SEAM_SHIFT_MIN_PX:
                ratio = max(ratio, shift / max(max(float(f.shift[j]) for j in around), SEAM_SHIFT_MIN_CONTEXT))
            step = abs(float(f.gain_step[b]))
            if step >= SEAM_GAIN_MIN_STEP:
                steps = [abs(float(f.gain_step[j])) for j in around]
                ratio = max(ratio, step / max(max(steps), SEAM_MIN_CONTEXT))
            if ratio > best[1]:
                best = (b, ratio, float(d[b]))
        out.append(best)
    return out


class _Returns:
    """Return ratios of frames (see SEAM_RETURN_LOOKBACK_S), the pairwise differences computed once. D(b, b-1)
    is the analysis pass's own Features.block_mad."""

    def __init__(self, f: Features) -> None:
        self.grays = f.grays
        self.block_mad = f.block_mad
        self.lookback = max(2, int(round(SEAM_RETURN_LOOKBACK_S * f.fps)))
        self.context = max(SEAM_CONTEXT, int(round(SEAM_RETURN_CONTEXT_S * f.fps)))
        self._d: dict[tuple[int, int], float] = {}

    def _diff(self, i: int, j: int) -> float:
        key = (i, j)
        if key not in self._d:
            a, b = self.grays[i].astype(np.float32), self.grays[j].astype(np.float32)
            self._d[key] = float(block_means(np.abs(a - b)).max())
        return self._d[key]

    def closest_older(self, b: int) -> float:
        """The smallest D(b, b-k), 2 <= k <= the lookback (NaN where b has no older frame to compare with)."""
        if not (2 <= b < len(self.grays)):
            return float("nan")
        return min(self._diff(b, b - k) for k in range(2, min(self.lookback, b) + 1))

    def ratio(self, b: int, older: float | None = None) -> float:
        """D(b, b-1) / the smallest D(b, b-k) (NaN where b has no older frame to compare with). `older`: that
        smallest D, when already known (closest_older)."""
        older = self.closest_older(b) if older is None else older
        return float(self.block_mad[b]) / max(older, SEAM_RETURN_MIN_CONTEXT) if np.isfinite(older) else older

    def __call__(self, b: int) -> float:
        """The seam ratio of a jump back at b: 0 where the change at b is too small to see or no older frame
        matches it closely."""
        older = self.closest_older(b)
        if not np.isfinite(older) or self.block_mad[b] < SEAM_MC_MIN_DIFF or older > SEAM_RETURN_MATCH:
            return 0.0
        r = self.ratio(b, older)
        before = [self.ratio(j) for j in range(b - self.context, b)]
        return r / max([1.0] + [x for x in before if np.isfinite(x)])


def _motion_residuals(f: Features, boundary_frames: Sequence[int]) -> dict[int, float]:
    """_unexplained_change of every frame a boundary's seam score looks at (the frame and its context)."""
    wanted = sorted({j for b0 in boundary_frames
                     for j in range(b0 - SEAM_SEARCH - SEAM_CONTEXT, b0 + SEAM_SEARCH + SEAM_CONTEXT + 1)
                     if 1 <= j < f.n and j < len(f.grays)})
    if not wanted:
        return {}
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    return {j: _unexplained_change(f.grays[j - 1], f.grays[j], dis) for j in wanted}


def check_seams(f: Features, boundaries_s: Sequence[float], thumbnails: bool = True) -> CheckResult:
    frames = [boundary_frame(t, f.fps) for t in boundaries_s]
    inside = [b for b in frames if 1 <= b < f.n]
    if not inside:
        return CheckResult("seams", True, True, None, SEAM_RATIO, "<", "ratio",
                           "no segment boundary inside the clip", status=NOT_MEASURED)
    scores = seam_scores(f, inside)
    worst = max(scores, key=lambda s: s[1])
    bad = [s for s in scores if s[1] >= SEAM_RATIO]
    ok = not bad
    msg = (f"boundaries are smooth (worst jump {worst[1]:.1f}x its neighbours)" if ok else
           f"{len(bad)} visible jump(s) at segment boundaries; worst at frame {worst[0]}: "
           f"{worst[1]:.1f}x the change around it")
    per = np.full(f.n, np.nan)
    for b, r, _ in scores:
        per[b] = r
    return CheckResult("seams", ok, True, float(worst[1]), SEAM_RATIO, "<", "ratio", msg,
                       worst_frames=worst_frames(f, per, thumbnails=thumbnails and not ok, min_gap=1),
                       details={"boundaries": [{"frame": b, "ratio": round(r, 3), "jump": round(j, 3)}
                                               for b, r, j in scores],
                                "context": SEAM_CONTEXT, "min_diff": SEAM_MIN_DIFF,
                                "shift_min_px": SEAM_SHIFT_MIN_PX})


def _at_boundaries(f: Features, transitions: Transitions, boundaries_s: Sequence[float],
                   measure: Callable[[int], tuple[float, int, int]]) -> np.ndarray:
    """Per frame: the largest `measure(boundary frame)` = (value, first frame, frames) of the segment boundaries
    whose frames it covers; NaN elsewhere. Boundaries inside a declared transition (+-TRANSITION_MARGIN + 1
    frames) are the producer's dissolves and are left out."""
    out = np.full(f.n, np.nan)
    declared = transition_frames(f.n, transitions, TRANSITION_MARGIN + 1)
    for t in boundaries_s:
        b = boundary_frame(t, f.fps)
        if not (0 < b < f.n) or declared[b]:
            continue
        value, start, frames = measure(b)
        if frames:
            seg = out[start:start + frames]
            out[start:start + frames] = np.where(np.isfinite(seg), np.maximum(seg, value), value)
    return out


def fade_scores(f: Features, transitions: Transitions = (), boundaries_s: Sequence[float] = ()) -> np.ndarray:
    """Per frame: the in-step fade evidence (ghost.fade_evidence, already relative to its threshold) of the
    strongest fade around each segment boundary, on that fade's frames; NaN elsewhere (see _at_boundaries)."""
    return _at_boundaries(f, transitions, boundaries_s,
                          lambda b: f.fades[b] if b in f.fades else fade_evidence(f.grays, f.fps, b))


def layer_scores(f: Features, transitions: Transitions = (), boundaries_s: Sequence[float] = ()) -> np.ndarray:
    """Per frame: the moving layer's dissolve-shaped dip (ghost.layer_evidence) / GHOST_LAYER around each
    segment boundary, on the dip's frames; NaN elsewhere (see _at_boundaries)."""

    def measure(b: int) -> tuple[float, int, int]:
        value, start, frames, _ = f.layers[b] if b in f.layers else layer_evidence(f.grays, f.fps, b)
        return value / GHOST_LAYER, start, frames

    return _at_boundaries(f, transitions, boundaries_s, measure)


def ghost_scores(f: Features, transitions: Transitions = (), boundaries_s: Sequence[float] = (), *,
                 dissolves_at_joins: bool = True, in_between_only: bool = True
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per frame: the ghost score (largest evidence / its threshold; NaN where nothing was measured or the
    frame is left out) and each evidence over its threshold. Left out: declared transitions (+-1 frame),
    black frames; for mix and echo also the frames whose references lie in a transition; echo on tiled
    footage (the grid check's). `boundaries_s`: segment boundaries (s), where the fade and layer evidence is measured
    and, with `dissolves_at_joins`, where the dissolve evidence counts in full (elsewhere it must be
    GHOST_AWAY_FACTOR times as strong, and echo counts only with mix evidence: GHOST_AWAY_ECHO_MIX). With
    `in_between_only`, blend evidence counts only in the pattern of interpolated in-betweens
    (ghost.in_between_frames)."""
    g = f.ghost or {}
    n = f.n
    near = transition_frames(n, transitions)
    far = transition_frames(n, transitions, TRANSITION_MARGIN + max(0, f.ghost_gap))
    skip = near | black_frames(f)
    echo_skip = skip | far | (np.ones(n, dtype=bool) if is_tiled(f) else np.zeros(n, dtype=bool))
    parts = {}
    for name, threshold, mask in (("blend", GHOST_BLEND, skip), ("mix", GHOST_MIX, skip | far),
                                  ("echo", GHOST_ECHO, echo_skip)):
        v = np.asarray(g.get(name, np.full(n, np.nan)), dtype=np.float64)[:n]
        if v.shape[0] < n:
            v = np.concatenate([v, np.full(n - v.shape[0], np.nan)])
        parts[name] = np.where(mask, np.nan, v / threshold)
    if in_between_only:
        blend = parts["blend"]
        parts["blend"] = np.where(np.isfinite(blend) & ~in_between_frames(blend), 0.0, blend)
    if dissolves_at_joins:
        joins = [(b, b + 1) for b in (boundary_frame(t, f.fps) for t in boundaries_s)]
        away = ~transition_frames(n, joins, int(round(GHOST_JOIN_S * f.fps)))
        blended = np.nan_to_num(parts["mix"], nan=0.0) >= GHOST_AWAY_ECHO_MIX
        parts["echo"] = np.where(away, np.where(blended, parts["echo"] / GHOST_AWAY_FACTOR, np.nan), parts["echo"])
        parts["mix"] = np.where(away, parts["mix"] / GHOST_AWAY_FACTOR, parts["mix"])
    if boundaries_s:
        parts["fade"] = np.where(skip, np.nan, fade_scores(f, transitions, boundaries_s))
        parts["layer"] = np.where(skip, np.nan, layer_scores(f, transitions, boundaries_s))
    stack = np.stack(list(parts.values()))
    measured = np.isfinite(stack).any(axis=0)
    score = np.where(measured, np.nanmax(np.where(np.isfinite(stack), stack, -np.inf), axis=0), np.nan)
    return score, parts


def clustered_ghost_score(score: np.ndarray, fps: float) -> tuple[float, int]:
    """(value, window): the GHOST_MIN_FRAMES-th highest score within the worst window of `window` frames
    (GHOST_WINDOW_S, at least 3 frames). >= 1.0 means that many ghost frames close together."""
    window = max(GHOST_MIN_FRAMES, 3, int(round(GHOST_WINDOW_S * fps)) + 1)
    s = np.where(np.isfinite(score), score, -np.inf)
    k = min(GHOST_MIN_FRAMES, s.size)
    best = -np.inf
    for start in range(max(1, s.size - window + 1)):
        win = np.sort(s[start:start + window])
        if win.size >= k:
            best = max(best, float(win[-k]))
    if not np.isfinite(best):
        best = float(np.nanmax(score)) if np.isfinite(score).any() else 0.0
    return best, window


def check_ghosting(f: Features, thumbnails: bool = True, transitions: Transitions = (),
                   boundaries_s: Sequence[float] = ()) -> CheckResult:
    """Frames that are a mix of two different pictures: blended in-betweens and dissolves (see ghost.py); at
    segment boundaries (`boundaries_s`) also in-step fades of small subjects (ghost.fade_evidence) and the
    moving layer thinned to two part-contrast copies (ghost.layer_evidence)."""
    score, parts = ghost_scores(f, transitions, boundaries_s)
    measured = np.isfinite(score)
    if not measured.any():
        return CheckResult("ghosting", True, True, None, 1.0, "<", "x threshold",
                           "not measured: fewer than 3 comparable frames", status=NOT_MEASURED)
    ghost = measured & (np.nan_to_num(score, nan=0.0) >= 1.0)
    count = int(ghost.sum())
    value, window = clustered_ghost_score(score, f.fps)
    ok = value < 1.0
    runs = _runs(ghost)
    kinds = {name: int((np.nan_to_num(v, nan=0.0) >= 1.0).sum()) for name, v in parts.items()}
    worst_kind = {"blend": "blended in-betweens", "mix": "a dissolve", "echo": "a doubled picture",
                  "fade": "a dissolve at a segment boundary",
                  "layer": "a dissolve of what moves at a segment boundary"}
    if ok and count:
        msg = (f"no double exposures (ghost score {value:.2f} of the threshold; {count} isolated frame(s) over it, "
               f"none within {window} frames of another)")
    elif ok:
        msg = f"no double exposures (ghost score {value:.2f} of the threshold)"
    else:
        main = max(kinds, key=lambda k: kinds[k])
        msg = (f"{count} frame(s) are a mix of two pictures ({worst_kind[main]}), in {len(runs)} run(s), "
               f"first at frame {runs[0][0]}")
    details = {
        "ghost_frames": count,
        "runs": [[a, b - a] for a, b in runs[:20]],
        "frames": [int(i) for i in np.flatnonzero(ghost)[:60]],
        "by_kind": kinds,
        "max": {name: (round(float(np.nanmax(v)), 3) if np.isfinite(v).any() else None)
                for name, v in parts.items()},
        "thresholds": {"blend": GHOST_BLEND, "blend_periods": list(BLEND_PERIODS),
                       "blend_original_max": BLEND_ORIGINAL_MAX,
                       "mix": GHOST_MIX, "echo": GHOST_ECHO, "fade_pixels": FADE_MIN_PIXELS,
                       "layer": GHOST_LAYER,
                       "min_frames": GHOST_MIN_FRAMES,
                       "window_frames": window, "join_s": GHOST_JOIN_S, "away_from_joins": GHOST_AWAY_FACTOR,
                       "echo_away_needs_mix": GHOST_AWAY_ECHO_MIX},
        "gap_frames": int(f.ghost_gap),
        "transitions": [[int(a), int(b)] for a, b in transitions],
    }
    return CheckResult("ghosting", ok, True, value, 1.0, "<", "x threshold", msg,
                       worst_frames=worst_frames(f, np.where(measured, score, np.nan),
                                                 thumbnails=thumbnails and not ok),
                       details=details)
