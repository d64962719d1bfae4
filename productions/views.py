"""Server-rendered pages. Login is enforced by middleware; membership and role are checked here."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from productions.access import (
    CREATE_REFUSAL,
    Access,
    Refused,
    can_create_projects,
    monitor_access,
    projects_with_access,
    require_episode,
    require_project,
)
from productions.api import generator_label
from productions.catalog import profiles
from productions.decisions import decide, render_refusal
from productions.downloads import download_name, serve_file
from productions.forms import EpisodeForm, ProjectForm
from productions.live import episode_state
from productions.models import Episode, Membership, Project, SegmentAttempt
from productions.review import (
    ReviewError,
    approve_segment,
    continued_by,
    continued_by_all,
    reject_segment,
    remade_with_it,
)
from productions.review_views import review_context
from productions.storyboard import draft_or_error
from productions.tasks import start_render

# The tag of a flash message about a render ("Render queued."): the episode page removes it once the render
# is no longer under way (static/episode.js), so it never outlives the render it announced.
RENDER_FLASH = "render-state"


def project_and_access(request: HttpRequest, pk: int, *, produce: bool = False) -> tuple[Project, Access]:
    """The project and the caller's access (productions.access, one query): 404 if not theirs to see, 403 if
    `produce` and theirs only to look at."""
    try:
        return require_project(request.user, pk, produce=produce)
    except Refused as exc:
        raise (Http404 if exc.status == 404 else PermissionDenied)(str(exc)) from None


def episode_and_access(request: HttpRequest, pk: int, *, produce: bool = False) -> tuple[Episode, Access]:
    try:
        return require_episode(request.user, pk, produce=produce)
    except Refused as exc:
        raise (Http404 if exc.status == 404 else PermissionDenied)(str(exc)) from None


def visible_project(request: HttpRequest, pk: int, *, produce: bool = False) -> Project:
    return project_and_access(request, pk, produce=produce)[0]


def visible_episode(request: HttpRequest, pk: int, *, produce: bool = False) -> Episode:
    return episode_and_access(request, pk, produce=produce)[0]


def project_list(request: HttpRequest) -> HttpResponse:
    can_create = can_create_projects(request.user)
    form = ProjectForm(request.POST or None) if can_create else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(CREATE_REFUSAL)
        if form.is_valid():
            with transaction.atomic():
                project = form.save()
                Membership.objects.create(project=project, user=request.user, role=Membership.PRODUCER)
            return redirect(project)
    rows = [{"project": project, "access": access, "episodes": project.episode_count}
            for project, access in projects_with_access(request.user)]
    return render(request, "productions/project_list.html", {"rows": rows, "form": form})


def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project, access = project_and_access(request, pk)
    return render(request, "productions/project_detail.html", {
        "project": project,
        "episodes": project.episodes.all(),
        "can_produce": access.can_produce,
    })


def episode_new(request: HttpRequest, pk: int) -> HttpResponse:
    project = visible_project(request, pk, produce=True)
    form = EpisodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            episode = form.save(commit=False)
            episode.project = project
            episode.created_by = request.user
            episode.save()
        draft_or_error(episode)  # a plan error leaves it without shots: the storyboard says why
        if request.POST.get("start"):
            start_render(episode)
            messages.add_message(request, messages.SUCCESS, "Render queued.", extra_tags=RENDER_FLASH)
            return redirect(episode)
        return redirect("episode-storyboard", episode.pk)
    return render(request, "productions/episode_form.html", {"project": project, "form": form})


def episode_context(request: HttpRequest, episode: Episode, access: Access) -> dict:
    """What the episode page and its live sections (re-fetched when a snapshot says they changed) show."""
    from productions.note_views import final_room

    is_ai, label = generator_label(episode.backend_name())
    segments = list(episode.segments.order_by("index"))  # read once: the worker may plan them meanwhile
    state = episode_state(episode, segments)
    attempts: dict[int, list[SegmentAttempt]] = {}
    for attempt in SegmentAttempt.objects.filter(segment__episode=episode).select_related("reviewer").order_by(
            "number", "started_at"):
        attempts.setdefault(attempt.segment_id, []).append(attempt)
    rows = []
    reviews = {seg_state["index"]: seg_state["review"] for seg_state in state["segments"]}
    chained_after = continued_by_all(episode, segments)  # the reject forms warn of them
    for segment, seg_state in zip(segments, state["segments"], strict=True):
        after = [other.index for other in chained_after[segment.index]]
        rows.append({"segment": segment, "state": seg_state, "attempts": attempts.get(segment.pk, []),
                     "continued_by": after, "continued_approved": [i for i in after if reviews[i] == "approved"]})
    plan, plan_error = episode.plan_or_error(segments)
    return {
        "episode": episode,
        "project": episode.project,
        "plan": plan.as_dict() if plan else None,
        "plan_error": plan_error,
        "model_label": profiles()[plan.model].label if plan and plan.model in profiles() else "",
        "state": state,
        "segment_rows": rows,
        "conformance": episode.latest_conformance(),
        "final_room": final_room(episode, access, segments),
        "can_produce": access.can_produce,
        "generator_is_ai": is_ai,
        "generator_label": label,
        **review_context(episode, segments),
    }


def episode_detail(request: HttpRequest, pk: int) -> HttpResponse:
    episode, access = episode_and_access(request, pk)
    return render(request, "productions/episode_detail.html", episode_context(request, episode, access))


def episode_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The page's live sections alone; the page's script swaps in those whose fingerprint changed."""
    episode, access = episode_and_access(request, pk)
    return render(request, "productions/_episode_live.html", episode_context(request, episode, access))


