"""REST routes for the review flow and versions (django-ninja router, mounted on productions.api.api):
approve every open segment at once, reopen a delivered episode, list its versions and download each one."""

from __future__ import annotations

import json
from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from productions.api import ErrorOut, InvalidOut, episode_for, episode_out, field_errors, review_call
from productions.decisions import approve_all
from productions.downloads import download_name, serve_file
from productions.models import EpisodeVersion
from productions.versions import reopen, versions_of

router = Router()


class ApproveAllOut(Schema):
    approved: list[int] = Field(description="the segments approved (indexes)")
    rendering: bool = Field(description="the approvals closed the last open decision: one render started")
    episode: dict


ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class VersionOut(Schema):
    number: int
    delivered: bool
    delivered_at: datetime | None
    delivered_by: str | None
    reopened_by: str | None
    duration_s: float | None
    size: int | None
    fingerprint: str
    video_url: str | None


def version_out(version: EpisodeVersion) -> dict:
    base = f"/api/episodes/{version.episode_id}/versions/{version.number}/video"
    return {
        "number": version.number, "delivered": version.is_delivered, "delivered_at": version.delivered_at,
        "delivered_by": version.delivered_by.get_username() if version.delivered_by else None,
        "reopened_by": version.reopened_by.get_username() if version.reopened_by else None,
        "duration_s": version.duration_s, "size": version.size, "fingerprint": version.fingerprint,
        "video_url": base if version.is_delivered else None,
    }


class ApproveAllIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", description="why segments that failed automatic QA are good enough anyway")


def reason_from(request: HttpRequest) -> str:
    """The optional body {"reason": "..."} (none, or a form post, approves without one)."""
    if request.content_type != "application/json":
        return request.POST.get("reason", "")
    if not request.body.strip():
        return ""
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        raise HttpError(400, 'The body must be JSON like {"reason": "..."}, or empty.') from None
    try:
        return ApproveAllIn.model_validate(data).reason
    except PydanticValidationError as exc:
        error = HttpError(422, "Invalid input.")
        error.errors = field_errors(exc.errors())
        raise error from None


@router.post("/episodes/{episode_id}/approve-all", tags=["review"], response={
    200: ApproveAllOut, 400: ErrorOut, 413: ErrorOut, **ERRORS, 422: InvalidOut},
    openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"reason": {"type": "string", "maxLength": 2000}}}}}}})
def approve_all_route(request: HttpRequest, episode_id: int):
    """Approve every segment still waiting for a decision. Segments that failed automatic QA need a `reason`
    (applied to them). The answer: {"approved": [indexes], "episode": {...}}; when the approvals closed the
    last open decision and there are changes, one render starts (episode status "queued"); when every segment
    is approved and the final conforms, the episode is delivered."""
    episode = episode_for(request, episode_id, produce=True)
    reason = reason_from(request)
    outcome, indexes = review_call(approve_all, episode, request.user, reason)
    return {"approved": indexes, "rendering": outcome.rendering, "episode": episode_out(outcome.episode)}


@router.post("/episodes/{episode_id}/reopen", tags=["review"], response={201: VersionOut, **ERRORS})
def reopen_route(request: HttpRequest, episode_id: int):
    """Reopen a delivered episode: it goes back to review and its next version opens (201, that version). The
    delivered versions stay downloadable at GET .../versions/{number}/video."""
    episode = episode_for(request, episode_id, produce=True)
    version = review_call(reopen, episode, request.user)
    return Status(201, version_out(version))


@router.get("/episodes/{episode_id}/versions", tags=["review"], response={200: list[VersionOut], 404: ErrorOut})
def versions_route(request: HttpRequest, episode_id: int):
    """Every version, newest first: the delivered ones with their file, the open one (reopened) without."""
    episode = episode_for(request, episode_id)
    return [version_out(v) for v in versions_of(episode)]


@router.get("/episodes/{episode_id}/versions/{number}/video", tags=["downloads"], response={200: None, 404: ErrorOut})
def version_video(request: HttpRequest, episode_id: int, number: int):
    """A delivered version's final video, byte for byte as delivered (ranges supported)."""
    episode = episode_for(request, episode_id)
    version = get_object_or_404(EpisodeVersion, episode=episode, number=number, delivered_at__isnull=False)
    path = version.file()
    if path is None:
        raise HttpError(404, "This version's file is gone.")
    return serve_file(request, path, download_name(episode, f"-v{version.number}{path.suffix}"))
