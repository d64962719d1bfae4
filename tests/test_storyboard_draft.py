"""A new episode starts as a storyboard drafted from its plan: one shot per planned segment, each sentence of
the synopsis in exactly one shot, frames and seeds from the plan, prompts composed."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.models import Episode
from tests.conftest import post_json

pytestmark = pytest.mark.django_db

SYNOPSIS = "Mika wakes at dawn. She runs to the harbour. A storm breaks over the sea."


def test_draft_builtin_30s_gives_six_shots_each_sentence_once(project):
    episode = Episode.objects.create(project=project, title="Pilot", synopsis=SYNOPSIS, seed=3)
    shots = storyboard.draft(episode)
    plan = episode.plan()
    assert len(shots) == 6 == len(plan.segments)
    actions = [s.action for s in shots]
    for sentence in ("Mika wakes at dawn.", "She runs to the harbour.", "A storm breaks over the sea."):
        assert sum(a.count(sentence) for a in actions) == 1
    assert [(s.seed, s.join, s.native_frames, s.delivered_frames) for s in shots] == [
        (p.seed, p.join.kind, p.native_frames, p.delivered_frames) for p in plan.segments]
    prompts = storyboard.compose_prompts(episode, shots)
    assert [s.prompt for s in shots] == [c.positive for c in prompts]
    assert all(".," not in s.prompt for s in shots)
    assert storyboard.draft(episode) == shots  # once


def test_new_episode_page_drafts_and_lands_on_storyboard(project, producer_client):
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", {
        "title": "Pilot", "synopsis": SYNOPSIS, "seed": 1, "duration_s": 30, "width": 1920, "height": 1080,
        "fps": 24, "min_bitrate_bps": 10_000_000, "backend": "", "upscaler": ""})
    episode = Episode.objects.get(title="Pilot")
    assert response.status_code == 302, response.content[:2000]
    assert response["Location"] == f"/episodes/{episode.pk}/storyboard/"
    assert episode.segments.count() == 6
    page = producer_client.get(response["Location"])
    assert page.status_code == 200
    assert page.content.decode().count('class="shot card"') == 6


def test_api_creation_drafts_the_storyboard(project, producer_client):
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes",
                         {"title": "Pilot", "synopsis": SYNOPSIS})
    assert response.status_code == 201, response.content
    episode_id = response.json()["id"]
    assert len(response.json()["segments"]) == 6
    state = producer_client.get(f"/api/episodes/{episode_id}/storyboard").json()
    assert len(state["shots"]) == 6 and state["totals"]["target_ok"] and state["editable"]


def test_plan_error_at_creation_leaves_no_shots_and_the_storyboard_says_why(project, producer_client):
    episode = Episode.objects.create(project=project, title="Bad", synopsis=SYNOPSIS, video_model="no-such-model")
    assert storyboard.draft_or_error(episode)
    assert not episode.segments.exists()
    page = producer_client.get(f"/episodes/{episode.pk}/storyboard/")
    assert page.status_code == 200
    assert 'id="storyboard-error"' in page.content.decode()
    api = producer_client.get(f"/api/episodes/{episode.pk}/storyboard")
    assert api.status_code == 200 and api.json()["error"] and api.json()["shots"] == []


def test_an_episode_made_before_storyboards_is_drafted_when_opened(project, producer_client):
    episode = Episode.objects.create(project=project, title="Old", synopsis=SYNOPSIS)
    assert not episode.segments.exists()
    page = producer_client.get(f"/episodes/{episode.pk}/storyboard/")
    assert page.status_code == 200 and episode.segments.count() == 6
