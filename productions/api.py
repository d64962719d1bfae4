"""The REST API (django-ninja): projects, episodes, renders, downloads. OpenAPI docs at /api/docs."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import django_auth

from productions.catalog import profiles
from productions.downloads import download_name, serve_file
from productions.forms import EpisodeForm, ProjectForm
from productions.lib.spec import DELIVERY_SPEC
from productions.models import Episode, Membership, Project, SegmentAttempt
from productions.review import ReviewError, approve_segment, reject_segment
from productions.tasks import start_render

api = NinjaAPI(
    title="Tower API",
    version="1",
    description="Create projects and episodes, start or resume renders, follow progress, download videos.",
    auth=django_auth,
    docs_decorator=login_required,
    urls_namespace="api",
)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError):
    """Name the offending field plainly: {"errors": {"seed": ["Input should be a valid integer"]}}."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", []) if part not in ("body", "payload", "query", "path")]
        errors.setdefault(".".join(loc) or "request", []).append(error.get("msg", "invalid"))
    return api.create_response(request, {"detail": "Invalid input.", "errors": errors}, status=422)


def form_errors(form) -> HttpError:
    error = HttpError(422, "Invalid input.")
    error.errors = {field: [str(m) for m in messages] for field, messages in form.errors.items()}
    return error


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    body = {"detail": str(exc)}
    if getattr(exc, "errors", None):
        body["errors"] = exc.errors
    return api.create_response(request, body, status=exc.status_code)


# --- schemas --------------------------------------------------------------------------------------------
class ProjectIn(Schema):
    name: str
    description: str = ""


class ProjectOut(Schema):
    id: int
    name: str
    description: str
    role: str | None = None


class EpisodeIn(Schema):
    title: str
    synopsis: str
    style: str = ""
    characters: str = ""
    negative_prompt: str = ""
    seed: int = 0
    duration_s: float = DELIVERY_SPEC.min_duration_s
    width: int = DELIVERY_SPEC.width
    height: int = DELIVERY_SPEC.height
    fps: int = DELIVERY_SPEC.fps
    min_bitrate_bps: int = DELIVERY_SPEC.min_bitrate_bps
    segment_count: int | None = Field(None, description="blank: as many as the model needs, one native run each")
    video_model: str = Field("", description="a video model profile (GET /api/models); blank: the instance's")
    keyframe_model: str = Field("", description="an image model profile for keyframes; blank: the instance's")
    transitions: str = Field("", description="how segments join, e.g. '3: cut; 5: dissolve 12; 6: fade 24' "
                                              "(blank: every segment continues the one before)")
    interpolation: str = Field("", description="none, hold, mci, rife or blend; blank: the model's default")
    native_fps: int | None = Field(None, description="generation rate; blank: the model's default")
    backend: str = ""
    upscaler: str = ""
    start: bool = False


class SegmentOut(Schema):
    index: int
    status: str
    progress: float
    prompt: str
    seed: int
    attempts: int
    error: str
    delivered_frames: int
    join: str
    join_frames: int
    timings: dict
    backend_info: dict
    video_url: str | None
    review: str = "unreviewed"


class RejectIn(Schema):
    reason: str
    prompt: str | None = None
    render: bool = Field(True, description="false: keep the episode stopped to review other segments first; "
                                           "POST .../render then makes every rejected segment again at once")


class ApproveIn(Schema):
    reason: str = ""  # required only to override a segment that failed automatic QA


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
    error: str
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
                "seed": s.seed, "attempts": s.attempts, "error": s.error,
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
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not project.can_view(request.user):
        raise HttpError(404, f"Project {project_id} does not exist.")
    if produce and not project.can_produce(request.user):
        raise HttpError(403, "Viewers cannot change this project: ask for the producer role.")
    return project


def episode_for(request: HttpRequest, episode_id: int, *, produce: bool = False) -> Episode:
    episode = Episode.objects.select_related("project").filter(pk=episode_id).first()
    if episode is None or not episode.project.can_view(request.user):
        raise HttpError(404, f"Episode {episode_id} does not exist.")
    if produce and not episode.project.can_produce(request.user):
        raise HttpError(403, "Viewers cannot start, cancel, approve or reject: ask for the producer role.")
    return episode


# --- routes ---------------------------------------------------------------------------------------------
@api.get("/models", response=list[dict], tags=["models"])
def list_models(request: HttpRequest):
    """The generation model profiles of this instance (video and keyframe models): native size, frames per run,
    native rate, conditioning, how each reaches the delivery rate, estimated VRAM and its source."""
    return [p.as_dict() for p in sorted(profiles().values(), key=lambda p: (p.kind, p.backend, p.name))]


@api.get("/projects", response=list[ProjectOut], tags=["projects"])
def list_projects(request: HttpRequest):
    return [
        {"id": p.pk, "name": p.name, "description": p.description, "role": p.role_of(request.user)}
        for p in Project.visible_to(request.user)
    ]


