"""The REST API (django-ninja): projects, episodes, renders, downloads. OpenAPI docs at /api/docs."""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.defaults import bad_request as default_bad_request
from django.views.defaults import page_not_found as default_page_not_found
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import django_auth
from pydantic import ValidationError as PydanticValidationError

from productions import access
from productions.catalog import profiles
from productions.decisions import decide, render_refusal
from productions.downloads import download_name, serve_file
from productions.forms import EpisodeForm, ProjectForm
from productions.lib.spec import DELIVERY_SPEC
from productions.models import Episode, Membership, Project, SegmentAttempt
from productions.review import ReviewError, approve_segment, reject_segment
from productions.storyboard import draft_or_error
from productions.tasks import start_render
from productions.validation import (
    MAX_CHOICE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_NOTES_CHARS,
    MAX_PROMPT_CHARS,
    MAX_REASON_CHARS,
    MAX_TITLE_CHARS,
    MAX_TRANSITIONS_CHARS,
    line,
    text,
)

api = NinjaAPI(
    title="Tower API",
    version="1",
    description="Create projects and episodes, start or resume renders, follow progress, download videos.",
    auth=django_auth,
    docs_decorator=login_required,
    urls_namespace="api",
)


def field_errors(errors: list[dict]) -> dict[str, list[str]]:
    """pydantic's errors by field, in plain words: {"seed": ["Input should be a valid integer"]}."""
    named: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", []) if part not in ("body", "payload", "query", "path")]
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        named.setdefault(".".join(loc) or "request", []).append(message)
    return named


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError):
    """Name the offending field plainly: {"errors": {"seed": ["Input should be a valid integer"]}}."""
    return api.create_response(request, {"detail": "Invalid input.", "errors": field_errors(exc.errors)},
                               status=422)


def too_big_detail() -> str:
    return (f"The request body is larger than this server accepts ({settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} "
            "bytes, DATA_UPLOAD_MAX_MEMORY_SIZE).")


