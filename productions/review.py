"""The producer's review loop: approve a segment, or reject it with a reason and have it made again.

A rejection moves the segment's files into an attempt folder (`segment-NN/attempt-MM/`) and records the
verdict on that attempt, so every attempt stays viewable (preview, video, seed, prompt, reason, QA). The
segment goes back to pending with a new seed (and the prompt, if the producer edited it), and a render is
queued (or, at the producer's choice, held until other segments are reviewed too): the renderer makes every
segment that is not complete and always re-stitches the final video.
An episode is delivered only when every segment is approved and the final video's conformance passed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from productions.events import publish_episode_event
from productions.forms import MAX_PROMPT_CHARS, MAX_SEED
from productions.live import qa_badge
from productions.models import Episode, Segment, SegmentAttempt

MAX_REASON_CHARS = 2000
SEGMENT_FILES = ("native_path", "proxy_path", "upscaled_path", "last_frame_path", "preview_path")


class ReviewError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
    the episode was not stitched from it, so a render is queued to stitch it now."""
    from productions.tasks import start_render

    episode = segment.episode
    reviewable(episode, segment)
    reason = (reason or "").strip()
    flagged = segment.is_flagged()
    if flagged and not reason:
        raise ReviewError(422, f"Segment {segment.index} failed automatic QA: say why it is good enough to "
                               "approve it anyway.")
    if len(reason) > MAX_REASON_CHARS:
        raise ReviewError(422, f"The reason is too long (at most {MAX_REASON_CHARS} characters).")
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
    episode.deliver_if_ready()
    publish_episode_event(episode, {"type": "review", "segment": segment.index, "decision": "approved"})
    if flagged and episode.status != Episode.Status.REVIEW:
        start_render(episode)  # finished segments are kept: this stitches (and makes any segment still missing)
    return episode


def archive_files(segment: Segment, attempt: SegmentAttempt) -> dict[str, str]:
    """Move the segment's files into its attempt folder. Returns the attempt's preview and video paths."""
    media = Path(settings.MEDIA_ROOT)
    folder = segment.episode.media_dir / f"segment-{segment.index:02d}" / f"attempt-{attempt.number:02d}"
    if folder.exists():  # a second rejection of the same attempt number (should not happen): keep both
        folder = folder.with_name(f"{folder.name}-{attempt.pk}")
    folder.mkdir(parents=True, exist_ok=True)
    moved: dict[str, str] = {"files_dir": os.fspath(folder.relative_to(media))}
    for field in SEGMENT_FILES:
        path = segment.file(field)
        if path is None:
            continue
        target = folder / path.name
        os.replace(path, target)
        if field == "preview_path":
            moved["preview_path"] = os.fspath(target.relative_to(media))
        elif field == "proxy_path":
            moved["video_path"] = os.fspath(target.relative_to(media))
    return moved


def new_seed(old: int) -> int:
    seed = secrets.randbelow(MAX_SEED + 1)
    return seed if seed != old else (seed + 1) % (MAX_SEED + 1)


def reject_segment(segment: Segment, user, reason: str, prompt: str | None = None, *, render: bool = True) -> Episode:
    """Archive the segment's files into its attempt, reset it with a new seed, queue a render.

    `render=False` leaves the episode stopped, so that the producer can reject (or approve) other segments
    first; one render (start_render, the page's "Regenerate rejected segments") then makes them all again and
    stitches once."""
    from productions.tasks import start_render

    reason = (reason or "").strip()
    if not reason:
        raise ReviewError(422, "Say why the segment is rejected: the reason cannot be empty.")
    if len(reason) > MAX_REASON_CHARS:
        raise ReviewError(422, f"The reason is too long (at most {MAX_REASON_CHARS} characters).")
    prompt = (prompt or "").strip() or None
    if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
        raise ReviewError(422, f"The prompt is too long (at most {MAX_PROMPT_CHARS} characters).")
    episode = segment.episode
    reviewable(episode, segment)
    attempt = current_attempt_for(segment)
    qa = qa_summary(segment)
    # Files first: a crash after this leaves a segment whose files are gone, which the renderer remakes anyway.
    moved = archive_files(segment, attempt)
    now = timezone.now()
    with transaction.atomic():
        SegmentAttempt.objects.filter(pk=attempt.pk).update(
            decision=Segment.Review.REJECTED, reason=reason, reviewer=user, reviewed_at=now, qa=qa, **moved)
        Segment.objects.filter(pk=segment.pk).update(
            status=Segment.Status.PENDING, progress=0.0, error="", error_details="", seed=new_seed(segment.seed),
            prompt=prompt or segment.prompt, native_path="", proxy_path="", upscaled_path="", last_frame_path="",
            preview_path="", review=Segment.Review.REJECTED, reviewed_by=user, reviewed_at=now,
            finished_at=None)
    episode.refresh_from_db()
    publish_episode_event(episode, {"type": "review", "segment": segment.index, "decision": "rejected"})
    if render:
        start_render(episode)
    return episode
