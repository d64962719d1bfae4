"""A character's LoRA is checked against the LoRA files the configured ComfyUI servers list (the fake serves a
real 0.3.64's /object_info/LoraLoader): listed -> saved; unlisted -> refused naming `lora` with close matches; no
server configured -> saved with a note; servers configured but none answering -> refused ("could not check")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from productions.lib.comfyui.pool import check_lora, list_loras
from productions.models import Character
from tests.conftest import post_json
from tests.fake_comfyui import FakeComfyUI, free_port

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]
LORAS = ["aiko_v2.safetensors", "kenji_style.safetensors", "rain_effects.safetensors"]


@pytest.fixture(scope="module")
def fake():
    with FakeComfyUI(loras=LORAS) as server:
        yield server


def add(client, project, lora: str):
    return post_json(client, f"/api/projects/{project.pk}/characters", {"name": "Aiko", "lora": lora})


def test_a_listed_lora_is_accepted(producer_client, project, settings, fake) -> None:
    settings.TOWER_COMFYUI_URLS = [fake.url, f"http://127.0.0.1:{free_port()}"]  # one down, one lists it
    response = add(producer_client, project, "aiko_v2.safetensors")
    assert response.status_code == 201, response.content
    assert response.json().get("note") is None


def test_an_unlisted_lora_is_refused_with_close_matches(producer_client, project, settings, fake) -> None:
    settings.TOWER_COMFYUI_URLS = [fake.url]
    response = add(producer_client, project, "aiko_v1.safetensors")
    assert response.status_code == 422
    message = response.json()["errors"]["lora"][0]
    assert "aiko_v1.safetensors" in message and "close matches: aiko_v2.safetensors" in message
    page = producer_client.post(reverse("project-characters", args=[project.pk]),
                                {"name": "Aiko", "lora": "kenji.safetensors", "lora_strength": "1"})
    assert "kenji_style.safetensors" in page.context["form"].errors["lora"][0]
    assert not Character.objects.exists()


def test_no_server_configured_accepts_with_a_note(producer_client, project, settings) -> None:
    settings.TOWER_COMFYUI_URLS = []
    response = add(producer_client, project, "anything.safetensors")
    assert response.status_code == 201
    assert response.json()["note"] == "not checked: no ComfyUI server configured"
    page = producer_client.get(reverse("project-characters", args=[project.pk])).content.decode()
    assert "no ComfyUI server configured" in page


def test_servers_configured_but_none_answers_is_refused(producer_client, project, settings) -> None:
    settings.TOWER_COMFYUI_URLS = [f"http://127.0.0.1:{free_port()}"]
    response = add(producer_client, project, "aiko_v2.safetensors")
    assert response.status_code == 422
    assert response.json()["errors"]["lora"][0].startswith("could not check:")
    assert not Character.objects.exists()


def test_listing_reads_every_server(fake) -> None:
    with FakeComfyUI(loras=["other.safetensors"]) as second:
        listing = list_loras([fake.url, second.url])
    assert listing.loras == sorted([*LORAS, "other.safetensors"])
    assert listing.servers_with("other.safetensors") == [second.url]
    assert check_lora("other.safetensors", listing).ok
