"""Render an episode: the Django side of the pipeline.

It owns state (models) and leaves media work to productions.lib. Every step is idempotent: a segment counts
as done only when its files are complete on disk, so a render that died at any point resumes where it was.
"""

from __future__ import annotations

import inspect
import logging
import os
import resource
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from productions.lib.backend import (
    Backend,
    BackendError,
    Cancelled,
    Frame,
    KeyframeRequest,
    SegmentRequest,
)
from productions.lib.conformance import ConformanceReport, check_conformance
from productions.lib.ffmpeg import FFmpegError
from productions.lib.files import (
    host_key,
    load_image,
    remove_stale_temporaries,
    save_image,
    temporary_path,
    temporary_writer,
    thumbnail,
)
from productions.lib.interpolation import clip_method
from productions.lib.planning import continuous_boundaries, timeline_frames, transition_ranges
from productions.lib.post import (
    Clip,
    SegmentClipWriter,
    SegmentFiles,
    render_episode_file,
    upscale_chain,
    write_upscaled_clip,
)
from productions.lib.qa import QAResult, check_episode_frames, check_segment_frames
from productions.lib.upscale import Upscaler
from productions.models import (
    Character,
    Episode,
    QAReport,
    Segment,
    SegmentAttempt,
    WorkerHeartbeat,
    file_fingerprint,
    lease_renewal_s,
    lease_silent_since,
)
from productions.notifications import render_ended
from productions.stopping import render_running, worker_stopping
from productions.storyboard import draft

T = TypeVar("T")
QA_FAILED = "QA failed"  # how a segment's error starts when automatic QA flagged it on every try

log = logging.getLogger(__name__)

PROGRESS_FLUSH_S = 0.5  # write progress to the database (and push it) at most this often


class QAFlagged(Exception):
    """Segments failed QA on every try: the episode is not stitched until they are fixed or overridden."""

    def __init__(self, indexes: list[int]):
        self.indexes = indexes
        numbers = ", ".join(str(i) for i in indexes)
        super().__init__(
            f"Segment {numbers} failed automatic QA on every attempt, so nothing was stitched. Open the segment "
            "to see why; regenerate it (new seed or edited prompt) or override QA with a written reason.")


class WorkerStopping(Exception):
    """The worker process is stopping (Ctrl-C, SIGTERM): the render hands its episode back (productions.stopping)."""


class LeaseLost(Exception):
    """Another worker took this render over (we were presumed dead); stop without touching its state."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def get_backend(name: str) -> Backend:
    if name == "builtin":
        from productions.lib.generator import BuiltinGenerator

        return BuiltinGenerator()
    if name == "comfyui":
        from productions.catalog import profiles
        from productions.lib.comfyui import WorkflowLibrary
        from productions.media_config import comfyui_backend

        return comfyui_backend(profiles=profiles(), library=WorkflowLibrary(settings.TOWER_WORKFLOWS_DIR or None),
                               vram_budget_gb=settings.TOWER_VRAM_BUDGET_GB,
                               free_below_gb=settings.TOWER_COMFYUI_FREE_BELOW_GB)
    raise BackendError(f"unknown generation backend {name!r} (use 'builtin' or 'comfyui')")


def get_upscaler(choice: str) -> Upscaler:
    from productions.lib.upscale import select_upscaler
    from productions.media_config import upscaler_options
    from productions.monitor import local_upscale_cuda

    # The pages and the API refuse a forced Real-ESRGAN while no worker has CUDA; a worker without one that
    # still gets such an episode (queued while a GPU worker was up, or a rejection's re-render) fails it at
    # once rather than spend hours on its CPU, unless its administrator asked for the CPU by name.
    cpu_on_purpose = settings.TOWER_UPSCALE_DEVICE.strip().lower() == "cpu"
    if choice == Episode.Upscaler.REALESRGAN and not cpu_on_purpose and not local_upscale_cuda():
        raise BackendError(
            f"this episode's upscaler is Real-ESRGAN, and this worker ({socket.gethostname()}) has no CUDA GPU: "
            "on its CPU that takes hours. Render it again while a GPU worker runs, or choose Auto or Lanczos "
            "(an administrator who wants the CPU anyway sets TOWER_UPSCALE_DEVICE=cpu on the worker).")
    try:
        return select_upscaler(
            choice, device=settings.TOWER_UPSCALE_DEVICE or None, model=settings.TOWER_UPSCALE_MODEL,
            **upscaler_options(),
        )
    except (ImportError, ValueError) as exc:  # WeightsError is a ValueError: a bad or mismatched weights file
        raise BackendError(f"the {choice} upscaler cannot run: {exc}") from exc


def relative(path: Path) -> str:
    return os.fspath(path.relative_to(settings.MEDIA_ROOT))


HEADLINE_CHARS = 300  # a headline is one line a producer reads at a glance; the rest goes to the details
DETAILS_CHARS = 20_000  # the end of a long log is where ffmpeg says what went wrong


class ErrorReport(NamedTuple):
    """What a producer sees when a render fails: one plain line, and the technical log behind a "Details"
    disclosure (ffmpeg's output, a generation server's message, a traceback)."""

    headline: str
    details: str = ""


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= HEADLINE_CHARS else line[:HEADLINE_CHARS - 1].rstrip() + "…"


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= DETAILS_CHARS else "…" + text[-DETAILS_CHARS:]


def error_report(exc: BaseException) -> ErrorReport:
    kept = "Finished segments are kept; resume to continue."
    if isinstance(exc, QAFlagged):
        return ErrorReport(_one_line(str(exc)), _tail(str(exc)) if "\n" in str(exc).strip() else "")
    if isinstance(exc, OSError) and exc.errno == 28:
        return ErrorReport("The disk is full (No space left on device). Free space, then resume: finished "
                           "segments are kept.", _tail(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, FFmpegError):
        cause = f": {exc.cause}" if exc.cause else ""
        log_text = exc.stderr.strip() or str(exc)
        code = f"ffmpeg exited with code {exc.returncode}\n" if exc.returncode is not None else ""
        return ErrorReport(_one_line(f"Video processing failed while {exc.what}{cause}.") + " " + kept,
                           _tail(code + log_text))
    if isinstance(exc, BackendError):
        message = str(exc)
        headline = _one_line(f"Generation failed: {message.strip().splitlines()[0] if message.strip() else ''}.")
        return ErrorReport(f"{headline} {kept}", _tail(message) if _one_line(message) != message.strip() else "")
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ErrorReport(f"Unexpected error ({type(exc).__name__}). {kept}", _tail(trace))


def ensure_segments(episode: Episode) -> list[Segment]:
    """The episode's segments: its storyboard's shots (drafted from its plan if it has none yet)."""
    return draft(episode)


def shot_fields(episode: Episode, segment: Segment) -> dict:
    """The storyboard's part of a SegmentRequest for `segment` (storyboard.request_fields): its prompt composed
    from its action (an empty one continues the shot before it), its own characters and the styles; its
    characters, their LoRA stack (the same wherever a character appears) and its motion."""
    from productions import storyboard

    shots = list(episode.segments.order_by("index"))
    characters = storyboard.shot_characters(shots)
    composed = storyboard.compose_prompts(episode, shots, characters)
    actions = storyboard.carried(shots)
    at = next(i for i, shot in enumerate(shots) if shot.pk == segment.pk)
    fields = storyboard.request_fields(segment, actions[at], characters[segment.pk], composed[at])
    if not fields["prompt"]:  # nothing to compose from (no action, character or style): what it had
        fields["prompt"] = segment.prompt
    return fields


def episode_loras(episode: Episode) -> list[str]:
    """The LoRA files of the characters in the episode's shots (what the servers must have)."""
    return sorted({c.lora for c in Character.objects.filter(shots__episode=episode).exclude(lora="")})


