"""Render is refused, naming the shot or what is missing, until the storyboard can be rendered: every shot has
an action and fits one run of the model, the storyboard lasts the episode's target, the keyframes made are
approved. The page, the API and manage.py render_episode give the same reason."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from productions import storyboard
from productions.models import Episode

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode = Episode.objects.create(project=project, title="Gate", synopsis="A. B. C. D. E. F.", seed=3)
    storyboard.draft(episode)
    return episode


def render_api(client, episode):
    return client.post(f"/api/episodes/{episode.pk}/render", data=json.dumps({}), content_type="application/json")


def test_a_drafted_storyboard_may_render(episode):
    assert storyboard.render_refusal(episode) is None


def test_a_storyboard_shorter_than_the_target_is_refused_everywhere(episode, producer_client, users):
    storyboard.update_shot(episode, 1, 0, duration_s=1, user=users["producer"])
    episode.refresh_from_db()
    refusal = storyboard.render_refusal(episode)
    assert refusal and "missing" in refusal and "30 s" in refusal
    response = render_api(producer_client, episode)
    assert response.status_code == 409 and "missing" in response.json()["detail"]
    page = producer_client.post(f"/episodes/{episode.pk}/render/", follow=True)
    assert "missing" in page.content.decode()
    with pytest.raises(CommandError, match="missing"):
        call_command("render_episode", str(episode.pk))
    assert Episode.objects.get(pk=episode.pk).status == Episode.Status.DRAFT  # nothing queued


def test_a_shot_without_action_is_named(episode, users):
    storyboard.update_shot(episode, 1, 3, action="", join="cut", user=users["producer"])
    episode.refresh_from_db()
    assert "Shot 4" in storyboard.render_refusal(episode)


def test_the_storyboard_page_disables_render_with_the_reason(episode, producer_client, users):
    storyboard.update_shot(episode, 1, 0, duration_s=1, user=users["producer"])
    html = producer_client.get(f"/episodes/{episode.pk}/storyboard/").content.decode()
    assert 'id="render"' in html and "missing" in html
    assert 'id="render" disabled' in html or "disabled" in html.split('id="render"')[1].split(">")[0]
