"""Plan an episode: segments, how each joins the one before, and exact frame counts on the delivery timeline.

Joins (the transition INTO a segment from the one before it):
- `continuous`: the segment is chained: generation starts from the previous segment's last frame, so its own
  first frame is a duplicate. That frame is dropped and the cut is invisible by construction: no dissolve.
- `cut`: a new shot (from its own keyframe), joined by a plain cut.
- `dissolve`: a new shot, cross-dissolved over `frames` frames (the two clips overlap by that much).
- `fade`: a new shot, faded through black over `frames` frames (same overlap).
A dissolve between chained segments would mix the same scene at two moments (double exposures): a dissolve or a
fade always starts a new shot.

Interpolation (native rate -> delivery rate), see interpolation.py: `none`, `hold`, `mci`, `rife`, `blend`.

Frame counts, with r the native rate, F the delivery rate and n native frames:
- `hold` shows native frame floor(j * r / F) at output frame j: a clip gives floor(n * F / r) frames;
- the others place output frame j at time j / F between native frames: floor((n - 1) * F / r) + 1 frames
  (`none` and server-side `rife` have r = F, so n);
- a chained clip without its duplicated first frame gives floor((n - 1) * F / r) frames, for every method.
The timeline is the sum of the clips' frames minus each dissolve's or fade's overlap. The planner picks the
fewest native frames that reach the target and trims the last clip's surplus, so the episode lasts exactly
ceil(duration x F) frames.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .spec import DeliverySpec

DEFAULT_SEGMENTS = 6
DEFAULT_TRANSITION_FRAMES = 12  # a chosen dissolve or fade: half a second at 24 fps

CONTINUOUS, CUT, DISSOLVE, FADE = "continuous", "cut", "dissolve", "fade"
JOIN_KINDS = (CONTINUOUS, CUT, DISSOLVE, FADE)
OVERLAPPING = (DISSOLVE, FADE)

HOLD = "hold"
INTERPOLATIONS = ("none", "hold", "mci", "rife", "blend")


@dataclass(frozen=True)
class Join:
    kind: str = CONTINUOUS
    frames: int = 0  # overlap at the delivery rate (dissolve and fade only)

    def __post_init__(self) -> None:
        if self.kind not in JOIN_KINDS:
            raise ValueError(f"unknown join {self.kind!r}; use one of {', '.join(JOIN_KINDS)}")
        if self.kind in OVERLAPPING and self.frames < 1:
            raise ValueError(f"a {self.kind} needs a length of at least 1 frame")
        if self.kind not in OVERLAPPING and self.frames:
            raise ValueError(f"a {self.kind} join has no length")

    @property
    def chained(self) -> bool:
        return self.kind == CONTINUOUS

    @property
    def overlap(self) -> int:
        return self.frames if self.kind in OVERLAPPING else 0

    def label(self) -> str:
        return f"{self.kind} {self.frames} frames" if self.overlap else self.kind


def clip_frames(native_frames: int, native_fps: float, fps: int, interpolation: str, *, chained: bool) -> int:
    """Delivery-rate frames a clip of `native_frames` gives (without its first frame when `chained`)."""
    if native_frames < 1:
        raise ValueError("a clip needs at least one native frame")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; use one of {', '.join(INTERPOLATIONS)}")
    ratio = fps / native_fps
    if chained:
        return math.floor((native_frames - 1) * ratio + 1e-9)
    if interpolation == HOLD:
        return math.floor(native_frames * ratio + 1e-9)
    return math.floor((native_frames - 1) * ratio + 1e-9) + 1


def native_frames_for(delivered: int, native_fps: float, fps: int, interpolation: str, *, chained: bool) -> int:
    """The fewest native frames whose clip gives at least `delivered` frames."""
    n = max(1, math.ceil(delivered * native_fps / fps) - 1)
    while clip_frames(n, native_fps, fps, interpolation, chained=chained) < delivered:
        n += 1
    return n


def timeline_frames(delivered: Sequence[int], joins: Sequence[Join]) -> int:
    """Frames of the clips played in order, each dissolve or fade overlapping two neighbours (joins[0] unused)."""
    return sum(delivered) - sum(j.overlap for j in joins[1:])


def clip_starts(delivered: Sequence[int], joins: Sequence[Join]) -> list[int]:
    """The timeline frame where each clip starts (a dissolve's later clip starts `overlap` frames early)."""
    starts, at = [], 0
    for i, count in enumerate(delivered):
        if i:
            at -= joins[i].overlap
        starts.append(at)
        at += count
    return starts


def continuous_boundaries(delivered: Sequence[int], joins: Sequence[Join]) -> list[int]:
    """Timeline frames where a chained segment takes over (first frame after the join): no visible seam allowed."""
    starts = clip_starts(delivered, joins)
    return [starts[i] for i in range(1, len(delivered)) if joins[i].chained]


def transition_ranges(delivered: Sequence[int], joins: Sequence[Join]) -> list[tuple[int, int]]:
    """[start, end) timeline frames of every chosen dissolve or fade (what QA must not call a ghost or a black)."""
    starts = clip_starts(delivered, joins)
    return [(starts[i], starts[i] + joins[i].overlap) for i in range(1, len(delivered)) if joins[i].overlap]


@dataclass(frozen=True)
class SegmentPlan:
    index: int
    prompt: str
    seed: int
    join: Join
    native_frames: int  # frames the backend generates at native_fps
    delivered_frames: int  # frames this segment puts on the timeline (after dropping a chained duplicate)


@dataclass(frozen=True)
class EpisodePlan:
    segments: list[SegmentPlan]
    native_fps: int
    fps: int
    interpolation: str

    @property
    def joins(self) -> list[Join]:
        return [s.join for s in self.segments]

    @property
    def total_frames(self) -> int:
        return timeline_frames([s.delivered_frames for s in self.segments], self.joins)

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps


def split_beats(synopsis: str, count: int) -> list[str]:
    """Spread the synopsis' sentences over `count` segments, in order; short synopses repeat."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", synopsis) if s.strip()]
    if not sentences:
        return [""] * count
    beats = []
    for i in range(count):
        lo = i * len(sentences) // count
        hi = max(lo + 1, (i + 1) * len(sentences) // count)
        beats.append(" ".join(sentences[lo:hi]))
    return beats


def segment_prompt(beat: str, style: str, characters: str) -> str:
    return ", ".join(part.strip() for part in (beat, characters, style) if part and part.strip())


def default_joins(segments: int) -> list[Join]:
    """Every segment continues the one before (the first one opens the episode: its join is a cut)."""
    return [Join(CUT)] + [Join(CONTINUOUS) for _ in range(segments - 1)]


def plan_episode(
    synopsis: str,
    seed: int,
    spec: DeliverySpec,
    *,
    duration_s: float | None = None,
    segments: int = DEFAULT_SEGMENTS,
    joins: Sequence[Join] | None = None,
    native_fps: int = 8,
    interpolation: str = HOLD,
    style: str = "",
    characters: str = "",
) -> EpisodePlan:
    """Segments of equal native length (the last one shorter if that is enough) whose timeline, after the
    joins, lasts exactly ceil(duration x fps) frames. `joins[i]` leads into segment i; joins[0] is ignored."""
    if segments < 1:
        raise ValueError("an episode needs at least one segment")
    duration_s = spec.min_duration_s if duration_s is None else duration_s
    if duration_s < spec.min_duration_s:
        raise ValueError(f"duration {duration_s} s is under the delivery spec's {spec.min_duration_s} s")
    if interpolation == "none" and native_fps != spec.fps:
        raise ValueError(f"interpolation 'none' needs generation at the delivery rate ({spec.fps} fps), "
                         f"not {native_fps} fps")
    joins = [Join(CUT), *list(joins or default_joins(segments))[1:]]
    if len(joins) != segments:
        raise ValueError(f"{len(joins)} joins given for {segments} segments")
    target = math.ceil(duration_s * spec.fps - 1e-9)

    def clips(n: int) -> list[int]:
        return [clip_frames(n, native_fps, spec.fps, interpolation, chained=j.chained) for j in joins]

    n = 2
    while timeline_frames(clips(n), joins) < target:
        n += 1
    delivered = clips(n)
    natives = [n] * segments
    # The last clip only needs what is left; its surplus (under one native frame's worth) is trimmed.
    needed_last = target - timeline_frames(delivered[:-1], joins[:-1]) + joins[-1].overlap
    natives[-1] = native_frames_for(needed_last, native_fps, spec.fps, interpolation, chained=joins[-1].chained)
    delivered[-1] = needed_last
    for i in range(1, segments):
        overlap = joins[i].overlap
        if overlap and (2 * overlap > delivered[i - 1] or 2 * overlap > delivered[i]):
            raise ValueError(f"the {joins[i].kind} into segment {i + 1} ({overlap} frames) is longer than half "
                             "a segment: shorten it or use fewer segments")
    beats = split_beats(synopsis, segments)
    plans = [
        SegmentPlan(
            index=i,
            prompt=segment_prompt(beats[i], style, characters),
            seed=(seed + i * 7919) % 2**32,
            join=joins[i],
            native_frames=natives[i],
            delivered_frames=delivered[i],
        )
        for i in range(segments)
    ]
    return EpisodePlan(plans, native_fps, spec.fps, interpolation)


def parse_joins(text: str, segments: int) -> list[Join]:
    """The producer's transitions, e.g. "3: cut; 5: dissolve 12; 6: fade 24" (segment numbers from 1; the join
    leads INTO that segment). Unnamed joins are continuous. Raises ValueError with a plain message."""
    joins = default_joins(segments)
    seen: set[int] = set()
    for raw in re.split(r"[;,\n]+", text or ""):
        entry = raw.strip()
        if not entry:
            continue
        m = re.fullmatch(r"(\d+)\s*:\s*([a-z]+)(?:\s+(\d+))?", entry.lower())
        if not m:
            raise ValueError(f"{entry!r} is not a transition: write it like '3: cut', '4: dissolve 12' or "
                             "'5: fade 24' (segment number, kind, frames)")
        number, kind, frames = int(m[1]), m[2], int(m[3]) if m[3] else None
        if not 2 <= number <= segments:
            raise ValueError(f"segment {number} has no join before it: transitions lead into segments 2 to "
                             f"{segments}" if segments > 1 else "a single segment has no transitions")
        if number in seen:
            raise ValueError(f"segment {number} has two transitions")
        seen.add(number)
        if kind not in JOIN_KINDS:
            raise ValueError(f"unknown transition {kind!r} into segment {number}: use continuous, cut, dissolve "
                             "or fade")
        if kind in OVERLAPPING:
            frames = DEFAULT_TRANSITION_FRAMES if frames is None else frames
            if not 1 <= frames <= 240:
                raise ValueError(f"the {kind} into segment {number} must last 1 to 240 frames")
        elif frames is not None:
            raise ValueError(f"a {kind} into segment {number} has no length: remove the {frames}")
        joins[number - 1] = Join(kind, frames or 0)
    return joins


def format_joins(joins: Sequence[Join]) -> str:
    """The inverse of parse_joins: only the joins that differ from continuous."""
    parts = [f"{i + 1}: {j.kind}" + (f" {j.frames}" if j.overlap else "")
             for i, j in enumerate(joins) if i and not j.chained]
    return "; ".join(parts)
