"""REST routes of the storyboard (django-ninja router, mounted on productions.api.api): read it, edit a shot,
add, delete, split, merge and move shots. Every change names the storyboard `version` it was made from: 409 with
the current storyboard when another producer changed it meanwhile (nothing is applied), or when rendering has
started; 422 naming the field and the shot when the change is refused."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from productions import storyboard
from productions.api import BAD_JSON, INVALID, PRODUCER, ErrorOut, episode_for
from productions.validation import MAX_CHOICE_CHARS, MAX_PROMPT_CHARS, line, text

router = Router()


class StoryboardConflictOut(Schema):
    detail: str
    version: int | None = None
    storyboard: dict | None = Field(None, description="the storyboard as it is now")


class VersionIn(Schema):
    version: int = Field(description="the storyboard version the change was made from (GET .../storyboard)")


class ShotIn(VersionIn):
    action: text(MAX_PROMPT_CHARS) | None = Field(None, description="what happens in the shot")
    duration_s: float | None = Field(None, description="seconds on the timeline (within the model's limits)")
    motion: float | None = Field(None, description="camera and subject motion, 0 (still) to 1 (most)")
    characters: list[int] | None = Field(None, description="ids of the project's characters in the shot")
    join: line(MAX_CHOICE_CHARS) | None = Field(None, description="continuous, cut, dissolve or fade (into it)")
    join_frames: int | None = Field(None, description="a dissolve's or fade's length in frames (1 to 240)")


class AddIn(VersionIn):
    after: int = Field(description="the new shot goes after this shot index (-1: first)")


class MoveIn(VersionIn):
    to: int = Field(description="the index the shot moves to")


EDITS = {200: dict, **BAD_JSON, **PRODUCER, 409: StoryboardConflictOut, **INVALID}


def change(request: HttpRequest, episode_id: int, operation, *args, **kwargs) -> dict:
    """Run one storyboard operation for the caller (a producer) and answer the storyboard as it is after it."""
    episode = episode_for(request, episode_id, produce=True)
    try:
        operation(episode, *args, user=request.user, **kwargs)
    except storyboard.Conflict as exc:
        episode.refresh_from_db()
        raise conflict(str(exc), episode, request) from None
    except storyboard.NotEditable as exc:
        raise conflict(str(exc), episode, request) from None
    except storyboard.StoryboardError as exc:
        error = HttpError(422, str(exc))
        error.errors = {exc.field or "request": [str(exc)]}
        raise error from None
    episode.refresh_from_db()
    return storyboard.storyboard_state(episode, request.user, can_produce=True)


def conflict(message: str, episode, request: HttpRequest) -> HttpError:
    error = HttpError(409, message)
    state = storyboard.storyboard_state(episode, request.user, can_produce=True)
    error.extra = {"version": state["version"], "storyboard": state}
    return error


@router.get("/episodes/{episode_id}/storyboard", response={200: dict, 404: ErrorOut})
def get_storyboard(request: HttpRequest, episode_id: int):
    """The storyboard: version, whether it can still change, totals against the target duration, the model's
    limits per shot, and each shot (action, composed prompt, characters, duration and frames, join, keyframe)."""
    episode = episode_for(request, episode_id)
    storyboard.draft_if_missing(episode)
    return storyboard.storyboard_state(episode, request.user)


@router.patch("/episodes/{episode_id}/shots/{index}", response=EDITS)
def edit_shot(request: HttpRequest, episode_id: int, index: int, payload: ShotIn):
    """Change a shot: any of action, duration_s, motion, characters, join, join_frames."""
    return change(request, episode_id, storyboard.update_shot, payload.version, index, action=payload.action,
                  duration_s=payload.duration_s, motion=payload.motion, character_ids=payload.characters,
                  join=payload.join, join_frames=payload.join_frames)


@router.post("/episodes/{episode_id}/shots", response=EDITS)
def add_shot(request: HttpRequest, episode_id: int, payload: AddIn):
    """A new shot after `after`: a cut of the model's default length, with no action yet."""
    return change(request, episode_id, storyboard.add_shot, payload.version, payload.after)


@router.delete("/episodes/{episode_id}/shots/{index}", response=EDITS)
def delete_shot(request: HttpRequest, episode_id: int, index: int, version: int | None = None):
    """Delete a shot (not the last remaining one). `version` as a query parameter or in a JSON body."""
    if version is None:
        version = body_version(request)
    return change(request, episode_id, storyboard.delete_shot, version, index)


def body_version(request: HttpRequest) -> int:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise HttpError(400, 'The body must be JSON like {"version": 3}, or empty with ?version=3.') from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        error = HttpError(422, "Invalid input.")
        error.errors = {"version": ["Give the storyboard version the change was made from."]}
        raise error
    return version


@router.post("/episodes/{episode_id}/shots/{index}/split", response=EDITS)
def split_shot(request: HttpRequest, episode_id: int, index: int, payload: VersionIn):
    """Two shots of half the length each; the action split between sentences; the second continues the first."""
    return change(request, episode_id, storyboard.split_shot, payload.version, index)


@router.post("/episodes/{episode_id}/shots/{index}/merge", response=EDITS)
def merge_shot(request: HttpRequest, episode_id: int, index: int, payload: VersionIn):
    """The shot and the next one become one (never longer than one run of the model)."""
    return change(request, episode_id, storyboard.merge_shots, payload.version, index)


@router.post("/episodes/{episode_id}/shots/{index}/move", response=EDITS)
def move_shot(request: HttpRequest, episode_id: int, index: int, payload: MoveIn):
    """Move a shot to index `to` (a shot moved first becomes the opening shot: a cut)."""
    return change(request, episode_id, storyboard.move_shot, payload.version, index, payload.to)
