"""The review room's pages: a segment's clip with its notes and timeline (any kept attempt), and the comparison
of two attempts side by side or by a wipe. The final video's room sits on the episode page (`final_room`).
Notes are written, resolved and deleted through the API (productions.api_notes) by static/review_room.js."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from productions.access import Access
from productions.models import Episode, Segment
from productions.notes import Clip, attempt_clips, clip_timeline, final_clip, timeline
from productions.views import episode_and_access


def room(episode: Episode, access: Access, clip: Clip, tl: dict, *, key: str) -> dict:
    """What templates/productions/_review_room.html needs for one clip."""
    # The final's room also lists the notes on the segments' current clips, where the final shows them.
    query = ("final=true&with_segments=true" if clip.segment is None
             else f"segment={clip.segment.index}&attempt={clip.attempt_number}")
    return {
        "key": key,
        "clip": clip,
        "timeline": tl,
        "notes_url": f"/api/episodes/{episode.pk}/notes?{query}",
        "post_url": f"/api/episodes/{episode.pk}/notes",
        "note_url": "/api/notes/",
        "segment": clip.segment.index if clip.segment is not None else "",
        "attempt": clip.attempt_number or "",
        "can_produce": access.can_produce,
    }


def final_room(episode: Episode, access: Access, segments: list[Segment]) -> dict | None:
    """The episode page's room under the final video (None while there is no final video)."""
    clip = final_clip(episode, segments)
    return room(episode, access, clip, timeline(episode, segments), key="final") if clip else None


def _segment(episode: Episode, index: int) -> Segment:
    return get_object_or_404(episode.segments, index=index)


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 9 else None


def segment_view(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """One segment's clip (`?attempt=N`, default the current one) with its notes, timeline and drawing."""
    episode, access = episode_and_access(request, pk)
    segment = _segment(episode, index)
    clips = attempt_clips(episode, segment)
    wanted = _number(request.GET.get("attempt"))
    if "attempt" in request.GET and wanted is None:
        raise Http404("No such attempt.")
    chosen = next((c for c in clips if c.attempt_number == wanted), None) if wanted is not None else (
        next((c for c in clips if c.current), clips[-1] if clips else None))
    if wanted is not None and chosen is None:
        raise Http404(f"Segment {index} kept no clip of attempt {wanted}.")
    return render(request, "productions/segment_view.html", {
        "episode": episode, "project": episode.project, "segment": segment, "clips": clips, "chosen": chosen,
        "room": room(episode, access, chosen, clip_timeline(chosen), key=f"segment-{index}") if chosen else None,
        "can_produce": access.can_produce,
    })


def attempt_compare(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """Two kept attempts of one segment (`?a=N&b=M`, default the two latest), side by side or by a wipe, one
    set of controls playing, pausing and seeking both."""
    episode, access = episode_and_access(request, pk)
    segment = _segment(episode, index)
    clips = attempt_clips(episode, segment)
    by_number = {c.attempt_number: c for c in clips}
    a, b = _number(request.GET.get("a")), _number(request.GET.get("b"))
    missing = [n for n in (a, b) if n is not None and n not in by_number]
    if missing:
        raise Http404(f"Segment {index} kept no clip of attempt {missing[0]}.")
    if len(clips) >= 2:
        a = clips[-2].attempt_number if a is None else a
        b = clips[-1].attempt_number if b is None else b
    left, right = by_number.get(a), by_number.get(b)
    return render(request, "productions/attempt_compare.html", {
        "episode": episode, "project": episode.project, "segment": segment, "clips": clips,
        "left": left, "right": right, "fps": episode.fps,
        "frames": max(left.frames, right.frames) if left and right else 0,
        "can_produce": access.can_produce,
    })
