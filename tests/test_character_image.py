"""Reference pictures: a real PNG/JPEG uploaded (page and API), re-encoded as PNG under
MEDIA_ROOT/projects/<pk>/characters/, served with access checks; the previous file removed; a non-image refused
naming the field."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from productions.models import Character
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_comfyui(settings):
    settings.TOWER_COMFYUI_URLS = []


def picture(fmt: str = "PNG", colour=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), colour, dtype=np.uint8)).save(out, format=fmt)
    return out.getvalue()


def test_page_upload_stores_png_serves_it_and_replaces_the_old_file(producer_client, viewer_client, project,
                                                                       users, settings,
                                                                       django_capture_on_commit_callbacks) -> None:
    response = producer_client.post(reverse("project-characters", args=[project.pk]), {
        "name": "Aiko", "lora_strength": "0.8",
        "reference_image": SimpleUploadedFile("a.jpg", picture("JPEG"), content_type="image/jpeg")})
    assert response.status_code == 302
    character = Character.objects.get()
    first = Path(settings.MEDIA_ROOT) / character.reference_image
    assert first.parent == Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "characters"
    assert first.name.startswith(f"{character.pk}-") and first.suffix == ".png"
    with Image.open(first) as img:
        assert img.format == "PNG" and img.size == (64, 48)
    url = reverse("character-image", args=[project.pk, character.pk])
    served = viewer_client.get(url)
    assert served.status_code == 200 and b"".join(served.streaming_content).startswith(b"\x89PNG")
    assert client_for(users["outsider"]).get(url).status_code == 404
    page = producer_client.get(reverse("project-characters", args=[project.pk])).content.decode()
    assert f'src="{url}"' in page
    # a new picture replaces the old one, whose file is removed
    edit = reverse("character-edit", args=[project.pk, character.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = producer_client.post(edit, {
            "name": "Aiko", "lora_strength": "0.8",
            "reference_image": SimpleUploadedFile("b.webp", picture("WEBP", (1, 2, 250)), content_type="image/webp")})
    assert response.status_code == 302
    character.refresh_from_db()
    second = Path(settings.MEDIA_ROOT) / character.reference_image
    assert second.exists() and second != first and not first.exists()


def test_a_non_image_is_refused_naming_the_field(producer_client, project) -> None:
    response = producer_client.post(reverse("project-characters", args=[project.pk]), {
        "name": "Aiko", "lora_strength": "0.8",
        "reference_image": SimpleUploadedFile("a.png", b"not a picture at all", content_type="image/png")})
    assert response.status_code == 200
    assert "PNG, JPEG or WebP" in response.context["form"].errors["reference_image"][0]
    assert not Character.objects.exists()


def test_api_upload_and_delete(producer_client, viewer_client, project, settings,
                               django_capture_on_commit_callbacks) -> None:
    character = Character.objects.create(project=project, name="Aiko")
    url = f"/api/characters/{character.pk}/reference-image"
    bad = producer_client.post(url, {"reference_image": SimpleUploadedFile("x.png", b"GIF89a nonsense")})
    assert bad.status_code == 422 and "reference_image" in bad.json()["errors"]
    gif = io.BytesIO()
    Image.new("RGB", (32, 32)).save(gif, format="GIF")
    refused = producer_client.post(url, {"reference_image": SimpleUploadedFile("x.gif", gif.getvalue())})
    assert refused.status_code == 422 and "GIF" in refused.json()["errors"]["reference_image"][0]
    assert viewer_client.post(url, {"reference_image": SimpleUploadedFile("a.png", picture())}).status_code == 403
    ok = producer_client.post(url, {"reference_image": SimpleUploadedFile("a.png", picture())})
    assert ok.status_code == 200, ok.content
    assert ok.json()["image_url"] == reverse("character-image", args=[project.pk, character.pk])
    character.refresh_from_db()
    stored = Path(settings.MEDIA_ROOT) / character.reference_image
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        gone = producer_client.delete(url)
    assert gone.status_code == 200 and gone.json()["image_url"] is None and not stored.exists()


def test_too_large_is_413_in_the_api_and_a_form_error_on_the_page(producer_client, project) -> None:
    from productions.characters import MAX_REFERENCE_BYTES

    character = Character.objects.create(project=project, name="Aiko")
    big = picture() + b"\0" * MAX_REFERENCE_BYTES
    response = producer_client.post(f"/api/characters/{character.pk}/reference-image",
                                    {"reference_image": SimpleUploadedFile("big.png", big)})
    assert response.status_code == 413 and "detail" in response.json()
    page = producer_client.post(reverse("character-edit", args=[project.pk, character.pk]), {
        "name": "Aiko", "lora_strength": "0.8", "reference_image": SimpleUploadedFile("big.png", big)})
    assert "too large" in page.context["form"].errors["reference_image"][0]
    character.refresh_from_db()
    assert character.reference_image == ""


def test_deleting_a_character_removes_its_picture(producer_client, project, settings,
                                                  django_capture_on_commit_callbacks) -> None:
    producer_client.post(reverse("project-characters", args=[project.pk]), {
        "name": "Aiko", "lora_strength": "0.8", "reference_image": SimpleUploadedFile("a.png", picture())})
    character = Character.objects.get()
    stored = Path(settings.MEDIA_ROOT) / character.reference_image
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        producer_client.post(reverse("character-delete", args=[project.pk, character.pk]))
    assert not stored.exists() and not Character.objects.exists()
