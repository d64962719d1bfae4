"""The instance's generation models: the shipped profiles plus the admin's (settings.TOWER_WORKFLOWS_DIR), and
which one an episode uses when it does not choose."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from productions.lib.comfyui.workflows import WorkflowLibrary
from productions.lib.model_profiles import (
    BUILTIN_MODEL,
    DEFAULT_COMFYUI_MODEL,
    ModelProfile,
    ProfileError,
    load_profiles,
    pick,
)


@lru_cache(maxsize=4)
def _profiles(directory: str, options: str) -> dict[str, ModelProfile]:
    found = load_profiles([Path(directory)] if directory else [])
    for name, values in json.loads(options).items():
        if name in found:
            found[name] = found[name].with_options(values)
    return found


def profiles() -> dict[str, ModelProfile]:
    """The profiles, with TOWER_MODEL_OPTIONS applied (files and settings set without touching a workflow)."""
    return _profiles(settings.TOWER_WORKFLOWS_DIR or "", json.dumps(settings.TOWER_MODEL_OPTIONS, sort_keys=True))


def keyframe_model(name: str = "") -> ModelProfile:
    """The keyframe (image) profile `name`, or the instance's (TOWER_KEYFRAME_MODEL)."""
    return pick(profiles(), name or settings.TOWER_KEYFRAME_MODEL, "image")


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
    return video_model(BUILTIN_MODEL if backend == BUILTIN_MODEL else DEFAULT_COMFYUI_MODEL)


def cannot_render(profile: ModelProfile) -> str | None:
    """Why episodes cannot use this model on this instance, in a sentence; None when they can: a model whose
    estimated VRAM is over the instance's budget (TOWER_VRAM_BUDGET_GB) would be refused by every server."""
    if profile.vram_gb is not None and profile.vram_gb > settings.TOWER_VRAM_BUDGET_GB:
        return (f"{profile.label} needs about {profile.vram_gb:g} GB of VRAM ({profile.vram_source}), over this "
                f"instance's budget of {settings.TOWER_VRAM_BUDGET_GB:g} GB (TOWER_VRAM_BUDGET_GB)")
    return None


def option_keys(profile: ModelProfile) -> set[str]:
    """What TOWER_MODEL_OPTIONS may set for a model: its files, and the parameters its workflows declare."""
    library = WorkflowLibrary(settings.TOWER_WORKFLOWS_DIR or None)
    names = set(library.names())
    keys = set(profile.files)
    for name in profile.workflows:
        if name in names:
            keys |= set(library.get(name).params)
    return keys - {"prompt", "negative_prompt", "seed", "width", "height", "num_frames", "init_image", "end_image",
                   "filename_prefix"}


def configuration_problem() -> str | None:
    """What is wrong with TOWER_VIDEO_MODEL / TOWER_BACKEND / the profile files, in a sentence; None if fine."""
    try:
        found = profiles()
    except ProfileError as exc:
        return f"a model profile is malformed: {exc}"
    for model, values in settings.TOWER_MODEL_OPTIONS.items():
        profile = found.get(model)
        if profile is None:
            return f"TOWER_MODEL_OPTIONS: there is no model {model!r}; choose one of {', '.join(sorted(found))}"
        unknown = sorted(set(values) - option_keys(profile))
        if unknown:
            return (f"TOWER_MODEL_OPTIONS: {model} has no file or setting {', '.join(map(repr, unknown))}; its "
                    f"workflows take {', '.join(sorted(option_keys(profile))) or 'none'}")
    try:
        pick(found, settings.TOWER_KEYFRAME_MODEL, "image")
    except ProfileError as exc:
        return f"TOWER_KEYFRAME_MODEL: {exc}"
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
