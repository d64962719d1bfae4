"""REST routes (django-ninja router, mounted on productions.api.api): the project's character bible and style.

The rules are the pages' (productions.forms.CharacterForm / ProjectStyleForm, productions.characters): names unique
per project, text checked by productions.validation, the LoRA checked against the ComfyUI servers, reference
pictures checked and re-encoded as PNG. Errors: 404 (not yours to see), 403 (viewers), 409 (a name taken at the same
moment), 413 (a picture over the limit), 422 naming the field.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja import Field, File, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from productions import access
from productions.api import BAD_JSON, CONFLICT, INVALID, NOT_FOUND, PRODUCER, ErrorOut, form_errors, project_for
from productions.characters import (
    MAX_REFERENCE_BYTES,
    PictureRefused,
    character_out,
    delete_character,
    picture_png,
    remove_picture,
    store_picture,
)
from productions.forms import MAX_LORA_STRENGTH, CharacterForm, ProjectStyleForm
from productions.models import Character
from productions.validation import MAX_NOTES_CHARS, line, text

router = Router()


class CharacterIn(Schema):
    name: line(100, min_length=1)
    description: text(MAX_NOTES_CHARS) = ""
    trigger_words: line(300) = ""
    lora: line(255) = Field("", description="a LoRA file as the ComfyUI servers list it (GET /object_info)")
    lora_strength: float = Field(0.8, ge=-MAX_LORA_STRENGTH, le=MAX_LORA_STRENGTH)


class CharacterPatch(Schema):
    name: line(100, min_length=1) | None = None
    description: text(MAX_NOTES_CHARS) | None = None
    trigger_words: line(300) | None = None
    lora: line(255) | None = None
    lora_strength: float | None = Field(None, ge=-MAX_LORA_STRENGTH, le=MAX_LORA_STRENGTH)


class CharacterOut(Schema):
    id: int
    project_id: int
    name: str
    description: str
    trigger_words: str
    lora: str
    lora_strength: float
    image_url: str | None = None
    note: str | None = Field(None, description='e.g. "not checked: no ComfyUI server configured"')


class StyleIn(Schema):
    style: text(MAX_NOTES_CHARS) = ""
    negative_style: text(MAX_NOTES_CHARS) = ""


class StyleOut(Schema):
    style: str
    negative_style: str


def character_for(request: HttpRequest, character_id: int, *, produce: bool = False) -> Character:
    """The character, by its project's access rules: 404 when not the caller's to see, 403 for viewers."""
    project_id = Character.objects.filter(pk=character_id).values_list("project_id", flat=True).first()
    if project_id is None:
        raise HttpError(404, f"Character {character_id} does not exist.")
    try:
        access.require_project(request.user, project_id, produce=produce)
    except access.Refused as exc:
        raise HttpError(exc.status, str(exc) if exc.status == 403 else f"Character {character_id} does not exist.") \
            from None
    return Character.objects.get(pk=character_id)


def _save(form: CharacterForm) -> Character:
    if not form.is_valid():
        raise form_errors(form)
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        error = HttpError(409, "Another character with this name was saved at the same moment.")
        error.errors = {"name": ["This project already has a character with this name."]}
        raise error from None


@router.get("/projects/{project_id}/characters", response={200: list[CharacterOut], **NOT_FOUND})
def list_characters(request: HttpRequest, project_id: int):
    project = project_for(request, project_id)
    return [character_out(c) for c in project.characters.order_by("name")]


@router.post("/projects/{project_id}/characters",
             response={201: CharacterOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def create_character(request: HttpRequest, project_id: int, payload: CharacterIn):
    """Add a character. A LoRA no ComfyUI server lists is refused (422 naming `lora`, with close matches); with no
    server configured it is accepted with a `note`."""
    project = project_for(request, project_id, produce=True)
    form = CharacterForm(data=payload.dict(), project=project)
    character = _save(form)
    return Status(201, character_out(character, form.lora_note))


@router.get("/characters/{character_id}", response={200: CharacterOut, **NOT_FOUND})
def get_character(request: HttpRequest, character_id: int):
    return character_out(character_for(request, character_id))


@router.patch("/characters/{character_id}",
              response={200: CharacterOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def update_character(request: HttpRequest, character_id: int, payload: CharacterPatch):
    character = character_for(request, character_id, produce=True)
    data = {name: getattr(character, name) for name in CharacterForm.Meta.fields}
    data.update(payload.dict(exclude_none=True))
    form = CharacterForm(data=data, instance=character, project=character.project)
    character = _save(form)
    return character_out(character, form.lora_note)


@router.delete("/characters/{character_id}", response={204: None, **PRODUCER})
def remove_character(request: HttpRequest, character_id: int):
    character = character_for(request, character_id, produce=True)
    with transaction.atomic():
        delete_character(character)
    return Status(204, None)


@router.post("/characters/{character_id}/reference-image",
             response={200: CharacterOut, 400: ErrorOut, **PRODUCER, 413: ErrorOut, **INVALID})
def upload_reference_image(request: HttpRequest, character_id: int, reference_image: File[UploadedFile]):
    """Multipart upload (field `reference_image`): PNG, JPEG or WebP, re-encoded as PNG; replaces the old one."""
    character = character_for(request, character_id, produce=True)
    if reference_image.size is not None and reference_image.size > MAX_REFERENCE_BYTES:
        raise HttpError(413, f"The picture is larger than {MAX_REFERENCE_BYTES // (1024 * 1024)} MB.")
    try:
        png = picture_png(reference_image.read(MAX_REFERENCE_BYTES + 1))
    except PictureRefused as exc:
        error = HttpError(422, "Invalid input.")
        error.errors = {"reference_image": [str(exc)]}
        raise error from None
    with transaction.atomic():
        store_picture(character, png)
    return character_out(character)


@router.delete("/characters/{character_id}/reference-image", response={200: CharacterOut, **PRODUCER})
def delete_reference_image(request: HttpRequest, character_id: int):
    character = character_for(request, character_id, produce=True)
    with transaction.atomic():
        remove_picture(character)
    return character_out(character)


@router.put("/projects/{project_id}/style", response={200: StyleOut, **BAD_JSON, **PRODUCER, **INVALID})
def put_style(request: HttpRequest, project_id: int, payload: StyleIn):
    """The project's style (added to every shot's prompt) and negative style."""
    project = project_for(request, project_id, produce=True)
    form = ProjectStyleForm(data=payload.dict(), instance=project)
    if not form.is_valid():
        raise form_errors(form)
    form.save()
    return {"style": project.style, "negative_style": project.negative_style}
