"""The storyboard's keyframe pages: make the missing keyframes, approve or remake one, view them."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from productions.downloads import download_name, serve_file
from productions.keyframes import (
    KeyframeError,
    approve_keyframe,
    current_file,
    make_keyframes,
    remake_keyframe,
    shot_list,
    shot_name,
)
from productions.models import Episode, KeyframeAttempt
from productions.views import visible_episode


def back_to_storyboard(episode: Episode, index: int | None = None) -> HttpResponse:
    try:
        url = reverse("episode-storyboard", args=[episode.pk])
    except NoReverseMatch:  # the storyboard page is not mounted: the episode page
        url = episode.get_absolute_url()
    return redirect(url + (f"#shot-{index}" if index is not None else ""))


def checked(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "on", "yes"}


@require_POST
def episode_keyframes(request: HttpRequest, pk: int) -> HttpResponse:
    episode = visible_episode(request, pk, produce=True)
    try:
        queued = make_keyframes(episode, request.user)
    except KeyframeError as exc:
        messages.error(request, str(exc))
    else:
        if queued:
            messages.success(request, f"Making the keyframes of {shot_list(queued)}.")
        else:
            messages.info(request, "Every shot has a keyframe (or one is being made).")
    return back_to_storyboard(episode)


@require_POST
def shot_keyframe_action(request: HttpRequest, pk: int, index: int, action: str) -> HttpResponse:
    episode = visible_episode(request, pk, produce=True)
    segment = get_object_or_404(episode.segments.select_related("episode"), index=index)
    try:
        if action == "approve":
            number = request.POST.get("number", "").strip()
            approve_keyframe(segment, request.user, int(number) if number.isdigit() else None)
            messages.success(request, f"The keyframe of {shot_name(index)} is approved.")
        elif action == "remake":
            remake_keyframe(segment, request.user, new_seed=checked(request.POST.get("new_seed")))
            messages.success(request, f"Making the keyframe of {shot_name(index)} again.")
        else:
            raise Http404("No such keyframe action.")
    except KeyframeError as exc:
        messages.error(request, str(exc))
    return back_to_storyboard(episode, index)


@require_GET
def shot_keyframe(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    episode = visible_episode(request, pk)
    segment = get_object_or_404(episode.segments, index=index)
    path = current_file(segment)
    if path is None:
        raise Http404(f"{shot_name(index).capitalize()} has no keyframe yet.")
    return serve_file(request, path, download_name(episode, f"-shot-{index + 1:02d}-keyframe{path.suffix}"))


@require_GET
def keyframe_attempt(request: HttpRequest, pk: int, attempt_id: int) -> HttpResponse:
    episode = visible_episode(request, pk)
    attempt = get_object_or_404(KeyframeAttempt.objects.select_related("segment"), pk=attempt_id,
                                segment__episode=episode)
    path = episode.media_file(attempt.path)
    if path is None or not path.exists():
        raise Http404("This keyframe kept no file.")
    return serve_file(request, path, download_name(
        episode, f"-shot-{attempt.segment.index + 1:02d}-keyframe-{attempt.number}{path.suffix}"))
