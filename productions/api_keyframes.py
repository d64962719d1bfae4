"""REST routes for the storyboard's keyframes (django-ninja router, mounted on productions.api.api): make the
missing ones, approve or remake a shot's, fetch the current image and the history. Shots are addressed by their
index (0-based), as in the storyboard's routes."""

from __future__ import annotations

import json
from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from productions.downloads import download_name, serve_file
from productions.keyframes import (
    KeyframeError,
    approve_keyframe,
    current_file,
    keyframe_info,
    make_keyframes,
    remake_keyframe,
    shot_name,
)

router = Router()

MAX_INDEXES = 1000


class KeyframesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    indexes: list[int] | None = Field(None, max_length=MAX_INDEXES,
                                      description="the shots (indexes) to make; none: every shot without one")


class ApproveKeyframeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: int | None = Field(None, description="the keyframe you looked at: refused (409) if it was made again")


class RemakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_seed: bool = Field(True, description="draw a new seed (false: the same seed, for an edited action)")


class KeyframeAttemptOut(Schema):
    id: int
    number: int
    seed: int
    prompt: str
    negative_prompt: str
    backend: str
    error: str
    decision: str = Field(description='"" (not reviewed), "approved" or "replaced" (made again)')
    reviewer: str
    created_at: datetime
    finished_at: datetime | None
    url: str | None


class ShotKeyframeOut(Schema):
    index: int
    status: str = Field(description="none, making, made (not approved), approved or failed")
    url: str | None
    approved: bool
    approved_by: str
    number: int
    seed: int | None
    error: str
    attempts: list[KeyframeAttemptOut]


class QueuedOut(Schema):
    queued: list[int] = Field(description="the shots (indexes) whose keyframe is being made")


class KeyframeErrorOut(Schema):
    detail: str


class KeyframeInvalidOut(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(description="the fields that are wrong, each with what is wrong")


PRODUCER = {400: KeyframeErrorOut, 403: KeyframeErrorOut, 404: KeyframeErrorOut, 409: KeyframeErrorOut,
            422: KeyframeInvalidOut}


def body_of(request: HttpRequest, schema: type[BaseModel]) -> BaseModel:
    """An optional JSON body (empty: the defaults), validated: 400 when it is not JSON, 422 naming the field."""
    from productions.api import field_errors

    if not request.body.strip():
        return schema()
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        raise HttpError(400, "The body must be JSON (an object), or empty.") from None
    try:
        return schema.model_validate(data)
    except PydanticValidationError as exc:
        error = HttpError(422, "Invalid input.")
        error.errors = field_errors(exc.errors())
        raise error from None


def body_doc(schema: type[BaseModel]) -> dict:
    return {"requestBody": {"required": False, "content": {"application/json": {
        "schema": schema.model_json_schema()}}}}


def refused(exc: KeyframeError) -> HttpError:
    return HttpError(409, str(exc))


def shot_for(request: HttpRequest, episode_id: int, index: int, *, produce: bool = False):
    from productions.api import episode_for

    episode = episode_for(request, episode_id, produce=produce)
    segment = episode.segments.select_related("episode").filter(index=index).first()
    if segment is None:
        raise HttpError(404, f"Episode {episode_id} has no {shot_name(index)} (index {index}).")
    return episode, segment


def shot_out(segment) -> dict:
    return {"index": segment.index, **keyframe_info(segment)}


@router.post("/episodes/{episode_id}/keyframes", response={202: QueuedOut, **PRODUCER},
             openapi_extra=body_doc(KeyframesIn))
def make(request: HttpRequest, episode_id: int):
    """Make the keyframe of every listed shot (all when `indexes` is absent) that has none: queued for the
    worker; follow them on GET .../shots/{index}/keyframes. 409 once the storyboard is closed."""
    from productions.api import episode_for

    episode = episode_for(request, episode_id, produce=True)
    payload = body_of(request, KeyframesIn)
    try:
        queued = make_keyframes(episode, request.user, payload.indexes)
    except KeyframeError as exc:
        raise refused(exc) from None
    return Status(202, {"queued": queued})


@router.post("/episodes/{episode_id}/shots/{index}/keyframe/approve", response={200: ShotKeyframeOut, **PRODUCER},
             openapi_extra=body_doc(ApproveKeyframeIn))
def approve(request: HttpRequest, episode_id: int, index: int):
    """Approve the shot's current keyframe (the render starts the shot from it). 409 when it has none."""
    _, segment = shot_for(request, episode_id, index, produce=True)
    payload = body_of(request, ApproveKeyframeIn)
    try:
        approve_keyframe(segment, request.user, payload.number)
    except KeyframeError as exc:
        raise refused(exc) from None
    return Status(200, shot_out(segment))


@router.post("/episodes/{episode_id}/shots/{index}/keyframe/remake", response={202: ShotKeyframeOut, **PRODUCER},
             openapi_extra=body_doc(RemakeIn))
def remake(request: HttpRequest, episode_id: int, index: int):
    """Make the shot's keyframe again from its current prompt (save an edited action on the storyboard first),
    with a new seed unless `new_seed` is false. The current one stays in the history as "replaced"."""
    _, segment = shot_for(request, episode_id, index, produce=True)
    payload = body_of(request, RemakeIn)
    try:
        remake_keyframe(segment, request.user, new_seed=payload.new_seed)
    except KeyframeError as exc:
        raise refused(exc) from None
    return Status(202, shot_out(segment))


@router.get("/episodes/{episode_id}/shots/{index}/keyframe", response={200: None, 404: KeyframeErrorOut})
def image(request: HttpRequest, episode_id: int, index: int):
    """The shot's current keyframe (PNG)."""
    episode, segment = shot_for(request, episode_id, index)
    path = current_file(segment)
    if path is None:
        raise HttpError(404, f"{shot_name(index).capitalize()} has no keyframe yet.")
    return serve_file(request, path, download_name(episode, f"-shot-{index + 1:02d}-keyframe{path.suffix}"))


@router.get("/episodes/{episode_id}/shots/{index}/keyframes", response={200: ShotKeyframeOut, 404: KeyframeErrorOut})
def history(request: HttpRequest, episode_id: int, index: int):
    """The shot's keyframe: its status and every keyframe made for it, the newest first."""
    _, segment = shot_for(request, episode_id, index)
    return Status(200, shot_out(segment))