@api.exception_handler(RequestDataTooBig)
def body_too_big(request: HttpRequest, exc: RequestDataTooBig):
    return api.create_response(request, {"detail": too_big_detail()}, status=413)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: an /api/ address that matches no route (e.g. /api/no-such-thing) gets JSON like the routes'
    own 404s; elsewhere Django's page."""
    if not request.path.startswith("/api/"):
        return default_page_not_found(request, exception)
    return JsonResponse({"detail": "Not found: no such API address."}, status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a request Django refuses before the API sees it (a body over DATA_UPLOAD_MAX_MEMORY_SIZE read
    by the CSRF check, a bad Host) gets JSON under /api/, Django's page elsewhere."""
    if not request.path.startswith("/api/"):
        return default_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": too_big_detail()}, status=413)
    return JsonResponse({"detail": "Bad request."}, status=400)


def form_errors(form) -> HttpError:
    error = HttpError(422, "Invalid input.")
    error.errors = {field: [str(m) for m in messages] for field, messages in form.errors.items()}
    return error


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    body = {"detail": str(exc)}
    if getattr(exc, "errors", None):
        body["errors"] = exc.errors
    body.update(getattr(exc, "extra", None) or {})  # e.g. the current storyboard with a conflict
    return api.create_response(request, body, status=exc.status_code)


# --- schemas --------------------------------------------------------------------------------------------
# Text fields are checked by productions.validation (no lone surrogates, NUL or control characters; one line
# where it must be; a maximum length), so the 422 names the field before anything is written.
class ProjectIn(Schema):
    name: line(MAX_TITLE_CHARS, min_length=1)
    description: text(MAX_DESCRIPTION_CHARS) = ""


class ProjectOut(Schema):
    id: int
    name: str
    description: str
    role: str | None = None


class EpisodeIn(Schema):
    title: line(MAX_TITLE_CHARS, min_length=1)
    synopsis: text(MAX_PROMPT_CHARS, min_length=1)
    style: text(MAX_NOTES_CHARS) = ""
    negative_prompt: text(MAX_NOTES_CHARS) = ""
    seed: int = 0
    duration_s: float = DELIVERY_SPEC.min_duration_s
    width: int = DELIVERY_SPEC.width
    height: int = DELIVERY_SPEC.height
    fps: int = DELIVERY_SPEC.fps
    min_bitrate_bps: int = DELIVERY_SPEC.min_bitrate_bps
    segment_count: int | None = Field(None, description="blank: as many as the model needs, one native run each")
    video_model: line(MAX_CHOICE_CHARS) = Field(
        "", description="a video model profile (GET /api/models); blank: the instance's")
    keyframe_model: line(MAX_CHOICE_CHARS) = Field(
        "", description="an image model profile for keyframes; blank: the instance's")
    transitions: line(MAX_TRANSITIONS_CHARS) = Field(
        "", description="how segments join, e.g. '3: cut; 5: dissolve 12; 6: fade 24' (blank: every segment "
                        "continues the one before)")
    interpolation: line(MAX_CHOICE_CHARS) = Field(
        "", description="none, hold, mci, rife or blend; blank: the model's default")
    native_fps: int | None = Field(None, description="generation rate; blank: the model's default")
    backend: line(MAX_CHOICE_CHARS) = ""
    upscaler: line(MAX_CHOICE_CHARS) = ""
    start: bool = False


class SegmentOut(Schema):
    index: int
    status: str
    progress: float
    prompt: str
    seed: int
    attempts: int
    error: str = Field(description="why the segment failed, in one plain line (blank when it did not)")
    error_details: str = Field("", description="the technical log behind `error` (ffmpeg's output, a traceback)")
    delivered_frames: int
    join: str
    join_frames: int
    timings: dict
    backend_info: dict
    video_url: str | None
    review: str = "unreviewed"


class RejectIn(Schema):
    reason: text(MAX_REASON_CHARS, min_length=1)
    prompt: text(MAX_PROMPT_CHARS) | None = None
    render: bool = Field(False, description="true: start the render at once (what POST .../render does); "
                                            "by default the decision is collected and one render follows "
                                            "POST .../render or the last open decision")


class ApproveIn(Schema):
    reason: text(MAX_REASON_CHARS) = ""  # required only to override a segment that failed automatic QA


class ErrorOut(Schema):
    detail: str


class InvalidOut(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(description="the fields that are wrong, each with what is wrong")


# The errors a route may answer, for the schema (the bodies come from the handlers above).
BAD_JSON = {400: ErrorOut, 413: ErrorOut}  # a body that is not JSON, or over DATA_UPLOAD_MAX_MEMORY_SIZE
NOT_FOUND = {404: ErrorOut}
PRODUCER = {403: ErrorOut, 404: ErrorOut}
CONFLICT = {409: ErrorOut}
INVALID = {422: InvalidOut}


class AttemptOut(Schema):
    number: int
    outcome: str
    backend: str
    server: str
    seed: int
    prompt: str
    error: str
    decision: str
    reason: str
    reviewer: str | None
    reviewed_at: datetime | None
    qa: dict
    started_at: datetime
    finished_at: datetime | None
    preview_url: str | None
    video_url: str | None


class CheckOut(Schema):
    name: str
    passed: bool
    measured: object = None
    expected: object = None
    detail: str = ""


class EpisodeOut(Schema):
    id: int
    project_id: int
    title: str
    status: str
    stage: str
    error: str = Field(description="why the render failed, in one plain line (blank when it did not)")
    error_details: str = Field("", description="the technical log behind `error` (ffmpeg's output, a traceback)")
    progress: float
    backend: str
    generator_is_ai: bool
    generator_label: str
    seed: int
    duration_s: float
    width: int
    height: int
    fps: int
    min_bitrate_bps: int
    transitions: str
    interpolation: str
    interpolation_label: str
    native_fps: int
    video_model: str
    keyframe_model: str
    plan: dict | None = Field(None, description="the plan (model, native size and rate, upscale factor, "
                                                "segments with their native and delivered frames)")
    plan_error: str | None = None
    created_at: datetime
    finished_at: datetime | None
    timings: dict
    video_url: str | None
    conformance: list[CheckOut] | None
    segments: list[SegmentOut]


def generator_label(backend: str) -> tuple[bool, str]:
    if backend == Episode.Backend.BUILTIN:
        return False, "Built-in generator (procedural frames, not AI output)"
    return True, "ComfyUI (AI generation)"


def episode_out(episode: Episode) -> dict:
    is_ai, label = generator_label(episode.backend_name())
    report = episode.latest_conformance()
    segments = list(episode.segments.order_by("index"))
    profile = episode.shown_profile()
    plan, plan_error = episode.plan_or_error(segments)
    return {
        "id": episode.pk,
        "project_id": episode.project_id,
        "title": episode.title,
        "status": episode.status,
        "stage": episode.stage,
        "error": episode.error,
        "error_details": episode.error_details,
        "progress": episode.progress(segments),
        "backend": episode.backend_name(),
        "generator_is_ai": is_ai,
        "generator_label": label,
        "seed": episode.seed,
        "duration_s": episode.duration_s,
        "width": episode.width,
        "height": episode.height,
        "fps": episode.fps,
        "min_bitrate_bps": episode.min_bitrate_bps,
        "transitions": episode.transitions,
        "interpolation": profile.interpolation if profile else episode.interpolation,
        "interpolation_label": profile.label() if profile else "",
        "native_fps": profile.native_fps if profile else (episode.native_fps or 0),
        "video_model": plan.model if plan else episode.video_model,
        "keyframe_model": episode.keyframe_model or settings.TOWER_KEYFRAME_MODEL,
        "plan": plan.as_dict() if plan else None,
        "plan_error": plan_error,
        "created_at": episode.created_at,
        "finished_at": episode.finished_at,
        "timings": episode.timings,
        "video_url": f"/api/episodes/{episode.pk}/video" if episode.final_file else None,
        "conformance": report.checks if report else None,
        "segments": [
            {
                "index": s.index, "status": s.status, "progress": s.progress, "prompt": s.prompt,
                "seed": s.seed, "attempts": s.attempts, "error": s.error, "error_details": s.error_details,
                "delivered_frames": s.delivered_frames, "join": s.join, "join_frames": s.join_frames,
                "timings": s.timings, "backend_info": s.backend_info,
                "video_url": f"/api/episodes/{episode.pk}/segments/{s.index}/video"
                if s.file("proxy_path") else None,
                "review": s.current_review(),
            }
            for s in segments
        ],
    }


# --- access ---------------------------------------------------------------------------------------------
def project_for(request: HttpRequest, project_id: int, *, produce: bool = False) -> Project:
    """The project, by the rules of productions.access: 404 if not the caller's to see, 403 if `produce` and
    the caller may only look."""
    try:
        return access.require_project(request.user, project_id, produce=produce)[0]
    except access.Refused as exc:
        raise HttpError(exc.status, str(exc)) from None


def episode_and_access_for(request: HttpRequest, episode_id: int, *,
                           produce: bool = False) -> tuple[Episode, access.Access]:
    """The episode and the caller's access to it (one query), by the rules of productions.access."""
    try:
        return access.require_episode(request.user, episode_id, produce=produce)
    except access.Refused as exc:
        raise HttpError(exc.status, str(exc)) from None


def episode_for(request: HttpRequest, episode_id: int, *, produce: bool = False) -> Episode:
    return episode_and_access_for(request, episode_id, produce=produce)[0]


# --- routes ---------------------------------------------------------------------------------------------
@api.get("/models", response=list[dict], tags=["models"])
def list_models(request: HttpRequest):
    """The generation model profiles of this instance (video and keyframe models): native size, frames per run,
    native rate, conditioning, how each reaches the delivery rate, estimated VRAM and its source."""
    return [p.as_dict() for p in sorted(profiles().values(), key=lambda p: (p.kind, p.backend, p.name))]


@api.get("/projects", response=list[ProjectOut], tags=["projects"])
def list_projects(request: HttpRequest):
    return [
        {"id": p.pk, "name": p.name, "description": p.description, "role": caller.role}
        for p, caller in access.projects_with_access(request.user)
    ]


@api.post("/projects", response={201: ProjectOut, **BAD_JSON, 403: ErrorOut, **INVALID}, tags=["projects"])
def create_project(request: HttpRequest, payload: ProjectIn):
    """Staff create projects (anyone signed in, when TOWER_ANYONE_CAN_CREATE_PROJECTS is on); the creator
    becomes its producer."""
    if not access.can_create_projects(request.user):
        raise HttpError(403, access.CREATE_REFUSAL)
    form = ProjectForm(data=payload.dict())
    if not form.is_valid():
        raise form_errors(form)
    with transaction.atomic():
        project = form.save()
        Membership.objects.create(project=project, user=request.user, role=Membership.PRODUCER)
    return Status(201, {"id": project.pk, "name": project.name, "description": project.description,
                       "role": Membership.PRODUCER})


@api.get("/projects/{project_id}/episodes", response={200: list[EpisodeOut], **NOT_FOUND}, tags=["episodes"])
def list_episodes(request: HttpRequest, project_id: int):
    project = project_for(request, project_id)
    return [episode_out(e) for e in project.episodes.all()]


@api.post("/projects/{project_id}/episodes", response={201: EpisodeOut, **BAD_JSON, **PRODUCER, **INVALID},
          tags=["episodes"])
def create_episode(request: HttpRequest, project_id: int, payload: EpisodeIn):
    project = project_for(request, project_id, produce=True)
    data = payload.dict()
    start = data.pop("start")
    form = EpisodeForm(data=data)
    if not form.is_valid():
        raise form_errors(form)
    with transaction.atomic():
        episode = form.save(commit=False)
        episode.project = project
        episode.created_by = request.user
        episode.save()
    draft_or_error(episode)  # a plan error leaves it without shots: plan_error and the storyboard say why
    if start:
        start_render(episode)
    return Status(201, episode_out(episode))


@api.get("/episodes/{episode_id}", response={200: EpisodeOut, **NOT_FOUND}, tags=["episodes"])
def get_episode(request: HttpRequest, episode_id: int):
    return episode_out(episode_for(request, episode_id))


@api.post("/episodes/{episode_id}/render", response={202: EpisodeOut, **PRODUCER, **CONFLICT}, tags=["renders"])
def render(request: HttpRequest, episode_id: int):
    """Start the render, or resume one that failed or was cancelled (finished segments are kept), or make the
    segments rejected with `render: false` again, all in this one render."""
    episode = episode_for(request, episode_id, produce=True)
    refusal = render_refusal(episode)
    if refusal:
        field, sentence = refusal
        error = HttpError(409, sentence)
        if field != "status":
            error.errors = {field: [sentence]}
        raise error
    if not start_render(episode):
        raise HttpError(409, f"This episode is already {episode.status}.")
    return Status(202, episode_out(episode))


@api.post("/episodes/{episode_id}/cancel", response={202: EpisodeOut, **PRODUCER, **CONFLICT}, tags=["renders"])
def cancel(request: HttpRequest, episode_id: int):
    episode = episode_for(request, episode_id, produce=True)
    if not episode.is_active:
        raise HttpError(409, f"Nothing to cancel: the episode is {episode.status}.")
    Episode.objects.filter(pk=episode.pk).update(cancel_requested=True)
    episode.refresh_from_db()
    return Status(202, episode_out(episode))


@api.get("/episodes/{episode_id}/video", tags=["downloads"], response={200: None, **NOT_FOUND})
def download_episode(request: HttpRequest, episode_id: int):
    episode = episode_for(request, episode_id)
    if not episode.final_file:
        raise HttpError(404, "The final video is not rendered yet.")
    return serve_file(request, episode.final_file, download_name(episode, ".mp4"))


api.api_operation(["HEAD"], "/episodes/{episode_id}/video", include_in_schema=False)(download_episode)


@api.get("/episodes/{episode_id}/segments/{index}/video", tags=["downloads"], response={200: None, **NOT_FOUND})
def download_segment(request: HttpRequest, episode_id: int, index: int):
    episode = episode_for(request, episode_id)
    segment = get_object_or_404(episode.segments, index=index)
    path = segment.file("proxy_path")
    if not path:
        raise HttpError(404, f"Segment {index} is not rendered yet.")
    return serve_file(request, path, download_name(episode, f"-segment-{index:02d}.mp4"))


api.api_operation(["HEAD"], "/episodes/{episode_id}/segments/{index}/video", include_in_schema=False)(download_segment)


# --- review ---------------------------------------------------------------------------------------------
def review_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ReviewError as exc:
        error = HttpError(exc.status, str(exc))
        if exc.field:
            error.errors = {exc.field: [str(exc)]}
        raise error from None


def optional_reason(request: HttpRequest) -> str:
    """The approve body is optional (a plain POST approves): {"reason": "..."} when there is one."""
    if request.content_type != "application/json":
        return request.POST.get("reason", "")  # a form post, or no body at all
    if not request.body.strip():
        return ""
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        raise HttpError(400, 'The body must be JSON like {"reason": "..."}, or empty.') from None
    try:
        return ApproveIn.model_validate(data).reason
    except PydanticValidationError as exc:
        error = HttpError(422, "Invalid input.")
        error.errors = field_errors(exc.errors())
        raise error from None


@api.post("/episodes/{episode_id}/segments/{index}/approve", tags=["review"],
          response={200: EpisodeOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID},
          openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {
              "type": "object", "properties": {"reason": {"type": "string", "maxLength": MAX_REASON_CHARS}}}}}}})
