"""Every storyboard operation: what it does to the shots, their frames and the totals, and the errors that
name the shot."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.lib.planning import clip_frames, timeline_frames
from productions.models import Character, Episode, Project

pytestmark = pytest.mark.django_db

SYNOPSIS = "Mika wakes at dawn. She runs to the harbour. A storm breaks over the sea."


@pytest.fixture
def episode(project):
    episode = Episode.objects.create(project=project, title="Pilot", synopsis=SYNOPSIS, seed=3)
    storyboard.draft(episode)
    return episode


def shots(episode):
    return list(episode.segments.order_by("index"))


def test_update_shot_sets_action_duration_motion_characters_and_join(episode, users):
    mika = Character.objects.create(project=episode.project, name="Mika", description="a girl with red hair")
    storyboard.update_shot(episode, 1, 2, action="Mika waves.", duration_s=3.5, motion=0.2,
                           character_ids=[mika.pk], join="dissolve", join_frames=10, user=users["producer"])
    episode.refresh_from_db()
    assert episode.storyboard_version == 2 and episode.duration_s == 30
    shot = shots(episode)[2]
    assert (shot.action, shot.delivered_frames, shot.motion, shot.join, shot.join_frames) == (
        "Mika waves.", 84, 0.2, "dissolve", 10)
    assert shot.native_frames == 42  # hold at 12 fps: the fewest native frames that give 84
    assert list(shot.characters.all()) == [mika]
    assert "Mika" in shot.prompt and "red hair" in shot.prompt
    assert all("Mika, a girl" not in s.prompt for s in shots(episode) if s.pk != shot.pk)
    state = storyboard.storyboard_state(episode, users["producer"])
    delivered = [s.delivered_frames for s in shots(episode)]
    assert state["totals"]["total_frames"] == timeline_frames(delivered, [s.join_spec for s in shots(episode)])
    assert state["shots"][2]["duration_s"] == 3.5 and state["shots"][2]["characters"][0]["name"] == "Mika"


def test_update_errors_name_the_shot(episode, users):
    other = Character.objects.create(project=Project.objects.create(name="Other"), name="Stranger")
    cases = [
        ({"character_ids": [other.pk]}, "characters"),
        ({"duration_s": 0}, "duration_s"),
        ({"motion": 1.5}, "motion"),
        ({"join": "wipe"}, "join"),
        ({"join": "fade", "join_frames": 500}, "join_frames"),
        ({"join": "dissolve", "join_frames": 80}, "join_frames"),  # longer than half a neighbour
    ]
    for kwargs, field in cases:
        with pytest.raises(storyboard.StoryboardError) as error:
            storyboard.update_shot(episode, 1, 2, user=users["producer"], **kwargs)
        assert str(error.value).startswith("Shot 3"), str(error.value)
        assert error.value.field == field and error.value.shot_index == 2
    with pytest.raises(storyboard.StoryboardError, match="^Shot 1 opens the episode"):
        storyboard.update_shot(episode, 1, 0, join="continuous")
    episode.refresh_from_db()
    assert episode.storyboard_version == 1  # nothing applied


def test_a_shot_longer_than_one_run_is_an_error_naming_it(project, users):
    episode = Episode.objects.create(project=project, title="SVD", synopsis=SYNOPSIS, video_model="svd_xt")
    storyboard.draft(episode)
    run = episode.model_profile().run
    profile = episode.generation_profile()
    most = clip_frames(run.frames_per_run, profile.native_fps, episode.fps, profile.interpolation, chained=False)
    storyboard.update_shot(episode, 1, 0, duration_s=most / episode.fps)
    assert shots(episode)[0].native_frames <= run.frames_per_run
    with pytest.raises(storyboard.StoryboardError, match="^Shot 2: .* longer than one run"):
        storyboard.update_shot(episode, 2, 1, duration_s=most / episode.fps + 1)


def test_add_shot_is_a_cut_of_the_default_length(episode):
    storyboard.add_shot(episode, 1, 1)
    after = shots(episode)
    assert len(after) == 7 and [s.index for s in after] == list(range(7))
    new = after[2]
    assert (new.action, new.join, new.delivered_frames) == ("", "cut", 122)  # 61 drawings held twice
    assert len({s.seed for s in after}) == 7
    assert "Shot 3: no action yet" in storyboard.storyboard_state(episode)["shots"][2]["errors"][0]


def test_delete_shot_but_not_the_last_one(episode):
    first = shots(episode)
    storyboard.delete_shot(episode, 1, 0)
    after = shots(episode)
    assert [s.pk for s in after] == [s.pk for s in first[1:]]
    assert after[0].join == "cut"  # the new opening shot
    for version in range(2, 7):
        if len(shots(episode)) == 1:
            break
        storyboard.delete_shot(episode, version, 0)
    with pytest.raises(storyboard.StoryboardError, match="^Shot 1 is the only shot"):
        storyboard.delete_shot(episode, episode.storyboard_version, 0)


def test_split_shot_halves_frames_and_splits_sentences(episode, users):
    mika = Character.objects.create(project=episode.project, name="Mika")
    storyboard.update_shot(episode, 1, 1, action="She runs. She jumps. She lands.", character_ids=[mika.pk])
    before = shots(episode)[1].delivered_frames
    storyboard.split_shot(episode, 2, 1, user=users["producer"])
    after = shots(episode)
    assert len(after) == 7
    first, second = after[1], after[2]
    assert first.delivered_frames + second.delivered_frames == before
    assert abs(first.delivered_frames - second.delivered_frames) <= 1
    assert (first.action, second.action) == ("She runs. She jumps.", "She lands.")
    assert second.join == "continuous"
    assert list(first.characters.all()) == [mika] == list(second.characters.all())
    storyboard.split_shot(episode, 3, 0)  # one sentence: kept on the first
    assert shots(episode)[0].action == "Mika wakes at dawn." and shots(episode)[1].action == ""


def test_merge_sums_frames_joins_sentences_unites_characters(episode):
    mika = Character.objects.create(project=episode.project, name="Mika")
    kai = Character.objects.create(project=episode.project, name="Kai")
    storyboard.update_shot(episode, 1, 0, action="Dawn", character_ids=[mika.pk])
    storyboard.update_shot(episode, 2, 1, action="Kai arrives.", character_ids=[kai.pk])
    a, b = shots(episode)[:2]
    storyboard.merge_shots(episode, 3, 0)
    merged = shots(episode)[0]
    assert len(shots(episode)) == 5
    assert merged.delivered_frames == a.delivered_frames + b.delivered_frames
    assert merged.action == "Dawn. Kai arrives."
    assert {c.name for c in merged.characters.all()} == {"Mika", "Kai"}
    with pytest.raises(storyboard.StoryboardError, match="^Shot 5 is the last shot"):
        storyboard.merge_shots(episode, 4, 4)


def test_merge_past_one_run_is_refused_naming_the_shot(project):
    episode = Episode.objects.create(project=project, title="SVD", synopsis=SYNOPSIS, video_model="svd_xt")
    storyboard.draft(episode)
    with pytest.raises(storyboard.StoryboardError, match="^Shot 2: merged with shot 3 .* longer than one run"):
        storyboard.merge_shots(episode, 1, 1)


def test_move_renumbers_and_the_new_first_shot_opens(episode):
    before = shots(episode)
    storyboard.move_shot(episode, 1, 2, 0)
    after = shots(episode)
    assert [s.pk for s in after] == [before[2].pk, before[0].pk, before[1].pk, *[s.pk for s in before[3:]]]
    assert [s.index for s in after] == list(range(6))
    assert after[0].join == "cut"
    storyboard.move_shot(episode, 2, 0, 5)
    assert shots(episode)[5].pk == before[2].pk
    with pytest.raises(storyboard.StoryboardError, match="^Shot 1 cannot move to position 9"):
        storyboard.move_shot(episode, 3, 0, 8)


def test_totals_against_the_target(episode):
    state = storyboard.storyboard_state(episode)
    assert state["totals"]["total_frames"] == 720 and state["totals"]["target_ok"]
    assert [s.delivered_frames for s in shots(episode)] == [122, 120, 120, 120, 120, 118]
    storyboard.update_shot(episode, 1, 5, duration_s=1)
    totals = storyboard.storyboard_state(episode)["totals"]
    assert totals["total_frames"] == 720 - 118 + 24 == 626
    assert not totals["target_ok"] and "94 frames" in totals["message"]
    assert totals["duration_s"] == round(626 / 24, 6)
    storyboard.update_shot(episode, 2, 4, join="dissolve", join_frames=12)
    assert storyboard.storyboard_state(episode)["totals"]["total_frames"] == 626 - 12


def test_nothing_changes_once_rendering_started(episode):
    Episode.objects.filter(pk=episode.pk).update(status=Episode.Status.QUEUED)
    episode.refresh_from_db()
    assert not storyboard.is_editable(episode)
    with pytest.raises(storyboard.NotEditable):
        storyboard.update_shot(episode, 1, 0, action="x")
