"""Render an episode: the Django side of the pipeline.

It owns state (models) and leaves media work to productions.lib. Every step is idempotent: a segment counts
as done only when its files are complete on disk, so a render that died at any point resumes where it was.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from productions.lib.backend import (
    Backend,
    BackendError,
    Cancelled,
    Frame,
    KeyframeRequest,
    SegmentRequest,
    SegmentResult,
)
from productions.lib.conformance import check_conformance
from productions.lib.encoding import delivery_preset
from productions.lib.ffmpeg import FFmpegError
from productions.lib.files import load_image, remove_stale_temporaries, save_image, thumbnail
from productions.lib.planning import crossfade_frames_for, crossfaded_frames, plan_episode
from productions.lib.post import SegmentFiles, stitch_episode, write_segment_files
from productions.lib.qa import QAResult, check_episode_frames, check_segment_frames, episode_boundaries
from productions.lib.upscale import Upscaler
from productions.models import Episode, QAReport, Segment, SegmentAttempt, file_fingerprint

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


class LeaseLost(Exception):
    """Another worker took this render over (we were presumed dead); stop without touching its state."""


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def get_backend(name: str) -> Backend:
    if name == "builtin":
        from productions.lib.generator import BuiltinGenerator

        return BuiltinGenerator()
    if name == "comfyui":
        from productions.lib.comfyui import ComfyUIBackend

        return ComfyUIBackend.from_env()
    raise BackendError(f"unknown generation backend {name!r} (use 'builtin' or 'comfyui')")


def get_upscaler(choice: str) -> Upscaler:
    from productions.lib.upscale import select_upscaler

    try:
        return select_upscaler(
            choice, device=settings.TOWER_UPSCALE_DEVICE or None, model=settings.TOWER_UPSCALE_MODEL
        )
    except (ImportError, ValueError) as exc:  # WeightsError is a ValueError: a bad or mismatched weights file
        raise BackendError(f"the {choice} upscaler cannot run: {exc}") from exc


def native_size() -> tuple[int, int]:
    return settings.TOWER_NATIVE_WIDTH, settings.TOWER_NATIVE_HEIGHT


def relative(path: Path) -> str:
    return os.fspath(path.relative_to(settings.MEDIA_ROOT))


def plain_error(exc: BaseException) -> str:
    """What a producer sees when a render fails."""
    if isinstance(exc, QAFlagged):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == 28:
        return "The disk is full (No space left on device). Free space, then resume: finished segments are kept."
    if isinstance(exc, FFmpegError):
        return f"Video processing failed while {exc}. Finished segments are kept; resume to continue."
    if isinstance(exc, BackendError):
        return f"Generation failed: {exc}. Finished segments are kept; resume to continue."
    return f"Unexpected error ({type(exc).__name__}: {exc}). Finished segments are kept; resume to continue."


def ensure_segments(episode: Episode) -> list[Segment]:
    """Create the episode's segment rows from its plan, once."""
    existing = list(episode.segments.order_by("index"))
    if existing:
        return existing
    plan = plan_episode(
        episode.synopsis,
        episode.seed,
        episode.delivery_spec(),
        duration_s=episode.duration_s,
        segments=episode.segment_count,
        crossfade_s=episode.crossfade_s,
        native_fps=episode.native_fps,
        style=episode.style,
        characters=episode.characters,
    )
    with transaction.atomic():
        Segment.objects.bulk_create(
            Segment(
                episode=episode,
                index=p.index,
                prompt=p.prompt,
                seed=p.seed,
                native_frames=p.native_frames,
                delivered_frames=p.delivered_frames,
            )
            for p in plan.segments
        )
    return list(episode.segments.order_by("index"))


