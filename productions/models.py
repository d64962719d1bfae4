"""Projects, episodes, their segments and the QA reports that judge them.

Segment and episode state lives here so a render can resume after any crash: each finished step is recorded
only after its file is complete on disk (written under a temporary name, then renamed).
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from productions.catalog import default_video_model, keyframe_model, video_model
from productions.lib.interpolation import LABELS as INTERPOLATION_LABELS
from productions.lib.interpolation import GenerationProfile, resolve_profile
from productions.lib.model_profiles import ModelProfile, ProfileError
from productions.lib.planning import (
    JOIN_KINDS,
    OVERLAPPING,
    EpisodePlan,
    Join,
    SegmentPlan,
    parse_joins,
    plan_episode,
)
from productions.lib.spec import DELIVERY_SPEC, DeliverySpec


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    # The project's look, composed into every shot's prompt (productions.lib.prompts): positive and negative.
    style = models.TextField(blank=True, help_text="The project's visual style, added to every shot's prompt.")
    negative_style = models.TextField(blank=True, help_text="What no shot should show (the negative prompt).")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project-detail", args=[self.pk])


class Character(models.Model):
    """One entry of a project's character bible. A shot's prompt carries only the characters in that shot, each
    always with the same description, trigger words and LoRA (productions.lib.prompts)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, help_text="How the character looks (used in the prompts of the "
                                                         "shots the character is in).")
    trigger_words = models.CharField(max_length=300, blank=True, help_text="The LoRA's trigger words.")
    lora = models.CharField(max_length=255, blank=True, help_text="A LoRA file as the ComfyUI servers list it.")
    lora_strength = models.FloatField(default=0.8)
    reference_image = models.CharField(max_length=500, blank=True)  # relative to MEDIA_ROOT
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="one_character_per_name")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    PRODUCER = "producer"
    VIEWER = "viewer"
    ROLE_CHOICES = [(PRODUCER, "Producer"), (VIEWER, "Viewer")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, choices=ROLE_CHOICES, default=PRODUCER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


def file_fingerprint(path: Path) -> str:
    """Identifies one version of a file (a re-stitched final video gets a new one)."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def worker_is_alive(worker_id: str) -> bool:
    """A worker id is host:pid:token. On this host we can tell a dead process at once; elsewhere we can't."""
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease_renewal_s(lease_s: float) -> float:
    """How often a holder renews its lease (a thread beside the render, whatever the render is doing)."""
    return max(0.2, lease_s / 4)


def lease_silent_since(lease_s: float) -> datetime:
    """A holder not heard from since this moment is presumed dead: it missed three renewals (3/4 of the lease).
    With the workers' sweep every lease/8 or 5 s (tasks.sweep_interval_s), its work is taken over within the
    lease."""
    return timezone.now() - timedelta(seconds=0.75 * lease_s)


class Episode(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        REVIEW = "review", "Awaiting review"  # rendered and conforming; not every segment is approved yet
        DELIVERED = "delivered", "Delivered"

    ACTIVE = (Status.QUEUED, Status.RENDERING)

    class Backend(models.TextChoices):
        DEFAULT = "", "Instance default"
        BUILTIN = "builtin", "Built-in generator (not AI)"
        COMFYUI = "comfyui", "ComfyUI (AI)"

    class Upscaler(models.TextChoices):
        DEFAULT = "", "Instance default"
        AUTO = "auto", "Auto (Real-ESRGAN on CUDA, Lanczos on CPU)"
        REALESRGAN = "realesrgan", "Real-ESRGAN"
        LANCZOS = "lanczos", "Lanczos"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="episodes")
    title = models.CharField(max_length=200)
    synopsis = models.TextField(help_text="What happens, in order; each sentence feeds the next segment.")
    style = models.TextField(blank=True, help_text="Visual style notes for this episode, added to every shot's "
                                                   "prompt after the project's style.")
    negative_prompt = models.TextField(blank=True)
    seed = models.BigIntegerField(default=0)

    # Delivery targets. Defaults come from the delivery spec; a producer may ask for more, never less.
    width = models.PositiveIntegerField(default=DELIVERY_SPEC.width)
    height = models.PositiveIntegerField(default=DELIVERY_SPEC.height)
    fps = models.PositiveIntegerField(default=DELIVERY_SPEC.fps)
    duration_s = models.FloatField(default=DELIVERY_SPEC.min_duration_s)
    min_bitrate_bps = models.PositiveIntegerField(default=DELIVERY_SPEC.min_bitrate_bps)
    # Blank: as many segments as the model's runs need (each one native run); a number: that many, equal.
    segment_count = models.PositiveSmallIntegerField(null=True, blank=True)
    # How segments join, as the producer wrote it ("3: cut; 5: dissolve 12"); blank: every segment continues
    # the one before. Parsed into each segment's join when the episode is planned.
    transitions = models.CharField(max_length=500, blank=True)
    # Generation rate and interpolation to the delivery rate; empty: the backend's defaults (interpolation.py).
    native_fps = models.PositiveSmallIntegerField(null=True, blank=True)
    interpolation = models.CharField(max_length=10, blank=True, default="",
                                     choices=[("", "Backend default"), *INTERPOLATION_LABELS.items()])
    backend = models.CharField(max_length=20, choices=Backend.choices, blank=True, default="")
    # The video model (a profile name, productions.catalog); blank: the instance's (TOWER_VIDEO_MODEL) or the
    # backend's default.
    video_model = models.CharField(max_length=60, blank=True, default="")
    # The keyframe (txt2img) model, a profile name; blank: the instance's (TOWER_KEYFRAME_MODEL).
    keyframe_model = models.CharField(max_length=60, blank=True, default="")
    upscaler = models.CharField(max_length=20, choices=Upscaler.choices, blank=True, default="")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    stage = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)  # one plain line for the producer
    error_details = models.TextField(blank=True)  # the technical log behind it (ffmpeg's output, a traceback)
    cancel_requested = models.BooleanField(default=False)
    final_path = models.CharField(max_length=500, blank=True)
    keyframe_path = models.CharField(max_length=500, blank=True)
    timings = models.JSONField(default=dict, blank=True)

    # Which worker holds the render, and when it last proved it was alive (see claim()).
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When a render task for it was last put on the queue (the sweep never adds a second one; see tasks.py).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The storyboard's version: every change to its shots bumps it; an edit made from an older version is a
    # conflict, shown to the producer, never applied silently (productions.storyboard).
    storyboard_version = models.PositiveIntegerField(default=1)
    # The last storyboard change, in plain words, who made it and when: what a producer whose edit came too
    # late is told (the conflict message).
    storyboard_change = models.CharField(max_length=300, blank=True)
    storyboard_changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.SET_NULL, related_name="+")
    storyboard_changed_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.project} / {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("episode-detail", args=[self.pk])

    # --- what to make -----------------------------------------------------------------------------------
    def delivery_spec(self) -> DeliverySpec:
        return DeliverySpec(
            width=self.width,
            height=self.height,
            fps=self.fps,
            min_duration_s=self.duration_s,
            min_bitrate_bps=self.min_bitrate_bps,
        )

    def backend_name(self) -> str:
        """Where it generates: its model's backend when it chose a model, else its own choice or the instance's."""
        if self.video_model:
            with suppress(ProfileError):
                return video_model(self.video_model).backend
        return self.backend or settings.TOWER_BACKEND

    def model_profile(self) -> ModelProfile:
        """The video model it generates with (ProfileError when it names one this instance does not have)."""
        if self.video_model:
            return video_model(self.video_model)
        return default_video_model(self.backend or settings.TOWER_BACKEND)

    def keyframe_profile(self) -> ModelProfile:
        return keyframe_model(self.keyframe_model)

    def native_size(self) -> tuple[int, int]:
        """What the model generates at: the profile's size nearest the delivery's aspect (TOWER_NATIVE_SIZE
        overrides every model)."""
        if settings.TOWER_NATIVE_SIZE:
            return tuple(settings.TOWER_NATIVE_SIZE)
        return self.model_profile().size_for(self.width, self.height)

    def plan(self) -> EpisodePlan:
        """The plan: segments (one native run of the model each), joins and exact frame counts. The one place
        an episode is planned: the render, the episode page, the API and the form all use it. ValueError (or
        ProfileError) in plain words when its settings do not give a plan."""
        model = self.model_profile()
        profile = self.generation_profile()
        return plan_episode(
            self.synopsis,
            self.seed,
            self.delivery_spec(),
            duration_s=self.duration_s,
            segments=self.segment_count or None,
            joins=lambda count: parse_joins(self.transitions, count),
            native_fps=profile.native_fps,
            interpolation=profile.interpolation,
            style=self.style,
            run=model.run,
            model=model.name,
            native_size=self.native_size(),
        )

    def upscaler_choice(self) -> str:
        return self.upscaler or settings.TOWER_UPSCALER

    def plan_or_error(self, segments: list[Segment] | None = None) -> tuple[EpisodePlan | None, str | None]:
        """What the page and the API show: the plan the segments were made from once they exist (their rows
        are the plan), else the plan its settings give now; or why there is none, in a sentence."""
        try:
            model = self.model_profile()
            if segments is None:
                segments = list(self.segments.order_by("index"))
            if not segments:
                return self.plan(), None
            profile = self.generation_profile()
            return EpisodePlan(
                [SegmentPlan(s.index, s.prompt, s.seed, s.join_spec, s.native_frames, s.delivered_frames)
                 for s in segments],
                profile.native_fps, self.fps, profile.interpolation, model=model.name,
                native_size=self.native_size(), size=(self.width, self.height), run=model.run,
            ), None
        except ValueError as exc:  # ProfileError and PlanError are ValueErrors
            return None, str(exc)

    def generation_profile(self) -> GenerationProfile:
        """The native rate and interpolation this episode renders with (its own choice or its model's)."""
        return resolve_profile(self.model_profile(), self.fps, self.native_fps, self.interpolation)

    def shown_profile(self) -> GenerationProfile | None:
        """generation_profile() for pages and the API: None when its model is gone from this instance (an
        admin removed a profile file); the plan then says why."""
        try:
            return self.generation_profile()
        except ValueError:
            return None

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def media_dir(self) -> Path:
        return Path(settings.MEDIA_ROOT) / "episodes" / str(self.pk)

    def media_file(self, relative: str) -> Path | None:
        return Path(settings.MEDIA_ROOT) / relative if relative else None

    @property
    def final_file(self) -> Path | None:
        path = self.media_file(self.final_path)
        return path if path and path.exists() else None

    def progress(self, segments: list[Segment] | None = None) -> float:
        """`segments`: the episode's segments when the caller already holds them (saves a query)."""
        if self.status in (self.Status.DELIVERED, self.Status.REVIEW):
            return 1.0
        if segments is None:
            segments = list(self.segments.all())
        if not segments:
            return 0.0
        done = sum(s.progress for s in segments) / len(segments)
        return round(done * 0.9, 3)

    def latest_conformance(self) -> QAReport | None:
        return self.qa_reports.filter(kind=QAReport.Kind.CONFORMANCE).order_by("-created_at").first()

    # --- review -----------------------------------------------------------------------------------------
    def current_conformance(self) -> QAReport | None:
        """The latest conformance report if it judged the final video that is on disk now."""
        report, final = self.latest_conformance(), self.final_file
        if report is None or final is None:
            return None
        recorded = (report.details or {}).get("final")
        if recorded is not None:
            return report if recorded == file_fingerprint(final) else None
        return report if report.created_at.timestamp() >= final.stat().st_mtime else None

    def all_segments_approved(self) -> bool:
        segments = list(self.segments.all())
        return bool(segments) and all(s.is_approved() for s in segments)

    def deliver_if_ready(self) -> bool:
        """Awaiting review -> delivered once every segment is approved and the final video conforms."""
        if self.status != self.Status.REVIEW or not self.all_segments_approved():
            return False
        report = self.current_conformance()
        if report is None or not report.passed:
            return False
        delivered = Episode.objects.filter(pk=self.pk, status=self.Status.REVIEW).update(
            status=self.Status.DELIVERED, updated_at=timezone.now())
        self.refresh_from_db()
        return bool(delivered)

    # --- render lifecycle -------------------------------------------------------------------------------
    def queue_render(self) -> bool:
        """Mark the episode queued (start or resume). False if a render is already under way."""
        updated = (
            Episode.objects.filter(pk=self.pk)
            .exclude(status__in=self.ACTIVE)
            .update(status=self.Status.QUEUED, error="", error_details="", cancel_requested=False, stage="queued",
                    updated_at=timezone.now(), enqueued_at=timezone.now())
        )
        self.refresh_from_db()
        return bool(updated)

    def claim(self, worker_id: str, lease_s: int) -> bool:
        """Take the render for `worker_id` if nobody live holds it (see lease_silent_since). Atomic across
        workers and hosts."""
        now = timezone.now()
        free = Q(claimed_by="") | Q(heartbeat_at__lt=lease_silent_since(lease_s)) | Q(claimed_by=worker_id)
        current = Episode.objects.filter(pk=self.pk).values_list("claimed_by", flat=True).first()
        if current and not worker_is_alive(current):
            free |= Q(claimed_by=current)
        taken = (
            Episode.objects.filter(pk=self.pk, status__in=self.ACTIVE)
            .filter(free)
            .update(claimed_by=worker_id, heartbeat_at=now, status=self.Status.RENDERING, enqueued_at=None)
        )
        self.refresh_from_db()
        return bool(taken)

    def heartbeat(self, worker_id: str) -> bool:
        """Prove we are alive; False means another worker took the render over (we must stop)."""
        return bool(
            Episode.objects.filter(pk=self.pk, claimed_by=worker_id).update(heartbeat_at=timezone.now())
        )

    def release(self, worker_id: str) -> None:
        Episode.objects.filter(pk=self.pk, claimed_by=worker_id).update(claimed_by="", heartbeat_at=None)


class Segment(models.Model):
    # Share of a segment's progress for generation (0 -> 0.8 in sampler steps); post-processing is the rest.
    GENERATION_SHARE = 0.8

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        GENERATING = "generating", "Generating"
        POST = "post", "Upscaling"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Review(models.TextChoices):
        UNREVIEWED = "unreviewed", "Not reviewed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveSmallIntegerField()
    # The storyboard shot this segment is: what happens (the producer's words), who is in it, how much the
    # camera and the subject move (0 still .. 1 most). The prompt is composed from them, the characters' bible
    # entries and the styles (productions.lib.prompts), and kept as it was used.
    action = models.TextField(blank=True)
    characters = models.ManyToManyField(Character, blank=True, related_name="shots")
    motion = models.FloatField(default=0.5)
    prompt = models.TextField()
    seed = models.BigIntegerField()
    native_frames = models.PositiveIntegerField()
    delivered_frames = models.PositiveIntegerField()  # frames this segment puts on the episode's timeline
    # The join INTO this segment (planning.py): continuous = chained from the previous segment's last frame;
    # cut, dissolve, fade = a new shot from the segment's own keyframe. join_frames: a dissolve's or fade's length.
    join = models.CharField(max_length=12, default="continuous", choices=[(k, k) for k in JOIN_KINDS])
    join_frames = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Anchored episodes make their segments on several workers at once: which worker makes this one now, and
    # when it last proved alive (heartbeat_at None once it is handled in this pass). See Segment.claim().
    claimed_by = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # one plain line for the producer
    error_details = models.TextField(blank=True)  # the technical log behind it
    # Files (relative to MEDIA_ROOT; their names come from post.SegmentFiles): the lossless native clip, the
    # review proxy, the AI-upscaled frames (only for an upscaler outside ffmpeg), the last frame (the next
    # chained segment starts from it) and the shot's own keyframe (segments that are not chained).
    native_path = models.CharField(max_length=500, blank=True)
    proxy_path = models.CharField(max_length=500, blank=True)
    upscaled_path = models.CharField(max_length=500, blank=True)
    last_frame_path = models.CharField(max_length=500, blank=True)
    keyframe_path = models.CharField(max_length=500, blank=True)
    # The producer's approval of the shot's current keyframe (KeyframeAttempt keeps every one made).
    keyframe_approved_at = models.DateTimeField(null=True, blank=True)
    keyframe_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+")
    clip_fps = models.FloatField(null=True, blank=True)  # the native clip's rate (RIFE on a server raises it)
    preview_path = models.CharField(max_length=500, blank=True)
    backend_info = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The producer's verdict on the current files (see is_approved()).
    review = models.CharField(max_length=20, choices=Review.choices, default=Review.UNREVIEWED)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["episode", "index"]
        constraints = [models.UniqueConstraint(fields=["episode", "index"], name="one_segment_per_index")]

    def __str__(self) -> str:
        return f"{self.episode} #{self.index}"

    def claim(self, worker_id: str, lease_s: int) -> bool:
        """Take this segment for `worker_id` in an anchored render's pass: unclaimed in this pass, or claimed
        by a worker gone silent for `lease_s`. Atomic across workers and hosts."""
        now = timezone.now()
        free = Q(claimed_by="") | Q(heartbeat_at__lt=now - timedelta(seconds=lease_s))
        taken = Segment.objects.filter(pk=self.pk).exclude(status=self.Status.DONE).filter(free).update(
            claimed_by=worker_id, heartbeat_at=now)
        if taken:
            self.refresh_from_db()
        return bool(taken)

    def heartbeat(self, worker_id: str) -> bool:
        """False means another worker took this segment over (it went silent too long): stop."""
        return bool(Segment.objects.filter(pk=self.pk, claimed_by=worker_id).update(heartbeat_at=timezone.now()))

    def handled(self, worker_id: str) -> None:
        """Made (or flagged) in this pass: nobody takes it again until the next render."""
        Segment.objects.filter(pk=self.pk, claimed_by=worker_id).update(heartbeat_at=None)

    @property
    def join_spec(self) -> Join:
        return Join(self.join, self.join_frames if self.join in OVERLAPPING else 0)

    def join_label(self) -> str:
        return "opening shot" if self.index == 0 else self.join_spec.label()

    @property
    def media_dir(self) -> Path:
        return self.episode.media_dir / f"segment-{self.index:02d}"

    def file(self, field: str) -> Path | None:
        relative = getattr(self, field)
        if not relative:
            return None
        path = Path(settings.MEDIA_ROOT) / relative
        return path if path.exists() else None

    def is_complete(self) -> bool:
        """Done, and every file it claims is really on disk (a crash never leaves a half file named)."""
        return self.status == self.Status.DONE and self.has_files()

    def current_review(self) -> str:
        """The verdict on the current files: one given before they were made again no longer counts."""
        if self.review == self.Review.UNREVIEWED or self.reviewed_at is None:
            return self.Review.UNREVIEWED
        if self.finished_at is not None and self.reviewed_at < self.finished_at:
            return self.Review.UNREVIEWED
        if self.review == self.Review.APPROVED and not self.is_complete():
            return self.Review.UNREVIEWED
        return self.review

    def is_approved(self) -> bool:
        return self.current_review() == self.Review.APPROVED

    def current_attempt(self) -> SegmentAttempt | None:
        """The attempt that made the files the segment has now: the latest one not archived (a render writes
        files only for its last try; a try that failed QA and was retried left none)."""
        return self.attempt_log.filter(files_dir="").exclude(
            outcome__in=[SegmentAttempt.Outcome.RUNNING, SegmentAttempt.Outcome.INTERRUPTED]).order_by(
            "-number", "-started_at").first()

    def has_files(self) -> bool:
        return all(self.file(f) for f in ("native_path", "proxy_path", "last_frame_path"))

    def is_flagged(self) -> bool:
        """Failed automatic QA on every try: its last try's files are kept for the producer to judge."""
        return self.status == self.Status.FAILED and self.has_files()

    def current_qa(self) -> QAReport | None:
        """The latest segment QA report about the current files (older attempts' reports don't count)."""
        reports = self.qa_reports.filter(kind=QAReport.Kind.SEGMENT)
        if self.started_at is not None:
            reports = reports.filter(created_at__gte=self.started_at)
        return reports.order_by("-created_at").first()


class SegmentAttempt(models.Model):
    """One try at generating a segment: which backend/server, when, how it ended, and the producer's verdict.

    A rejected attempt's files move to `files_dir` (an attempt folder under the segment's folder) so every
    attempt stays viewable; the current attempt's files are the segment's own (files_dir is empty)."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # Its worker stopped before it ended (a crash, a lost lease, a graceful stop): made again on resume.
        INTERRUPTED = "interrupted", "Interrupted"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    backend = models.CharField(max_length=40)
    server = models.CharField(max_length=300, blank=True)
    seed = models.BigIntegerField()
    prompt = models.TextField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    # Each try on a generation server within this attempt: {server, started_at, ended_at, outcome, error, ...}.
    tries = models.JSONField(default=list, blank=True)
    # The most GPU memory in use on the server during the successful try (polled /system_stats), bytes.
    peak_vram_bytes = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    files_dir = models.CharField(max_length=500, blank=True)  # relative to MEDIA_ROOT, once archived
    preview_path = models.CharField(max_length=500, blank=True)
    video_path = models.CharField(max_length=500, blank=True)
    decision = models.CharField(max_length=20, choices=Segment.Review.choices, blank=True)
    reason = models.TextField(blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    qa = models.JSONField(default=dict, blank=True)  # the segment QA verdict on this attempt's files, if any

    class Meta:
        ordering = ["segment", "number", "started_at"]

    def __str__(self) -> str:
        return f"{self.segment} attempt {self.number} ({self.outcome})"


class KeyframeAttempt(models.Model):
    """One keyframe made for a storyboard shot (txt2img from its composed prompt and seed). The shot's current
    keyframe is its latest; older ones stay viewable in the shot's history with the verdict they got."""

    class Decision(models.TextChoices):
        PENDING = "", "Not reviewed"
        APPROVED = "approved", "Approved"
        REPLACED = "replaced", "Made again"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="keyframe_log")
    number = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    path = models.CharField(max_length=500, blank=True)  # relative to MEDIA_ROOT
    backend = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True, default="")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["segment", "number"]
        constraints = [models.UniqueConstraint(fields=["segment", "number"], name="one_keyframe_per_number")]

    def __str__(self) -> str:
        return f"{self.segment} keyframe {self.number}"


