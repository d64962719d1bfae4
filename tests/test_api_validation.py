"""Bad input gets a clear 4xx naming the field, and nothing is created half-way."""

import pytest

from productions.models import Episode, Project, Segment
from tests.conftest import post_json

pytestmark = pytest.mark.django_db

GOOD = {"title": "Ep 1", "synopsis": "A girl finds a dragon.", "seed": 3}


def test_a_valid_episode_is_created_with_the_spec_defaults(producer_client, project):
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", GOOD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"], body["fps"], body["duration_s"], body["min_bitrate_bps"]) == (
        1920, 1080, 24, 30.0, 10_000_000)
    assert body["status"] == "draft"
    assert body["generator_is_ai"] is False and "not AI" in body["generator_label"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_s": 29.9}, "duration_s"),
        ({"width": 1280}, "width"),
        ({"height": 720}, "height"),
        ({"width": 2000, "height": 1080}, "height"),  # not 16:9
        ({"fps": 23}, "fps"),
        ({"min_bitrate_bps": 9_999_999}, "min_bitrate_bps"),
        ({"synopsis": ""}, "synopsis"),
        ({"synopsis": "   "}, "synopsis"),
        ({"synopsis": "x" * 100_000}, "synopsis"),
        ({"seed": "forty-two"}, "seed"),
        ({"seed": -1}, "seed"),
        ({"segment_count": 0}, "segment_count"),
        ({"title": ""}, "title"),
        ({"backend": "midjourney"}, "backend"),
        ({"upscaler": "magic"}, "upscaler"),
        ({"transitions": "2: wipe"}, "transitions"),
        ({"transitions": "1: cut"}, "transitions"),
        ({"transitions": "2: dissolve 9999"}, "transitions"),
        ({"interpolation": "warp"}, "interpolation"),
        ({"interpolation": "none", "native_fps": 8}, "interpolation"),
        ({"native_fps": 0}, "native_fps"),
        ({"native_fps": "fast"}, "native_fps"),
    ],
)
def test_bad_episode_input_is_a_422_naming_the_field(producer_client, project, change, field):
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**GOOD, **change})
    assert response.status_code == 422, response.content
    body = response.json()
    assert field in body["errors"], body
    assert all(isinstance(m, str) and m for m in body["errors"][field])
    assert Episode.objects.count() == 0 and Segment.objects.count() == 0


def test_comfyui_backend_is_refused_when_no_server_is_configured(producer_client, project, settings):
    settings.TOWER_COMFYUI_URLS = []
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**GOOD, "backend": "comfyui"})
    assert response.status_code == 422
    assert "ComfyUI" in response.json()["errors"]["backend"][0]


def test_a_nonexistent_project_is_a_404_that_says_so(producer_client, project):
    response = post_json(producer_client, "/api/projects/99999/episodes", GOOD)
    assert response.status_code == 404
    assert "Project 99999 does not exist" in response.json()["detail"]
    assert Episode.objects.count() == 0


def test_a_project_of_someone_else_is_invisible(users, project):
    from tests.conftest import client_for

    response = post_json(client_for(users["outsider"]), f"/api/projects/{project.pk}/episodes", GOOD)
    assert response.status_code == 404


def test_a_viewer_cannot_create_or_start(viewer_client, producer_client, project):
    assert post_json(viewer_client, f"/api/projects/{project.pk}/episodes", GOOD).status_code == 403
    episode = post_json(producer_client, f"/api/projects/{project.pk}/episodes", GOOD).json()
    assert viewer_client.post(f"/api/episodes/{episode['id']}/render").status_code == 403
    assert Episode.objects.get().status == Episode.Status.DRAFT


def test_malformed_json_is_a_4xx(producer_client, project):
    response = producer_client.post(f"/api/projects/{project.pk}/episodes", data="{not json",
                                    content_type="application/json")
    assert 400 <= response.status_code < 500
    assert Episode.objects.count() == 0


def test_duplicate_project_names_are_refused(users, project):
    from tests.conftest import client_for

    response = post_json(client_for(users["staff"]), "/api/projects", {"name": "Pilot"})
    assert response.status_code == 422
    assert "name" in response.json()["errors"]
    assert Project.objects.count() == 1


def test_status_lists_every_segment_with_progress(producer_client, project):
    from productions.render import ensure_segments

    episode = post_json(producer_client, f"/api/projects/{project.pk}/episodes", GOOD).json()
    ensure_segments(Episode.objects.get(pk=episode["id"]))
    body = producer_client.get(f"/api/episodes/{episode['id']}").json()
    assert [s["index"] for s in body["segments"]] == list(range(6))
    assert all(s["status"] == "pending" and s["progress"] == 0 for s in body["segments"])
    assert body["video_url"] is None


def test_downloads_before_rendering_are_404(producer_client, project):
    episode = post_json(producer_client, f"/api/projects/{project.pk}/episodes", GOOD).json()
    response = producer_client.get(f"/api/episodes/{episode['id']}/video")
    assert response.status_code == 404 and "not rendered yet" in response.json()["detail"]
    assert producer_client.get(f"/api/episodes/{episode['id']}/segments/0/video").status_code == 404


def test_the_api_refuses_cookie_posts_without_csrf(users, project):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["producer"])
    response = post_json(client, f"/api/projects/{project.pk}/episodes", GOOD)
    assert response.status_code == 403
    assert Episode.objects.count() == 0
