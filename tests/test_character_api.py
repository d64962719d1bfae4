"""The character bible through the API: CRUD, uniqueness (422 naming `name`), validation, viewers 403,
outsiders 404, the project style."""

from __future__ import annotations

import json

import pytest

from productions.models import Character
from tests.conftest import client_for, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_comfyui(settings):
    settings.TOWER_COMFYUI_URLS = []


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def test_crud(producer_client, project) -> None:
    url = f"/api/projects/{project.pk}/characters"
    created = post_json(producer_client, url, {"name": "Aiko", "description": "red scarf",
                                               "lora": "aiko.safetensors", "lora_strength": 0.7})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Aiko" and body["lora_strength"] == 0.7 and body["image_url"] is None
    assert body["note"] == "not checked: no ComfyUI server configured"
    cid = body["id"]
    assert [c["id"] for c in producer_client.get(url).json()] == [cid]
    assert producer_client.get(f"/api/characters/{cid}").json()["description"] == "red scarf"
    changed = patch(producer_client, f"/api/characters/{cid}", {"description": "green scarf", "lora_strength": -2})
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "green scarf" and changed.json()["lora"] == "aiko.safetensors"
    assert producer_client.delete(f"/api/characters/{cid}").status_code == 204
    assert producer_client.get(f"/api/characters/{cid}").status_code == 404


def test_names_unique_and_fields_named(producer_client, project) -> None:
    url = f"/api/projects/{project.pk}/characters"
    post_json(producer_client, url, {"name": "Aiko"})
    again = post_json(producer_client, url, {"name": "AIKO"})
    assert again.status_code == 422 and "name" in again.json()["errors"]
    bad = post_json(producer_client, url, {"name": "Kenji", "lora_strength": 10.5, "trigger_words": "a\nb"})
    assert bad.status_code == 422
    assert {"lora_strength", "trigger_words"} <= set(bad.json()["errors"])
    kenji = post_json(producer_client, url, {"name": "Kenji"}).json()
    renamed = patch(producer_client, f"/api/characters/{kenji['id']}", {"name": "Aiko"})
    assert renamed.status_code == 422 and "name" in renamed.json()["errors"]
    assert Character.objects.count() == 2


def test_roles(producer_client, viewer_client, project, users) -> None:
    cid = post_json(producer_client, f"/api/projects/{project.pk}/characters", {"name": "Aiko"}).json()["id"]
    assert viewer_client.get(f"/api/characters/{cid}").status_code == 200
    assert post_json(viewer_client, f"/api/projects/{project.pk}/characters", {"name": "B"}).status_code == 403
    assert patch(viewer_client, f"/api/characters/{cid}", {"name": "C"}).status_code == 403
    assert viewer_client.delete(f"/api/characters/{cid}").status_code == 403
    outsider = client_for(users["outsider"])
    assert outsider.get(f"/api/characters/{cid}").status_code == 404
    assert outsider.get(f"/api/projects/{project.pk}/characters").status_code == 404
    assert outsider.delete(f"/api/characters/{cid}").status_code == 404


def test_style(producer_client, viewer_client, project) -> None:
    url = f"/api/projects/{project.pk}/style"
    put = producer_client.put(url, data=json.dumps({"style": "anime", "negative_style": "blurry"}),
                              content_type="application/json")
    assert put.status_code == 200 and put.json() == {"style": "anime", "negative_style": "blurry"}
    project.refresh_from_db()
    assert project.style == "anime"
    assert viewer_client.put(url, data=json.dumps({"style": "x"}), content_type="application/json").status_code == 403
    bad = producer_client.put(url, data=json.dumps({"style": "\ud800"}), content_type="application/json")
    assert bad.status_code in (400, 422)