class QAReport(models.Model):
    class Kind(models.TextChoices):
        CONFORMANCE = "conformance", "Delivery conformance"
        SEGMENT = "segment", "Segment QA"
        EPISODE = "episode", "Episode QA"

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="qa_reports")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="qa_reports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    passed = models.BooleanField()
    # Each check: {"name", "passed", "measured", "expected", "detail"}.
    checks = models.JSONField(default=list)
    details = models.JSONField(default=dict, blank=True)  # e.g. the upscaler that ran and its weights
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # One current episode QA and one conformance report: a re-stitch (or a resume after a crash) replaces
        # them (render.py); segment reports keep every attempt's.
        constraints = [models.UniqueConstraint(fields=["episode", "kind"], condition=Q(segment__isnull=True),
                                               name="one_episode_report_per_kind")]

    def __str__(self) -> str:
        target = f"segment {self.segment.index}" if self.segment_id else "episode"
        return f"{self.get_kind_display()} of {self.episode} {target}: {'pass' if self.passed else 'FAIL'}"

    def failed_checks(self) -> list[dict]:
        return [c for c in self.checks if not c.get("passed")]


class WorkerHeartbeat(models.Model):
    """A render worker process, as it last reported itself (every TOWER_HEARTBEAT_S seconds)."""

    worker_id = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # {"gpus": [...], "queue_length": n, "source": "nvml" | "comfyui" | "none"}
    state = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.worker_id

    def is_live(self, interval_s: float) -> bool:
        return self.stopped_at is None and self.seen_at >= timezone.now() - timedelta(seconds=3 * interval_s)