@require_POST
def segment_review(request: HttpRequest, pk: int, index: int, action: str) -> HttpResponse:
    """Record one decision (productions.decisions: nothing renders until the last open one, or Render
    changes)."""
    episode = visible_episode(request, pk, produce=True)
    segment = get_object_or_404(episode.segments.select_related("episode"), index=index)
    try:
        if action == "approve":
            outcome = decide(segment, approve_segment, request.user, request.POST.get("reason", ""))
            said = f"Segment {index} approved."
        elif action == "reject":
            after = [other.index for other in continued_by(segment)]
            outcome = decide(segment, reject_segment, request.user, request.POST.get("reason", ""),
                             request.POST.get("prompt"))
            said = f"Segment {index} rejected: it will be made again with a new seed."
            if after:
                said += (f" {remade_with_it(after)} continue{'s' if len(after) == 1 else ''} from its last frame: "
                         f"made again with it.")
        else:
            raise Http404("No such review action.")
    except ReviewError as exc:
        messages.error(request, str(exc))
        return redirect(episode)
    extra = outcome.sentence()
    messages.add_message(request, messages.SUCCESS, f"{said} {extra}".strip(),
                         extra_tags=RENDER_FLASH if outcome.rendering else "")
    return redirect(episode)


def attempt_file(request: HttpRequest, pk: int, index: int, attempt: int, kind: str) -> HttpResponse:
    episode = visible_episode(request, pk)
    row = get_object_or_404(SegmentAttempt, pk=attempt, segment__episode=episode, segment__index=index)
    relative = {"preview": row.preview_path, "video": row.video_path}.get(kind)
    path = episode.media_file(relative) if relative else None
    if not path or not path.exists():
        raise Http404("This attempt kept no such file.")
    return serve_file(request, path, download_name(episode, f"-segment-{index:02d}-attempt-{row.number}{path.suffix}"))


def monitor(request: HttpRequest) -> HttpResponse:
    if not monitor_access(request.user):
        raise PermissionDenied("The monitor is for staff.")
    from productions.monitor import monitor_state

    return render(request, "productions/monitor.html", {"state": monitor_state(with_history=True),
                                                         "heartbeat_s": settings.TOWER_HEARTBEAT_S})


@require_POST
def episode_render(request: HttpRequest, pk: int) -> HttpResponse:
    """Start, resume, or render the collected review decisions ("Render changes")."""
    episode = visible_episode(request, pk, produce=True)
    refusal = render_refusal(episode)
    if refusal:
        (messages.info if refusal[0] == "status" else messages.error)(request, refusal[1])
    elif start_render(episode):
        messages.add_message(request, messages.SUCCESS, "Render queued." if not episode.segments.exists() else
                             "Render queued: finished segments are kept.", extra_tags=RENDER_FLASH)
    else:
        messages.info(request, f"This episode is already {episode.status}.")
    return redirect(episode)


