"""Plan an episode into segments whose crossfaded total meets the delivery duration."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .spec import DeliverySpec

DEFAULT_SEGMENTS = 6
DEFAULT_CROSSFADE_S = 0.5
DEFAULT_NATIVE_FPS = 8


def crossfade_frames_for(crossfade_s: float, fps: int, segments: int) -> int:
    """Frames each crossfade lasts between `segments` clips (none for a single clip)."""
    return round(crossfade_s * fps) if segments > 1 else 0


def crossfaded_frames(frame_counts: Sequence[int], crossfade_frames: int) -> int:
    """Frames of the clips played in order, each crossfade overlapping `crossfade_frames` of two neighbours."""
    return sum(frame_counts) - (len(frame_counts) - 1) * crossfade_frames


@dataclass(frozen=True)
class SegmentPlan:
    index: int
    prompt: str
    seed: int
    native_frames: int  # frames the backend generates at native_fps
    delivered_frames: int  # frames after upscale + interpolation to the delivery rate


@dataclass(frozen=True)
class EpisodePlan:
    segments: list[SegmentPlan]
    native_fps: int
    fps: int
    crossfade_frames: int

    @property
    def total_frames(self) -> int:
        return crossfaded_frames([s.delivered_frames for s in self.segments], self.crossfade_frames)

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


def native_frames_for(delivered_frames: int, native_fps: int, fps: int) -> int:
    """Native frames whose time span covers `delivered_frames` output frames (first and last included)."""
    return math.ceil((delivered_frames - 1) * native_fps / fps) + 1


def plan_episode(
    synopsis: str,
    seed: int,
    spec: DeliverySpec,
    *,
    duration_s: float | None = None,
    segments: int = DEFAULT_SEGMENTS,
    crossfade_s: float = DEFAULT_CROSSFADE_S,
    native_fps: int = DEFAULT_NATIVE_FPS,
    style: str = "",
    characters: str = "",
) -> EpisodePlan:
    if segments < 1:
        raise ValueError("an episode needs at least one segment")
    duration_s = spec.min_duration_s if duration_s is None else duration_s
    if duration_s < spec.min_duration_s:
        raise ValueError(f"duration {duration_s} s is under the delivery spec's {spec.min_duration_s} s")
    target_frames = math.ceil(duration_s * spec.fps)
    crossfade_frames = crossfade_frames_for(crossfade_s, spec.fps, segments)
    per_segment = math.ceil((target_frames + (segments - 1) * crossfade_frames) / segments)
    if crossfade_frames * 2 >= per_segment:
        raise ValueError("crossfades would be longer than half a segment: use fewer segments")
    native = native_frames_for(per_segment, native_fps, spec.fps)
    beats = split_beats(synopsis, segments)
    plans = [
        SegmentPlan(
            index=i,
            prompt=segment_prompt(beats[i], style, characters),
            seed=(seed + i * 7919) % 2**32,
            native_frames=native,
            delivered_frames=per_segment,
        )
        for i in range(segments)
    ]
    return EpisodePlan(plans, native_fps, spec.fps, crossfade_frames)