class EpisodeRender:
    """One worker's run over one episode. `run()` returns the final status."""

    def __init__(self, episode: Episode, worker_id: str | None = None,
                 on_event: Callable[[dict], None] | None = None):
        self.episode = episode
        self.worker_id = worker_id or new_worker_id()
        self.on_event = on_event
        self.spec = episode.delivery_spec()
        self._last_flush = 0.0
        self._cancel = threading.Event()

    # --- plumbing -----------------------------------------------------------------------------------------
    def publish(self, payload: dict) -> None:
        from productions.events import publish_episode_event

        publish_episode_event(self.episode, payload)
        if self.on_event:
            self.on_event(payload)

    def set_stage(self, stage: str) -> None:
        Episode.objects.filter(pk=self.episode.pk).update(stage=stage, updated_at=timezone.now())
        self.episode.stage = stage
        self.publish({"type": "episode", "status": self.episode.status, "stage": stage})
        self.keep_lease()

    def keep_lease(self) -> None:
        if not self.episode.heartbeat(self.worker_id):
            raise LeaseLost()
        if Episode.objects.filter(pk=self.episode.pk, cancel_requested=True).exists():
            self._cancel.set()

    def should_cancel(self) -> bool:
        return self._cancel.is_set()

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
        try:
            if episode.started_at is None:
                Episode.objects.filter(pk=episode.pk).update(started_at=timezone.now())
            remove_stale_temporaries(episode.media_dir)
            for folder in episode.media_dir.glob("segment-*"):
                remove_stale_temporaries(folder)
            self.render()
        except LeaseLost:
            log.warning("episode %s: lease lost to another worker; stopping", episode.pk)
            return Episode.objects.get(pk=episode.pk).status
        except Cancelled:
            self.finish(Episode.Status.CANCELLED, "Cancelled by request. Finished segments are kept.")
        except Exception as exc:  # every failure ends in a visible state, never a silent dead task
            log.exception("episode %s failed", episode.pk)
            self.finish(Episode.Status.FAILED, plain_error(exc))
        finally:
            episode.release(self.worker_id)
        return Episode.objects.get(pk=episode.pk).status

    def finish(self, status: str, error: str = "") -> None:
        Episode.objects.filter(pk=self.episode.pk).update(
            status=status, error=error, finished_at=timezone.now(), stage="", cancel_requested=False
        )
        Segment.objects.filter(
            episode=self.episode, status__in=[Segment.Status.GENERATING, Segment.Status.POST]
        ).update(status=Segment.Status.FAILED if status == Episode.Status.FAILED else Segment.Status.PENDING,
                 error=error if status == Episode.Status.FAILED else "")
        self.episode.refresh_from_db()
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

        self.set_stage("keyframe")
        started = time.monotonic()
        init = self.keyframe(backend)
        timings["keyframe_s"] = round(time.monotonic() - started, 3) if not timings.get("keyframe_s") else \
            timings["keyframe_s"]

        for segment in segments:
            if segment.is_complete():
                init = load_image(segment.file("last_frame_path"))
                continue
            self.set_stage(f"segment {segment.index + 1} of {len(segments)}")
            init = self.make_segment(segment, init, backend, upscaler)
        segments = list(episode.segments.order_by("index"))
        timings["generate_s"] = round(sum(s.timings.get("generate_s", 0) for s in segments), 3)
        timings["post_segments_s"] = round(sum(s.timings.get("post_s", 0) for s in segments), 3)
        timings["qa_segments_s"] = round(sum(s.timings.get("qa_s", 0) for s in segments), 3)
        Episode.objects.filter(pk=episode.pk).update(timings=timings)
        flagged = [s.index for s in segments if not s.is_complete()]
        if flagged:
            raise QAFlagged(flagged)

        self.set_stage("stitching")
        started = time.monotonic()
        final = episode.media_dir / "final.mp4"
        crossfade_frames = crossfade_frames_for(episode.crossfade_s, self.spec.fps, len(segments))
        frame_counts = [s.delivered_frames for s in segments]
        total_frames = crossfaded_frames(frame_counts, crossfade_frames)
        boundaries = episode_boundaries(frame_counts, crossfade_frames, self.spec.fps)
        _, (episode_qa, qa_s) = stitch_episode(
            [s.file("master_path") for s in segments],
            frame_counts,
            crossfade_frames=crossfade_frames,
            spec=self.spec,
            out_path=final,
            preset=delivery_preset(),
            # Episode QA reads the finished frames from the encoding ffmpeg itself: no second decode.
            analyse=lambda frames: timed(check_episode_frames, frames, self.spec.fps, boundaries,
                                         expected_frames=total_frames),
        )
        timings["stitch_encode_s"] = round(time.monotonic() - started, 3)
        timings["qa_episode_s"] = round(qa_s, 3)
        Episode.objects.filter(pk=episode.pk).update(final_path=relative(final))

        QAReport.objects.create(
            episode=episode, kind=QAReport.Kind.EPISODE, passed=episode_qa.passed,
            checks=episode_qa.as_dict()["checks"],
            details={"boundaries_s": [round(b, 3) for b in boundaries], "summary": episode_qa.summary()},
        )

        self.set_stage("conformance")
        started = time.monotonic()
        report = check_conformance(final, self.spec)
        timings["conformance_s"] = round(time.monotonic() - started, 3)
        QAReport.objects.create(
            episode=episode,
            kind=QAReport.Kind.CONFORMANCE,
            passed=report.passed,
            checks=report.as_dict()["checks"],
            details={"upscaler": upscaler.describe(), "backend": backend.name, "ai": backend.is_ai,
                     "preset": delivery_preset(), "final": file_fingerprint(final)},
        )
        Episode.objects.filter(pk=episode.pk).update(timings=timings)
        if report.passed:
            # Delivered only once a producer has approved every segment; until then it awaits review.
            approved = episode.all_segments_approved()
            self.finish(Episode.Status.DELIVERED if approved else Episode.Status.REVIEW)
        else:
            failed = "; ".join(check.detail or check.name for check in report.failures)
            self.finish(Episode.Status.FAILED, f"The final video does not meet the delivery spec: {failed}.")

    def keyframe(self, backend: Backend) -> Frame:
        episode = self.episode
        path = episode.media_dir / "keyframe.png"
        if episode.keyframe_path and path.exists():
            return load_image(path, native_size())
        first = episode.segments.order_by("index").first()
        frame = backend.generate_keyframe(
            KeyframeRequest(prompt=first.prompt if first else episode.synopsis, seed=episode.seed,
                            width=native_size()[0], height=native_size()[1],
                            negative_prompt=episode.negative_prompt, style=episode.style),
            lambda step, total, preview: self.keep_lease(),
            self.should_cancel,
        )
        save_image(frame, path)
        Episode.objects.filter(pk=episode.pk).update(keyframe_path=relative(path))
        episode.keyframe_path = relative(path)
        return frame

    def make_segment(self, segment: Segment, init: Frame, backend: Backend, upscaler: Upscaler) -> Frame:
        """Generate, QA and post-process one segment. A segment failing a blocking QA check is generated again
        with a new seed, up to TOWER_QA_MAX_ATTEMPTS tries; then it is flagged for the producer (FAILED, with its
        last try's files kept for viewing) and the episode will not be stitched from it."""
        max_attempts = settings.TOWER_QA_MAX_ATTEMPTS
        tries_left = max_attempts
        while True:
            tries_left -= 1
            attempt, result, generate_s = self.generate(segment, init, backend)
            qa = self.segment_qa(segment, attempt, result)
            if qa.passed or tries_left <= 0:
                break
            fail_attempt_qa(attempt, qa)
            segment.seed = next_seed(segment.seed, segment.attempts)
            segment.save(update_fields=["seed"])
            self.publish({"type": "segment", "segment": segment.index, "status": "qa-retry",
                          "error": qa.summary()})

        last = self.write_segment(segment, attempt, result, upscaler, generate_s)
        if qa.passed:
            SegmentAttempt.objects.filter(pk=attempt.pk).update(
                outcome=SegmentAttempt.Outcome.SUCCEEDED, finished_at=timezone.now())
            segment.status = Segment.Status.DONE
        else:
            message = (f"QA failed on {max_attempts} attempt(s): {qa.summary()}. "
                       "Regenerate it (new seed, or an edited prompt), or override QA with a written reason.")
            fail_attempt_qa(attempt, qa)
            segment.status = Segment.Status.FAILED
            segment.error = message
        segment.save(update_fields=["status", "error"])
        self.publish({"type": "segment", "segment": segment.index, "status": segment.status, "progress": 1.0,
                      "error": segment.error})
        return last

    def generate(self, segment: Segment, init: Frame, backend: Backend) -> tuple[SegmentAttempt, SegmentResult, float]:
        episode = self.episode
        segment.attempts += 1
        segment.status = Segment.Status.GENERATING
        segment.error = ""
        segment.progress = 0.0
        segment.started_at = timezone.now()
        segment.save(update_fields=["attempts", "status", "error", "progress", "started_at"])
        attempt = SegmentAttempt.objects.create(
            segment=segment, number=segment.attempts, backend=backend.name, seed=segment.seed,
            prompt=segment.prompt,
        )
        self.publish({"type": "segment", "segment": segment.index, "status": segment.status})
        extra = {}
        if "on_attempt" in inspect.signature(backend.generate_segment).parameters:
            extra["on_attempt"] = self.record_tries(attempt)
        try:
            started = time.monotonic()
            result = backend.generate_segment(
                SegmentRequest(
                    prompt=segment.prompt, seed=segment.seed, init_image=init, width=native_size()[0],
                    height=native_size()[1], num_frames=segment.native_frames, fps=episode.native_fps,
                    index=segment.index, negative_prompt=episode.negative_prompt, style=episode.style,
                ),
                self.segment_progress(segment),
                self.should_cancel,
                **extra,
            )
        except BaseException as exc:
            self.attempt_ended(attempt, exc)
            raise
        result.info.setdefault("backend", backend.name)
        result.info.setdefault("ai", backend.is_ai)
        if result.info.get("server"):
            SegmentAttempt.objects.filter(pk=attempt.pk).update(server=str(result.info["server"]))
        return attempt, result, time.monotonic() - started

    def segment_qa(self, segment: Segment, attempt: SegmentAttempt, result: SegmentResult) -> QAResult:
        """QA on the frames already in memory (no decode), stored as this attempt's report."""
        started = time.monotonic()
        native = result.fps == self.episode.native_fps
        qa = check_segment_frames(result.frames, result.fps, segment.native_frames if native else None,
                                  prompt=segment.prompt)
        qa_s = time.monotonic() - started
        QAReport.objects.create(
            episode=self.episode, segment=segment, kind=QAReport.Kind.SEGMENT, passed=qa.passed,
            checks=qa.as_dict()["checks"],
            details={"attempt": attempt.number, "seed": attempt.seed, "summary": qa.summary(), "qa_s": round(qa_s, 3)},
        )
        segment.timings = {**segment.timings, "qa_s": round(segment.timings.get("qa_s", 0) + qa_s, 3)}
        return qa

    def write_segment(self, segment: Segment, attempt: SegmentAttempt, result: SegmentResult, upscaler: Upscaler,
                      generate_s: float) -> Frame:
        """Upscale + interpolate into the master and keep the native clip, last frame and preview."""
        folder = self.episode.media_dir / f"segment-{segment.index:02d}"
        Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.POST, progress=Segment.GENERATION_SHARE)
        self.publish({"type": "segment", "segment": segment.index, "status": Segment.Status.POST})
        self.keep_lease()
        try:
            started = time.monotonic()
            files = SegmentFiles(native=folder / "native.mkv", master=folder / "master.mp4")
            write_segment_files(
                result.frames, native_fps=result.fps, delivered_frames=segment.delivered_frames,
                spec=self.spec, upscaler=upscaler, files=files,
            )
            last = result.frames[-1]
            save_image(last, folder / "last.png")
            save_image(thumbnail(last), folder / "preview.jpg", quality=85)
            post_s = time.monotonic() - started
        except BaseException as exc:
            self.attempt_ended(attempt, exc)
            raise
        segment.progress = 1.0
        segment.native_path = relative(files.native)
        segment.master_path = relative(files.master)
        segment.last_frame_path = relative(folder / "last.png")
        segment.preview_path = relative(folder / "preview.jpg")
        segment.backend_info = dict(result.info)
        segment.timings = {**segment.timings, "generate_s": round(generate_s, 3), "post_s": round(post_s, 3)}
        segment.finished_at = timezone.now()
        segment.save()
        return last

    @staticmethod
    def attempt_ended(attempt: SegmentAttempt, exc: BaseException) -> None:
        outcome = SegmentAttempt.Outcome.CANCELLED if isinstance(exc, Cancelled | LeaseLost) else \
            SegmentAttempt.Outcome.FAILED
        SegmentAttempt.objects.filter(pk=attempt.pk).update(
            outcome=outcome, error=str(exc)[:2000], finished_at=timezone.now())


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
