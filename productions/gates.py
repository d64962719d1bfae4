"""The production gates, as rates over the last day and the last week, each against its threshold.

* Render success: renders that ended in review or delivered, against those that failed (cancelled ones are
  the producer's choice and count for neither). Each episode records how its latest render ended (its status
  and finished_at, productions.render.EpisodeRender.finish): an episode rendered several times in the window
  counts once, with its latest outcome, and one queued or rendering again counts not at all until it ends.
* First-try QA: segments whose first attempt passed automatic segment QA, against those whose first attempt
  failed it (a first attempt that failed for another reason, was cancelled or interrupted had no verdict).
* Peak VRAM: the most GPU memory a segment job saw on its server (SegmentAttempt.peak_vram_bytes), against
  TOWER_VRAM_BUDGET_GB.
* Peak GPU utilisation: the highest utilisation a worker read (MonitorSample.utilization; NVML reports it,
  ComfyUI does not), under 90 %. Readings are kept two hours; the peaks of those trimmed are kept a week
  (GpuUtilizationPeak, productions.monitor.trim_samples), so the day's and the week's peaks are whole.

One aggregate query per gate covers both windows (two for the GPU utilisation: readings and trimmed peaks).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

WINDOWS = (("day", "Last day", timedelta(days=1)), ("week", "Last week", timedelta(days=7)))
RENDER_SUCCESS_MIN_PCT = 95.0  # more than this
FIRST_TRY_QA_MIN_PCT = 80.0  # at least this
GPU_UTILIZATION_MAX_PCT = 90.0  # less than this
GIB = 1024**3


def rate_cell(good: int, bad: int, minimum: float, strictly: bool, what: str) -> dict[str, Any]:
    total = good + bad
    if not total:
        return {"value": None, "passed": None, "label": f"no {what}"}
    percent = 100.0 * good / total
    passed = percent > minimum if strictly else percent >= minimum
    return {"value": round(percent, 1), "passed": passed, "label": f"{percent:.1f} % ({good} of {total})"}


def render_success(since: dict[str, datetime]) -> dict[str, Any]:
    from productions.models import Episode

    ok = [Episode.Status.REVIEW, Episode.Status.DELIVERED]
    counts = Episode.objects.filter(finished_at__gte=since["week"]).aggregate(**{
        f"{kind}_{key}": Count("pk", filter=Q(status__in=statuses, finished_at__gte=start))
        for key, start in since.items() for kind, statuses in (("ok", ok), ("failed", [Episode.Status.FAILED]))})
    return {"key": "render_success", "name": "Render success rate", "threshold": f"> {RENDER_SUCCESS_MIN_PCT:g} %",
            "about": "renders that ended in review or delivered, of those that ended so or failed",
            "cells": [rate_cell(counts[f"ok_{key}"], counts[f"failed_{key}"], RENDER_SUCCESS_MIN_PCT, True,
                                "render ended") for key in since]}


def first_try_qa(since: dict[str, datetime]) -> dict[str, Any]:
    from productions.models import SegmentAttempt

    passed = Q(outcome=SegmentAttempt.Outcome.SUCCEEDED)
    failed = Q(outcome=SegmentAttempt.Outcome.FAILED, error__startswith="QA:")
    counts = SegmentAttempt.objects.filter(number=1, finished_at__gte=since["week"]).aggregate(**{
        f"{kind}_{key}": Count("pk", filter=verdict & Q(finished_at__gte=start))
        for key, start in since.items() for kind, verdict in (("passed", passed), ("failed", failed))})
    return {"key": "first_try_qa", "name": "Segments passing QA on the first try",
            "threshold": f"≥ {FIRST_TRY_QA_MIN_PCT:g} %",
            "about": "first attempts that passed automatic segment QA, of first attempts that QA judged",
            "cells": [rate_cell(counts[f"passed_{key}"], counts[f"failed_{key}"], FIRST_TRY_QA_MIN_PCT, False,
                                "segment checked") for key in since]}


def peak_vram(since: dict[str, datetime]) -> dict[str, Any]:
    from productions.models import SegmentAttempt

    budget_gb = settings.TOWER_VRAM_BUDGET_GB
    budget = int(budget_gb * GIB)
    found = SegmentAttempt.objects.filter(peak_vram_bytes__isnull=False, started_at__gte=since["week"]).aggregate(
        **{f"peak_{key}": Max("peak_vram_bytes", filter=Q(started_at__gte=start)) for key, start in since.items()},
        **{f"jobs_{key}": Count("pk", filter=Q(started_at__gte=start)) for key, start in since.items()},
        **{f"over_{key}": Count("pk", filter=Q(started_at__gte=start, peak_vram_bytes__gt=budget))
           for key, start in since.items()})
    cells = []
    for key in since:
        peak, jobs, over = found[f"peak_{key}"], found[f"jobs_{key}"], found[f"over_{key}"]
        if peak is None:
            cells.append({"value": None, "passed": None, "label": "no VRAM readings"})
            continue
        label = f"{peak / GIB:.2f} GB ({jobs} job{'s' if jobs != 1 else ''}, {over} over)"
        cells.append({"value": round(peak / GIB, 2), "passed": peak <= budget, "label": label})
    return {"key": "peak_vram", "name": "Peak VRAM of a segment job", "threshold": f"≤ {budget_gb:g} GB",
            "about": "TOWER_VRAM_BUDGET_GB; measured on the job's ComfyUI server while it ran",
            "cells": cells}


def peak_gpu_utilization(since: dict[str, datetime]) -> dict[str, Any]:
    from productions.models import GpuUtilizationPeak, MonitorSample

    recent = MonitorSample.objects.filter(utilization__isnull=False, at__gte=since["week"]).aggregate(
        first=Min("at"), **{f"peak_{key}": Max("utilization", filter=Q(at__gte=start))
                            for key, start in since.items()})
    trimmed = GpuUtilizationPeak.objects.filter(end__gte=since["week"]).aggregate(
        first=Min("start"), **{f"peak_{key}": Max("utilization", filter=Q(end__gte=start))
                               for key, start in since.items()})
    cells = []
    for key in since:
        peak = max((p for p in (recent[f"peak_{key}"], trimmed[f"peak_{key}"]) if p is not None), default=None)
        if peak is None:
            cells.append({"value": None, "passed": None, "label": "no GPU readings"})
        else:
            cells.append({"value": round(peak, 1), "passed": peak < GPU_UTILIZATION_MAX_PCT,
                          "label": f"{peak:.1f} %"})
    about = "the workers' NVML readings (ComfyUI reports none)"
    first = min((t for t in (recent["first"], trimmed["first"]) if t is not None), default=None)
    if first:
        about += f"; readings since {timezone.localtime(first):%Y-%m-%d %H:%M}"
    return {"key": "peak_gpu_utilization", "name": "Peak GPU utilisation",
            "threshold": f"< {GPU_UTILIZATION_MAX_PCT:g} %", "about": about, "cells": cells}


def gates(now: datetime | None = None) -> dict[str, Any]:
    """Every gate for each window: {"windows": [{"key", "label"}], "gates": [{"key", "name", "threshold",
    "about", "cells": [{"value", "passed" (None: nothing to judge), "label"} per window]}]}."""
    now = now or timezone.now()
    since = {key: now - length for key, _, length in WINDOWS}
    return {"windows": [{"key": key, "label": label} for key, label, _ in WINDOWS],
            "gates": [render_success(since), first_try_qa(since), peak_vram(since), peak_gpu_utilization(since)]}
