"""Keyframes first: every storyboard shot gets a keyframe (txt2img from its composed prompt) that a producer
approves or makes again before the segments are rendered from them.

Each keyframe made is a KeyframeAttempt row (its number, seed, prompt as used, file, verdict); the shot's
current keyframe is Segment.keyframe_path, its approval Segment.keyframe_approved_at/_by. A render started with
no storyboard keyframes makes them itself through `draw_keyframe` (recorded the same way), so every keyframe
stays in the shot's history.

Shots are named to producers by their number on the storyboard (index + 1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from productions.lib.backend import Backend, BackendError, Cancelled, Frame, KeyframeRequest
from productions.lib.files import save_image
from productions.models import Episode, KeyframeAttempt, Segment, SegmentAttempt
from productions.storyboard import carried, compose_prompts, request_fields, shot_characters

log = logging.getLogger(__name__)

# An attempt still unfinished after this long lost its worker: the shot may be made again.
MAKING_STALE_AFTER = timedelta(minutes=15)


class KeyframeError(Exception):
    """A keyframe action refused, in a sentence for the producer (409 in the API)."""


def shot_name(index: int) -> str:
    return f"shot {index + 1}"


def shot_list(indexes: Sequence[int]) -> str:
    """'shot 2', 'shots 2 and 5', 'shots 1, 2 and 5' (numbers as the storyboard shows them: index + 1)."""
    numbers = [str(i + 1) for i in indexes]
    if len(numbers) == 1:
        return f"shot {numbers[0]}"
    return f"shots {', '.join(numbers[:-1])} and {numbers[-1]}"


def editable_refusal(episode: Episode) -> str | None:
    """Why the storyboard's keyframes can no longer change (None while they can): the episode is queued or
    rendering, or a segment already has a video attempt (changes then go through review)."""
    status = Episode.objects.filter(pk=episode.pk).values_list("status", flat=True).first()
    if status in Episode.ACTIVE:
        return f"The episode is {status}: keyframes cannot change while it renders."
    if SegmentAttempt.objects.filter(segment__episode_id=episode.pk).exists():
        return ("Segments of this episode are already rendered: the storyboard is closed; reject a segment "
                "to make it again.")
    return None


def keyframe_path(segment: Segment, number: int) -> Path:
    return segment.episode.media_dir / "keyframes" / f"shot-{segment.pk}-{number}.png"


def relative(path: Path) -> str:
    return str(path.relative_to(settings.MEDIA_ROOT))


def keyframe_seed(segment: Segment) -> int:
    """A shot's first keyframe seed: the episode's for the opening shot (as renders always drew it), else the
    shot's own."""
    return segment.episode.seed if segment.index == 0 else segment.seed


def next_keyframe_seed(seed: int, number: int) -> int:
    from productions.render import next_seed

    return next_seed(seed, number)


def current_attempt(segment: Segment) -> KeyframeAttempt | None:
    return segment.keyframe_log.order_by("-number").first()


def current_file(segment: Segment) -> Path | None:
    """The shot's current keyframe file, read fresh. Segment.keyframe_path names it; when that was blanked by a
    stale copy of the row saved whole (a render holds its segments from before their keyframes were drawn), the
    latest keyframe, finished and not replaced, is the current one and the field is set again."""
    segment.keyframe_path = Segment.objects.filter(pk=segment.pk).values_list("keyframe_path", flat=True).first() or ""
    path = segment.file("keyframe_path")
    if path is not None or segment.pk is None:
        return path
    latest = current_attempt(segment)
    if latest is None or not latest.path or latest.error or latest.finished_at is None or \
            latest.decision == KeyframeAttempt.Decision.REPLACED:
        return None
    if not (Path(settings.MEDIA_ROOT) / latest.path).exists():
        return None
    Segment.objects.filter(pk=segment.pk, keyframe_path="").update(keyframe_path=latest.path)
    segment.keyframe_path = latest.path
    return segment.file("keyframe_path")


