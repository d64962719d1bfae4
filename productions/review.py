"""The producer's review loop: approve a segment, or reject it with a reason and have it made again.

A rejection moves the segment's files into an attempt folder (`segment-NN/attempt-MM/`) and records the
verdict on that attempt, so every attempt stays viewable (preview, video, seed, prompt, reason, QA). The files
move inside the database transaction, after every write succeeded, and move back if it fails: a refused write
leaves the segment as it was, still reviewable. The segment goes back to pending ("waits to be made again")
with a new seed (and the prompt, if the producer edited it: it becomes the shot's action, composed with its
characters and the style as every shot's is).
Decisions only record: neither an approval nor a rejection queues a render, so several in a row never meet a
render started by the one before. productions.decisions starts the one render that makes the changes (when
the producer asks, or when the last open decision is made).
An episode is delivered only when every segment is approved and the final video's conformance passed.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from productions.events import publish_episode_event
from productions.forms import MAX_SEED
from productions.live import qa_badge
from productions.models import Episode, Notification, Segment, SegmentAttempt
from productions.notifications import notify
from productions.validation import MAX_PROMPT_CHARS, MAX_REASON_CHARS, normalise_newlines, text_problem

SEGMENT_FILES = ("native_path", "proxy_path", "upscaled_path", "last_frame_path", "preview_path")


class ReviewError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field  # the input it is about, if any (the API names it in "errors")


def checked(value: str | None, field: str, label: str, max_length: int) -> str:
    """A reason or prompt as it will be stored (trimmed, CR LF as LF), or ReviewError naming the field."""
    value = normalise_newlines(value or "").strip()
    problem = text_problem(value, multiline=True, max_length=max_length)
    if problem:
        raise ReviewError(422, f"{label}: {problem[0].lower()}{problem[1:]}", field)
    return value


def reviewable(episode: Episode, segment: Segment) -> None:
    """A finished segment, or one flagged by automatic QA (its last try's files kept), of a stopped episode."""
    if episode.is_active:
        raise ReviewError(409, f"The episode is {episode.get_status_display().lower()}: review once it stops.")
    if episode.status == Episode.Status.DELIVERED:
        raise ReviewError(409, "The episode is already delivered.")
    if not (segment.is_complete() or segment.is_flagged()):
        raise ReviewError(409, f"Segment {segment.index} is not finished: there is nothing to review yet.")


def qa_summary(segment: Segment) -> dict:
    report = segment.current_qa()
    if report is None:
        return {}
    badge = qa_badge(report)
    return {"passed": badge["passed"], "report": report.pk, "failed": badge["failed"]}


def current_attempt_for(segment: Segment) -> SegmentAttempt:
    """The attempt row that made the current files (one is made for segments rendered before attempts existed)."""
    attempt = segment.current_attempt()
    if attempt is None:
        attempt = SegmentAttempt.objects.create(
            segment=segment, number=max(segment.attempts, 1), backend=segment.backend_info.get("backend", ""),
            seed=segment.seed, prompt=segment.prompt, outcome=SegmentAttempt.Outcome.SUCCEEDED,
            started_at=segment.started_at or timezone.now(), finished_at=segment.finished_at)
    return attempt


def approve_segment(segment: Segment, user, reason: str = "") -> Episode:
    """Approve the current files. A segment flagged by automatic QA needs a written reason (QA overridden);
    the episode was not stitched from it, so it counts as a change to render (productions.decisions)."""
    from productions.versions import record_delivery

    episode = segment.episode
    reviewable(episode, segment)
    reason = checked(reason, "reason", "The reason", MAX_REASON_CHARS)
    flagged = segment.is_flagged()
    if flagged and not reason:
        raise ReviewError(422, f"Segment {segment.index} failed automatic QA: say why it is good enough to "
                               "approve it anyway.", "reason")
    attempt = current_attempt_for(segment)
    now = timezone.now()
    with transaction.atomic():
        changes: dict = {"review": Segment.Review.APPROVED, "reviewed_by": user, "reviewed_at": now}
        if flagged:
            changes.update(status=Segment.Status.DONE, error="", error_details="", progress=1.0)
        Segment.objects.filter(pk=segment.pk).update(**changes)
        SegmentAttempt.objects.filter(pk=attempt.pk).update(
            decision=Segment.Review.APPROVED, reason=reason, reviewer=user, reviewed_at=now, qa=qa_summary(segment))
    episode.refresh_from_db()
    if episode.deliver_if_ready():
        record_delivery(episode, user)
        notify(episode, Notification.Kind.DELIVERED)
    publish_episode_event(episode, {"type": "review", "segment": segment.index, "decision": "approved"})
    return episode


def archive_plan(segment: Segment, attempt: SegmentAttempt) -> tuple[Path, list[tuple[Path, Path]], dict[str, str]]:
    """Where the segment's files go in its attempt folder: (folder, [(file, target)], the attempt's new paths).
    Nothing is moved yet."""
    media = Path(settings.MEDIA_ROOT)
    folder = segment.episode.media_dir / f"segment-{segment.index:02d}" / f"attempt-{attempt.number:02d}"
    if folder.exists():  # a second rejection of the same attempt number (should not happen): keep both
        folder = folder.with_name(f"{folder.name}-{attempt.pk}")
    moves: list[tuple[Path, Path]] = []
    paths: dict[str, str] = {"files_dir": os.fspath(folder.relative_to(media))}
    for field in SEGMENT_FILES:
        path = segment.file(field)
        if path is None:
            continue
        target = folder / path.name
        moves.append((path, target))
        if field == "preview_path":
            paths["preview_path"] = os.fspath(target.relative_to(media))
        elif field == "proxy_path":
            paths["video_path"] = os.fspath(target.relative_to(media))
    return folder, moves, paths


def move_back(folder: Path, done: list[tuple[Path, Path]]) -> None:
    """Undo the moves made so far (the database refused the rejection): the segment keeps its files."""
    for source, target in reversed(done):
        os.replace(target, source)
    with suppress(OSError):
        folder.rmdir()  # only if empty: it was made for this rejection


def new_seed(old: int) -> int:
    seed = secrets.randbelow(MAX_SEED + 1)
    return seed if seed != old else (seed + 1) % (MAX_SEED + 1)


def reject_segment(segment: Segment, user, reason: str, prompt: str | None = None) -> Episode:
    """Archive the segment's files into its attempt and reset it with a new seed: it waits to be made again by
    the next render (productions.decisions), which makes every rejected segment and stitches once."""
    reason = checked(reason, "reason", "The reason", MAX_REASON_CHARS)
    if not reason:
        raise ReviewError(422, "Say why the segment is rejected: the reason cannot be empty.", "reason")
    prompt = checked(prompt, "prompt", "The prompt", MAX_PROMPT_CHARS) or None
    episode = segment.episode
    reviewable(episode, segment)
    attempt = current_attempt_for(segment)
    qa = qa_summary(segment)
    folder, moves, paths = archive_plan(segment, attempt)
    now = timezone.now()
    # The database first, the files last and inside its transaction: a refused write moves nothing, and a
    # failed move or commit puts back what was moved, so the segment stays as it was (approvable, rejectable).
    done: list[tuple[Path, Path]] = []
    try:
        with transaction.atomic():
            SegmentAttempt.objects.filter(pk=attempt.pk).update(
                decision=Segment.Review.REJECTED, reason=reason, reviewer=user, reviewed_at=now, qa=qa, **paths)
            Segment.objects.filter(pk=segment.pk).update(
                status=Segment.Status.PENDING, progress=0.0, error="", error_details="",
                seed=new_seed(segment.seed),
                # An edited prompt is the shot's new action: the render composes its characters and style in.
                prompt=prompt or segment.prompt, action=prompt or segment.action,
                native_path="", proxy_path="", upscaled_path="",
                last_frame_path="", preview_path="", review=Segment.Review.REJECTED, reviewed_by=user,
                reviewed_at=now, finished_at=None)
            folder.mkdir(parents=True, exist_ok=True)
            for source, target in moves:
                os.replace(source, target)
                done.append((source, target))
    except BaseException:
        move_back(folder, done)
        raise
    episode.refresh_from_db()
    publish_episode_event(episode, {"type": "review", "segment": segment.index, "decision": "rejected"})
    return episode
