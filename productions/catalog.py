"""The instance's generation models: the shipped profiles plus the admin's (settings.TOWER_WORKFLOWS_DIR), and
which one an episode uses when it does not choose."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from productions.lib.model_profiles import ModelProfile, ProfileError, load_profiles, pick

BUILTIN_MODEL = "builtin"
# Anchored generation (every segment between two keyframes made first) is not built yet: models that need a
# last frame are planned and listed, not rendered.
RENDERABLE_CONDITIONING = ("first",)
COMFYUI_DEFAULT_MODEL = "svd_xt"


@lru_cache(maxsize=4)
def _profiles(directory: str) -> dict[str, ModelProfile]:
    return load_profiles([Path(directory)] if directory else [])


def profiles() -> dict[str, ModelProfile]:
    return _profiles(settings.TOWER_WORKFLOWS_DIR or "")


def video_models() -> list[ModelProfile]:
    return sorted((p for p in profiles().values() if p.kind == "video"), key=lambda p: (p.backend, p.name))


def video_model(name: str) -> ModelProfile:
    """The video profile `name`; ProfileError (listing the choices) when there is none."""
    return pick(profiles(), name, "video")


def default_video_model(backend: str) -> ModelProfile:
    """The model an episode on `backend` uses when it chooses none: TOWER_VIDEO_MODEL where it runs on that
    backend, else the backend's own default (the built-in generator; SVD-XT on ComfyUI)."""
    configured = settings.TOWER_VIDEO_MODEL
    if configured:
        profile = video_model(configured)
        if profile.backend == backend:
            return profile
    return video_model(BUILTIN_MODEL if backend == BUILTIN_MODEL else COMFYUI_DEFAULT_MODEL)


def cannot_render(profile: ModelProfile) -> str | None:
    """Why episodes cannot use this model yet, in a sentence; None when they can."""
    if profile.conditioning not in RENDERABLE_CONDITIONING:
        return (f"{profile.label} runs between two keyframes (first and last frame), and Tower does not make "
                "segments between keyframes yet: choose a model that starts from one frame")
    return None


def configuration_problem() -> str | None:
    """What is wrong with TOWER_VIDEO_MODEL / TOWER_BACKEND / the profile files, in a sentence; None if fine."""
    try:
        found = profiles()
    except ProfileError as exc:
        return f"a model profile is malformed: {exc}"
    name = settings.TOWER_VIDEO_MODEL
    if not name:
        return None
    try:
        profile = pick(found, name, "video")
    except ProfileError as exc:
        return f"TOWER_VIDEO_MODEL: {exc}"
    if cannot_render(profile):
        return f"TOWER_VIDEO_MODEL={name!r}: {cannot_render(profile)}"
    if profile.backend != settings.TOWER_BACKEND:
        return (f"TOWER_VIDEO_MODEL={name!r} runs on the {profile.backend} backend but TOWER_BACKEND="
                f"{settings.TOWER_BACKEND!r}: set TOWER_BACKEND={profile.backend} or choose another model")
    return None