class MonitorSample(models.Model):
    """One reading kept for the monitor's charts of the last hour: a GPU (or ComfyUI server), the Huey queue,
    or a worker's host (CPU and memory: the host's and the worker process's own, productions.lib.host)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    worker_id = models.CharField(max_length=200)
    name = models.CharField(max_length=300)  # e.g. "NVIDIA H100 (http://gpu1:8188)"
    vram_used = models.BigIntegerField(null=True, blank=True)  # bytes
    vram_total = models.BigIntegerField(null=True, blank=True)
    utilization = models.FloatField(null=True, blank=True)  # percent, where the source reports it
    queue_depth = models.PositiveIntegerField(default=0)
    # A worker's host reading (the other fields then stay empty): CPU busy % of the whole host and the worker
    # process's share of the whole host, the 1-minute load average, memory in bytes.
    cpu_percent = models.FloatField(null=True, blank=True)
    process_cpu_percent = models.FloatField(null=True, blank=True)
    load_1m = models.FloatField(null=True, blank=True)
    memory_used = models.BigIntegerField(null=True, blank=True)
    memory_total = models.BigIntegerField(null=True, blank=True)
    process_rss = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%H:%M:%S}"


class Note(models.Model):
    """A review note pinned to a frame or a frame range (inclusive) of the episode's final video (`segment` is
    None) or of one segment's clip (`attempt_number` says which of its attempts; frames at the delivery rate,
    counted from that clip's first frame). `drawing` is what the reviewer drew on the paused frame: strokes in
    coordinates relative to the frame (0..1), [{"color": "#ff3b30", "width": 0.004, "points": [[x, y], ...]}]."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="notes")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.CASCADE, related_name="notes")
    attempt_number = models.PositiveIntegerField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()
    frame_start = models.PositiveIntegerField()
    frame_end = models.PositiveIntegerField()
    drawing = models.JSONField(default=list, blank=True)
    resolved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["frame_start", "created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(frame_end__gte=models.F("frame_start")),
                                              name="note_range_in_order")]

    def __str__(self) -> str:
        where = f"segment {self.segment.index + 1}" if self.segment_id else "final"
        return f"{where} frames {self.frame_start}-{self.frame_end}: {self.text[:40]}"


