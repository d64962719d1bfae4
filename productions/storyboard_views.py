"""The storyboard page: every shot of an episode as a form (producers) or as it is (viewers), and the POSTs
that change one shot each. A refused change shows the page again with the producer's text kept in the form and
the reason beside the shot; a conflict (another producer saved first) says who changed what."""

from __future__ import annotations

import math

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from productions import storyboard
from productions.lib.planning import JOIN_KINDS
from productions.validation import MAX_PROMPT_CHARS, check_text
from productions.views import episode_and_access

OPERATIONS = ("edit", "add", "delete", "split", "merge", "move")


def character_image(project_pk: int, character) -> str | None:
    if not character.reference_image:
        return None
    try:
        return reverse("character-image", args=[project_pk, character.pk])
    except NoReverseMatch:  # the character bible's view
        return None


def page(request: HttpRequest, episode, access, *, status: int = 200, kept: dict | None = None,
         conflict: str = "", errors: dict | None = None) -> HttpResponse:
    """The storyboard page. `kept`: {shot id: the values the producer submitted} shown instead of the stored
    ones; `errors`: {shot id: [messages]}."""
    state = storyboard.storyboard_state(episode, request.user, can_produce=access.can_produce)
    segments = {s.pk: s for s in episode.segments.all()}
    bible = [{"id": c.pk, "name": c.name, "image_url": character_image(episode.project_id, c)}
             for c in episode.project.characters.all()]
    kept, errors = kept or {}, errors or {}
    shots = []
    for row in state["shots"]:
        form = {"action": row["action"], "duration_s": f"{row['duration_s']:g}", "motion": f"{row['motion']:g}",
                "characters": {c["id"] for c in row["characters"]}, "join": row["join"],
                "join_frames": row["join_frames"] or ""}
        form.update(kept.get(row["id"], {}))
        shots.append({"shot": segments[row["id"]], "row": row, "form": form,
                      "errors": errors.get(row["id"], []) + row["errors"]})
    return render(request, "productions/storyboard.html", {
        "episode": episode, "project": episode.project, "storyboard": state, "shots": shots, "bible": bible,
        "can_produce": access.can_produce, "can_edit": access.can_produce and state["editable"],
        "conflict": conflict, "join_kinds": JOIN_KINDS,
    }, status=status)


def episode_storyboard(request: HttpRequest, pk: int) -> HttpResponse:
    episode, access = episode_and_access(request, pk)
    storyboard.draft_if_missing(episode)
    return page(request, episode, access)


LABELS = {"duration_s": "the duration", "motion": "the motion", "join_frames": "the transition's frames",
          "to": "the new position"}


def number(value: str, field: str, index: int) -> float | None:
    """A number typed in a shot's form (a decimal comma accepted); None when left blank."""
    value = (value or "").strip().replace(",", ".")
    if not value:
        return None
    try:
        found = float(value)
    except ValueError:
        found = math.nan
    if not math.isfinite(found):
        raise storyboard.StoryboardError(f"{storyboard.shot_name(index)}: {LABELS[field]} must be a number.",
                                         field, index)
    return found


def submitted(request: HttpRequest) -> dict:
    """The shot form's values as typed (kept in the form when the change is refused)."""
    post = request.POST
    kept = {}
    for name in ("action", "duration_s", "motion", "join", "join_frames"):
        if name in post:
            kept[name] = post[name]
    if "characters_shown" in post:
        kept["characters"] = {int(v) for v in post.getlist("characters") if v.isdigit()}
    return kept


def edit_arguments(request: HttpRequest, index: int) -> dict:
    post = request.POST
    kwargs: dict = {}
    if "action" in post:
        try:
            kwargs["action"] = check_text(post["action"], multiline=True, max_length=MAX_PROMPT_CHARS)
        except ValueError as exc:
            raise storyboard.StoryboardError(f"{storyboard.shot_name(index)}: action: {exc}", "action",
                                             index) from None
    kwargs["duration_s"] = number(post.get("duration_s", ""), "duration_s", index)
    kwargs["motion"] = number(post.get("motion", ""), "motion", index)
    if "characters_shown" in post:
        kwargs["character_ids"] = post.getlist("characters")
    if post.get("join"):
        kwargs["join"] = post["join"]
        frames = number(post.get("join_frames", ""), "join_frames", index)
        kwargs["join_frames"] = int(frames) if frames is not None else None
    return kwargs


@require_POST
def shot_change(request: HttpRequest, pk: int, index: int, op: str) -> HttpResponse:
    episode, access = episode_and_access(request, pk, produce=True)
    shot_id = request.POST.get("shot_id", "")
    shot_id = int(shot_id) if shot_id.isdigit() else None
    kept = {shot_id: submitted(request)} if shot_id else {}
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        messages.error(request, "This form had no storyboard version: reload the page and try again.")
        return redirect("episode-storyboard", episode.pk)
    user = request.user
    try:
        if op == "edit":
            storyboard.update_shot(episode, version, index, user=user, **edit_arguments(request, index))
            done = f"Shot {index + 1} saved."
        elif op == "add":
            storyboard.add_shot(episode, version, index, user=user)
            done = f"Shot {index + 2} added."
        elif op == "delete":
            storyboard.delete_shot(episode, version, index, user=user)
            done = f"Shot {index + 1} deleted."
        elif op == "split":
            storyboard.split_shot(episode, version, index, user=user)
            done = f"Shot {index + 1} split in two."
        elif op == "merge":
            storyboard.merge_shots(episode, version, index, user=user)
            done = f"Shots {index + 1} and {index + 2} merged."
        elif op == "move":
            to = number(request.POST.get("to", ""), "to", index)
            to_index = int(to) if to is not None and to == int(to) else -1
            storyboard.move_shot(episode, version, index, to_index, user=user)
            done = f"Shot {index + 1} moved to {to_index + 1}."
        else:
            return redirect("episode-storyboard", episode.pk)
    except storyboard.Conflict as exc:
        episode.refresh_from_db()
        return page(request, episode, access, status=409, kept=kept, conflict=str(exc))
    except storyboard.NotEditable as exc:
        messages.error(request, str(exc))
        return page(request, episode, access, status=409, kept=kept)
    except storyboard.StoryboardError as exc:
        episode.refresh_from_db()
        errors = {}
        if shot_id:
            errors[shot_id] = [str(exc)]
        else:
            messages.error(request, str(exc))
        return page(request, episode, access, status=422, kept=kept, errors=errors)
    messages.success(request, done)
    return redirect(reverse("episode-storyboard", args=[episode.pk]) + "#storyboard")