@require_POST
def episode_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    episode = visible_episode(request, pk, produce=True)
    if episode.is_active:
        Episode.objects.filter(pk=episode.pk).update(cancel_requested=True)
        messages.add_message(request, messages.INFO, "Cancelling: the render stops after the current step.",
                             extra_tags=RENDER_FLASH)
    return redirect(episode)


def episode_file(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    episode = visible_episode(request, pk)
    path = {"video": episode.final_file, "keyframe": episode.media_file(episode.keyframe_path)}.get(kind)
    if not path or not path.exists():
        raise Http404("Not rendered yet.")
    return serve_file(request, path, download_name(episode, path.suffix))


def segment_file(request: HttpRequest, pk: int, index: int, kind: str) -> HttpResponse:
    episode = visible_episode(request, pk)
    segment = get_object_or_404(episode.segments, index=index)
    field = {"video": "proxy_path", "preview": "preview_path"}.get(kind)
    path = segment.file(field) if field else None
    if not path:
        raise Http404("Not rendered yet.")
    return serve_file(request, path, download_name(episode, f"-segment-{index:02d}{path.suffix}"))


# --- the character bible and the project's style ------------------------------------------------------------
def _bible_page(request: HttpRequest, project: Project, access: Access, *, form=None, style_form=None,
                status: int = 200) -> HttpResponse:
    from productions.characters import image_url
    from productions.forms import CharacterForm, ProjectStyleForm

    can_produce = access.can_produce
    characters = [{"character": c, "image_url": image_url(c)} for c in project.characters.order_by("name")]
    return render(request, "productions/project_characters.html", {
        "project": project,
        "characters": characters,
        "can_produce": can_produce,
        "form": (form or CharacterForm(project=project)) if can_produce else None,
        "style_form": (style_form or ProjectStyleForm(instance=project)) if can_produce else None,
        "no_comfyui": not settings.TOWER_COMFYUI_URLS,
    }, status=status)


def project_characters(request: HttpRequest, pk: int) -> HttpResponse:
    """The project's character bible (list; producers add characters) and its style form."""
    from productions.forms import CharacterForm

    project, access = project_and_access(request, pk, produce=request.method == "POST")
    if request.method != "POST":
        return _bible_page(request, project, access)
    form = CharacterForm(request.POST, request.FILES, project=project)
    if form.is_valid():
        with transaction.atomic():
            character = form.save()
        messages.success(request, f"{character.name} added to the bible."
                         + (f" LoRA {form.lora_note}." if form.lora_note else ""))
        return redirect("project-characters", pk=project.pk)
    return _bible_page(request, project, access, form=form)


@require_POST
def project_style(request: HttpRequest, pk: int) -> HttpResponse:
    from productions.forms import ProjectStyleForm

    project, access = project_and_access(request, pk, produce=True)
    form = ProjectStyleForm(request.POST, instance=project)
    if form.is_valid():
        form.save()
        messages.success(request, "Project style saved: every shot's prompt uses it.")
        return redirect("project-characters", pk=project.pk)
    return _bible_page(request, project, access, style_form=form)


def _character(project: Project, cid: int):
    from productions.models import Character

    return get_object_or_404(Character, pk=cid, project=project)


def character_edit(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    from productions.characters import image_url, remove_picture
    from productions.forms import CharacterForm

    project, access = project_and_access(request, pk, produce=True)
    character = _character(project, cid)
    form = CharacterForm(request.POST or None, request.FILES or None, instance=character, project=project)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            character = form.save()
            if request.POST.get("remove_reference_image") and form.picture_png is None:
                remove_picture(character)
        messages.success(request, f"{character.name} saved." + (f" LoRA {form.lora_note}." if form.lora_note else ""))
        return redirect("project-characters", pk=project.pk)
    return render(request, "productions/character_edit.html", {
        "project": project, "character": character, "form": form, "image_url": image_url(character),
    })


@require_POST
def character_delete(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    from productions.characters import delete_character

    project, _access = project_and_access(request, pk, produce=True)
    character = _character(project, cid)
    name = character.name
    with transaction.atomic():
        delete_character(character)
    messages.success(request, f"{name} removed from the bible (and from the shots it was in).")
    return redirect("project-characters", pk=project.pk)


def character_image(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    from productions.characters import picture_path

    project, _access = project_and_access(request, pk)
    character = _character(project, cid)
    path = picture_path(character)
    if path is None:
        raise Http404("This character has no reference picture.")
    return serve_file(request, path, f"character-{character.pk}.png")
