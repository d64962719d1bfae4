"""The storyboard through the API: every route's answers (200 with the storyboard, 409, 422 naming the field
and the shot, 403, 404), and the routes in the OpenAPI schema."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.models import Character, Episode, Project
from tests.conftest import client_for, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode = Episode.objects.create(project=project, title="Pilot", synopsis="A fox runs. It rests. It sings.",
                                     seed=3)
    storyboard.draft(episode)
    return episode


def patch(client, url, body):
    return client.patch(url, body, content_type="application/json")


def test_read_and_edit_through_the_api(episode, producer_client):
    api = f"/api/episodes/{episode.pk}"
    state = producer_client.get(f"{api}/storyboard").json()
    assert state["version"] == 1 and len(state["shots"]) == 6 and state["limits"]["max_shot_s"] is None
    shot = state["shots"][0]
    assert set(shot) >= {"id", "index", "action", "carried_action", "prompt", "negative_prompt", "loras",
                         "characters", "duration_s", "delivered_frames", "native_frames", "motion", "join",
                         "join_frames", "seed", "errors", "keyframe"}
    assert shot["keyframe"] == {"url": None, "approved": False, "number": None, "attempts": 0}
    fox = Character.objects.create(project=episode.project, name="Fox", description="an orange fox")
    edited = patch(producer_client, f"{api}/shots/0", {"version": 1, "action": "The fox wakes.",
                                                       "duration_s": 4, "characters": [fox.pk]})
    assert edited.status_code == 200, edited.content
    body = edited.json()
    assert body["version"] == 2 and body["shots"][0]["delivered_frames"] == 96
    assert body["shots"][0]["characters"][0]["name"] == "Fox" and "orange fox" in body["shots"][0]["prompt"]
    added = post_json(producer_client, f"{api}/shots", {"version": 2, "after": 0})
    assert added.status_code == 200 and len(added.json()["shots"]) == 7
    moved = post_json(producer_client, f"{api}/shots/1/move", {"version": 3, "to": 3})
    assert moved.status_code == 200 and moved.json()["shots"][3]["action"] == ""
    split = post_json(producer_client, f"{api}/shots/0/split", {"version": 4})
    assert split.status_code == 200 and len(split.json()["shots"]) == 8
    merged = post_json(producer_client, f"{api}/shots/0/merge", {"version": 5})
    assert merged.status_code == 200 and merged.json()["shots"][0]["delivered_frames"] == 96
    deleted = producer_client.delete(f"{api}/shots/2?version=6")
    assert deleted.status_code == 200 and len(deleted.json()["shots"]) == 6
    by_body = producer_client.delete(f"{api}/shots/2", {"version": 7}, content_type="application/json")
    assert by_body.status_code == 200 and by_body.json()["version"] == 8


def test_errors_name_the_field_and_the_shot(episode, producer_client):
    api = f"/api/episodes/{episode.pk}"
    stranger = Character.objects.create(project=Project.objects.create(name="Other"), name="Stranger")
    for body, field in [({"duration_s": -1}, "duration_s"), ({"characters": [stranger.pk]}, "characters"),
                        ({"join": "wipe"}, "join"), ({"motion": 7}, "motion")]:
        response = patch(producer_client, f"{api}/shots/2", {"version": 1, **body})
        assert response.status_code == 422, (body, response.content)
        assert response.json()["errors"][field][0].startswith("Shot 3"), response.json()
    bad_text = patch(producer_client, f"{api}/shots/2", {"version": 1, "action": "a\x00b"})
    assert bad_text.status_code == 422 and "action" in bad_text.json()["errors"]
    no_version = patch(producer_client, f"{api}/shots/2", {"action": "x"})
    assert no_version.status_code == 422 and "version" in no_version.json()["errors"]
    assert producer_client.delete(f"{api}/shots/2").status_code == 422
    missing = post_json(producer_client, f"{api}/shots/9/split", {"version": 1})
    assert missing.status_code == 422 and "no shot 10" in missing.json()["detail"]
    assert post_json(producer_client, f"{api}/shots/5/merge", {"version": 1}).status_code == 422


def test_conflict_locked_and_not_found(episode, producer_client, users):
    api = f"/api/episodes/{episode.pk}"
    assert patch(producer_client, f"{api}/shots/0", {"version": 7, "action": "x"}).status_code == 409
    Episode.objects.filter(pk=episode.pk).update(status=Episode.Status.RENDERING)
    locked = patch(producer_client, f"{api}/shots/0", {"version": 1, "action": "x"})
    assert locked.status_code == 409 and locked.json()["storyboard"]["editable"] is False
    outsider = client_for(users["outsider"])
    assert outsider.get(f"{api}/storyboard").status_code == 404
    assert patch(outsider, f"{api}/shots/0", {"version": 1}).status_code == 404
    assert producer_client.get("/api/episodes/999999/storyboard").status_code == 404


def test_routes_are_in_the_schema(producer_client):
    paths = producer_client.get("/api/openapi.json").json()["paths"]
    assert {"get"} <= set(paths["/api/episodes/{episode_id}/storyboard"])
    assert {"patch", "delete"} <= set(paths["/api/episodes/{episode_id}/shots/{index}"])
    for op in ("split", "merge", "move"):
        assert "post" in paths[f"/api/episodes/{{episode_id}}/shots/{{index}}/{op}"]
    assert "post" in paths["/api/episodes/{episode_id}/shots"]
