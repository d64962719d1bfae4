"""The storyboard: an episode's shots (its Segment rows, in order) as the producer edits them before rendering.

This module is the one place that turns shots into what the generators are given (`compose_prompts`,
`request_fields`); the editing operations, the totals and the serialisation for the page and the API live here
too (see the functions below).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from productions.lib.planning import (
    DEFAULT_TRANSITION_FRAMES,
    JOIN_KINDS,
    OVERLAPPING,
    RunLength,
    carried_actions,
    clip_frames,
    native_frames_for,
    split_beats,
    timeline_frames,
)
from productions.lib.prompts import CharacterSpec, ComposedPrompt, compose
from productions.models import Character, Episode, Segment, SegmentAttempt


def character_spec(character: Character) -> CharacterSpec:
    """A bible entry as the generators see it (the reference image as an absolute path, when it has one)."""
    image = str(Path(settings.MEDIA_ROOT) / character.reference_image) if character.reference_image else ""
    return CharacterSpec(name=character.name, description=character.description,
                         trigger_words=character.trigger_words, lora=character.lora,
                         lora_strength=character.lora_strength, reference_image=image)


def shot_characters(shots: Sequence[Segment]) -> dict[int, list[Character]]:
    """Each shot's characters (by segment pk), in the bible's order, in one query."""
    found: dict[int, list[Character]] = {s.pk: [] for s in shots}
    through = Segment.characters.through.objects.filter(segment_id__in=list(found)).select_related("character")
    for row in sorted(through, key=lambda r: (r.character.name.lower(), r.character.pk)):
        found[row.segment_id].append(row.character)
    return found


def carried(shots: Sequence[Segment]) -> list[str]:
    """What each shot shows: its action, or the action of the shot it continues when it has none of its own."""
    return carried_actions([s.action for s in shots], [s.join_spec.chained for s in shots])


def compose_prompts(episode: Episode, shots: Sequence[Segment],
                    characters: dict[int, list[Character]] | None = None) -> list[ComposedPrompt]:
    """The prompt of every shot (in order): action, its own characters, the project's and the episode's style;
    negative: the project's and the episode's. What the storyboard shows is what is generated."""
    characters = shot_characters(shots) if characters is None else characters
    project = episode.project
    return [
        compose(action, [character_spec(c) for c in characters.get(shot.pk, [])],
                style=project.style, episode_style=episode.style,
                negative=project.negative_style, episode_negative=episode.negative_prompt)
        for shot, action in zip(shots, carried(shots), strict=True)
    ]


def request_fields(shot: Segment, action: str, characters: Sequence[Character],
                   composed: ComposedPrompt) -> dict:
    """The storyboard fields of a KeyframeRequest / SegmentRequest for this shot (lib/backend.py)."""
    return {
        "prompt": composed.positive,
        "negative_prompt": composed.negative,
        "action": action,
        "characters": tuple(character_spec(c) for c in characters),
        "loras": composed.loras,
        "motion": shot.motion,
    }


# --- errors ------------------------------------------------------------------------------------------------
class StoryboardError(ValueError):
    """A change the storyboard refuses, in plain words naming the shot ("Shot 3: ..."); `field` is the shot
    field (or request field) to fix and `shot_index` the shot (0-based; None when it is about the whole board)."""

    def __init__(self, message: str, field: str = "", shot_index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.shot_index = shot_index


class Conflict(Exception):
    """The storyboard changed since the editor loaded it (another producer saved first): nothing was applied.
    `version` is the current version; the message says who changed what."""

    def __init__(self, episode: Episode) -> None:
        self.version = episode.storyboard_version
        who = episode.storyboard_changed_by.get_username() if episode.storyboard_changed_by_id else "Someone"
        what = f" ({episode.storyboard_change})" if episode.storyboard_change else ""
        when = (f" at {timezone.localtime(episode.storyboard_changed_at):%H:%M:%S}"
                if episode.storyboard_changed_at else "")
        super().__init__(f"{who} changed the storyboard{what}{when} after you opened it: your change was not "
                         "applied. Your text is kept below: check the storyboard as it is now, then save again.")


class NotEditable(Exception):
    """The storyboard is locked: rendering started (changes now go through the review of segments)."""


def shot_name(index: int) -> str:
    return f"Shot {index + 1}"


def is_editable(episode: Episode) -> bool:
    """Editable while the episode is not queued or rendering and no segment of it has a video attempt."""
    if episode.status in Episode.ACTIVE:
        return False
    return not SegmentAttempt.objects.filter(segment__episode_id=episode.pk).exists()


def lock_reason(episode: Episode) -> str:
    if episode.status in Episode.ACTIVE:
        return f"The episode is {episode.get_status_display().lower()}: the storyboard cannot change now."
    return ("Rendering has started: the storyboard is fixed. Change a shot by rejecting its segment in the "
            "review instead.")


# --- frames ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """How an episode's shots become frames: the delivery rate, the generation rate and the model's run."""

    fps: int
    native_fps: int
    interpolation: str
    run: RunLength | None

    @classmethod
    def of(cls, episode: Episode) -> Timing:
        try:
            profile = episode.generation_profile()
            run = episode.model_profile().run
        except ValueError as exc:  # a model this instance no longer has
            raise StoryboardError(str(exc), "video_model") from None
        return cls(episode.fps, profile.native_fps, profile.interpolation, run)

    def delivered(self, duration_s: float) -> int:
        return max(1, round(duration_s * self.fps))

    def longest(self, chained: bool) -> int | None:
        """The most delivered frames one run gives (None: no limit)."""
        if self.run is None or not self.run.hard:
            return None
        return clip_frames(self.run.frames_per_run, self.native_fps, self.fps, self.interpolation, chained=chained)

    def default_frames(self) -> int:
        """A new shot's length: the model's default run (5 s without one)."""
        if self.run is None:
            return 5 * self.fps
        return clip_frames(self.run.frames_per_run, self.native_fps, self.fps, self.interpolation, chained=False)

    def native(self, delivered: int, chained: bool, index: int) -> int:
        needed = native_frames_for(delivered, self.native_fps, self.fps, self.interpolation, chained=chained)
        if self.run is None:
            return needed
        try:
            return self.run.at_least(needed)
        except ValueError:
            most = self.longest(chained) or 0
            raise StoryboardError(
                f"{shot_name(index)}: {delivered / self.fps:g} s is longer than one run of the model (at most "
                f"{most / self.fps:g} s for a {'continuous' if chained else 'new'} shot): shorten it or split it.",
                "duration_s", index) from None

    def limits(self) -> dict:
        longest = self.longest(chained=False)
        return {"min_shot_s": round(1 / self.fps, 6),
                "max_shot_s": round(longest / self.fps, 6) if longest else None,
                "default_shot_s": round(self.default_frames() / self.fps, 6)}


def totals(episode: Episode, shots: Sequence[Segment]) -> dict:
    """The storyboard's length against the episode's target (its delivery spec's minimum)."""
    fps = episode.fps
    total = timeline_frames([s.delivered_frames for s in shots], [s.join_spec for s in shots]) if shots else 0
    target = math.ceil(episode.duration_s * fps - 1e-9)
    duration = total / fps
    if total >= target:
        message = f"{duration:g} s of {episode.duration_s:g} s: long enough."
    else:
        missing = target - total
        message = (f"{duration:g} s of {episode.duration_s:g} s: {missing / fps:g} s ({missing} frames) missing "
                   "before it can render.")
    return {"total_frames": total, "duration_s": round(duration, 6), "min_duration_s": episode.duration_s,
            "target_frames": target, "target_ok": total >= target, "message": message}


# --- drafting ----------------------------------------------------------------------------------------------
def draft(episode: Episode) -> list[Segment]:
    """The episode's shots, drafted from its plan when it has none yet (one shot per planned segment, each
    sentence of the synopsis in one shot). ValueError (PlanError, ProfileError) when its settings give no plan."""
    existing = list(episode.segments.order_by("index"))
    if existing:
        return existing
    profile = episode.generation_profile()
    plan = episode.plan()
    beats = split_beats(episode.synopsis, len(plan.segments))
    with transaction.atomic():
        Episode.objects.select_for_update().filter(pk=episode.pk).first()
        existing = list(episode.segments.order_by("index"))
        if existing:  # drafted meanwhile by another request
            return existing
        Episode.objects.filter(pk=episode.pk).update(native_fps=profile.native_fps,
                                                     interpolation=profile.interpolation)
        shots = Segment.objects.bulk_create(
            Segment(episode=episode, index=p.index, action=beat, prompt="", seed=p.seed, join=p.join.kind,
                    join_frames=p.join.frames, native_frames=p.native_frames, delivered_frames=p.delivered_frames)
            for p, beat in zip(plan.segments, beats, strict=True))
        shots = list(episode.segments.order_by("index"))
        for shot, composed in zip(shots, compose_prompts(episode, shots, {s.pk: [] for s in shots}), strict=True):
            shot.prompt = composed.positive
        Segment.objects.bulk_update(shots, ["prompt"])
    episode.native_fps, episode.interpolation = profile.native_fps, profile.interpolation
    return shots


def draft_or_error(episode: Episode) -> str | None:
    """draft() for the places an episode is created: None, or why it has no shots yet (the storyboard shows
    it; the producer fixes the settings)."""
    try:
        draft(episode)
    except ValueError as exc:
        return str(exc)
    return None


def draft_if_missing(episode: Episode) -> None:
    """An episode made before storyboards (or whose settings gave no plan then) gets its draft when its
    storyboard is opened, while it can still change; otherwise the storyboard says why there are no shots."""
    if is_editable(episode) and not episode.segments.exists():
        draft_or_error(episode)


# --- editing -----------------------------------------------------------------------------------------------
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(action: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(action or "") if s.strip()]


def as_sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def join_sentences(first: str, second: str) -> str:
    parts = [p for p in (first.strip(), second.strip()) if p]
    if len(parts) < 2:
        return parts[0] if parts else ""
    return f"{as_sentence(parts[0])} {parts[1]}"


def check_join(kind: str, frames: int | None, index: int) -> tuple[str, int]:
    """A shot's join as planning.Join / parse_joins accept it: (kind, frames)."""
    name = shot_name(index)
    if kind not in JOIN_KINDS:
        raise StoryboardError(f"{name}: unknown join {kind!r}: use continuous, cut, dissolve or fade.", "join",
                              index)
    if kind not in OVERLAPPING:
        return kind, 0
    frames = frames or DEFAULT_TRANSITION_FRAMES
    if not 1 <= frames <= 240:
        raise StoryboardError(f"{name}: the {kind} into it must last 1 to 240 frames.", "join_frames", index)
    return kind, frames


def free_seed(episode: Episode, shots: Sequence[Segment]) -> int:
    used = {s.seed for s in shots}
    k = len(shots)
    while (seed := (episode.seed + k * 7919) % 2**32) in used:
        k += 1
    return seed


def settle(episode: Episode, shots: list[Segment], characters: dict, timing: Timing) -> None:
    """After a change: indexes in list order, the opening shot a cut, frames for each shot's length and join,
    the joins checked against their neighbours, prompts composed; everything saved."""
    if not shots:
        raise StoryboardError("An episode needs at least one shot.", "shots")
    for k, shot in enumerate(s for s in shots if s.pk is None):  # new shots: saved aside, then placed
        chosen = characters.pop(id(shot), [])
        shot.index = 20000 + k
        shot.save()
        shot.characters.set(chosen)
        characters[shot.pk] = chosen
    stored = dict(Segment.objects.filter(pk__in=[s.pk for s in shots]).values_list("pk", "index"))
    for i, shot in enumerate(shots):
        shot.index = i
        if i == 0:
            shot.join, shot.join_frames = "cut", 0
        shot.native_frames = timing.native(shot.delivered_frames, shot.join == "continuous", i)
    for i in range(1, len(shots)):
        overlap = shots[i].join_spec.overlap
        if overlap and (2 * overlap > shots[i - 1].delivered_frames or 2 * overlap > shots[i].delivered_frames):
            raise StoryboardError(
                f"{shot_name(i)}: the {shots[i].join} into it ({overlap} frames) is longer than half of it or of "
                "the shot before: shorten the transition or lengthen the shots.", "join_frames", i)
    for shot, composed in zip(shots, compose_prompts(episode, shots, characters), strict=True):
        if shot.prompt and shot.prompt != composed.positive and shot.keyframe_approved_at:
            shot.keyframe_approved_at, shot.keyframe_approved_by = None, None  # the approved image shows old text
        shot.prompt = composed.positive
    moved = [s.pk for s in shots if stored[s.pk] != s.index and stored[s.pk] < 16000]
    if moved:  # out of the way first: (episode, index) stays unique at every step
        Segment.objects.filter(pk__in=moved).update(index=F("index") + 16000)
    fields = ["index", "action", "motion", "join", "join_frames", "native_frames", "delivered_frames", "prompt",
              "seed", "keyframe_approved_at", "keyframe_approved_by"]
    Segment.objects.bulk_update(shots, fields)


def edit(episode: Episode, version: int, user, change) -> list[Segment]:
    """Apply `change(locked_episode, shots, characters, timing) -> description` to the storyboard: in one
    transaction with the episode row locked, only from the current version; then settle() and bump the version.
    Returns the shots as saved; `episode` gets the new version."""
    with transaction.atomic():
        locked = (Episode.objects.select_for_update(of=("self",)).select_related("project", "storyboard_changed_by")
                  .get(pk=episode.pk))
        if locked.storyboard_version != version:
            raise Conflict(locked)
        if not is_editable(locked):
            raise NotEditable(lock_reason(locked))
        shots = list(locked.segments.order_by("index"))
        characters = shot_characters(shots)
        timing = Timing.of(locked)
        description = change(locked, shots, characters, timing)
        settle(locked, shots, characters, timing)
        now = timezone.now()
        Episode.objects.filter(pk=locked.pk).update(
            storyboard_version=F("storyboard_version") + 1, storyboard_change=description[:300],
            storyboard_changed_by=user if getattr(user, "pk", None) else None, storyboard_changed_at=now,
            updated_at=now)
    locked.refresh_from_db(fields=["storyboard_version", "storyboard_change", "storyboard_changed_by",
                                   "storyboard_changed_at"])
    for name in ("storyboard_version", "storyboard_change", "storyboard_changed_by_id", "storyboard_changed_at"):
        setattr(episode, name, getattr(locked, name))
    return shots


def shot_at(shots: Sequence[Segment], index: int, field: str = "index") -> Segment:
    if not isinstance(index, int) or not 0 <= index < len(shots):
        raise StoryboardError(f"There is no shot {index + 1 if isinstance(index, int) else index}: the storyboard "
                              f"has {len(shots)}.", field, None)
    return shots[index]


def project_characters(episode: Episode, ids, index: int) -> list[Character]:
    try:
        wanted = {int(i) for i in ids}
    except (TypeError, ValueError):
        raise StoryboardError(f"{shot_name(index)}: characters must be character ids.", "characters",
                              index) from None
    if any(not 1 <= i < 2**31 for i in wanted):
        raise StoryboardError(f"{shot_name(index)}: no such character in this project's bible.", "characters",
                              index)
    found = list(Character.objects.filter(project_id=episode.project_id, pk__in=wanted))
    missing = wanted - {c.pk for c in found}
    if missing:
        raise StoryboardError(f"{shot_name(index)}: no character {', '.join(map(str, sorted(missing)))} in this "
                              "project's bible.", "characters", index)
    return sorted(found, key=lambda c: (c.name.lower(), c.pk))


def update_shot(episode: Episode, version: int, index: int, *, action: str | None = None,
                duration_s: float | None = None, motion: float | None = None, character_ids=None,
                join: str | None = None, join_frames: int | None = None, user=None) -> list[Segment]:
    def change(ep, shots, characters, timing):
        shot = shot_at(shots, index)
        name, said = shot_name(index), []
        if action is not None:
            shot.action = action.strip()
            said.append("action")
        if duration_s is not None:
            if not isinstance(duration_s, int | float) or not math.isfinite(duration_s) or duration_s <= 0:
                raise StoryboardError(f"{name}: the duration must be a number of seconds above 0.", "duration_s",
                                      index)
            if duration_s > 3600:
                raise StoryboardError(f"{name}: at most 3600 s per shot.", "duration_s", index)
            shot.delivered_frames = timing.delivered(duration_s)
            said.append(f"duration {shot.delivered_frames / timing.fps:g} s")
        if motion is not None:
            if not isinstance(motion, int | float) or not math.isfinite(motion) or not 0 <= motion <= 1:
                raise StoryboardError(f"{name}: motion goes from 0 (still) to 1 (most).", "motion", index)
            shot.motion = float(motion)
            said.append("motion")
        if character_ids is not None:
            characters[shot.pk] = project_characters(ep, character_ids, index)
            shot.characters.set(characters[shot.pk])
            said.append("characters")
        if join is not None or join_frames is not None:
            kind = join if join is not None else shot.join
            if index == 0 and kind != "cut":
                raise StoryboardError(f"{name} opens the episode: its join is always a cut.", "join", index)
            frames = join_frames if join_frames is not None else (shot.join_frames or None)
            shot.join, shot.join_frames = check_join(kind, frames, index)
            said.append("join")
        return f"edited shot {index + 1}" + (f": {', '.join(said)}" if said else "")
    return edit(episode, version, user, change)


def add_shot(episode: Episode, version: int, after_index: int, user=None) -> list[Segment]:
    """A new shot after `after_index` (-1: at the start): a cut, the model's default length, no action yet."""
    def change(ep, shots, characters, timing):
        if not -1 <= after_index < len(shots):
            shot_at(shots, after_index, "after")
        shot = Segment(episode=ep, action="", prompt="", seed=free_seed(ep, shots), join="cut", join_frames=0,
                       delivered_frames=timing.default_frames(), native_frames=1)
        shots.insert(after_index + 1, shot)
        characters[id(shot)] = []
        if after_index == -1 and len(shots) > 1:
            shots[1].join, shots[1].join_frames = "cut", 0  # the old opening shot stays a new shot
        return f"added shot {after_index + 2}"
    return edit(episode, version, user, change)


def delete_shot(episode: Episode, version: int, index: int, user=None) -> list[Segment]:
    def change(ep, shots, characters, timing):
        shot = shot_at(shots, index)
        if len(shots) == 1:
            raise StoryboardError(f"{shot_name(index)} is the only shot: an episode needs at least one.", "index",
                                  index)
        shots.remove(shot)
        shot.delete()
        return f"deleted shot {index + 1}"
    return edit(episode, version, user, change)


def split_shot(episode: Episode, version: int, index: int, user=None) -> list[Segment]:
    """Two shots of half the frames each; the action split between sentences (all on the first when it has
    one); the same characters; the second continues the first."""
    def change(ep, shots, characters, timing):
        shot = shot_at(shots, index)
        if shot.delivered_frames < 2:
            raise StoryboardError(f"{shot_name(index)} is one frame long: too short to split.", "index", index)
        first_frames = (shot.delivered_frames + 1) // 2
        parts = sentences(shot.action)
        if len(parts) > 1:
            half = (len(parts) + 1) // 2
            first_action, second_action = " ".join(parts[:half]), " ".join(parts[half:])
        else:
            first_action, second_action = shot.action, ""
        second = Segment(episode=ep, action=second_action, prompt="", seed=free_seed(ep, shots), join="continuous",
                         join_frames=0, motion=shot.motion, delivered_frames=shot.delivered_frames - first_frames,
                         native_frames=1)
        shot.action, shot.delivered_frames = first_action, first_frames
        shots.insert(index + 1, second)
        characters[id(second)] = list(characters.get(shot.pk, []))
        return f"split shot {index + 1} in two"
    return edit(episode, version, user, change)


def merge_shots(episode: Episode, version: int, index: int, user=None) -> list[Segment]:
    """The shot and the next one become one: frames summed, actions joined as sentences, characters united."""
    def change(ep, shots, characters, timing):
        shot = shot_at(shots, index)
        if index + 1 >= len(shots):
            raise StoryboardError(f"{shot_name(index)} is the last shot: there is no next shot to merge it with.",
                                  "index", index)
        nxt = shots[index + 1]
        frames = shot.delivered_frames + nxt.delivered_frames
        longest = timing.longest(shot.join == "continuous" and index > 0)
        if longest is not None and frames > longest:
            raise StoryboardError(
                f"{shot_name(index)}: merged with shot {index + 2} it would last {frames / timing.fps:g} s, longer "
                f"than one run of the model (at most {longest / timing.fps:g} s): shorten one of them first.",
                "duration_s", index)
        shot.delivered_frames = frames
        shot.action = join_sentences(shot.action, nxt.action)
        union = {c.pk: c for c in characters.get(shot.pk, []) + characters.get(nxt.pk, [])}
        characters[shot.pk] = sorted(union.values(), key=lambda c: (c.name.lower(), c.pk))
        shot.characters.set(characters[shot.pk])
        shots.remove(nxt)
        nxt.delete()
        return f"merged shots {index + 1} and {index + 2}"
    return edit(episode, version, user, change)


def move_shot(episode: Episode, version: int, index: int, to_index: int, user=None) -> list[Segment]:
    def change(ep, shots, characters, timing):
        shot = shot_at(shots, index)
        if not isinstance(to_index, int) or not 0 <= to_index < len(shots):
            where = to_index + 1 if isinstance(to_index, int) else to_index
            raise StoryboardError(f"{shot_name(index)} cannot move to position {where}: the storyboard has "
                                  f"{len(shots)} shots.", "to", index)
        shots.remove(shot)
        shots.insert(to_index, shot)
        return f"moved shot {index + 1} to {to_index + 1}"
    return edit(episode, version, user, change)


# --- the one serialisation (page and API) ----------------------------------------------------------------
def shot_problems(episode: Episode, shots: Sequence[Segment], timing: Timing | None) -> dict[int, list[str]]:
    """What a shot still needs before it renders, by index, each naming the shot."""
    problems: dict[int, list[str]] = {s.index: [] for s in shots}
    for shot, action in zip(shots, carried(shots), strict=True):
        if not action.strip():
            problems[shot.index].append(f"{shot_name(shot.index)}: no action yet: write what happens in it.")
        if timing is not None:
            try:
                timing.native(shot.delivered_frames, shot.join_spec.chained and shot.index > 0, shot.index)
            except StoryboardError as exc:
                problems[shot.index].append(str(exc))
    return problems


def render_refusal(episode: Episode) -> str | None:
    """Why the episode may not start rendering now, in a sentence naming the shots; None when it may. Checked
    before the first render only (a resume goes on from what was made): every shot renderable, the storyboard
    long enough for the episode's target, and every storyboard keyframe approved (keyframes.keyframe_refusal)."""
    from productions.keyframes import keyframe_refusal

    if episode.is_active or not is_editable(episode):
        return None
    shots = list(episode.segments.order_by("index"))
    if shots:
        try:
            timing = Timing.of(episode)
        except ValueError as exc:
            return str(exc)
        problems = [p for found in shot_problems(episode, shots, timing).values() for p in found]
        if problems:
            return " ".join(problems)
        total = totals(episode, shots)
        if not total["target_ok"]:
            return f"The storyboard lasts {total['message']}"
    return keyframe_refusal(episode)


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # a view another part of the storyboard work adds
        return None


def storyboard_state(episode: Episode, user=None, *, can_produce: bool | None = None) -> dict:
    """The storyboard as the page and the API show it (see issue 13's contract)."""
    shots = list(episode.segments.order_by("index").prefetch_related("keyframe_log"))
    characters = shot_characters(shots)
    try:
        timing = Timing.of(episode)
        error = None
    except StoryboardError as exc:
        timing, error = None, str(exc)
    if not shots and error is None:
        try:
            episode.plan()
        except ValueError as exc:
            error = str(exc)
    composed = compose_prompts(episode, shots, characters)
    problems = shot_problems(episode, shots, timing)
    if can_produce is None:
        from productions.access import episode_access

        can_produce = episode_access(user, episode.pk)[1].can_produce if user is not None else False
    editable = is_editable(episode)
    project = episode.project
    rows = []
    for shot, action, prompt in zip(shots, carried(shots), composed, strict=True):
        attempts = list(shot.keyframe_log.all())
        current = attempts[-1] if attempts else None
        rows.append({
            "id": shot.pk, "index": shot.index, "number": shot.index + 1, "action": shot.action,
            "carried_action": action if action != shot.action else "",
            "prompt": prompt.positive, "negative_prompt": prompt.negative,
            "loras": [{"name": lora.name, "strength": lora.strength} for lora in prompt.loras],
            "characters": [{"id": c.pk, "name": c.name,
                            "image_url": _url("character-image", project.pk, c.pk) if c.reference_image else None}
                           for c in characters.get(shot.pk, [])],
            "duration_s": round(shot.delivered_frames / episode.fps, 6), "delivered_frames": shot.delivered_frames,
            "native_frames": shot.native_frames, "motion": shot.motion, "join": shot.join,
            "join_frames": shot.join_frames, "seed": shot.seed, "errors": problems.get(shot.index, []),
            "keyframe": {
                "url": _url("shot-keyframe", episode.pk, shot.index) if shot.keyframe_path else None,
                "approved": shot.keyframe_approved_at is not None,
                "number": current.number if current else None,
                "attempts": len(attempts),
            },
        })
    return {
        "episode_id": episode.pk,
        "version": episode.storyboard_version,
        "editable": editable,
        "locked_reason": "" if editable else lock_reason(episode),
        "can_produce": bool(can_produce),
        "error": error,
        "fps": episode.fps,
        "totals": totals(episode, shots),
        "limits": timing.limits() if timing else {"min_shot_s": round(1 / episode.fps, 6), "max_shot_s": None,
                                                  "default_shot_s": None},
        "last_change": {
            "by": episode.storyboard_changed_by.get_username() if episode.storyboard_changed_by_id else None,
            "what": episode.storyboard_change, "at": episode.storyboard_changed_at,
        },
        "shots": rows,
    }
