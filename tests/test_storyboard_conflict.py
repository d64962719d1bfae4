"""Two producers edit the same storyboard: the second save, made from the version both loaded, is refused,
says who changed what, and keeps the second producer's text in the form; nothing is lost silently."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.models import Episode, Membership
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode = Episode.objects.create(project=project, title="Pilot", synopsis="A fox runs. It rests.", seed=3)
    storyboard.draft(episode)
    return episode


@pytest.fixture
def second_producer(project, django_user_model):
    user = django_user_model.objects.create_user("quinn", password="quinn-secret-123")
    Membership.objects.create(project=project, user=user, role=Membership.PRODUCER)
    return client_for(user)


def test_stale_page_save_is_refused_and_keeps_the_text(episode, producer_client, second_producer):
    url = f"/episodes/{episode.pk}/storyboard/shots/0/edit/"
    first = producer_client.post(url, {"version": 1, "shot_id": episode.segments.get(index=0).pk,
                                       "action": "The fox wakes.", "duration_s": "5"})
    assert first.status_code == 302
    second = second_producer.post(url, {"version": 1, "shot_id": episode.segments.get(index=0).pk,
                                        "action": "My own words for shot one.", "duration_s": "4"})
    assert second.status_code == 409
    page = second.content.decode()
    assert 'id="storyboard-conflict"' in page
    assert "pat changed the storyboard (edited shot 1: action, duration 5 s)" in page
    assert "My own words for shot one." in page  # kept in the form
    assert 'name="version" value="2"' in page  # saving again now applies it deliberately
    shot = episode.segments.get(index=0)
    assert shot.action == "The fox wakes." and shot.delivered_frames == 120


def test_stale_api_save_is_409_with_the_current_storyboard(episode, producer_client, second_producer):
    url = f"/api/episodes/{episode.pk}/shots/1"
    ok = producer_client.patch(url, {"version": 1, "action": "It sleeps."}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = second_producer.patch(url, {"version": 1, "action": "Lost?"}, content_type="application/json")
    assert stale.status_code == 409
    body = stale.json()
    assert "pat changed the storyboard" in body["detail"]
    assert body["version"] == 2 and body["storyboard"]["shots"][1]["action"] == "It sleeps."
    assert episode.segments.get(index=1).action == "It sleeps."


def test_conflict_carries_the_current_version(episode):
    storyboard.move_shot(episode, 1, 1, 0)
    with pytest.raises(storyboard.Conflict) as conflict:
        storyboard.delete_shot(episode, 1, 0)
    assert conflict.value.version == 2
    assert episode.segments.count() == 6
