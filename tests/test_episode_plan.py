"""The episode's plan comes from its model's profile, and the page, the API and `manage.py plan` show the same."""

import json

import pytest
from django.core.management import call_command

from productions.models import Episode, Segment
from productions.render import ensure_segments
from tests.conftest import post_json

pytestmark = pytest.mark.django_db

GOOD = {"title": "Ep 1", "synopsis": "A girl finds a dragon. They fly. Dawn breaks.", "seed": 3}


def frames(plan: dict) -> list[tuple]:
    return [(s["index"], s["join"], s["native_frames"], s["delivered_frames"]) for s in plan["segments"]]


def test_the_api_page_and_terminal_show_the_same_plan_before_rendering(producer_client, project, settings, capsys):
    settings.TOWER_COMFYUI_URLS = ["http://127.0.0.1:9"]
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes",
                         {**GOOD, "video_model": "wan22_ti2v_5b", "duration_s": 45, "transitions": "4: cut"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["video_model"] == "wan22_ti2v_5b" and body["backend"] == "comfyui" and body["plan_error"] is None
    plan = body["plan"]
    assert (plan["native_width"], plan["native_height"], plan["native_fps"], plan["upscale_factor"]) == (
        1280, 704, 24, 1.5)
    assert plan["interpolation"] == "none" and body["interpolation"] == "none" and body["native_fps"] == 24
    assert [s["native_frames"] for s in plan["segments"]] == [121] * 9  # 45 s of 121-frame runs
    assert plan["segments"][3]["join"] == "cut"

    call_command("plan", "--model", "wan22_ti2v_5b", "--duration", "45", "--transitions", "4: cut", "--json")
    assert frames(json.loads(capsys.readouterr().out)) == frames(plan)

    episode = Episode.objects.get()
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'id="plan"' in page and "Wan 2.2 TI2V-5B" in page and "1280x704" in page
    assert '<span id="plan-count">9</span>' in page
    for s in plan["segments"]:
        assert (f'<tr data-segment="{s["index"]}"><td>{s["index"] + 1}</td><td>{s["join"]}</td>'
                f'<td>{s["native_frames"]}</td><td>{s["delivered_frames"]}</td></tr>') in page

    # the render makes exactly these segments
    made = ensure_segments(episode)
    assert [(s.index, s.join, s.native_frames, s.delivered_frames) for s in made] == frames(plan)
    assert frames(producer_client.get(f"/api/episodes/{episode.pk}").json()["plan"]) == frames(plan)


def test_a_builtin_episode_plans_its_segments_from_the_profile(producer_client, project):
    body = post_json(producer_client, f"/api/projects/{project.pk}/episodes", GOOD).json()
    assert body["video_model"] == "builtin"
    assert [s["native_frames"] for s in body["plan"]["segments"]] == [61] * 5 + [60]
    assert body["plan"]["total_frames"] == 720


def test_a_chosen_segment_count_still_gives_one_run_each(producer_client, project, settings):
    settings.TOWER_COMFYUI_URLS = ["http://127.0.0.1:9"]
    body = post_json(producer_client, f"/api/projects/{project.pk}/episodes",
                     {**GOOD, "video_model": "svd_xt", "segment_count": 12}).json()
    assert len(body["plan"]["segments"]) == 12 and max(s["native_frames"] for s in body["plan"]["segments"]) <= 25


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"video_model": "sora"}, "video_model", "valid choice"),
    ({"video_model": "wan22_ti2v_5b", "backend": "builtin"}, "video_model", "runs on the comfyui backend"),
    ({"video_model": "svd_xt", "segment_count": 3}, "segment_count", "one run of the model makes at most 25"),
    ({"video_model": "wan22_ti2v_5b", "transitions": "9: cut"}, "transitions", "segment 9 has no join"),
    ({"video_model": "wan21_flf2v_720p"}, "video_model", "over this instance's budget of 10 GB"),
])
def test_a_plan_that_cannot_be_is_a_422_naming_the_field(producer_client, project, settings, change, field, words):
    settings.TOWER_COMFYUI_URLS = ["http://127.0.0.1:9"]
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**GOOD, **change})
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert field in errors and words in errors[field][0], errors
    assert Episode.objects.count() == 0 and Segment.objects.count() == 0


def test_a_comfyui_model_needs_a_server(producer_client, project, settings):
    settings.TOWER_COMFYUI_URLS = []
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**GOOD, "video_model": "svd_xt"})
    assert response.status_code == 422 and "no ComfyUI server" in response.json()["errors"]["video_model"][0]


def test_the_models_are_listed(producer_client):
    listed = producer_client.get("/api/models").json()
    assert {"builtin", "svd_xt", "wan22_ti2v_5b", "sd15", "sdxl"} <= {m["name"] for m in listed}


def test_an_episode_whose_model_is_gone_still_shows_and_says_why(producer_client, project):
    from tests.conftest import small_episode

    episode = small_episode(project, video_model="retired_model")  # an admin removed its profile file
    body = producer_client.get(f"/api/episodes/{episode.pk}").json()
    assert body["plan"] is None and "unknown video model 'retired_model'" in body["plan_error"]
    page = producer_client.get(f"/episodes/{episode.pk}/")
    assert page.status_code == 200 and "unknown video model" in page.content.decode()