def starts_chain(segment: Segment) -> bool:
    """Whether a first-frame model starts this segment from a keyframe of its own (the opening shot, or a shot
    after a cut, a dissolve or a fade) rather than from the previous segment's last frame."""
    return segment.index == 0 or not segment.join_spec.chained


def chains(segments: list[Segment]) -> list[list[Segment]]:
    """The segments (in order) cut into chains: each starts a shot and runs on from one segment to the next."""
    found: list[list[Segment]] = []
    for segment in segments:
        if starts_chain(segment) or not found:
            found.append([])
        found[-1].append(segment)
    return found


def made_in_pass(segment: Segment | None) -> bool:
    """Whether a chain may go on after `segment`: made, or flagged by QA in this pass (handled: claimed, no
    heartbeat) with its last frame kept."""
    if segment is None:
        return False
    if segment.status == Segment.Status.DONE:
        return True
    return (segment.status == Segment.Status.FAILED and segment.error.startswith(QA_FAILED)
            and bool(segment.claimed_by) and segment.heartbeat_at is None and bool(segment.last_frame_path))


def anchored_end(segment: Segment, segments: list[Segment]) -> Segment | None:
    """The segment whose keyframe an anchored segment ends on: the next one when their join is continuous;
    None when it ends on a closing keyframe of its own (before a cut, a dissolve or a fade, and the last)."""
    after = segments[segment.index + 1] if segment.index + 1 < len(segments) else None
    return after if after is not None and after.join_spec.chained else None


