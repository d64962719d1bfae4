"""Review notes on frames, the timeline they sit on, and the attempts a segment can be compared by.

A note is pinned to a frame or a frame range (inclusive) of the episode's final video or of one attempt of a
segment's clip, counted in frames at the delivery rate from the clip's first frame. It may carry what the
reviewer drew on the paused frame (strokes in 0..1 frame coordinates, `check_drawing`).

Who may do what (as frame.io does it): anyone who may see the episode may write a note, viewers included;
the note's author may edit its text; the author or a producer of the project may resolve or delete it.

The timeline of the final video places each segment where the plan puts its clip (planning.clip_starts: a
dissolve's later clip starts early), coloured by its status and review; a segment clip's timeline is that clip
alone. Every attempt whose clip is kept (the current files, or an archived attempt folder, productions.review)
can be played, noted and compared.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.db import transaction
from django.urls import reverse

from productions.access import Access
from productions.lib.planning import clip_frames, clip_starts
from productions.live import version
from productions.models import Episode, Note, Segment, SegmentAttempt
from productions.validation import normalise_newlines, text_problem

MAX_NOTE_CHARS = 2000
MAX_STROKES = 200
MAX_POINTS = 20_000  # over all strokes of one drawing
MAX_STROKE_WIDTH = 0.1  # of the frame's width
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class NoteError(Exception):
    """Refused: `status` (403, 404, 409, 422) and the field the message is about, if any."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# --- what can be noted ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    """One video a note can be pinned to: the final video (segment None) or one attempt of a segment."""

    url: str
    frames: int  # frames at the delivery rate
    fps: int
    segment: Segment | None = None
    attempt_number: int | None = None
    current: bool = True  # the segment's current files (not an archived attempt)
    label: str = ""


def clip_frame_count(episode: Episode, segment: Segment) -> int:
    """Delivery-rate frames of a segment's clip, its first frame included (a chained segment's first frame is
    dropped only when the final is stitched)."""
    try:
        profile = episode.generation_profile()
        frames = clip_frames(max(segment.native_frames, 1), profile.native_fps, episode.fps,
                             profile.interpolation, chained=False)
    except ValueError:
        frames = 0
    return max(frames, segment.delivered_frames, 1)


def current_attempt_number(segment: Segment) -> int:
    attempt = segment.current_attempt()
    return attempt.number if attempt is not None else max(segment.attempts, 1)


def attempt_clips(episode: Episode, segment: Segment) -> list[Clip]:
    """Every attempt of `segment` whose clip is kept, oldest first: archived attempts, then the current one."""
    frames = clip_frame_count(episode, segment)
    clips: dict[int, Clip] = {}
    for attempt in SegmentAttempt.objects.filter(segment=segment).exclude(video_path="").order_by("number"):
        path = episode.media_file(attempt.video_path)
        if path is None or not path.exists():
            continue
        label = f"Attempt {attempt.number}" + (f" ({attempt.get_decision_display().lower()})"
                                               if attempt.decision else "")
        clips[attempt.number] = Clip(
            reverse("attempt-file", args=[episode.pk, segment.index, attempt.pk, "video"]) + f"?v={version(path)}",
            frames, episode.fps, segment, attempt.number, current=False, label=label)
    proxy = segment.file("proxy_path")
    if proxy is not None:
        number = current_attempt_number(segment)
        clips[number] = Clip(reverse("segment-file", args=[episode.pk, segment.index, "video"])
                             + f"?v={version(proxy)}", frames, episode.fps, segment, number, current=True,
                             label=f"Attempt {number} (current)")
    return [clips[n] for n in sorted(clips)]


def final_clip(episode: Episode, segments: list[Segment] | None = None) -> Clip | None:
    final = episode.final_file
    if final is None:
        return None
    plan, _error = episode.plan_or_error(segments)
    frames = plan.total_frames if plan else round(episode.duration_s * episode.fps)
    return Clip(reverse("episode-file", args=[episode.pk, "video"]) + f"?v={version(final)}", frames, episode.fps,
                label="Final video")


def segment_clip(episode: Episode, segment: Segment, attempt_number: int | None = None) -> Clip:
    """The clip of `attempt_number` (default: the current attempt); NoteError 409 when it kept no clip."""
    clips = attempt_clips(episode, segment)
    if attempt_number is None:
        chosen = next((c for c in clips if c.current), None)
        if chosen is None:
            raise NoteError(409, f"Segment {segment.index} has no clip yet: nothing to note.", "segment")
        return chosen
    chosen = next((c for c in clips if c.attempt_number == attempt_number), None)
    if chosen is None:
        raise NoteError(422, f"Segment {segment.index} has no kept clip of attempt {attempt_number}.", "attempt")
    return chosen


# --- the timeline -------------------------------------------------------------------------------------------
def timeline(episode: Episode, segments: list[Segment] | None = None) -> dict:
    """The final video's timeline: its frame count and each segment's first frame, frame count and state.
    The segments' first frames are the plan's (clip_starts over their delivered frames and joins), which is
    how the final video is stitched."""
    segments = list(episode.segments.order_by("index")) if segments is None else segments
    plan, _error = episode.plan_or_error(segments)
    if plan is None or not segments:
        return {"fps": episode.fps, "frames": 0, "segments": []}
    delivered = [s.delivered_frames for s in plan.segments]
    starts = clip_starts(delivered, plan.joins)
    total = plan.total_frames
    rows = []
    for segment, start, frames in zip(segments, starts, delivered, strict=True):
        rows.append({
            "index": segment.index, "start": start, "frames": frames, "end": start + frames - 1,
            "status": segment.status, "review": segment.current_review(),
            "label": f"Segment {segment.index}: {segment.get_status_display().lower()}"
                     + ("" if segment.current_review() == Segment.Review.UNREVIEWED
                        else f", {segment.get_review_display().lower()}"),
            "left_pct": round(100 * start / total, 3) if total else 0,
            "width_pct": round(100 * frames / total, 3) if total else 0,
        })
    return {"fps": episode.fps, "frames": total, "segments": rows}


def place_on_final(episode: Episode, segments: list[Segment], notes: list[Note]) -> dict[int, tuple[int, int]]:
    """Where each note on a segment's current clip falls on the final video: {note id: (first, last frame)}.
    A chained segment's clip begins with the frame the segment before ended on, which the stitch drops; frames
    outside what the final shows of the segment are put on its nearest end."""
    rows = {row["index"]: row for row in timeline(episode, segments)["segments"]}
    by_pk = {s.pk: s for s in segments}
    current = {s.pk: current_attempt_number(s) for s in segments if s.file("proxy_path") is not None}
    placed = {}
    for note in notes:
        segment = by_pk.get(note.segment_id)
        if segment is None or current.get(segment.pk) != note.attempt_number or segment.index not in rows:
            continue
        row = rows[segment.index]
        offset = row["start"] - (1 if segment.index and segment.join_spec.chained else 0)
        placed[note.pk] = tuple(min(max(frame + offset, row["start"]), row["end"])
                                for frame in (note.frame_start, note.frame_end))
    return placed


def clip_timeline(clip: Clip) -> dict:
    return {"fps": clip.fps, "frames": clip.frames, "segments": []}


# --- checking what a reviewer sent ------------------------------------------------------------------------
def check_text(value: object) -> str:
    if not isinstance(value, str):
        raise NoteError(422, "The note's text must be text.", "text")
    value = normalise_newlines(value).strip()
    if not value:
        raise NoteError(422, "Write the note: its text cannot be empty.", "text")
    problem = text_problem(value, multiline=True, max_length=MAX_NOTE_CHARS)
    if problem:
        raise NoteError(422, problem, "text")
    return value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_drawing(drawing: object) -> list[dict]:
    """The strokes as stored: [{"color": "#rrggbb", "width": w, "points": [[x, y], ...]}], x, y in 0..1 of the
    frame, w in (0, MAX_STROKE_WIDTH]; NoteError 422 naming the place that is wrong."""
    if drawing is None:
        return []
    if not isinstance(drawing, list):
        raise NoteError(422, "The drawing must be a list of strokes.", "drawing")
    if len(drawing) > MAX_STROKES:
        raise NoteError(422, f"The drawing has {len(drawing)} strokes: at most {MAX_STROKES}.", "drawing")
    strokes, total = [], 0
    for i, stroke in enumerate(drawing):
        where = f"drawing[{i}]"
        if not isinstance(stroke, dict) or set(stroke) - {"color", "width", "points"}:
            raise NoteError(422, f"{where} must be an object with color, width and points.", "drawing")
        color = stroke.get("color", "#ff3b30")
        if not isinstance(color, str) or not COLOUR.match(color):
            raise NoteError(422, f"{where}.color must be a colour like #ff3b30.", "drawing")
        width = stroke.get("width", 0.004)
        if not _number(width) or not 0 < width <= MAX_STROKE_WIDTH:
            raise NoteError(422, f"{where}.width must be a number above 0 and at most {MAX_STROKE_WIDTH} "
                                 "(of the frame's width).", "drawing")
        points = stroke.get("points")
        if not isinstance(points, list) or not points:
            raise NoteError(422, f"{where}.points must be a list of [x, y] points.", "drawing")
        total += len(points)
        if total > MAX_POINTS:
            raise NoteError(422, f"The drawing has more than {MAX_POINTS} points.", "drawing")
        clean = []
        for j, point in enumerate(points):
            if (not isinstance(point, list) or len(point) != 2 or not all(_number(v) for v in point)
                    or not all(0 <= v <= 1 for v in point)):
                raise NoteError(422, f"{where}.points[{j}] must be [x, y] with x and y from 0 to 1 "
                                     "(fractions of the frame).", "drawing")
            clean.append([round(float(point[0]), 5), round(float(point[1]), 5)])
        strokes.append({"color": color.lower(), "width": float(width), "points": clean})
    return strokes


def check_frames(start: object, end: object, clip: Clip) -> tuple[int, int]:
    if not isinstance(start, int) or isinstance(start, bool):
        raise NoteError(422, "The first frame must be a whole number.", "frame_start")
    end = start if end is None else end
    if not isinstance(end, int) or isinstance(end, bool):
        raise NoteError(422, "The last frame must be a whole number.", "frame_end")
    last = clip.frames - 1
    if not 0 <= start <= last:
        raise NoteError(422, f"Frame {start} is not in the clip: its frames are 0 to {last}.", "frame_start")
    if not 0 <= end <= last:
        raise NoteError(422, f"Frame {end} is not in the clip: its frames are 0 to {last}.", "frame_end")
    if end < start:
        raise NoteError(422, f"The last frame ({end}) comes before the first ({start}).", "frame_end")
    return start, end


# --- reading and changing notes ---------------------------------------------------------------------------
def notes_of(episode: Episode, *, final: bool = False, segment: Segment | None = None,
             attempt_number: int | None = None):
    notes = episode.notes.select_related("author", "segment")
    if final:
        notes = notes.filter(segment__isnull=True)
    elif segment is not None:
        notes = notes.filter(segment=segment)
        if attempt_number is not None:
            notes = notes.filter(attempt_number=attempt_number)
    return notes.order_by("frame_start", "created_at")


def may_change(note: Note, user, access: Access) -> bool:
    """Resolve or delete: the author or a producer."""
    return access.can_produce or (note.author_id is not None and note.author_id == user.pk)


def note_dict(note: Note, user=None, access: Access | None = None, on_final: tuple[int, int] | None = None) -> dict:
    """The note as the API and the page's script see it; `on_final`: where a segment's note falls on the final."""
    return {
        "final_start": on_final[0] if on_final else None,
        "final_end": on_final[1] if on_final else None,
        "id": note.pk,
        "episode_id": note.episode_id,
        "segment": note.segment.index if note.segment_id else None,
        "attempt": note.attempt_number,
        "author": note.author.get_username() if note.author_id else None,
        "text": note.text,
        "frame_start": note.frame_start,
        "frame_end": note.frame_end,
        "drawing": note.drawing,
        "resolved": note.resolved,
        "created_at": note.created_at,
        "can_change": bool(user is not None and access is not None and may_change(note, user, access)),
        "can_edit": bool(user is not None and note.author_id == getattr(user, "pk", None)),
    }


def create_note(episode: Episode, user, *, text: object, frame_start: object, frame_end: object = None,
                segment_index: object = None, attempt: object = None, drawing: object = None) -> Note:
    """A note from anyone who may see the episode (the caller checked that). NoteError names what is wrong."""
    text = check_text(text)
    strokes = check_drawing(drawing)
    if segment_index is None:
        if attempt is not None:
            raise NoteError(422, "An attempt is chosen only with a segment.", "attempt")
        clip = final_clip(episode)
        if clip is None:
            raise NoteError(409, "The episode has no final video yet: note a segment's clip instead.", "segment")
    else:
        if not isinstance(segment_index, int) or isinstance(segment_index, bool):
            raise NoteError(422, "The segment must be a segment number.", "segment")
        if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
            raise NoteError(422, "The attempt must be an attempt number.", "attempt")
        segment = episode.segments.filter(index=segment_index).first()
        if segment is None:
            raise NoteError(422, f"The episode has no segment {segment_index}.", "segment")
        clip = segment_clip(episode, segment, attempt)
    start, end = check_frames(frame_start, frame_end, clip)
    with transaction.atomic():
        return Note.objects.create(episode=episode, segment=clip.segment, attempt_number=clip.attempt_number,
                                   author=user, text=text, frame_start=start, frame_end=end, drawing=strokes)


def change_note(note: Note, user, access: Access, *, resolved: object = None, text: object = None) -> Note:
    """Resolve / reopen (the author or a producer) or edit the text (the author)."""
    fields = []
    if resolved is not None:
        if not isinstance(resolved, bool):
            raise NoteError(422, "resolved must be true or false.", "resolved")
        if not may_change(note, user, access):
            raise NoteError(403, "Only the note's author or a producer can resolve it.")
        note.resolved = resolved
        fields.append("resolved")
    if text is not None:
        if note.author_id != user.pk:
            raise NoteError(403, "Only the note's author can change its text.")
        note.text = check_text(text)
        fields.append("text")
    if fields:
        note.save(update_fields=fields)
    return note


def delete_note(note: Note, user, access: Access) -> None:
    if not may_change(note, user, access):
        raise NoteError(403, "Only the note's author or a producer can delete it.")
    note.delete()
