"""The storyboard: an episode's shots (its Segment rows, in order) as the producer edits them before rendering.

This module is the one place that turns shots into what the generators are given (`compose_prompts`,
`request_fields`); the editing operations, the totals and the serialisation for the page and the API live here
too (see the functions below).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

from productions.lib.planning import carried_actions
from productions.lib.prompts import CharacterSpec, ComposedPrompt, compose
from productions.models import Character, Episode, Segment


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