class GpuUtilizationPeak(models.Model):
    """The highest GPU utilisation among one series' MonitorSample readings as they are trimmed (they are kept
    two hours, productions.monitor.KEEP_SAMPLES_S): what the gates need to judge a day and a week."""

    name = models.CharField(max_length=300)  # the MonitorSample series
    start = models.DateTimeField()  # the first and last trimmed reading it covers
    end = models.DateTimeField(db_index=True)
    utilization = models.FloatField()  # percent

    class Meta:
        ordering = ["end"]

    def __str__(self) -> str:
        return f"{self.name}: {self.utilization:g} % until {self.end:%Y-%m-%d %H:%M}"


class EpisodeVersion(models.Model):
    """One delivery of an episode. Reopening a delivered episode opens the next version (delivered_at None
    until it is delivered); every delivered version keeps its own final file (`final_path`, under the episode's
    versions/ folder: a hard link to the delivered final.mp4, which a later stitch replaces but never rewrites),
    so it stays viewable and downloadable as it was delivered (productions.versions)."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    final_path = models.CharField(max_length=500, blank=True)  # relative to MEDIA_ROOT, once delivered
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    duration_s = models.FloatField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)  # bytes
    fingerprint = models.CharField(max_length=100, blank=True)  # file_fingerprint of the delivered final
    reopened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["episode", "number"]
        constraints = [models.UniqueConstraint(fields=["episode", "number"], name="one_version_per_number")]

    def __str__(self) -> str:
        return f"{self.episode} v{self.number}"

    @property
    def is_delivered(self) -> bool:
        return self.delivered_at is not None

    def file(self) -> Path | None:
        if not self.final_path:
            return None
        path = Path(settings.MEDIA_ROOT) / self.final_path
        return path if path.exists() else None


class Notification(models.Model):
    """One entry of a user's inbox (productions.notifications): an episode rendered and ready for review, held
    by QA for a decision, failed, or delivered."""

    class Kind(models.TextChoices):
        FINISHED = "finished", "Ready for review"
        NEEDS_REVIEW = "needs_review", "Needs a decision"
        FAILED = "failed", "Render failed"
        DELIVERED = "delivered", "Delivered"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    episode = models.ForeignKey(Episode, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500)
    link = models.CharField(max_length=300, blank=True)
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read"], name="notification_user_read")]

    def __str__(self) -> str:
        return f"{self.user}: {self.message}"


class NotificationSettings(models.Model):
    """A user's choices about notifications (no row: the defaults)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_settings")
    email = models.BooleanField(default=True, help_text="Also send each notification by email.")


class ProjectWebhook(models.Model):
    """Where a project's notifications are POSTed (JSON, signed with `secret`: productions.notifications)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    updated_at = models.DateTimeField(auto_now=True)


class WebhookDelivery(models.Model):
    """One notification POSTed (or being POSTed) to a project's webhook: the exact body, each try's outcome."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhook_deliveries")
    episode = models.ForeignKey(Episode, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=20)
    url = models.URLField(max_length=500)
    body = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    tries = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
