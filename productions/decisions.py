"""Collected review decisions and the one render that follows them.

Approving or rejecting a segment only records the decision (productions.review): a rejected segment waits to
be made again, an approved one that automatic QA had flagged waits to be stitched in. Nothing renders until
the producer clicks "Render changes" (POST .../render) or the last open decision is made: then one render
makes every change and stitches once. "Approve all" approves every open segment in one go.

An open decision is a segment whose current files (finished, or flagged by QA) have no verdict yet. Deciding
again about a segment already decided (rejecting an approved one) never starts a render by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from productions.models import Episode, Segment
from productions.review import ReviewError, approve_segment, checked
from productions.validation import MAX_REASON_CHARS


def open_segments(segments: list[Segment]) -> list[Segment]:
    """Segments waiting for a verdict on their current files."""
    return [s for s in segments if (s.is_complete() or s.is_flagged())
            and s.current_review() == Segment.Review.UNREVIEWED]


def waiting_to_be_made(segments: list[Segment]) -> list[Segment]:
    """Rejected segments the next render makes again."""
    return [s for s in segments if s.status == Segment.Status.PENDING and s.review == Segment.Review.REJECTED]


def needs_render(episode: Episode, segments: list[Segment]) -> bool:
    """Whether the decisions so far change the final video: a rejected segment to make again, or an episode
    that was stopped before its final was made from its segments (a QA-flagged segment approved anyway, a
    failed or cancelled render)."""
    if episode.is_active or episode.status in (Episode.Status.DELIVERED, Episode.Status.DRAFT):
        return False
    return bool(waiting_to_be_made(segments)) or episode.status in (Episode.Status.FAILED,
                                                                     Episode.Status.CANCELLED)


def render_refusal(episode: Episode) -> tuple[str, str] | None:
    """Why a render cannot start now, as (field, sentence), or None: the one check the render button, the API
    and the automatic render after the last decision share."""
    from productions.monitor import upscaler_refusal
    from productions.storyboard import render_refusal as keyframes_waiting

    if episode.status == Episode.Status.DELIVERED:
        return "status", "This episode is already delivered."
    refusal = upscaler_refusal(episode.upscaler_choice())
    if refusal:
        return "upscaler", f"Not started: this episode's upscaler is Real-ESRGAN. {refusal}"
    waiting = None if episode.is_active else keyframes_waiting(episode)
    if waiting:
        return "storyboard", f"Not started: {waiting}"
    return None


@dataclass
class Outcome:
    """What a decision led to, for the page's message and the API."""

    episode: Episode
    rendering: bool = False  # the last open decision started the render
    refusal: str = ""  # it would have, but a render cannot start (the reason)

    def sentence(self) -> str:
        if self.episode.status == Episode.Status.DELIVERED:
            return "Every segment is approved: the episode is delivered."
        if self.rendering:
            return "That was the last open decision: one render makes the changes now."
        if self.refusal:
            return f"Every segment is decided, but the render did not start. {self.refusal}"
        return ""


def after_decision(episode: Episode, was_open: bool) -> Outcome:
    """Start the one render when `was_open` (the decision closed an open one) and none remains open."""
    from productions.tasks import start_render

    episode.refresh_from_db()
    segments = list(episode.segments.order_by("index"))
    outcome = Outcome(episode)
    if not was_open or open_segments(segments) or not needs_render(episode, segments):
        return outcome
    refusal = render_refusal(episode)
    if refusal:
        outcome.refusal = refusal[1]
        return outcome
    outcome.rendering = start_render(episode)
    return outcome


def decide(segment: Segment, decision, *args) -> Outcome:
    """Record one decision (review.approve_segment or reject_segment) and start the render it completes."""
    was_open = bool(open_segments([segment]))
    episode = decision(segment, *args)
    return after_decision(episode, was_open)


def approve_all(episode: Episode, user, reason: str = "") -> tuple[Outcome, list[int]]:
    """Approve every open segment. Segments flagged by automatic QA are approved too when a `reason` says
    why; without one nothing is approved (422 naming them). Returns the outcome and the indexes approved."""
    episode.refresh_from_db()
    if episode.is_active:
        raise ReviewError(409, f"The episode is {episode.get_status_display().lower()}: review once it stops.")
    if episode.status == Episode.Status.DELIVERED:
        raise ReviewError(409, "The episode is already delivered.")
    reason = checked(reason, "reason", "The reason", MAX_REASON_CHARS)
    segments = open_segments(list(episode.segments.order_by("index")))
    if not segments:
        raise ReviewError(409, "Nothing to approve: no segment is waiting for a decision.")
    flagged = [s.index for s in segments if s.is_flagged()]
    if flagged and not reason:
        numbers = ", ".join(str(i) for i in flagged)
        raise ReviewError(422, f"Segment {numbers} failed automatic QA: say why it is good enough to approve "
                               "it anyway, or decide it on its own.", "reason")
    for segment in segments:
        approve_segment(segment, user, reason if segment.is_flagged() else "")
    return after_decision(episode, True), [s.index for s in segments]
