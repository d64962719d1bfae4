"""REST routes (django-ninja router, mounted on productions.api.api): review notes on frames, and the timeline.

The rules are productions.notes': anyone who may see the episode writes notes; the author or a producer resolves
or deletes them; the author edits the text. Errors: 404 (not yours to see), 403 (not yours to change), 409 (no
clip to note yet), 422 naming the field (text, frame_start, frame_end, segment, attempt, drawing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import StrictInt

from productions import access
from productions.api import BAD_JSON, CONFLICT, INVALID, NOT_FOUND, PRODUCER, episode_and_access_for, episode_for
from productions.models import Note
from productions.notes import (
    MAX_NOTE_CHARS,
    NoteError,
    change_note,
    create_note,
    delete_note,
    note_dict,
    notes_of,
    place_on_final,
    timeline,
)
from productions.validation import text as text_field

router = Router()

MAX_NUMBER = 2**31 - 1  # frames, segment and attempt numbers: far above any clip, within every database's int
Number = Annotated[StrictInt, Field(ge=0, le=MAX_NUMBER)]  # JSON numbers only: true or "3" is refused


class NoteIn(Schema):
    text: text_field(MAX_NOTE_CHARS, min_length=1)
    frame_start: Number = Field(..., description="first frame (0-based, at the delivery rate)")
    frame_end: Number | None = Field(None, description="last frame, inclusive (default: frame_start)")
    segment: Number | None = Field(None, description="a segment's index; absent: the final video")
    attempt: Number | None = Field(None, description="the segment's attempt number (default: its current attempt)")
    drawing: Any = Field(None, description='strokes [{"color": "#ff3b30", "width": 0.004, "points": [[x, y], ...]}]'
                                           ", x and y in 0..1 of the frame")


class NotePatch(Schema):
    resolved: bool | None = None
    text: text_field(MAX_NOTE_CHARS, min_length=1) | None = None


class NoteOut(Schema):
    id: int
    episode_id: int
    segment: int | None
    attempt: int | None
    author: str | None
    text: str
    frame_start: int
    frame_end: int
    drawing: list
    resolved: bool
    created_at: datetime
    can_change: bool = Field(..., description="the caller may resolve or delete it")
    can_edit: bool = Field(..., description="the caller may edit its text (the author)")
    final_start: int | None = Field(None, description="with_segments: where a segment's note falls on the final")
    final_end: int | None = None


class TimelineSegmentOut(Schema):
    index: int
    start: int
    frames: int
    end: int
    status: str
    review: str


class TimelineOut(Schema):
    fps: int
    frames: int
    segments: list[TimelineSegmentOut]


def refused(exc: NoteError) -> HttpError:
    error = HttpError(exc.status, str(exc) if exc.status != 422 else "Invalid input.")
    if exc.status == 422 or exc.field:
        error.errors = {exc.field or "request": [str(exc)]}
    return error


def note_for(request: HttpRequest, note_id: int) -> tuple[Note, access.Access]:
    """The note and the caller's access to its episode: 404 when the episode is not theirs to see."""
    note = Note.objects.select_related("author", "segment").filter(pk=note_id).first()
    if note is None:
        raise HttpError(404, f"Note {note_id} does not exist.")
    try:
        _episode, caller = access.require_episode(request.user, note.episode_id)
    except access.Refused:
        raise HttpError(404, f"Note {note_id} does not exist.") from None
    return note, caller


@router.get("/episodes/{episode_id}/notes", response={200: list[NoteOut], **NOT_FOUND})
def list_notes(request: HttpRequest, episode_id: int, final: bool = False, with_segments: bool = False,
               segment: int | None = Query(None, ge=0, le=MAX_NUMBER),
               attempt: int | None = Query(None, ge=0, le=MAX_NUMBER)):
    """The episode's notes by frame: all of them, `final=true` those on the final video (`with_segments=true`:
    and those on the segments' current clips, placed on the final's frames in `final_start`/`final_end`),
    `segment=N` those on a segment's clips (`attempt=M`: on that attempt's)."""
    episode, caller = episode_and_access_for(request, episode_id)
    seg = None
    if segment is not None:
        seg = episode.segments.filter(index=segment).first()
        if seg is None:
            raise HttpError(404, f"The episode has no segment {segment}.")
    if final and with_segments:
        notes = list(notes_of(episode))
        placed = place_on_final(episode, list(episode.segments.order_by("index")), notes)
        return [note_dict(n, request.user, caller, placed.get(n.pk)) for n in notes
                if n.segment_id is None or n.pk in placed]
    return [note_dict(n, request.user, caller) for n in notes_of(episode, final=final, segment=seg,
                                                                   attempt_number=attempt)]


@router.post("/episodes/{episode_id}/notes", response={201: NoteOut, **BAD_JSON, **PRODUCER, **CONFLICT, **INVALID})
def add_note(request: HttpRequest, episode_id: int, payload: NoteIn):
    """A note on a frame or frame range of the final video, or of a segment's attempt; viewers may write too."""
    episode, caller = episode_and_access_for(request, episode_id)
    try:
        note = create_note(episode, request.user, text=payload.text, frame_start=payload.frame_start,
                           frame_end=payload.frame_end, segment_index=payload.segment, attempt=payload.attempt,
                           drawing=payload.drawing)
    except NoteError as exc:
        raise refused(exc) from None
    return Status(201, note_dict(note, request.user, caller))


@router.patch("/notes/{note_id}", response={200: NoteOut, **BAD_JSON, **PRODUCER, **INVALID})
def update_note(request: HttpRequest, note_id: int, payload: NotePatch):
    """Resolve or reopen (`resolved`: the author or a producer), or edit the text (the author)."""
    note, caller = note_for(request, note_id)
    try:
        note = change_note(note, request.user, caller, resolved=payload.resolved, text=payload.text)
    except NoteError as exc:
        raise refused(exc) from None
    return note_dict(note, request.user, caller)


@router.delete("/notes/{note_id}", response={204: None, **PRODUCER})
def remove_note(request: HttpRequest, note_id: int):
    note, caller = note_for(request, note_id)
    try:
        delete_note(note, request.user, caller)
    except NoteError as exc:
        raise refused(exc) from None
    return Status(204, None)


@router.get("/episodes/{episode_id}/timeline", response={200: TimelineOut, **NOT_FOUND})
def get_timeline(request: HttpRequest, episode_id: int):
    """The final video's timeline: each segment's first frame and frame count (as stitched) and its state."""
    return timeline(episode_for(request, episode_id))