def is_making(attempt: KeyframeAttempt | None) -> bool:
    return attempt is not None and attempt.finished_at is None and not attempt.error and \
        attempt.created_at > timezone.now() - MAKING_STALE_AFTER


def new_attempt(segment: Segment, user, seed: int) -> KeyframeAttempt:
    """The next numbered attempt of the shot (unfinished: "making"); numbers are taken under the shot's lock."""
    with transaction.atomic():
        Segment.objects.select_for_update().filter(pk=segment.pk).first()
        number = (segment.keyframe_log.aggregate(n=Max("number"))["n"] or 0) + 1
        return KeyframeAttempt.objects.create(segment=segment, number=number, seed=seed, prompt=segment.prompt,
                                              negative_prompt="", requested_by=user if user else None)


# --- producer actions ------------------------------------------------------------------------------------
def make_keyframes(episode: Episode, user, indexes: Iterable[int] | None = None) -> list[int]:
    """Queue the keyframes of the listed shots (all when None) that have none and none under way. Returns the
    indexes queued (empty: nothing was missing)."""
    refusal = editable_refusal(episode)
    if refusal:
        raise KeyframeError(refusal)
    shots = list(episode.segments.select_related("episode").order_by("index"))
    if indexes is not None:
        wanted = set(indexes)
        unknown = sorted(wanted - {s.index for s in shots})
        if unknown:
            raise KeyframeError(f"This episode has no {shot_list(unknown)}.")
        shots = [s for s in shots if s.index in wanted]
    attempts = []
    for shot in shots:
        if current_file(shot) or is_making(current_attempt(shot)):
            continue
        attempts.append(new_attempt(shot, user, keyframe_seed(shot)))
    if attempts:
        queue(episode, attempts)
    return [a.segment.index for a in attempts]


def remake_keyframe(segment: Segment, user, new_seed: bool = True) -> KeyframeAttempt:
    """Make the shot's keyframe again from its current prompt: the current one is "replaced" (kept in the
    history), the approval cleared; with `new_seed` a new seed is drawn, else the last one is kept (a text
    edited on the storyboard and saved first changes the picture)."""
    episode = segment.episode
    refusal = editable_refusal(episode)
    if refusal:
        raise KeyframeError(refusal)
    current = current_attempt(segment)
    if is_making(current):
        raise KeyframeError(f"The keyframe of {shot_name(segment.index)} is being made: wait for it first.")
    seed = keyframe_seed(segment) if current is None else current.seed
    if new_seed and current is not None:
        seed = next_keyframe_seed(current.seed, current.number)
    with transaction.atomic():
        if current is not None:
            KeyframeAttempt.objects.filter(pk=current.pk).update(decision=KeyframeAttempt.Decision.REPLACED,
                                                                  reviewer=user, reviewed_at=timezone.now())
        Segment.objects.filter(pk=segment.pk).update(keyframe_path="", keyframe_approved_at=None,
                                                     keyframe_approved_by=None)
        segment.keyframe_path, segment.keyframe_approved_at, segment.keyframe_approved_by = "", None, None
        attempt = new_attempt(segment, user, seed)
    queue(episode, [attempt])
    return attempt


def approve_keyframe(segment: Segment, user, number: int | None = None) -> KeyframeAttempt:
    """Approve the shot's current keyframe (the render starts the shot from it). `number`: the keyframe the
    producer looked at; refused when another producer made it again meanwhile."""
    current = current_attempt(segment)
    if current is None or not current.path or current.error or current_file(segment) is None:
        raise KeyframeError(f"{shot_name(segment.index).capitalize()} has no keyframe to approve yet.")
    if number is not None and number != current.number:
        raise KeyframeError(f"The keyframe of {shot_name(segment.index)} was made again meanwhile (now "
                            f"#{current.number}): look at it before approving.")
    now = timezone.now()
    with transaction.atomic():
        KeyframeAttempt.objects.filter(pk=current.pk).update(decision=KeyframeAttempt.Decision.APPROVED,
                                                              reviewer=user, reviewed_at=now)
        Segment.objects.filter(pk=segment.pk).update(keyframe_approved_at=now, keyframe_approved_by=user)
    segment.keyframe_approved_at, segment.keyframe_approved_by = now, user
    current.refresh_from_db()
    publish(segment.episode, segment, "approved")
    return current


