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
The timeline is the sum of the clips' frames minus each dissolve's or fade's overlap, and the episode lasts
exactly ceil(duration x F) frames: the last clip's surplus is trimmed.

Runs: a generation model is made for runs of a certain length (`RunLength`: SVD-XT 25 frames, Wan 2.2 121 frames
in lengths 4n+1). Each segment is exactly one run, never more frames than the model was made for: every segment
but the last is a full run, the last the shortest allowed run that finishes the episode, and the segment count
follows from the duration and the joins. A producer who names the count gets equal segments instead (as short
as the count allows), still never longer than one run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
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
class RunLength:
    """The lengths one native run of a model can have: `frames_min`..`frames_per_run`, stepping down from
    `frames_per_run` by `frames_step` (Wan: 121, 117, ... 5, i.e. 4n+1)."""

    frames_per_run: int
    frames_step: int = 1
    frames_min: int = 1
    # False: a generator with no real limit (the built-in one streams any length): frames_per_run is only the
    # length the planner gives each segment when the producer does not name a count.
    hard: bool = True

    def allows(self, n: int) -> bool:
        return self.frames_min <= n <= self.frames_per_run and (self.frames_per_run - n) % self.frames_step == 0

    def at_least(self, needed: int) -> int:
        """The shortest allowed run with at least `needed` frames; ValueError past one run."""
        n = max(needed, self.frames_min)
        if n > self.frames_per_run:
            if not self.hard:
                return n
            raise ValueError(f"one run makes at most {self.frames_per_run} frames, not {needed}")
        return n + (self.frames_per_run - n) % self.frames_step


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
    model: str = ""
    native_size: tuple[int, int] | None = None  # what the model generates at
    size: tuple[int, int] | None = None  # the delivery size
    run: RunLength | None = None

    @property
    def upscale_factor(self) -> float | None:
        if not self.native_size or not self.size:
            return None
        return round(self.size[0] / self.native_size[0], 4)

    def as_dict(self) -> dict:
        """The plan as `manage.py plan --json`, the API and the episode page show it."""
        nw, nh = self.native_size or (None, None)
        return {
            "model": self.model,
            "native_width": nw,
            "native_height": nh,
            "native_fps": self.native_fps,
            "fps": self.fps,
            "interpolation": self.interpolation,
            "upscale_factor": self.upscale_factor,
            "frames_per_run": self.run.frames_per_run if self.run else None,
            "total_frames": self.total_frames,
            "duration_s": round(self.duration_s, 6),
            "segments": [
                {"index": s.index, "native_frames": s.native_frames, "delivered_frames": s.delivered_frames,
                 "join": s.join.kind, "join_frames": s.join.frames, "prompt": s.prompt, "seed": s.seed}
                for s in self.segments
            ],
        }

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
    """Spread the synopsis' sentences over `count` shots, in order, each sentence in exactly one shot. With more
    shots than sentences, a sentence's shots after the first are left empty ("" : the shot continues the action
    before it, and the storyboard asks the producer to write it); with more sentences than shots, a shot gets
    several."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", synopsis) if s.strip()]
    beats = [""] * count
    if not sentences:
        return beats
    if len(sentences) >= count:
        for i in range(count):
            beats[i] = " ".join(sentences[i * len(sentences) // count:(i + 1) * len(sentences) // count])
        return beats
    for k, sentence in enumerate(sentences):
        beats[k * count // len(sentences)] = sentence
    return beats


def carried_actions(actions: Sequence[str], chained: Sequence[bool]) -> list[str]:
    """What each shot shows: its own action, or, for a shot with none that continues the one before, the
    action it continues (a sentence spread over two shots is written once, and generated in both)."""
    out: list[str] = []
    for i, action in enumerate(actions):
        own = (action or "").strip()
        out.append(own if own or not i or not chained[i] else out[-1])
    return out


def segment_prompt(beat: str, style: str) -> str:
    """The prompt of a planned segment before the storyboard has characters: its beat and the style."""
    from .prompts import compose

    return compose(beat, style=style).positive


def default_joins(segments: int) -> list[Join]:
    """Every segment continues the one before (the first one opens the episode: its join is a cut)."""
    return [Join(CUT)] + [Join(CONTINUOUS) for _ in range(segments - 1)]


class PlanError(ValueError):
    """The episode's settings give no plan; `field` names the setting to change (the producer's transitions
    raise plain ValueError: their field is `transitions`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


JoinsFor = Callable[[int], Sequence[Join]]


def _check_overlaps(delivered: Sequence[int], joins: Sequence[Join]) -> None:
    for i in range(1, len(delivered)):
        overlap = joins[i].overlap
        if overlap and (2 * overlap > delivered[i - 1] or 2 * overlap > delivered[i]):
            raise ValueError(f"the {joins[i].kind} into segment {i + 1} ({overlap} frames) is longer than "
                             "half a segment: shorten it or use fewer segments")
