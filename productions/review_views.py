"""The episode page's review flow and versions: "Approve all" (a confirm step), "Reopen", each delivered
version's file, and what the page shows about them (review_context)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from productions.decisions import approve_all, needs_render, open_segments, waiting_to_be_made
from productions.downloads import download_name, serve_file
from productions.models import Episode, EpisodeVersion, Segment, file_fingerprint
from productions.review import ReviewError
from productions.versions import open_version, reopen, versions_of


def review_context(episode: Episode, segments: list[Segment]) -> dict:
    """What the page says about the collected decisions and the versions."""
    versions = versions_of(episode)
    delivered = [v for v in versions if v.is_delivered]
    opened = open_version(episode)
    final_is = None  # which delivered version the final on screen is, if any
    if delivered and episode.final_file is not None:
        fingerprint = file_fingerprint(episode.final_file)
        final_is = next((v for v in delivered if v.fingerprint == fingerprint), None)
    return {
        "open_decisions": [s.index for s in open_segments(segments)],
        "to_remake": [s.index for s in waiting_to_be_made(segments)],
        "changes_to_render": needs_render(episode, segments),
        "versions": delivered,
        "open_version": opened,
        "final_version": final_is,
    }


@require_POST
def episode_approve_all(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirm step's form: approve every segment still waiting for a decision."""
    from productions.views import RENDER_FLASH, visible_episode

    episode = visible_episode(request, pk, produce=True)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Approve all needs its confirmation: open “Approve all…” and confirm.")
        return redirect(episode)
    try:
        outcome, indexes = approve_all(episode, request.user, request.POST.get("reason", ""))
    except ReviewError as exc:
        messages.error(request, str(exc))
        return redirect(episode)
    said = f"Approved {len(indexes)} segment{'s' if len(indexes) != 1 else ''} ({', '.join(map(str, indexes))})."
    messages.add_message(request, messages.SUCCESS, f"{said} {outcome.sentence()}".strip(),
                         extra_tags=RENDER_FLASH if outcome.rendering else "")
    return redirect(episode)


@require_POST
def episode_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    from productions.views import visible_episode

    episode = visible_episode(request, pk, produce=True)
    try:
        version = reopen(episode, request.user)
    except ReviewError as exc:
        messages.error(request, str(exc))
        return redirect(episode)
    messages.success(request, f"Reopened: version {version.number} is open. Version {version.number - 1} stays "
                              "viewable below. Reject what should change, then Render changes.")
    return redirect(episode)


def version_file(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """A delivered version's final video, as it was delivered (ranges and sendfile: productions.downloads)."""
    from productions.views import visible_episode

    episode = visible_episode(request, pk)
    version = get_object_or_404(EpisodeVersion, episode=episode, number=number, delivered_at__isnull=False)
    path = version.file()
    if path is None:
        raise Http404("This version's file is gone.")
    return serve_file(request, path, download_name(episode, f"-v{version.number}{path.suffix}"))
