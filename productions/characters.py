"""The character bible's rules, in one place for the pages and the API: the LoRA check against the ComfyUI servers
and the reference pictures (checked, re-encoded as PNG, stored under MEDIA_ROOT/projects/<pk>/characters/).

LoRA check: the LoRA files the configured servers list (GET /object_info/LoraLoader on each, lib/comfyui/pool.py)
decide. With no server configured (the built-in generator) a LoRA is accepted with a visible note, since a LoRA only
matters on ComfyUI; with servers configured but none answering it is refused ("could not check: ...").
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from productions.lib.comfyui.pool import LoraCheck, check_lora, list_loras
from productions.models import Character

ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_REFERENCE_BYTES = 10 * 1024 * 1024  # an uploaded reference picture
MAX_REFERENCE_SIDE = 4096  # pixels, each side
MIN_REFERENCE_SIDE = 16


class PictureRefused(ValueError):
    """A reference picture that is not accepted; the message says why in plain words."""


def lora_check(name: str) -> LoraCheck:
    """Whether the ComfyUI servers of this instance (TOWER_COMFYUI_URLS) list the LoRA file `name`."""
    if not name:
        return LoraCheck()
    return check_lora(name, list_loras(settings.TOWER_COMFYUI_URLS))


def picture_png(data: bytes) -> bytes:
    """The uploaded picture checked (PNG, JPEG or WebP; Pillow verifies it; size limits) and re-encoded as PNG
    (which drops anything but the pixels). PictureRefused says what is wrong."""
    if not data:
        raise PictureRefused("The file is empty.")
    if len(data) > MAX_REFERENCE_BYTES:
        raise PictureRefused(f"The picture is too large: at most {MAX_REFERENCE_BYTES // (1024 * 1024)} MB "
                             f"(this one has {len(data) / (1024 * 1024):.1f} MB).")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            size = probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PictureRefused("Not a picture Tower can read: upload a PNG, JPEG or WebP image.") from exc
    if kind not in ACCEPTED_FORMATS:
        raise PictureRefused(f"{kind} pictures are not accepted: upload a PNG, JPEG or WebP image.")
    if max(size) > MAX_REFERENCE_SIDE or min(size) < MIN_REFERENCE_SIDE:
        raise PictureRefused(f"The picture is {size[0]}x{size[1]} pixels: each side must be between "
                             f"{MIN_REFERENCE_SIDE} and {MAX_REFERENCE_SIDE}.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            converted = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PictureRefused("The picture is damaged: it cannot be decoded.") from exc
    out = io.BytesIO()
    converted.save(out, format="PNG")
    return out.getvalue()


def _folder(character: Character) -> Path:
    return Path(settings.MEDIA_ROOT) / "projects" / str(character.project_id) / "characters"


def _remove_file(relative: str) -> None:
    if relative:
        (Path(settings.MEDIA_ROOT) / relative).unlink(missing_ok=True)


def store_picture(character: Character, png: bytes) -> None:
    """Write `png` (from picture_png) as the character's reference picture under a fresh name, save the row,
    then remove the previous file (once the change is committed)."""
    folder = _folder(character)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{character.pk}-{secrets.token_hex(8)}.png"
    partial = folder / (name + ".part")
    partial.write_bytes(png)
    os.replace(partial, folder / name)
    old = character.reference_image
    character.reference_image = str((folder / name).relative_to(Path(settings.MEDIA_ROOT)))
    character.save(update_fields=["reference_image", "updated_at"])
    if old and old != character.reference_image:
        transaction.on_commit(lambda: _remove_file(old))


def remove_picture(character: Character) -> None:
    old = character.reference_image
    if not old:
        return
    character.reference_image = ""
    character.save(update_fields=["reference_image", "updated_at"])
    transaction.on_commit(lambda: _remove_file(old))


def delete_character(character: Character) -> None:
    old = character.reference_image
    character.delete()
    transaction.on_commit(lambda: _remove_file(old))


def picture_path(character: Character) -> Path | None:
    """The stored reference picture, when there is one on disk (never outside MEDIA_ROOT)."""
    if not character.reference_image:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / character.reference_image).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def image_url(character: Character) -> str | None:
    from django.urls import reverse

    if not character.reference_image:
        return None
    return reverse("character-image", args=[character.project_id, character.pk])


def character_out(character: Character, note: str = "") -> dict:
    """A bible entry as the API returns it."""
    out = {"id": character.pk, "project_id": character.project_id, "name": character.name,
           "description": character.description, "trigger_words": character.trigger_words,
           "lora": character.lora, "lora_strength": character.lora_strength, "image_url": image_url(character)}
    if note:
        out["note"] = note
    return out
