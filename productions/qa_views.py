"""The QA page: every check's measured value against its threshold, with worst-frame thumbnails, for the
episode and for every attempt of every segment. A segment that failed QA on every try can be approved
anyway with a written reason (productions.review.approve_segment); that override shows in its history."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from productions.models import QAReport
from productions.views import episode_and_access


def episode_qa(request: HttpRequest, pk: int) -> HttpResponse:
    episode, access = episode_and_access(request, pk)
    reports = list(episode.qa_reports.select_related("segment").order_by("created_at"))
    segments = []
    for segment in episode.segments.order_by("index").prefetch_related("attempt_log__reviewer"):
        attempts = {a.number: a for a in segment.attempt_log.all()}
        segments.append({
            "segment": segment,
            "flagged": segment.is_flagged(),
            "reports": [(r, attempts.get((r.details or {}).get("attempt"))) for r in reports
                        if r.segment_id == segment.pk and r.kind == QAReport.Kind.SEGMENT],
            "overrides": [a for a in attempts.values() if a.decision == "approved" and a.reason],
        })
    return render(request, "productions/episode_qa.html", {
        "episode": episode,
        "project": episode.project,
        "episode_reports": [r for r in reports if r.segment_id is None],
        "segments": segments,
        "can_produce": access.can_produce,
    })