MAX_PLANNED_SEGMENTS = 1000


def plan_episode(
    synopsis: str,
    seed: int,
    spec: DeliverySpec,
    *,
    duration_s: float | None = None,
    segments: int | None = DEFAULT_SEGMENTS,
    joins: Sequence[Join] | JoinsFor | None = None,
    native_fps: int = 8,
    interpolation: str = HOLD,
    style: str = "",
    run: RunLength | None = None,
    model: str = "",
    native_size: tuple[int, int] | None = None,
) -> EpisodePlan:
    """Segments whose timeline, after the joins, lasts exactly ceil(duration x fps) frames. `joins[i]` leads
    into segment i (joins[0] is ignored); `joins` may be a function of the segment count (the producer's
    transitions, parsed once the count is known). With a `run` and no `segments`, each segment is one full run
    of the model and the last the shortest allowed run that finishes the episode; with `segments`, the
    segments are equal (the last one shorter if that is enough) and never longer than one run."""
    duration_s = spec.min_duration_s if duration_s is None else duration_s
    if duration_s < spec.min_duration_s:
        raise PlanError(f"duration {duration_s} s is under the delivery spec's {spec.min_duration_s} s",
                        "duration_s")
    if interpolation == "none" and native_fps != spec.fps:
        raise PlanError(f"interpolation 'none' needs generation at the delivery rate ({spec.fps} fps), "
                        f"not {native_fps} fps", "interpolation")
    if segments is None and run is None:
        raise PlanError("without a model's run length, the segment count must be given", "segment_count")
    if segments is not None and segments < 1:
        raise PlanError("an episode needs at least one segment", "segment_count")
    target = math.ceil(duration_s * spec.fps - 1e-9)

    def joins_for(count: int) -> list[Join]:
        given = joins(count) if callable(joins) else joins
        found = [Join(CUT), *list(given or default_joins(count))[1:]]
        if len(found) != count:
            raise PlanError(f"{len(found)} joins given for {count} segments", "transitions")
        return found

    def clips(n: int, js: Sequence[Join]) -> list[int]:
        return [clip_frames(n, native_fps, spec.fps, interpolation, chained=j.chained) for j in js]

    if segments is None:
        assert run is not None
        n = run.frames_per_run
        segments = 1
        while True:
            try:
                js = joins_for(segments)
            except ValueError:
                # The producer's transitions name a later segment: fine while the plan is still growing,
                # an error once this many segments are enough.
                if timeline_frames(clips(n, default_joins(segments)), default_joins(segments)) >= target:
                    joins_for(segments)  # raises the producer's error, naming the segment
                js = None
            if js is not None and timeline_frames(clips(n, js), js) >= target:
                break
            segments += 1
            if segments > MAX_PLANNED_SEGMENTS:
                raise PlanError(f"{duration_s} s needs more than {MAX_PLANNED_SEGMENTS} segments", "duration_s")
        joins_list = js
    else:
        joins_list = joins_for(segments)
        limit = run.frames_per_run if run is not None and run.hard else None
        n = 2
        while timeline_frames(clips(n, joins_list), joins_list) < target and (limit is None or n < limit + 1):
            n += 1
        if limit is not None and n > limit:
            _check_overlaps(clips(limit, joins_list), joins_list)  # a too-long dissolve is the real reason
            raise PlanError(
                f"{segments} segments cannot fill {duration_s:g} s: one run of the model makes at most "
                f"{limit} frames; use more segments or leave the count blank", "segment_count")
        if run is not None:
            n = run.at_least(n)
    delivered = clips(n, joins_list)
    natives = [n] * segments
    # The last clip only needs what is left; its surplus (under one native frame's worth) is trimmed.
    needed_last = target - timeline_frames(delivered[:-1], joins_list[:-1]) + joins_list[-1].overlap
    last = native_frames_for(needed_last, native_fps, spec.fps, interpolation, chained=joins_list[-1].chained)
    natives[-1] = run.at_least(last) if run is not None else last
    delivered[-1] = needed_last
    if needed_last <= joins_list[-1].overlap:
        raise PlanError(f"the last of {segments} segments would show no frame of its own: use fewer segments",
                        "segment_count")
    _check_overlaps(delivered, joins_list)
    beats = carried_actions(split_beats(synopsis, segments), [j.chained for j in joins_list])
    plans = [
        SegmentPlan(
            index=i,
            prompt=segment_prompt(beats[i], style),
            seed=(seed + i * 7919) % 2**32,
            join=joins_list[i],
            native_frames=natives[i],
            delivered_frames=delivered[i],
        )
        for i in range(segments)
    ]
    return EpisodePlan(plans, native_fps, spec.fps, interpolation, model=model, native_size=native_size,
                       size=(spec.width, spec.height), run=run)


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
