"""The episode page's live state: one JSON-able dict built from the database.

The same dict is the snapshot a socket gets when it connects, rides along with every state event the worker
publishes, and feeds the templates their `data-fp` fingerprints: a section of the page whose fingerprint in
a snapshot differs from the one in the page is fetched again (server-rendered, so escaped by Django).
Progress, ETA and preview frames change in place and are not part of any fingerprint.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from productions.eta import episode_eta_s, episode_stitch_estimate, segment_eta_s
from productions.models import Episode, QAReport, Segment


def fingerprint(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


def version(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.stat().st_mtime_ns)
    except OSError:
        return ""


def qa_badge(report: QAReport | None) -> dict | None:
    if report is None:
        return None
    return {"passed": report.passed, "failed": [c.get("name", "?") for c in report.failed_checks()]}


def segment_state(episode: Episode, segment: Segment, qa: QAReport | None, post_s: float | None = None) -> dict:
    preview = segment.file("preview_path")
    video = segment.file("proxy_path")
    video_version = version(video)
    running = segment.status in (Segment.Status.GENERATING, Segment.Status.POST)
    eta = None
    if running and segment.started_at:
        eta = segment_eta_s((timezone.now() - segment.started_at).total_seconds(), segment.progress, post_s)
    badge = qa_badge(qa)
    review = segment.current_review()
    state = {
        "index": segment.index,
        "status": segment.status,
        "status_label": segment.get_status_display(),
        "progress": round(segment.progress, 3),
        "attempts": segment.attempts,
        "error": segment.error,
        "review": review,
        "qa": badge,
        "preview_url": (reverse("segment-file", args=[episode.pk, segment.index, "preview"])
                        + f"?v={version(preview)}") if preview else None,
        "video_url": (reverse("segment-file", args=[episode.pk, segment.index, "video"])
                      + f"?v={video_version}") if video else None,
        "eta_s": eta,
    }
    # What the server-rendered card shows, apart from progress/preview/ETA (updated in place).
    state["fp"] = fingerprint(segment.status, segment.attempts, segment.error, segment.error_details, review, badge,
                              video_version, segment.seed, segment.prompt, episode.status)
    return state


def episode_state(episode: Episode, segments: list[Segment] | None = None) -> dict:
    """`segments`: the episode's, already read (a page that shows them too must show the same list)."""
    segments = list(episode.segments.order_by("index")) if segments is None else segments
    by_pk = {s.pk: s for s in segments}
    reports: dict[int, QAReport] = {}
    for report in QAReport.objects.filter(episode=episode, kind=QAReport.Kind.SEGMENT).order_by("created_at"):
        segment = by_pk.get(report.segment_id)
        if segment and (segment.started_at is None or report.created_at >= segment.started_at):
            reports[segment.pk] = report  # the latest about the current files wins
    finished = [s for s in segments if s.status == Segment.Status.DONE and s.timings]
    mean_segment_s = mean_post_s = None
    if finished:
        mean_segment_s = round(sum(s.timings.get("generate_s", 0) + s.timings.get("post_s", 0)
                                   for s in finished) / len(finished), 1)
        mean_post_s = round(sum(s.timings.get("post_s", 0) for s in finished) / len(finished), 1)
    states = [segment_state(episode, s, reports.get(s.pk), mean_post_s) for s in segments]

    final = episode.final_file
    final_version = version(final)
    conformance = episode.latest_conformance()
    waiting = sum(1 for s in segments if s.status in (Segment.Status.PENDING, Segment.Status.FAILED))
    eta = stitch = None
    if episode.is_active:
        running = next((s for s in states if s["eta_s"] is not None), None)
        stitch = episode_stitch_estimate(episode)
        eta = episode_eta_s(running_eta_s=running["eta_s"] if running else None, waiting=waiting,
                            per_segment_s=mean_segment_s, stitch=stitch, stage=episode.stage,
                            stage_elapsed_s=(timezone.now() - episode.updated_at).total_seconds())
    state = {
        "id": episode.pk,
        "status": episode.status,
        "status_label": episode.get_status_display(),
        "stage": episode.stage,
        "error": episode.error,
        "progress": episode.progress(segments),
        "active": episode.is_active,
        "eta_s": round(eta, 1) if eta is not None else None,
        "mean_segment_s": mean_segment_s,
        "mean_post_s": mean_post_s,
        "stitch_s": stitch.total_s if stitch else None,  # the estimate's stitch part (in eta_s)
        "waiting_segments": waiting,
        # rejected while the episode is stopped, to be made again by the next render
        "rejected_waiting": 0 if episode.is_active else sum(
            1 for s in segments if s.status == Segment.Status.PENDING and s.review == Segment.Review.REJECTED),
        "final_url": (reverse("episode-file", args=[episode.pk, "video"]) + f"?v={final_version}")
        if final else None,
        "conformance": {"passed": conformance.passed, "id": conformance.pk} if conformance else None,
        "approved": sum(1 for s in states if s["review"] == Segment.Review.APPROVED),
        "segments": states,
        "at": timezone.now().timestamp(),
    }
    state["head_fp"] = fingerprint(episode.status, episode.error, episode.error_details, bool(segments),
                                   state["approved"],
                                   state["rejected_waiting"])
    state["final_fp"] = fingerprint(final_version, conformance.pk if conformance else None, episode.status,
                                    state["rejected_waiting"])
    return state


def episode_state_by_pk(pk: int) -> dict | None:
    episode = Episode.objects.select_related("project").filter(pk=pk).first()
    return episode_state(episode) if episode else None
