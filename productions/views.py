"""Server-rendered pages. Login is enforced by middleware; membership and role are checked here."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from productions.api import generator_label
from productions.downloads import serve_file
from productions.forms import EpisodeForm, ProjectForm
from productions.models import Episode, Membership, Project
from productions.tasks import start_render


def visible_project(request: HttpRequest, pk: int) -> Project:
    project = get_object_or_404(Project, pk=pk)
    if not project.can_view(request.user):
        raise Http404("No such project.")
    return project


def visible_episode(request: HttpRequest, pk: int) -> Episode:
    episode = get_object_or_404(Episode.objects.select_related("project"), pk=pk)
    if not episode.project.can_view(request.user):
        raise Http404("No such episode.")
    return episode


def producer_only(request: HttpRequest, project: Project) -> None:
    if not project.can_produce(request.user):
        raise Http404("Only producers of this project can do that.")


def project_list(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save()
            Membership.objects.create(project=project, user=request.user, role=Membership.PRODUCER)
        return redirect(project)
    projects = Project.visible_to(request.user).prefetch_related("episodes")
    return render(request, "productions/project_list.html", {"projects": projects, "form": form})


def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = visible_project(request, pk)
    return render(request, "productions/project_detail.html", {
        "project": project,
        "episodes": project.episodes.all(),
        "can_produce": project.can_produce(request.user),
    })


def episode_new(request: HttpRequest, pk: int) -> HttpResponse:
    project = visible_project(request, pk)
    producer_only(request, project)
    form = EpisodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            episode = form.save(commit=False)
            episode.project = project
            episode.created_by = request.user
            episode.save()
        if request.POST.get("start"):
            start_render(episode)
            messages.success(request, "Render queued.")
        return redirect(episode)
    return render(request, "productions/episode_form.html", {"project": project, "form": form})


def episode_detail(request: HttpRequest, pk: int) -> HttpResponse:
    episode = visible_episode(request, pk)
    is_ai, label = generator_label(episode.backend_name())
    return render(request, "productions/episode_detail.html", {
        "episode": episode,
        "project": episode.project,
        "segments": episode.segments.order_by("index"),
        "conformance": episode.latest_conformance(),
        "can_produce": episode.project.can_produce(request.user),
        "generator_is_ai": is_ai,
        "generator_label": label,
    })


@require_POST
def episode_render(request: HttpRequest, pk: int) -> HttpResponse:
    episode = visible_episode(request, pk)
    producer_only(request, episode.project)
    if episode.status == Episode.Status.DELIVERED:
        messages.info(request, "This episode is already delivered.")
    elif start_render(episode):
        messages.success(request, "Render queued." if not episode.segments.exists() else
                         "Render queued: finished segments are kept.")
    else:
        messages.info(request, f"This episode is already {episode.status}.")
    return redirect(episode)


@require_POST
def episode_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    episode = visible_episode(request, pk)
    producer_only(request, episode.project)
    if episode.is_active:
        Episode.objects.filter(pk=episode.pk).update(cancel_requested=True)
        messages.info(request, "Cancelling: the render stops after the current step.")
    return redirect(episode)


def episode_file(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    episode = visible_episode(request, pk)
    path = {"video": episode.final_file, "keyframe": episode.media_file(episode.keyframe_path)}.get(kind)
    if not path or not path.exists():
        raise Http404("Not rendered yet.")
    return serve_file(request, path, f"{episode.title}{path.suffix}")


def segment_file(request: HttpRequest, pk: int, index: int, kind: str) -> HttpResponse:
    episode = visible_episode(request, pk)
    segment = get_object_or_404(episode.segments, index=index)
    field = {"video": "master_path", "preview": "preview_path"}.get(kind)
    path = segment.file(field) if field else None
    if not path:
        raise Http404("Not rendered yet.")
    return serve_file(request, path, f"{episode.title}-segment-{index:02d}{path.suffix}")
