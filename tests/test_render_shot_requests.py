"""The render generates each shot from the storyboard: its prompt as composed (only its own characters), its
characters, their LoRA stack (the same in every shot a character is in) and its motion; the prompt as used is
kept on the segment and its attempt. A rejection's edited prompt becomes the shot's action."""

from __future__ import annotations

import pytest

from productions import render, storyboard
from productions.lib.comfyui.backend import motion_bucket
from productions.lib.generator import BuiltinGenerator
from productions.models import Character, SegmentAttempt
from productions.review import reject_segment
from tests.conftest import render_now, small_episode

pytestmark = pytest.mark.django_db


class Recording(BuiltinGenerator):
    def __init__(self, seen: list) -> None:
        super().__init__()
        self.seen = seen

    def stream_segment(self, request, progress, should_cancel):
        self.seen.append(request)
        return super().stream_segment(request, progress, should_cancel)


@pytest.fixture
def seen(monkeypatch):
    requests: list = []
    monkeypatch.setattr(render, "get_backend", lambda name: Recording(requests))
    return requests


def test_each_segment_carries_its_shot(project, users, seen):
    aiko = Character.objects.create(project=project, name="Aiko", description="a girl with red hair",
                                    trigger_words="aiko_v1", lora="aiko.safetensors", lora_strength=0.7)
    ren = Character.objects.create(project=project, name="Ren", description="a tall boy with silver hair",
                                   lora="ren.safetensors", lora_strength=0.9)
    project.style, project.negative_style = "cel shading", "blurry"
    project.save()
    episode = small_episode(project, segment_count=3, duration_s=1.5)
    storyboard.draft(episode)
    producer = users["producer"]
    for index, (action, cast, motion) in enumerate([("Aiko walks at dawn.", [aiko], 0.2),
                                                    ("The sea at noon.", [], 0.5),
                                                    ("Aiko and Ren meet at night.", [ren, aiko], 0.9)]):
        episode.refresh_from_db()
        storyboard.update_shot(episode, episode.storyboard_version, index, action=action, motion=motion,
                               character_ids=[c.pk for c in cast], user=producer)
    assert render_now(episode) == "review"

    by_index = {r.index: r for r in seen}
    assert [c.name for c in by_index[0].characters] == ["Aiko"] and by_index[1].characters == ()
    assert [c.name for c in by_index[2].characters] == ["Aiko", "Ren"]  # the bible's order
    assert [(u.name, u.strength) for u in by_index[0].loras] == [("aiko.safetensors", 0.7)]
    assert [(u.name, u.strength) for u in by_index[2].loras] == [("aiko.safetensors", 0.7), ("ren.safetensors", 0.9)]
    assert [by_index[i].motion for i in range(3)] == [0.2, 0.5, 0.9]
    assert by_index[1].prompt == "The sea at noon, cel shading" and by_index[1].negative_prompt == "blurry"
    assert "Ren" not in by_index[0].prompt and "Aiko" not in by_index[1].prompt
    for segment in episode.segments.order_by("index"):
        attempt = SegmentAttempt.objects.filter(segment=segment).latest("number")
        assert segment.prompt == attempt.prompt == by_index[segment.index].prompt


def test_an_edited_prompt_in_review_becomes_the_shots_action(project, users, seen):
    mika = Character.objects.create(project=project, name="Mika", description="a girl in a yellow coat")
    episode = small_episode(project, segment_count=2, duration_s=1.0)
    storyboard.draft(episode)
    storyboard.update_shot(episode, 1, 1, action="Mika waits.", character_ids=[mika.pk], user=users["producer"])
    assert render_now(episode) == "review"
    reject_segment(episode.segments.get(index=1), users["producer"], "wrong pose", "Mika waves from a bridge.")
    seen.clear()
    assert render_now(episode) == "review"
    again = episode.segments.get(index=1)
    assert again.action == "Mika waves from a bridge."
    assert again.prompt.startswith("Mika waves from a bridge, Mika, a girl in a yellow coat")
    assert [r.index for r in seen] == [1] and [c.name for c in seen[0].characters] == ["Mika"]


def test_motion_is_svds_motion_bucket():
    assert [motion_bucket(m) for m in (0, 0.25, 0.5, 0.75, 1, 7, -1)] == [1, 64, 127, 191, 255, 255, 1]


def test_a_continuing_segment_is_told_what_the_one_before_left(project, users, seen):
    """At a continuous join the request carries the segment before's backend info (the built-in generator
    reads where it left the characters); a segment starting from a keyframe gets none."""
    mika = Character.objects.create(project=project, name="Mika", description="a girl in a yellow coat")
    episode = small_episode(project, segment_count=3, duration_s=1.5)
    storyboard.draft(episode)
    for index in range(3):
        episode.refresh_from_db()
        storyboard.update_shot(episode, episode.storyboard_version, index, action=f"Mika walks, part {index}.",
                               character_ids=[mika.pk], join="cut" if index == 2 else None, user=users["producer"])
    assert render_now(episode) == "review"
    by_index = {r.index: r for r in seen}
    made = {s.index: s.backend_info for s in episode.segments.all()}
    assert by_index[0].init_info == {} and by_index[2].init_info == {}  # the opening and a cut: keyframes
    assert by_index[1].init_info == made[0] and [f["name"] for f in made[0]["end_figures"]] == ["Mika"]
