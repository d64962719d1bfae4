"""The producer's review loop: approve a segment, or reject it with a reason and have it made again.

A rejection moves the segment's files into an attempt folder (`segment-NN/attempt-MM/`) and records the
verdict on that attempt, so every attempt stays viewable (preview, video, seed, prompt, reason, QA). The files
move inside the database transaction, after every write succeeded, and move back if it fails: a refused write
leaves the segment as it was, still reviewable. The segment goes back to pending ("waits to be made again")
with a new seed (and the prompt, if the producer edited it: it becomes the shot's action, composed with its
characters and the style as every shot's is).
With a first-frame model, the segments chained after a rejected one were generated from its last frame, which
the remake changes: kept, the join into the next one would jump (the old last frame on one side, the new one on
the other). They are made again with it (`continued_by`): their files archived the same way, their attempts
marked rejected with the reason, their approvals withdrawn. The page and the API say so before and after.
A first-and-last-frame model runs each segment between keyframes the remake keeps: nothing else changes.
Decisions only record: neither an approval nor a rejection queues a render, so several in a row never meet a
render started by the one before. productions.decisions starts the one render that makes the changes (when
the producer asks, or when the last open decision is made).
An episode is delivered only when every segment is approved and the final video's conformance passed.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from productions.events import publish_episode_event
from productions.forms import MAX_SEED
from productions.lib.model_profiles import ProfileError
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


def move_back(folders: list[Path], done: list[tuple[Path, Path]]) -> None:
    """Undo the moves made so far (the database refused the rejection): the segments keep their files."""
    for source, target in reversed(done):
        os.replace(target, source)
    for folder in folders:
        with suppress(OSError):
            folder.rmdir()  # only if empty: it was made for this rejection


def continued_by_all(episode: Episode, segments: list[Segment]) -> dict[int, list[Segment]]:
    """Per segment index, the segments a first-frame model made from that segment's last frame, directly or down
    the chain: those after it in its chain (render.chains: up to the next one that starts a shot of its own, after
    a cut, a dissolve or a fade). Empty with a first-and-last-frame model. `segments`: all of the episode's, in
    order. Reads no file: it is what the page's reject forms warn about."""
    from productions.render import chains

    try:
        anchored = episode.model_profile().conditioning == "first_last"
    except ProfileError:
        anchored = False  # rendered as a first-frame model would be (render.py): chained
    after: dict[int, list[Segment]] = {s.index: [] for s in segments}
    if not anchored:
        for chain in chains(segments):
            for at, segment in enumerate(chain):
                after[segment.index] = chain[at + 1:]
    return after


def continued_by(segment: Segment) -> list[Segment]:
    """The segments made from `segment`'s last frame (continued_by_all) that have files: what rejecting it makes
    again with it."""
    episode = segment.episode
    after = continued_by_all(episode, list(episode.segments.order_by("index")))[segment.index]
    return [other for other in after if other.has_files()]


def remade_with_it(indexes: list[int]) -> str:
    """"Segment 4" or "Segments 4, 5 and 6", for the sentences about continued_by."""
    if len(indexes) == 1:
        return f"Segment {indexes[0]}"
    return f"Segments {', '.join(map(str, indexes[:-1]))} and {indexes[-1]}"


def new_seed(old: int) -> int:
    seed = secrets.randbelow(MAX_SEED + 1)
    return seed if seed != old else (seed + 1) % (MAX_SEED + 1)


@dataclass
class Archiving:
    """One segment whose files a rejection moves into its attempt folder, and the verdict its attempt gets."""

    segment: Segment
    reason: str
    attempt: SegmentAttempt
    qa: dict
    folder: Path
    moves: list[tuple[Path, Path]]
    paths: dict[str, str]  # the attempt's new file fields

    @classmethod
    def plan(cls, segment: Segment, reason: str) -> Archiving:
        attempt = current_attempt_for(segment)
        return cls(segment, reason, attempt, qa_summary(segment), *archive_plan(segment, attempt))


def reject_segment(segment: Segment, user, reason: str, prompt: str | None = None) -> Episode:
    """Archive the segment's files into its attempt and reset it with a new seed: it waits to be made again by
    the next render (productions.decisions), which makes every rejected segment and stitches once. The segments
    chained after it that have files (continued_by) are archived and reset with it, keeping their seeds."""
    reason = checked(reason, "reason", "The reason", MAX_REASON_CHARS)
    if not reason:
        raise ReviewError(422, "Say why the segment is rejected: the reason cannot be empty.", "reason")
    prompt = checked(prompt, "prompt", "The prompt", MAX_PROMPT_CHARS) or None
    episode = segment.episode
    reviewable(episode, segment)
    because = (f"Made again with segment {segment.index}: it continues from that segment's last frame, which the "
               f"remake changes.")
    archived = [Archiving.plan(segment, reason)]
    archived += [Archiving.plan(other, because) for other in continued_by(segment)]
    now = timezone.now()
    # The database first, the files last and inside its transaction: a refused write moves nothing, and a
    # failed move or commit puts back what was moved, so every segment stays as it was (approvable, rejectable).
    done: list[tuple[Path, Path]] = []
    try:
        with transaction.atomic():
            for item in archived:
                SegmentAttempt.objects.filter(pk=item.attempt.pk).update(
                    decision=Segment.Review.REJECTED, reason=item.reason, reviewer=user, reviewed_at=now,
                    qa=item.qa, **item.paths)
            Segment.objects.filter(pk__in=[item.segment.pk for item in archived]).update(
                status=Segment.Status.PENDING, progress=0.0, error="", error_details="",
                native_path="", proxy_path="", upscaled_path="", last_frame_path="", preview_path="",
                review=Segment.Review.REJECTED, reviewed_by=user, reviewed_at=now, finished_at=None)
            # The rejected one gets a new seed; an edited prompt is the shot's new action (the render composes its
            # characters and style in). Those made again with it keep theirs: their start is what changes.
            Segment.objects.filter(pk=segment.pk).update(
                seed=new_seed(segment.seed), prompt=prompt or segment.prompt, action=prompt or segment.action)
            for item in archived:
                item.folder.mkdir(parents=True, exist_ok=True)
                for source, target in item.moves:
                    os.replace(source, target)
                    done.append((source, target))
    except BaseException:
        move_back([item.folder for item in archived], done)
        raise
    episode.refresh_from_db()
    publish_episode_event(episode, {"type": "review", "segment": segment.index, "decision": "rejected",
                                    "remade_with_it": [item.segment.index for item in archived[1:]]})
    return episode