def approve(request: HttpRequest, episode_id: int, index: int):
    """Approve the segment's current attempt. The last approval (with a conforming final video) delivers. A
    segment flagged by automatic QA needs a `reason` (QA overridden). Decisions are collected: when this one
    is the last open decision and there are changes (rejected segments, an overridden one), one render starts
    (the answer's status is then "queued")."""
    episode = episode_for(request, episode_id, produce=True)
    segment = get_object_or_404(episode.segments.select_related("episode"), index=index)
    reason = optional_reason(request)
    return episode_out(review_call(decide, segment, approve_segment, request.user, reason).episode)


@api.post("/episodes/{episode_id}/segments/{index}/reject", tags=["review"],
          response={202: EpisodeOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def reject(request: HttpRequest, episode_id: int, index: int, payload: RejectIn):
    """Reject the segment with a reason: it waits to be made again with a new seed (and `prompt`, if given:
    it becomes the shot's action). The rejected attempt's files are kept. With a first-frame model, the
    segments chained after it (continuous joins, up to the next cut, dissolve or fade) started from its last
    frame: they are made again with it, keeping their seeds (their attempts are archived as rejected with that
    reason, and an approval of them is withdrawn); the answer's segments show them pending. Decisions are
    collected: one render
    makes every rejected segment again and stitches once, when you POST /episodes/{id}/render or when this was
    the last open decision (the answer's status is then "queued"); `render: true` starts it now."""
    episode = episode_for(request, episode_id, produce=True)
    segment = get_object_or_404(episode.segments.select_related("episode"), index=index)
    outcome = review_call(decide, segment, reject_segment, request.user, payload.reason, payload.prompt)
    episode = outcome.episode
    if payload.render and not outcome.rendering:
        refusal = render_refusal(episode)
        if refusal is None:
            start_render(episode)
    return Status(202, episode_out(episode))


@api.get("/episodes/{episode_id}/segments/{index}/attempts", response={200: list[AttemptOut], **NOT_FOUND},
         tags=["review"])
def attempts(request: HttpRequest, episode_id: int, index: int):
    episode = episode_for(request, episode_id)
    segment = get_object_or_404(episode.segments, index=index)
    rows = SegmentAttempt.objects.filter(segment=segment).select_related("reviewer").order_by("number", "started_at")
    base = f"/episodes/{episode.pk}/segments/{index}/attempts"
    return [{
        "number": a.number, "outcome": a.outcome, "backend": a.backend, "server": a.server, "seed": a.seed,
        "prompt": a.prompt, "error": a.error, "decision": a.decision, "reason": a.reason,
        "reviewer": a.reviewer.get_username() if a.reviewer else None, "reviewed_at": a.reviewed_at,
        "qa": a.qa, "started_at": a.started_at, "finished_at": a.finished_at,
        "preview_url": f"{base}/{a.pk}/preview/" if a.preview_path else None,
        "video_url": f"{base}/{a.pk}/video/" if a.video_path else None,
    } for a in rows]


def _mount_routers() -> None:
    """The storyboard, character bible, keyframe, delivery package, note, review-flow/version and team routes,
    each in a module of its own."""
    from productions import api_characters, api_keyframes, api_notes, api_package, api_review, api_storyboard, api_team

    api.add_router("", api_review.router, tags=["review"])
    api.add_router("", api_storyboard.router, tags=["storyboard"])
    api.add_router("", api_characters.router, tags=["characters"])
    api.add_router("", api_keyframes.router, tags=["keyframes"])
    api.add_router("", api_package.router, tags=["downloads"])
    api.add_router("", api_notes.router, tags=["notes"])
    api.add_router("", api_team.router, tags=["team"])


_mount_routers()