@api.post("/projects", response={201: ProjectOut}, tags=["projects"])
def create_project(request: HttpRequest, payload: ProjectIn):
    form = ProjectForm(data=payload.dict())
    if not form.is_valid():
        raise form_errors(form)
    with transaction.atomic():
        project = form.save()
        Membership.objects.create(project=project, user=request.user, role=Membership.PRODUCER)
    return Status(201, {"id": project.pk, "name": project.name, "description": project.description,
                       "role": Membership.PRODUCER})


@api.get("/projects/{project_id}/episodes", response=list[EpisodeOut], tags=["episodes"])
def list_episodes(request: HttpRequest, project_id: int):
    project = project_for(request, project_id)
    return [episode_out(e) for e in project.episodes.all()]


@api.post("/projects/{project_id}/episodes", response={201: EpisodeOut}, tags=["episodes"])
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
    if start:
        start_render(episode)
    return Status(201, episode_out(episode))


@api.get("/episodes/{episode_id}", response=EpisodeOut, tags=["episodes"])
def get_episode(request: HttpRequest, episode_id: int):
    return episode_out(episode_for(request, episode_id))


@api.post("/episodes/{episode_id}/render", response={202: EpisodeOut}, tags=["renders"])
def render(request: HttpRequest, episode_id: int):
    """Start the render, or resume one that failed or was cancelled (finished segments are kept), or make the
    segments rejected with `render: false` again, all in this one render."""
    episode = episode_for(request, episode_id, produce=True)
    if episode.status == Episode.Status.DELIVERED:
        raise HttpError(409, "This episode is already delivered.")
    if not start_render(episode):
        raise HttpError(409, f"This episode is already {episode.status}.")
    return Status(202, episode_out(episode))


@api.post("/episodes/{episode_id}/cancel", response={202: EpisodeOut}, tags=["renders"])
def cancel(request: HttpRequest, episode_id: int):
    episode = episode_for(request, episode_id, produce=True)
    if not episode.is_active:
        raise HttpError(409, f"Nothing to cancel: the episode is {episode.status}.")
    Episode.objects.filter(pk=episode.pk).update(cancel_requested=True)
    episode.refresh_from_db()
    return Status(202, episode_out(episode))


@api.get("/episodes/{episode_id}/video", tags=["downloads"], response={200: None})
def download_episode(request: HttpRequest, episode_id: int):
    episode = episode_for(request, episode_id)
    if not episode.final_file:
        raise HttpError(404, "The final video is not rendered yet.")
    return serve_file(request, episode.final_file, download_name(episode, ".mp4"))


api.api_operation(["HEAD"], "/episodes/{episode_id}/video", include_in_schema=False)(download_episode)


@api.get("/episodes/{episode_id}/segments/{index}/video", tags=["downloads"], response={200: None})
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
        raise HttpError(exc.status, str(exc)) from None


def optional_reason(request: HttpRequest) -> str:
    """The approve body is optional (a plain POST approves): {"reason": "..."} when there is one."""
    if request.content_type != "application/json":
        return request.POST.get("reason", "")  # a form post, or no body at all
    if not request.body.strip():
        return ""
    try:
        data = ApproveIn.model_validate_json(request.body)
    except ValueError:
        raise HttpError(422, 'The body must be JSON like {"reason": "..."}, or empty.') from None
    return data.reason


@api.post("/episodes/{episode_id}/segments/{index}/approve", response=EpisodeOut, tags=["review"],
          openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {
              "type": "object", "properties": {"reason": {"type": "string"}}}}}}})
def approve(request: HttpRequest, episode_id: int, index: int):
    """Approve the segment's current attempt. The last approval (with a conforming final video) delivers. A
    segment flagged by automatic QA needs a `reason` (QA overridden); the episode is then stitched."""
    episode = episode_for(request, episode_id, produce=True)
    segment = get_object_or_404(episode.segments.select_related("episode"), index=index)
    return episode_out(review_call(approve_segment, segment, request.user, optional_reason(request)))


@api.post("/episodes/{episode_id}/segments/{index}/reject", response={202: EpisodeOut}, tags=["review"])
def reject(request: HttpRequest, episode_id: int, index: int, payload: RejectIn):
    """Reject the segment with a reason: it is made again with a new seed (and `prompt`, if given), then the
    final video is stitched again. The rejected attempt's files are kept. With `render: false` nothing is
    queued yet: reject others too, then POST /episodes/{id}/render once."""
    episode = episode_for(request, episode_id, produce=True)
    segment = get_object_or_404(episode.segments.select_related("episode"), index=index)
    episode = review_call(reject_segment, segment, request.user, payload.reason, payload.prompt,
                          render=payload.render)
    return Status(202, episode_out(episode))


@api.get("/episodes/{episode_id}/segments/{index}/attempts", response=list[AttemptOut], tags=["review"])
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