def keyframe_refusal(episode: Episode) -> str | None:
    """Why the render may not start yet: None when no shot has a keyframe at all (the render makes them) or the
    storyboard is closed (a render already made segments from its keyframes); else a sentence naming the
    shots whose keyframe is missing or not approved."""
    shots = list(episode.segments.order_by("index"))
    if not KeyframeAttempt.objects.filter(segment__episode=episode).exists():
        return None
    if SegmentAttempt.objects.filter(segment__episode=episode).exists():
        return None
    waiting = [s.index for s in shots if not (s.keyframe_approved_at and current_file(s))]
    if not waiting:
        return None
    return f"Approve or remake the keyframes of {shot_list(waiting)} first."


def keyframe_info(segment: Segment) -> dict:
    """What the storyboard and the API show of a shot's keyframe."""
    from django.urls import reverse

    attempts = list(segment.keyframe_log.select_related("reviewer", "requested_by").order_by("-number"))
    current = attempts[0] if attempts else None
    has_file = current_file(segment) is not None
    approved = bool(segment.keyframe_approved_at and has_file)
    if is_making(current):
        status = "making"
    elif current is not None and current.error:
        status = "failed"
    elif approved:
        status = "approved"
    elif has_file:
        status = "made"
    else:
        status = "none"
    approver = segment.keyframe_approved_by
    return {
        "url": reverse("shot-keyframe", args=[segment.episode_id, segment.index]) + f"?n={current.number}"
        if has_file and current else None,
        "approved": approved,
        "approved_by": approver.get_username() if approved and approver else "",
        "status": status,
        "error": current.error if current else "",
        "number": current.number if current else 0,
        "seed": current.seed if current else None,
        "attempts": [attempt_out(a) for a in attempts],
    }


def attempt_out(attempt: KeyframeAttempt) -> dict:
    from django.urls import reverse

    return {
        "id": attempt.pk, "number": attempt.number, "seed": attempt.seed, "prompt": attempt.prompt,
        "negative_prompt": attempt.negative_prompt, "backend": attempt.backend, "error": attempt.error,
        "decision": attempt.decision, "created_at": attempt.created_at, "finished_at": attempt.finished_at,
        "reviewer": attempt.reviewer.get_username() if attempt.reviewer else "",
        "url": reverse("keyframe-attempt", args=[attempt.segment.episode_id, attempt.pk]) if attempt.path else None,
    }


# --- making them -----------------------------------------------------------------------------------------
def queue(episode: Episode, attempts: list[KeyframeAttempt]) -> None:
    from productions.tasks import make_keyframes_task

    ids = [a.pk for a in attempts]
    for attempt in attempts:
        publish(episode, attempt.segment, "making")
    transaction.on_commit(lambda: make_keyframes_task(ids))


def publish(episode: Episode, segment: Segment, status: str) -> None:
    from productions.events import publish_episode_event

    version = Episode.objects.filter(pk=episode.pk).values_list("storyboard_version", flat=True).first()
    publish_episode_event(episode, {"type": "keyframe", "segment": segment.index, "shot": segment.pk,
                                    "status": status, "version": version})


def parallelism(backend: Backend) -> int:
    """How many keyframes to draw at once: one per ComfyUI server; the built-in painter, two threads."""
    return max(1, int(getattr(backend, "parallelism", 1 if backend.is_ai else 2)))