def in_thread(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` for a worker thread: the thread's own database connection is closed when it returns."""
    def run(*args: Any) -> T:
        try:
            return fn(*args)
        finally:
            db_connection.close()
    return run


def temporary_abandoned(path: Path, lease_s: float) -> bool:
    """Whether a `.tmp-*` file is a crash's leftover, not another worker's write in progress: its writer is
    provably dead (a process of this host that is gone, or a worker that reported itself stopped), or the file
    has not been written to for a whole lease and is not this process's own."""
    writer = temporary_writer(path)
    if writer is not None and writer.is_this_host():
        try:
            os.kill(writer.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        if writer.pid == os.getpid():
            return False
    elif writer is not None and any(
            beat.stopped_at is not None and host_key(beat.host) == writer.host
            for beat in WorkerHeartbeat.objects.filter(pid=writer.pid).only("host", "stopped_at")):
        return True
    try:  # a staging folder is as fresh as the newest file in it
        written = max(p.stat().st_mtime for p in [path, *(path.iterdir() if path.is_dir() else [])])
    except FileNotFoundError:
        return False
    return time.time() - written > lease_s


class LeaseKeeper(threading.Thread):
    """Renews a render's lease every lease/4 from beside it, whatever the render is doing (a stitch or an
    upscale can take far longer than the lease): the lease lapses only when the process dies or stalls. When a
    renewal finds the episode held by another worker, the render stops at its next safe point (LeaseLost)."""

    def __init__(self, render: EpisodeRender, period_s: float):
        super().__init__(name=f"tower-lease-{render.episode.pk}", daemon=True)
        self.render, self.period_s = render, period_s
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.period_s):
                try:
                    self.render.renew()
                except Exception:  # a database hiccup: the next renewal tries again (a lease outlasts two)
                    log.warning("renewing the lease on episode %s failed", self.render.episode.pk, exc_info=True)
                    db_connection.close()
        finally:
            db_connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (ffmpeg), for post-processing cost accounting."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class EpisodeRender:
    """One worker's run over one episode. `run()` returns the final status."""

    def __init__(self, episode: Episode, worker_id: str | None = None,
                 on_event: Callable[[dict], None] | None = None, *, helper: bool = False):
        self.episode = episode
        self.worker_id = worker_id or new_worker_id()
        self.helper = helper  # making segments of an anchored render another worker holds (see help())
        self._local = threading.local()
        self.on_event = on_event
        self.spec = episode.delivery_spec()
        self._last_flush = 0.0
        self._cancel = threading.Event()
        self._lease_lost = threading.Event()  # set by the LeaseKeeper: another worker holds the episode now
        self._held: set[int] = set()  # anchored segments this worker's threads are making (renewed too)
        self._held_lock = threading.Lock()

    # --- plumbing -----------------------------------------------------------------------------------------
    def publish(self, payload: dict) -> None:
        from productions.events import publish_episode_event

        publish_episode_event(self.episode, payload)
        if self.on_event:
            self.on_event(payload)

    def set_stage(self, stage: str) -> None:
        self.check_lease()
        Episode.objects.filter(pk=self.episode.pk).update(stage=stage, updated_at=timezone.now())
        self.episode.stage = stage
        self.publish({"type": "episode", "status": self.episode.status, "stage": stage})
        self.keep_lease()

    def renew(self) -> None:
        """One renewal (the LeaseKeeper's): the episode (unless helping) and the anchored segments held here."""
        if not self.helper and not self.episode.heartbeat(self.worker_id):
            self._lease_lost.set()
        with self._held_lock:
            held = list(self._held)
        if held:  # a handled segment (heartbeat_at None) is not revived
            Segment.objects.filter(pk__in=held, claimed_by=self.worker_id, heartbeat_at__isnull=False).update(
                heartbeat_at=timezone.now())

    def check_lease(self) -> None:
        """A safe point: stop (LeaseLost) if a renewal found the episode held by another worker."""
        if self._lease_lost.is_set():
            raise LeaseLost()

    @contextmanager
    def owned(self) -> Iterator[None]:
        """A transaction that writes only while this worker holds the episode: it starts by renewing the lease,
        which locks the episode's row so no takeover slips in before it commits, and raises LeaseLost (writing
        nothing) when another worker holds it. Whatever ends or reports on the render goes through here."""
        self.check_lease()
        with transaction.atomic():
            if not Episode.objects.filter(pk=self.episode.pk, claimed_by=self.worker_id).update(
                    heartbeat_at=timezone.now()):
                self._lease_lost.set()
                raise LeaseLost()
            yield

    def while_held(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """`frames`, stopping (LeaseLost) as soon as a renewal finds the episode held by another worker: a long
        stitch ends at once instead of finishing a file nobody will use."""
        for frame in frames:
            self.check_lease()
            if worker_stopping():
                raise WorkerStopping()
            yield frame

    def keep_lease(self) -> None:
        self.check_lease()
        if worker_stopping():  # a safe point: nothing half-written is recorded
            raise WorkerStopping()
        if not self.helper and not self.episode.heartbeat(self.worker_id):
            self._lease_lost.set()
            raise LeaseLost()
        segment = getattr(self._local, "segment", None)  # an anchored segment this thread holds
        if segment is not None and not segment.heartbeat(self.worker_id):
            raise LeaseLost()
        if Episode.objects.filter(pk=self.episode.pk, cancel_requested=True).exists():
            self._cancel.set()

    def should_cancel(self) -> bool:
        return self._cancel.is_set() or worker_stopping()

    def record_tries(self, attempt: SegmentAttempt) -> Callable[[object], None]:
        """Store each server try of a generation attempt (the ComfyUI pool reports them as they happen)."""
        tries: dict[int, dict] = {}

        def on_try(server_try) -> None:
            data = server_try.as_dict()
            tries[data["number"]] = data
            SegmentAttempt.objects.filter(pk=attempt.pk).update(
                tries=[tries[n] for n in sorted(tries)], server=data.get("server", ""))

        return on_try

    def segment_progress(self, segment: Segment) -> Callable[[int, int, Frame | None], None]:
        def progress(step: int, total: int, preview: Frame | None) -> None:
            self.check_lease()
            now = time.monotonic()
            fraction = Segment.GENERATION_SHARE * step / max(total, 1)  # post-processing is the rest
            if preview is not None:
                path = self.episode.media_dir / f"segment-{segment.index:02d}" / "preview.jpg"
                save_image(preview, path, quality=80)
                segment.preview_path = relative(path)
            if now - self._last_flush < PROGRESS_FLUSH_S and step < total:
                return
            self._last_flush = now
            segment.progress = fraction
            Segment.objects.filter(pk=segment.pk).update(progress=fraction, preview_path=segment.preview_path)
            self.publish({"type": "progress", "segment": segment.index, "step": step, "total": total,
                          "progress": fraction, "preview": bool(segment.preview_path)})
            self.keep_lease()

        return progress

    # --- the pipeline -------------------------------------------------------------------------------------
    def run(self) -> str:
        episode = self.episode
        if not episode.claim(self.worker_id, settings.TOWER_LEASE_S):
            log.info("episode %s is held by %s or not queued; skipping", episode.pk, episode.claimed_by)
            return episode.status
        keeper = LeaseKeeper(self, lease_renewal_s(settings.TOWER_LEASE_S))
        keeper.start()
        try:
            with render_running():  # a stopping worker waits for this render to hand its episode back
                try:
                    if episode.started_at is None:
                        Episode.objects.filter(pk=episode.pk).update(started_at=timezone.now())
                    self.take_over()
                    self.render()
                except LeaseLost:
                    raise
                except Exception as exc:  # every failure ends in a visible state, never a silent dead task
                    if worker_stopping():  # whatever the stop broke (a killed ffmpeg, a cancelled step)
                        log.info("episode %s: the worker is stopping; handing it back (%s)", episode.pk, exc)
                        self.hand_back()
                    elif isinstance(exc, Cancelled):
                        self.finish(Episode.Status.CANCELLED, "Cancelled by request. Finished segments are kept.")
                    else:
                        log.exception("episode %s failed", episode.pk)
                        self.finish(Episode.Status.FAILED, *error_report(exc))
        except LeaseLost:  # the new holder owns the episode's state now: nothing here is written
            log.warning("episode %s: lease lost to another worker; stopping", episode.pk)
        finally:
            keeper.stop()
            episode.release(self.worker_id)
        return Episode.objects.get(pk=episode.pk).status

    def hand_back(self) -> None:
        """The worker is stopping: give the episode back, queued, claim released, to resume from its last
        finished step on the next start (owner only). The attempt under way is "interrupted", its segment
        pending again."""
        with self.owned():
            Episode.objects.filter(pk=self.episode.pk).update(
                status=Episode.Status.QUEUED, stage="queued", claimed_by="", heartbeat_at=None,
                updated_at=timezone.now())
            release_segments(self.episode, self.worker_id)
        self.episode.refresh_from_db()
        self.publish({"type": "episode", "status": self.episode.status, "stage": self.episode.stage})

    def take_over(self) -> None:
        """Clear what a previous holder that died mid-render left: its attempts still "running" become
        "interrupted" and their segments pending again (unless a live helper is making them: anchored), and its
        temporary files are deleted, only where provably abandoned (temporary_abandoned)."""
        episode, lease_s = self.episode, settings.TOWER_LEASE_S
        live = Q(segment__claimed_by__gt="", segment__heartbeat_at__gte=lease_silent_since(lease_s))
        with self.owned():
            SegmentAttempt.objects.filter(segment__episode=episode, outcome=SegmentAttempt.Outcome.RUNNING) \
                .exclude(live).update(outcome=SegmentAttempt.Outcome.INTERRUPTED, finished_at=timezone.now(),
                                      error="Its worker stopped before it finished; it is made again.")
            Segment.objects.filter(episode=episode, status__in=[Segment.Status.GENERATING, Segment.Status.POST]) \
                .exclude(claimed_by__gt="", heartbeat_at__gte=lease_silent_since(lease_s)) \
                .update(status=Segment.Status.PENDING, progress=0.0)

        def abandoned(path: Path) -> bool:
            return temporary_abandoned(path, lease_s)

        remove_stale_temporaries(episode.media_dir, abandoned)
        for folder in episode.media_dir.glob("segment-*"):
            remove_stale_temporaries(folder, abandoned)

    def finish(self, status: str, error: str = "", details: str = "") -> None:
        """End the render (owner only: LeaseLost, writing nothing, when another worker holds it)."""
        failed = status == Episode.Status.FAILED
        with self.owned():
            Episode.objects.filter(pk=self.episode.pk).update(
                status=status, error=error, error_details=details, finished_at=timezone.now(), stage="",
                cancel_requested=False
            )
            Segment.objects.filter(
                episode=self.episode, status__in=[Segment.Status.GENERATING, Segment.Status.POST]
            ).update(status=Segment.Status.FAILED if failed else Segment.Status.PENDING,
                     error=error if failed else "", error_details=details if failed else "")
        self.episode.refresh_from_db()
        render_ended(self.episode)  # inbox, email, webhook (productions.notifications); never raises
        self.publish({"type": "episode", "status": status, "error": error})

    def render(self) -> None:
        episode = self.episode
        timings: dict = dict(episode.timings or {})
        # Which workers (host:pid:token) have worked on this episode, for admins and the scale-out tests.
        timings["workers"] = [*timings.get("workers", []), self.worker_id]
        backend = get_backend(episode.backend_name())
        upscaler = get_upscaler(episode.upscaler_choice())
        self.set_stage("planning")
        segments = ensure_segments(episode)
        if hasattr(backend, "check_servers") and not all(s.is_complete() for s in segments):
            self.set_stage("checking servers")  # what each server lacks is named before anything is queued
            width, height = episode.native_size()
            extra = {}
            if "loras" in inspect.signature(backend.check_servers).parameters:  # the characters' LoRA files
                extra["loras"] = episode_loras(episode)
            backend.check_servers(episode.model_profile().name, width, height,
                                  max(s.native_frames for s in segments), episode.generation_profile().native_fps,
                                  episode.keyframe_profile().name, **extra)

        if episode.model_profile().conditioning == "first_last":
            self.render_anchored(segments, backend, timings)
        else:
            self.render_chained(segments, backend, timings)
        segments = list(episode.segments.order_by("index"))
        timings["generate_s"] = round(sum(s.timings.get("generate_s", 0) for s in segments), 3)
        timings["post_segments_s"] = round(sum(s.timings.get("post_s", 0) for s in segments), 3)
        timings["post_segments_cpu_s"] = round(sum(s.timings.get("post_cpu_s", 0) for s in segments), 3)
        timings["qa_segments_s"] = round(sum(s.timings.get("qa_s", 0) for s in segments), 3)
        Episode.objects.filter(pk=episode.pk).update(timings=timings)
        flagged = [s.index for s in segments if not s.is_complete()]
        if flagged:
            raise QAFlagged(flagged)

        upscale = upscaler.ffmpeg_filter(self.spec.width, self.spec.height)
        if upscale is not None:  # a model's native aspect (Wan 2.2: 1280x704) is cropped to the delivery's
            upscale = upscale_chain(self.spec, upscale)
        if upscale is None:  # an upscaler outside ffmpeg: its frames are cached once per segment
            self.set_stage("upscaling")
            for segment in segments:
                self.upscale_segment(segment, upscaler)

        self.set_stage("stitching")
        started, cpu = time.monotonic(), children_cpu_s()
        final = episode.media_dir / "final.mp4"
        # Made in a folder of this worker's own (a temporary name), checked there, and renamed over final.mp4
        # only while this worker still holds the episode (owned()), together with its reports.
        staging = temporary_path(episode.media_dir / "final")
        try:
            report = self.stitch(segments, upscaler, backend, upscale, final, staging / final.name, timings,
                                 started, cpu)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # Ended only once its temporaries are gone: whoever sees the render end finds nothing half-made.
        if report.passed:
            # Delivered only once a producer has approved every segment; until then it awaits review.
            approved = episode.all_segments_approved()
            self.finish(Episode.Status.DELIVERED if approved else Episode.Status.REVIEW)
            if approved:
                from productions.versions import record_delivery

                record_delivery(self.episode)  # kept as its version's file (productions.versions)
        else:
            failed = "; ".join(check.detail or check.name for check in report.failures)
            self.finish(Episode.Status.FAILED, f"The final video does not meet the delivery spec: {failed}.")

    def stitch(self, segments: list[Segment], upscaler: Upscaler, backend: Backend, upscale: str | None,
               final: Path, staged: Path, timings: dict, started: float, cpu: float) -> ConformanceReport:
        """Encode the final video at `staged`, check it, and rename it over `final` with its reports while this
        worker holds the episode; the conformance report says how the render ends."""
        episode = self.episode
        clips = [self.clip(s, upscaled=upscale is None) for s in segments]
        frame_counts = [c.frames for c in clips]
        joins = [c.join for c in clips]
        total_frames = timeline_frames(frame_counts, joins)
        boundaries = [b / self.spec.fps for b in continuous_boundaries(frame_counts, joins)]
        transitions = transition_ranges(frame_counts, joins)
        _, (episode_qa, qa_s) = render_episode_file(
            clips, spec=self.spec, upscale=upscale, out_path=staged, preset=settings.TOWER_X264_PRESET,
            # Episode QA reads the finished frames from the encoding ffmpeg itself: no second decode.
            analyse=lambda frames: timed(check_episode_frames, self.while_held(frames), self.spec.fps, boundaries,
                                         expected_frames=total_frames, transitions=transitions),
        )
        timings["stitch_encode_s"] = round(time.monotonic() - started, 3)
        # The stitch's pace, for the next estimate (productions.eta).
        timings["stitch_frames"] = total_frames
        timings["stitch_megapixel_frames"] = round(total_frames * self.spec.width * self.spec.height / 1e6, 3)
        timings["stitch_encode_cpu_s"] = round(children_cpu_s() - cpu, 3)
        timings["qa_episode_s"] = round(qa_s, 3)

        self.set_stage("conformance")
        started = time.monotonic()
        report = check_conformance(staged, self.spec)
        timings["conformance_s"] = round(time.monotonic() - started, 3)
        fingerprint = file_fingerprint(staged)  # a rename keeps size and mtime: final.mp4's once renamed
        with self.owned():
            os.replace(staged, final)
            Episode.objects.filter(pk=episode.pk).update(final_path=relative(final), timings=timings)
            # One current report of each kind, about this final file: a re-stitch replaces the last one's.
            QAReport.objects.filter(episode=episode, segment=None,
                                    kind__in=[QAReport.Kind.EPISODE, QAReport.Kind.CONFORMANCE]).delete()
            QAReport.objects.create(
                episode=episode, kind=QAReport.Kind.EPISODE, passed=episode_qa.passed,
                checks=episode_qa.as_dict()["checks"],
                details={"boundaries_s": [round(b, 3) for b in boundaries], "transitions": transitions,
                         "summary": episode_qa.summary(), "final": fingerprint},
            )
            QAReport.objects.create(
                episode=episode,
                kind=QAReport.Kind.CONFORMANCE,
                passed=report.passed,
                checks=report.as_dict()["checks"],
                details={"upscaler": upscaler.describe(), "backend": backend.name, "ai": backend.is_ai,
                         "interpolation": episode.interpolation, "native_fps": episode.native_fps,
                         "preset": settings.TOWER_X264_PRESET, "final": fingerprint},
            )
        return report

    def render_chained(self, segments: list[Segment], backend: Backend, timings: dict) -> None:
        """A first-frame model: each segment starts from the previous one's last frame, or from its own keyframe
        when it starts a new shot (a cut, a dissolve, a fade: a new chain). With one server the segments are
        made one after the other, in order; with several (and several chains to make) the chains run at once
        (render_chains)."""
        parallel = max(1, int(getattr(backend, "parallelism", 1)))
        unfinished = [chain for chain in chains(segments) if not all(s.is_complete() for s in chain)]
        if parallel > 1 and len(unfinished) > 1:
            self.render_chains(segments, unfinished, backend, timings, parallel)
            return
        self.set_stage("keyframe")
        started = time.monotonic()
        init = self.keyframe(backend)
        timings["keyframe_s"] = round(time.monotonic() - started, 3) if not timings.get("keyframe_s") else \
            timings["keyframe_s"]
        started = time.monotonic()
        for segment in segments:
            if segment.is_complete():
                init = load_image(segment.file("last_frame_path"))
                continue
            self.set_stage(f"segment {segment.index + 1} of {len(segments)}")
            if segment.index and not segment.join_spec.chained:
                init = self.shot_keyframe(segment, backend)  # a new shot starts from its own keyframe
            init = self.make_segment(segment, init, backend)
        timings["generation_wall_s"] = round(time.monotonic() - started, 3)

    def render_chains(self, segments: list[Segment], unfinished: list[list[Segment]], backend: Backend,
                      timings: dict, parallel: int) -> None:
        """Chains at once: the keyframes they start from first, then each chain's segments in order, different
        chains side by side: this worker makes as many as its backend has servers, and helper tasks
        (`make_anchored_segments`) let other Huey workers take chains too. The unit of work is a chain's next
        segment, claimed with a heartbeat (Segment.claim) only once the segment before it in its chain is made
        (or flagged by QA: it continues from its last frame, as one after the other would)."""
        self.set_stage("keyframes")
        started = time.monotonic()
        openings = [chain[0] for chain in unfinished if not chain[0].is_complete()]
        with ThreadPoolExecutor(parallel, thread_name_prefix="tower-keyframes") as pool:
            list(pool.map(in_thread(lambda segment: self.chain_start(segment, backend)), openings))
        timings["keyframe_s"] = round(time.monotonic() - started, 3)
        todo = [s for chain in unfinished for s in chain if not s.is_complete()]
        self.set_stage(f"{len(unfinished)} shots at once")
        started = time.monotonic()
        # A segment marked done whose files are gone is made again, like one after the other would.
        Segment.objects.filter(pk__in=[s.pk for s in todo], status=Segment.Status.DONE) \
            .update(status=Segment.Status.PENDING)
        self.make_all_claimed(segments, todo, backend, parallel, helpers=len(unfinished) - 1, chained=True)
        timings["generation_wall_s"] = round(time.monotonic() - started, 3)

    def chain_start(self, segment: Segment, backend: Backend) -> Frame:
        """The keyframe a chain starts from: the episode's opening one, or the shot's own."""
        return self.keyframe(backend) if segment.index == 0 else self.shot_keyframe(segment, backend)

    def make_all_claimed(self, segments: list[Segment], todo: list[Segment], backend: Backend, parallel: int,
                         helpers: int, chained: bool) -> None:
        """Make `todo` by claims (make_claimed) here and in `helpers` helper tasks other workers may take; wait
        for the segments other workers hold, taking over any whose worker went silent."""
        from productions.tasks import make_anchored_segments

        Segment.objects.filter(pk__in=[s.pk for s in todo]).update(claimed_by="", heartbeat_at=None)
        for _ in range(helpers):
            make_anchored_segments(self.episode.pk)
        self.make_claimed(segments, backend, parallel)
        while True:  # segments other workers hold: wait for them, take over any whose worker went silent
            pending = Segment.objects.filter(pk__in=[s.pk for s in todo]).exclude(status=Segment.Status.DONE) \
                .filter(Q(claimed_by="") | Q(heartbeat_at__isnull=False))
            if chained:  # a chain stops at a segment a helper failed on: its next ones can never start
                self.raise_helper_failure(todo)
            if not pending.exists():
                break
            if self.should_cancel():
                raise Cancelled("Cancelled on request")
            self.keep_lease()
            self.make_claimed(segments, backend, parallel)
            time.sleep(0.2)
        self.raise_helper_failure(todo)

    @staticmethod
    def raise_helper_failure(todo: list[Segment]) -> None:
        """A helper's backend or video error on a segment of this pass (QA failures are flagged as usual)."""
        failed = Segment.objects.filter(pk__in=[s.pk for s in todo], status=Segment.Status.FAILED,
                                        claimed_by__gt="", heartbeat_at__isnull=True) \
            .exclude(error__startswith=QA_FAILED).first()
        if failed is not None:
            raise BackendError(f"segment {failed.index + 1}: {failed.error}")

    def render_anchored(self, segments: list[Segment], backend: Backend, timings: dict) -> None:
        """A first-and-last-frame model: the keyframes of every segment boundary are made first, then every
        segment runs between its two keyframes, all at once: this worker makes as many as its backend has
        servers, and helper tasks (`make_anchored_segments`) let every other Huey worker take segments too;
        each segment is claimed with a heartbeat (Segment.claim), so one whose worker dies is taken over.
        A continuous join shares its keyframe (segment i ends exactly where i+1 starts: the duplicate is
        dropped as for chained segments); a segment before a cut or a dissolve, and the last one, end on a
        closing keyframe of their own. Nothing waits for a previous segment: drift cannot accumulate."""
        parallel = max(1, int(getattr(backend, "parallelism", 1)))
        todo = [s for s in segments if not s.is_complete()]
        self.set_stage("keyframes")
        started = time.monotonic()

        def start_of(segment: Segment) -> Frame:
            return self.keyframe(backend) if segment.index == 0 else self.shot_keyframe(segment, backend)

        def end_of(segment: Segment) -> Frame:
            after = anchored_end(segment, segments)
            if after is not None:
                return start_of(after)
            path = SegmentFiles(segment.media_dir).closing_keyframe
            return self.stored_keyframe(path, path.exists(), backend, segment.prompt,
                                        next_seed(segment.seed, 1))[0]

        with ThreadPoolExecutor(parallel, thread_name_prefix="tower-anchored") as pool:
            list(pool.map(in_thread(start_of), todo))
            list(pool.map(in_thread(end_of), todo))
        timings["keyframe_s"] = round(time.monotonic() - started, 3)
        self.set_stage(f"{len(todo)} segments at once")
        started = time.monotonic()
        self.make_all_claimed(segments, todo, backend, parallel, helpers=len(todo) - 1, chained=False)
        timings["generation_wall_s"] = round(time.monotonic() - started, 3)

    def anchor_frames(self, segment: Segment, segments: list[Segment]) -> tuple[Frame, Frame]:
        """The two keyframes an anchored segment runs between (made by the worker holding the episode)."""
        after = anchored_end(segment, segments)
        end = self.start_keyframe(after) if after is not None else SegmentFiles(segment.media_dir).closing_keyframe
        size = self.episode.native_size()
        return load_image(self.start_keyframe(segment), size), load_image(end, size)

    def start_keyframe(self, segment: Segment) -> Path:
        """Where the keyframe a segment starts from is kept: the shot's current one (made before the segments:
        render_anchored), or an older render's opening keyframe."""
        path = self.current_keyframe(segment)
        if path is not None:
            return path
        return self.opening_keyframe if segment.index == 0 else SegmentFiles(segment.media_dir).keyframe

    @property
    def opening_keyframe(self) -> Path:
        return self.episode.media_dir / "keyframe.png"

    def make_claimed(self, segments: list[Segment], backend: Backend, parallel: int) -> None:
        """Claim and make segments, `parallel` at a time, until none is left to claim. Anchored: any segment.
        Chained (a first-frame model): a segment that starts a chain, or whose predecessor in its chain is
        made (or flagged) in this pass; it starts from that one's last frame."""
        chained = self.episode.model_profile().conditioning != "first_last"

        def claim_next() -> tuple[Segment, dict[int, Segment]] | None:
            current = list(Segment.objects.filter(episode=self.episode).order_by("index"))
            by_index = {s.index: s for s in current}
            for s in current:
                if s.status == Segment.Status.DONE:
                    continue
                if chained and not starts_chain(s) and not made_in_pass(by_index.get(s.index - 1)):
                    continue
                if s.claim(self.worker_id, settings.TOWER_LEASE_S):
                    return s, by_index
            return None

        def loop() -> None:
            while not self.should_cancel():
                claimed = claim_next()
                if claimed is None:
                    return
                segment, by_index = claimed
                self._local.segment = segment
                with self._held_lock:
                    self._held.add(segment.pk)
                try:
                    # An attempt a silent worker left "running" on it ended with that worker.
                    SegmentAttempt.objects.filter(segment=segment, outcome=SegmentAttempt.Outcome.RUNNING).update(
                        outcome=SegmentAttempt.Outcome.INTERRUPTED, finished_at=timezone.now(),
                        error="Its worker stopped before it finished; it is made again.")
                    if chained:
                        before = by_index.get(segment.index - 1)
                        start = self.chain_start(segment, backend) if starts_chain(segment) else \
                            load_image(before.file("last_frame_path"))
                        self.make_segment(segment, start, backend)
                    else:
                        start, end = self.anchor_frames(segment, segments)
                        self.make_segment(segment, start, backend, end)
                finally:
                    self._local.segment = None
                    with self._held_lock:
                        self._held.discard(segment.pk)
                segment.handled(self.worker_id)

        with ThreadPoolExecutor(parallel, thread_name_prefix="tower-claimed") as pool:
            done = [pool.submit(in_thread(loop)) for _ in range(parallel)]
            errors = [f.exception() for f in done]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def help(self) -> str:
        """A helper task's part of a render held by another worker (anchored segments, or chains of a first-frame
        model with several shots): make segments it can claim (make_claimed).
        A failure is written on the segment (the holder reports it); the episode is never touched."""
        keeper = LeaseKeeper(self, lease_renewal_s(settings.TOWER_LEASE_S))  # renews the segments it holds
        keeper.start()
        try:
            backend = get_backend(self.episode.backend_name())
            segments = list(self.episode.segments.order_by("index"))
            self.make_claimed(segments, backend, max(1, int(getattr(backend, "parallelism", 1))))
            return "helped"
        except (LeaseLost, Cancelled):
            if worker_stopping():
                release_segments(self.episode, self.worker_id)
            return "stopped"
        except Exception as exc:
            if worker_stopping():  # the segment goes back to be made by whoever claims it next
                release_segments(self.episode, self.worker_id)
                return "stopped"
            log.exception("helping episode %s failed", self.episode.pk)
            report = error_report(exc)
            Segment.objects.filter(episode=self.episode, claimed_by=self.worker_id, heartbeat_at__isnull=False) \
                .update(status=Segment.Status.FAILED, error=report.headline, error_details=report.details,
                        heartbeat_at=None)
            return f"failed: {exc}"
        finally:
            keeper.stop()

    def clip_fps(self, segment: Segment) -> float:
        """The rate of the segment's native clip (recorded when written; the plan's for older segments)."""
        return segment.clip_fps or self.episode.generation_profile().native_fps

    def clip(self, segment: Segment, *, upscaled: bool) -> Clip:
        files = SegmentFiles(segment.media_dir)
        return Clip(path=files.upscaled if upscaled else files.native,
                    fps=self.clip_fps(segment),
                    interpolation=self.episode.generation_profile().interpolation, join=segment.join_spec,
                    frames=segment.delivered_frames, upscaled=upscaled)

    def keyframe(self, backend: Backend) -> Frame:
        """The episode's opening keyframe: the first shot's (the first segment starts from it)."""
        episode = self.episode
        first = episode.segments.order_by("index").first()
        if first is None or (episode.keyframe_path and self.opening_keyframe.exists()
                             and not self.current_keyframe(first)):
            # an episode whose render began before keyframes were the shots' own: its opening one is reused
            return self.stored_keyframe(self.opening_keyframe, bool(episode.keyframe_path), backend,
                                        first.prompt if first else episode.synopsis, episode.seed)[0]
        frame = self.shot_keyframe(first, backend)
        if episode.keyframe_path != first.keyframe_path:
            Episode.objects.filter(pk=episode.pk).update(keyframe_path=first.keyframe_path)
            episode.keyframe_path = first.keyframe_path
        return frame

    def shot_keyframe(self, segment: Segment, backend: Backend) -> Frame:
        """The keyframe a shot starts from: its current one (approved on the storyboard, or made by an earlier
        pass: a keyframe on disk is reused), else drawn now from the shot's composed prompt and recorded in the
        shot's keyframe history (a KeyframeAttempt) as its current keyframe."""
        from productions.keyframes import draw_keyframe, keyframe_seed, new_attempt

        path = self.current_keyframe(segment)
        if path is not None:
            return load_image(path, self.episode.native_size())
        self.keep_lease()
        attempt = new_attempt(segment, None, keyframe_seed(segment))
        return draw_keyframe(self.episode, segment, backend, attempt,
                             lambda step, total, preview: self.keep_lease(), self.should_cancel)

    @staticmethod
    def current_keyframe(segment: Segment) -> Path | None:
        """The shot's current keyframe file (read fresh: the storyboard or another thread may have set it)."""
        from productions.keyframes import current_file

        return current_file(segment)

    def stored_keyframe(self, path: Path, recorded: bool, backend: Backend, prompt: str,
                        seed: int) -> tuple[Frame, bool]:
        """(frame, newly made): the keyframe already on disk, else drawn by the backend and saved."""
        if recorded and path.exists():
            return load_image(path, self.episode.native_size()), False
        episode = self.episode
        size = episode.native_size()
        frame = backend.generate_keyframe(
            KeyframeRequest(prompt=prompt, seed=seed, width=size[0], height=size[1],
                            negative_prompt=episode.negative_prompt, style=episode.style,
                            model=episode.keyframe_profile().name if backend.is_ai else ""),
            lambda step, total, preview: self.keep_lease(),
            self.should_cancel,
        )
        save_image(frame, path)
        return frame, True

    def make_segment(self, segment: Segment, init: Frame, backend: Backend, end: Frame | None = None) -> Frame:
        """Generate one segment, streaming its frames through segment QA and into its native clip and proxy
        (one pass, one frame in memory at a time). A segment failing a blocking QA check is generated again
        with a new seed, up to TOWER_QA_MAX_ATTEMPTS tries; then it is flagged for the producer (FAILED, with
        its last try's files kept for viewing) and the episode will not be stitched from it."""
        max_attempts = settings.TOWER_QA_MAX_ATTEMPTS
        tries_left = max_attempts
        while True:
            tries_left -= 1
            attempt, qa, last = self.generate(segment, init, backend, last_try=tries_left <= 0, end=end)
            if qa.passed or tries_left <= 0:
                break
            fail_attempt_qa(attempt, qa)
            segment.seed = next_seed(segment.seed, segment.attempts)
            segment.save(update_fields=["seed"])
            self.publish({"type": "segment", "segment": segment.index, "status": "qa-retry",
                          "error": qa.summary()})

        if qa.passed:
            SegmentAttempt.objects.filter(pk=attempt.pk).update(
                outcome=SegmentAttempt.Outcome.SUCCEEDED, finished_at=timezone.now())
            segment.status = Segment.Status.DONE
        else:
            message = (f"{QA_FAILED} on {max_attempts} attempt(s): {qa.summary()}. "
                       "Regenerate it (new seed, or an edited prompt), or override QA with a written reason.")
            fail_attempt_qa(attempt, qa)
            segment.status = Segment.Status.FAILED
            segment.error = message
        segment.save(update_fields=["status", "error"])
        self.publish({"type": "segment", "segment": segment.index, "status": segment.status, "progress": 1.0,
                      "error": segment.error})
        return last

    def continued_info(self, segment: Segment, end: Frame | None) -> dict:
        """What the backend said of the segment this one continues from (a first-frame model's continuous join:
        it starts on that segment's last frame); {} when it starts from a keyframe."""
        if end is not None or not segment.index or not segment.join_spec.chained \
                or self.episode.model_profile().conditioning == "first_last":
            return {}
        before = Segment.objects.filter(episode=self.episode, index=segment.index - 1)
        return before.values_list("backend_info", flat=True).first() or {}

    def generate(self, segment: Segment, init: Frame, backend: Backend,
                 last_try: bool, end: Frame | None = None) -> tuple[SegmentAttempt, QAResult, Frame]:
        """One try: generation, segment QA and the clips in one pass over the frames. The clips are kept when
        QA passes or on the `last_try` (a flagged segment's files are kept for the producer)."""
        episode = self.episode
        shot = shot_fields(episode, segment)
        segment.prompt = shot["prompt"]  # the prompt as used (the storyboard's composition)
        segment.attempts += 1
        segment.status = Segment.Status.GENERATING
        segment.error = segment.error_details = ""
        segment.progress = 0.0
        segment.started_at = timezone.now()
        segment.save(update_fields=["prompt", "attempts", "status", "error", "error_details", "progress",
                                    "started_at"])
        attempt = SegmentAttempt.objects.create(
            segment=segment, number=segment.attempts, backend=backend.name, seed=segment.seed,
            prompt=segment.prompt,
        )
        self.publish({"type": "segment", "segment": segment.index, "status": segment.status})
        stream = backend.stream_segment if hasattr(backend, "stream_segment") else backend.generate_segment
        extra = {}
        if "on_attempt" in inspect.signature(stream).parameters:
            extra["on_attempt"] = self.record_tries(attempt)
        files = SegmentFiles(segment.media_dir)
        profile = episode.generation_profile()
        size = episode.native_size()
        clock = {"generate": 0.0, "post": 0.0, "post_cpu": 0.0}
        started = time.monotonic()
        try:
            result = stream(
                SegmentRequest(
                    seed=segment.seed, init_image=init, width=size[0], height=size[1],
                    num_frames=segment.native_frames, fps=profile.native_fps, index=segment.index,
                    server_interpolation=profile.interpolation == "rife", model=episode.model_profile().name,
                    delivery_fps=self.spec.fps, end_image=end, init_info=self.continued_info(segment, end),
                    **shot,  # prompt, negative, action, characters, LoRAs, motion (the style is in the prompt)
                ),
                self.segment_progress(segment),
                self.should_cancel,
                **extra,
            )
            clock["generate"] += time.monotonic() - started
            frames = iter(result.frames)
            first = next(frames, None)
            if first is None:
                raise BackendError(f"segment {segment.index} came back with no frames")
            height, width = first.shape[:2]
            cpu = children_cpu_s()
            with SegmentClipWriter(files, width, height, result.fps) as writer:
                last: list[Frame] = []
                native = result.fps == profile.native_fps
                qa = check_segment_frames(
                    through_writer(first, frames, writer, last, clock), result.fps,
                    segment.native_frames if native else None, prompt=segment.prompt,
                    clip_model_dir=settings.TOWER_CLIP_MODEL_DIR or None)
                keep = qa.passed or last_try
                if keep:
                    self.check_lease()  # a render that lost its episode leaves no clip behind
                    Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.POST,
                                                                 progress=Segment.GENERATION_SHARE)
                    self.publish({"type": "segment", "segment": segment.index, "status": Segment.Status.POST})
                    t0, c0 = time.monotonic(), time.thread_time()
                    writer.commit()
                    clock["post"] += time.monotonic() - t0
                    clock["post_cpu"] += time.thread_time() - c0
            clock["post_cpu"] += children_cpu_s() - cpu
            if keep:
                save_image(last[0], files.last_frame)
                save_image(thumbnail(last[0]), files.preview, quality=85)
        except BaseException as exc:
            self.attempt_ended(attempt, exc)
            raise
        total_s = time.monotonic() - started
        qa_s = max(0.0, total_s - clock["generate"] - clock["post"])
        QAReport.objects.create(
            episode=episode, segment=segment, kind=QAReport.Kind.SEGMENT, passed=qa.passed,
            checks=qa.as_dict()["checks"],
            details={"attempt": attempt.number, "seed": attempt.seed, "summary": qa.summary(), "qa_s": round(qa_s, 3)},
        )
        result.info.setdefault("backend", backend.name)
        result.info.setdefault("ai", backend.is_ai)
        if result.info.get("server"):
            SegmentAttempt.objects.filter(pk=attempt.pk).update(server=str(result.info["server"]),
                                                                peak_vram_bytes=result.info.get("peak_vram_bytes"))
        timings = dict(segment.timings)
        timings["qa_s"] = round(timings.get("qa_s", 0) + qa_s, 3)
        if keep:
            segment.progress = 1.0
            segment.native_path = relative(files.native)
            segment.proxy_path = relative(files.proxy)
            segment.upscaled_path = ""
            segment.last_frame_path = relative(files.last_frame)
            segment.preview_path = relative(files.preview)
            segment.clip_fps = result.fps
            segment.backend_info = {**result.info, "interpolation": clip_method(
                profile.interpolation, result.fps, self.spec.fps)}
            timings.update(generate_s=round(clock["generate"], 3), post_s=round(clock["post"], 3),
                           post_cpu_s=round(clock["post_cpu"], 3))
            segment.finished_at = timezone.now()
        segment.timings = timings
        segment.save()
        return attempt, qa, last[0] if last else first

    def upscale_segment(self, segment: Segment, upscaler: Upscaler) -> None:
        """Cache an outside-ffmpeg upscaler's frames for a segment once (a rejection re-runs only its own)."""
        files = SegmentFiles(segment.media_dir)
        if segment.upscaled_path and files.upscaled.exists():
            return
        self.keep_lease()
        started = time.monotonic()
        write_upscaled_clip(files, native_size=self.episode.native_size(), fps=self.clip_fps(segment),
                            spec=self.spec, upscaler=upscaler)
        segment.upscaled_path = relative(files.upscaled)
        segment.timings = {**segment.timings, "upscale_s": round(time.monotonic() - started, 3)}
        segment.save(update_fields=["upscaled_path", "timings"])

    @staticmethod
    def attempt_ended(attempt: SegmentAttempt, exc: BaseException) -> None:
        if worker_stopping():
            SegmentAttempt.objects.filter(pk=attempt.pk).update(
                outcome=SegmentAttempt.Outcome.INTERRUPTED, error=INTERRUPTED, finished_at=timezone.now())
            return
        outcome = SegmentAttempt.Outcome.CANCELLED if isinstance(exc, Cancelled) else \
            SegmentAttempt.Outcome.INTERRUPTED if isinstance(exc, LeaseLost) else SegmentAttempt.Outcome.FAILED
        error = str(exc) or ("Another worker took the episode over and makes this segment again."
                             if isinstance(exc, LeaseLost) else "")
        SegmentAttempt.objects.filter(pk=attempt.pk).update(
            outcome=outcome, error=error[:2000], finished_at=timezone.now())


INTERRUPTED = "Its worker stopped before it finished; it is made again when the render resumes."


def release_segments(episode: Episode, worker_id: str) -> None:
    """A stopping worker's segments of `episode` (chained: the one under way; anchored: those it claimed) go
    back to pending with their running attempts marked interrupted; segments other workers hold are left."""
    mine = Segment.objects.filter(episode=episode, status__in=[Segment.Status.GENERATING, Segment.Status.POST]) \
        .filter(Q(claimed_by="") | Q(claimed_by=worker_id))
    SegmentAttempt.objects.filter(segment__in=mine, outcome=SegmentAttempt.Outcome.RUNNING).update(
        outcome=SegmentAttempt.Outcome.INTERRUPTED, error=INTERRUPTED, finished_at=timezone.now())
    mine.update(status=Segment.Status.PENDING, progress=0.0, error="")
    Segment.objects.filter(episode=episode, claimed_by=worker_id).exclude(status=Segment.Status.DONE) \
        .update(claimed_by="", heartbeat_at=None)


def through_writer(first: Frame, rest: Iterator[Frame], writer: SegmentClipWriter, last: list[Frame],
                   clock: dict[str, float]) -> Iterable[Frame]:
    """Yield the frames (to segment QA) after writing each into the clips; keep the last one; time the
    backend (`generate`) and the writer (`post`, wall and this thread's CPU) apart from QA."""
    frame: Frame | None = first
    while frame is not None:
        t0, c0 = time.monotonic(), time.thread_time()
        writer.write(frame)
        clock["post"] += time.monotonic() - t0
        clock["post_cpu"] += time.thread_time() - c0
        last[:] = [frame]
        yield frame
        t0 = time.monotonic()
        frame = next(rest, None)
        clock["generate"] += time.monotonic() - t0


def fail_attempt_qa(attempt: SegmentAttempt, qa: QAResult) -> None:
    """Record that the attempt failed automatic QA."""
    SegmentAttempt.objects.filter(pk=attempt.pk).update(
        outcome=SegmentAttempt.Outcome.FAILED, finished_at=timezone.now(), error=f"QA: {qa.summary()}"[:2000])


def timed(check: Callable[..., QAResult], frames: Iterator[Frame], *args, **kwargs) -> tuple[QAResult, float]:
    """Run a QA check over streamed frames; also return the seconds it spent working (not waiting for frames)."""
    waited = 0.0

    def source() -> Iterator[Frame]:
        nonlocal waited
        while True:
            started = time.monotonic()
            frame = next(frames, None)
            waited += time.monotonic() - started
            if frame is None:
                return
            yield frame

    started = time.monotonic()
    result = check(source(), *args, **kwargs)
    return result, time.monotonic() - started - waited


def next_seed(seed: int, attempt: int) -> int:
    """A new, deterministic seed for the next try of a segment that failed QA."""
    return (seed * 6364136223846793005 + 1442695040888963407 + attempt) % 2**32
