"""The gates on the monitor: rates over the last day and the last week from renders, first attempts, peak VRAM
and GPU readings made up at known times (inside the day, inside the week only, older than a week), each with
its threshold and a pass/fail mark, computed in a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productions.gates import gates
from productions.models import Episode, GpuUtilizationPeak, MonitorSample, Segment, SegmentAttempt
from productions.monitor import trim_samples
from tests.conftest import client_for, small_episode

pytestmark = pytest.mark.django_db

GIB = 1024**3
HOUR_AGO, DAYS_AGO, LONG_AGO = timedelta(hours=1), timedelta(days=3), timedelta(days=10)


@pytest.fixture
def history(project):
    """What happened, made up at known times before `now`."""
    now = timezone.now()
    S = Episode.Status
    renders = [(S.REVIEW, HOUR_AGO), (S.DELIVERED, HOUR_AGO),  # last day: 2 ended well, none failed
               (S.CANCELLED, HOUR_AGO),  # the producer's choice: counts for neither
               (S.QUEUED, HOUR_AGO),  # rendering again: its earlier end no longer counts
               *[(S.DELIVERED, DAYS_AGO)] * 17, (S.FAILED, DAYS_AGO),  # the week: 19 of 20 = 95 %, not > 95 %
               *[(S.FAILED, LONG_AGO)] * 5]  # older than a week
    episodes = []
    for status, ago in renders:
        episode = small_episode(project, status=status)
        Episode.objects.filter(pk=episode.pk).update(finished_at=now - ago)
        episodes.append(episode)

    Outcome = SegmentAttempt.Outcome
    segment_index = iter(range(1000))

    def attempt(ago, outcome, number=1, error="", peak=None):
        segment = Segment.objects.create(episode=episodes[0], index=next(segment_index), prompt="p", seed=1,
                                         native_frames=10, delivered_frames=48)
        return SegmentAttempt.objects.create(
            segment=segment, number=number, backend="comfyui", seed=1, prompt="p", outcome=outcome, error=error,
            peak_vram_bytes=peak, started_at=now - ago - timedelta(minutes=2),
            finished_at=None if outcome == Outcome.RUNNING else now - ago)

    qa_failed = "QA: frozen frames"
    # First tries in the last day: 3 passed QA, 1 failed it -> 75 %, under 80 %.
    for _ in range(3):
        attempt(HOUR_AGO, Outcome.SUCCEEDED)
    attempt(HOUR_AGO, Outcome.FAILED, error=qa_failed)
    attempt(HOUR_AGO, Outcome.FAILED, error="ComfyUI server down")  # no QA verdict: not counted
    attempt(HOUR_AGO, Outcome.RUNNING)  # not ended
    attempt(HOUR_AGO, Outcome.FAILED, number=2, error=qa_failed)  # a second try: not a first one
    # Earlier in the week: 5 more passed -> 8 of 9 = 88.9 %.
    for _ in range(5):
        attempt(DAYS_AGO, Outcome.SUCCEEDED)
    for _ in range(4):
        attempt(LONG_AGO, Outcome.FAILED, error=qa_failed)

    # Peak VRAM (second tries, so the first-try counts above stay as they are): budget 10 GB.
    attempt(HOUR_AGO, Outcome.SUCCEEDED, number=2, peak=6 * GIB)
    attempt(HOUR_AGO, Outcome.SUCCEEDED, number=2, peak=int(9.5 * GIB))
    attempt(DAYS_AGO, Outcome.SUCCEEDED, number=2, peak=12 * GIB)
    attempt(LONG_AGO, Outcome.SUCCEEDED, number=2, peak=40 * GIB)

    # GPU utilisation readings.
    for ago, utilization in [(HOUR_AGO, 50.0), (HOUR_AGO, 85.0), (HOUR_AGO, None), (DAYS_AGO, 95.0),
                             (LONG_AGO, 100.0)]:
        MonitorSample.objects.create(at=now - ago, worker_id="w:1", name="NVIDIA L4 #0 @ vm (local)",
                                     utilization=utilization)
    return now


def cells(found: dict, key: str) -> list[tuple]:
    [gate] = [g for g in found["gates"] if g["key"] == key]
    return [(c["value"], c["passed"], c["label"]) for c in gate["cells"]]


def test_each_gate_over_the_day_and_the_week(history, settings):
    settings.TOWER_VRAM_BUDGET_GB = 10.0
    found = gates(now=history)
    assert [w["key"] for w in found["windows"]] == ["day", "week"]
    assert cells(found, "render_success") == [(100.0, True, "100.0 % (2 of 2)"),
                                              (95.0, False, "95.0 % (19 of 20)")]
    assert cells(found, "first_try_qa") == [(75.0, False, "75.0 % (3 of 4)"), (88.9, True, "88.9 % (8 of 9)")]
    assert cells(found, "peak_vram") == [(9.5, True, "9.50 GB (2 jobs, 0 over)"),
                                         (12.0, False, "12.00 GB (3 jobs, 1 over)")]
    assert cells(found, "peak_gpu_utilization") == [(85.0, True, "85.0 %"), (95.0, False, "95.0 %")]
    thresholds = {g["key"]: g["threshold"] for g in found["gates"]}
    assert thresholds == {"render_success": "> 95 %", "first_try_qa": "≥ 80 %", "peak_vram": "≤ 10 GB",
                          "peak_gpu_utilization": "< 90 %"}


def test_nothing_to_judge_is_said_plainly(db):
    found = gates()
    assert cells(found, "peak_gpu_utilization") == [(None, None, "no GPU readings")] * 2
    assert cells(found, "peak_vram") == [(None, None, "no VRAM readings")] * 2
    assert cells(found, "render_success") == [(None, None, "no render ended")] * 2
    assert cells(found, "first_try_qa") == [(None, None, "no segment checked")] * 2


def test_the_gates_take_one_query_each_however_much_history(history):
    with CaptureQueriesContext(connection) as queries:
        gates(now=history)
    assert len(queries) == 5  # one per gate, and the GPU utilisation's trimmed peaks
    now = timezone.now()
    MonitorSample.objects.bulk_create([MonitorSample(at=now - timedelta(seconds=5 * i), worker_id="w:1",
                                                     name="gpu", utilization=40.0) for i in range(2000)])
    with CaptureQueriesContext(connection) as queries:
        gates()
    assert len(queries) == 5


def test_trimmed_readings_leave_their_peaks_for_the_week(db):
    now = timezone.now()
    gpu = "NVIDIA L4 #0 @ vm (local)"
    for ago, utilization in [(timedelta(minutes=5), 50.0), (DAYS_AGO, 95.0), (DAYS_AGO + HOUR_AGO, 70.0),
                             (DAYS_AGO, None), (LONG_AGO, 100.0)]:
        MonitorSample.objects.create(at=now - ago, worker_id="w:1", name=gpu, utilization=utilization)
    MonitorSample.objects.create(at=now - DAYS_AGO, worker_id="w:1", name="other GPU", utilization=30.0)
    trim_samples(now)
    assert list(MonitorSample.objects.values_list("utilization", flat=True)) == [50.0]  # kept 2 h
    peaks = {(p.name, p.utilization, p.start, p.end) for p in GpuUtilizationPeak.objects.all()}
    three_days = now - DAYS_AGO
    assert peaks == {(gpu, 95.0, three_days, three_days), (gpu, 70.0, three_days - HOUR_AGO, three_days - HOUR_AGO),
                     ("other GPU", 30.0, three_days, three_days)}  # one per series and clock hour; 10 days: gone
    assert cells(gates(now=now), "peak_gpu_utilization") == [(50.0, True, "50.0 %"), (95.0, False, "95.0 %")]


def test_the_monitor_page_shows_each_gate_with_its_mark(history, users):
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    marks = {key: re.findall(r'data-passed="(\w+)"', row) for key, row in
             re.findall(r'<tr data-gate="(\w+)">(.*?)</tr>', page, re.S)}
    assert marks == {"render_success": ["pass", "fail"], "first_try_qa": ["fail", "pass"],
                     "peak_vram": ["pass", "fail"], "peak_gpu_utilization": ["pass", "fail"]}
    assert "✓ pass" in page and "✗ fail" in page and "95.0 % (19 of 20)" in page and "&lt; 90 %" in page


def test_a_page_with_no_gpu_readings_says_so(users):
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    row = re.search(r'<tr data-gate="peak_gpu_utilization">(.*?)</tr>', page, re.S).group(1)
    assert row.count("no GPU readings") == 2 and 'data-passed="none"' in row