def draw_keyframe(episode: Episode, segment: Segment, backend: Backend, attempt: KeyframeAttempt,
                  progress: Callable[[int, int, Frame | None], None] | None = None,
                  should_cancel: Callable[[], bool] | None = None) -> Frame:
    """Draw `attempt` (a numbered attempt of `segment`) from the shot's composed prompt at the episode's native
    size, save it and make it the shot's current keyframe. A failure is written on the attempt and raised."""
    shots = list(episode.segments.order_by("index"))
    if not any(s.action.strip() for s in shots):  # planned before storyboards: the prompt is the shot's text
        for shot in shots:
            shot.action = shot.prompt
    characters = shot_characters(shots)
    position = next(i for i, s in enumerate(shots) if s.pk == segment.pk)
    composed = compose_prompts(episode, shots, characters)[position]
    action = carried(shots)[position]
    width, height = episode.native_size()
    request = KeyframeRequest(seed=attempt.seed, width=width, height=height,
                              model=episode.keyframe_profile().name if backend.is_ai else "",
                              **request_fields(shots[position], action, characters.get(segment.pk, []), composed))
    KeyframeAttempt.objects.filter(pk=attempt.pk).update(prompt=request.prompt,
                                                          negative_prompt=request.negative_prompt,
                                                          backend=backend.name)
    path = keyframe_path(segment, attempt.number)
    try:
        frame = backend.generate_keyframe(request, progress or (lambda *a: None), should_cancel or (lambda: False))
        save_image(frame, path)
    except BaseException as exc:
        KeyframeAttempt.objects.filter(pk=attempt.pk).update(error=failure_words(exc)[:2000],
                                                              finished_at=timezone.now())
        raise
    now = timezone.now()
    with transaction.atomic():
        KeyframeAttempt.objects.filter(pk=attempt.pk).update(path=relative(path), finished_at=now)
        Segment.objects.filter(pk=segment.pk).update(keyframe_path=relative(path), prompt=request.prompt,
                                                     keyframe_approved_at=None, keyframe_approved_by=None)
    segment.keyframe_path, segment.prompt = relative(path), request.prompt
    segment.keyframe_approved_at = segment.keyframe_approved_by = None
    return frame


def failure_words(exc: BaseException) -> str:
    if isinstance(exc, Cancelled):
        return "Cancelled before it was finished."
    if isinstance(exc, BackendError):
        return f"The generator failed: {' '.join(str(exc).split())}"
    if isinstance(exc, OSError):
        return f"The keyframe could not be saved: {exc.strerror or exc}"
    return f"Unexpected error ({type(exc).__name__}): {exc}"


def run_attempts(attempt_ids: Sequence[int]) -> dict[int, str]:
    """The task's work: draw each attempt (in parallel up to the backend's parallelism); one failing does not
    stop the others. Returns {attempt id: "made" | error}."""
    from productions.render import get_backend

    attempts = list(KeyframeAttempt.objects.filter(pk__in=attempt_ids, finished_at__isnull=True)
                    .select_related("segment__episode__project"))
    if not attempts:
        return {}
    episode = attempts[0].segment.episode
    results: dict[int, str] = {}
    try:
        backend = get_backend(episode.backend_name())
    except Exception as exc:
        for attempt in attempts:
            KeyframeAttempt.objects.filter(pk=attempt.pk).update(error=failure_words(exc)[:2000],
                                                                  finished_at=timezone.now())
            publish(episode, attempt.segment, "failed")
            results[attempt.pk] = str(exc)
        return results

    def one(attempt: KeyframeAttempt) -> None:
        try:
            draw_keyframe(episode, attempt.segment, backend, attempt)
            results[attempt.pk] = "made"
            publish(episode, attempt.segment, "made")
        except Exception as exc:
            log.warning("keyframe %s of episode %s failed", attempt.pk, episode.pk, exc_info=True)
            results[attempt.pk] = failure_words(exc)
            publish(episode, attempt.segment, "failed")
        finally:
            db_connection.close()

    with ThreadPoolExecutor(min(parallelism(backend), len(attempts)), thread_name_prefix="tower-keyframe") as pool:
        list(pool.map(one, attempts))
    return results
