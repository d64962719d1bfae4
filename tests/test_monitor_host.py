"""A worker's heartbeat on a machine without a GPU: its host's CPU and memory (and the worker's own) are stored
with the heartbeat and as chart samples, and the monitor page shows them instead of "no readings"."""

from __future__ import annotations

import re
import sys

import pytest

from productions import monitor
from productions.lib.host import HostSampler
from productions.models import MonitorSample, WorkerHeartbeat
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")]


@pytest.fixture
def cpu_only(settings):
    settings.TOWER_COMFYUI_URLS = []  # and no pynvml in the test environment: no GPU at all


def test_a_heartbeat_stores_the_hosts_cpu_and_memory(cpu_only):
    beat = monitor.Heartbeat(interval_s=5)
    beat.beat()
    beat.beat()
    host = WorkerHeartbeat.objects.get(worker_id=beat.worker_id).state["host"]
    assert 0 <= host["cpu_percent"] <= 100 and 0 <= host["process_cpu_percent"] <= 100
    assert 0 < host["memory_used"] < host["memory_total"] and host["process_rss"] > 10 * 1024**2
    assert len(host["load"]) == 3 and host["cpus"] >= 1
    samples = list(MonitorSample.objects.filter(name=monitor.host_series(beat.worker_id)))
    assert len(samples) == 2  # one per beat, beside the GPUs' (none here) and the queue's
    assert all(s.memory_total == host["memory_total"] and s.cpu_percent is not None and s.vram_total is None
               for s in samples)
    point = monitor.sample_point(samples[-1])
    assert point["host"] and point["queue"] is None and 0 < point["mem_pct"] < 100 and 0 < point["rss_pct"] < 100
    assert point["cpu"] == samples[-1].cpu_percent and point["proc_cpu"] == samples[-1].process_cpu_percent


def test_the_page_shows_the_workers_cpu_and_memory(cpu_only, users):
    beat = monitor.Heartbeat(interval_s=5)
    beat.beat()
    state = monitor.monitor_state(with_history=True)
    [worker] = state["workers"]
    usage = worker["usage"]
    assert usage["memory_total_mib"] > 0 and usage["process_rss_mib"] > 10
    assert any(p.get("host") for p in state["history"])
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    row = re.search(r'<tbody id="workers">(.*?)</tbody>', page, re.S).group(1)
    assert beat.worker_id in row and "not reported" not in row
    assert f"{usage['cpu_percent']} % / {usage['process_cpu_percent']} %" in row
    assert f"/ {usage['memory_total_mib']} MiB" in row and f"{usage['process_rss_mib']} MiB" in row
    assert 'id="chart-cpu"' in page and 'id="chart-memory"' in page


def test_a_worker_without_proc_says_so(cpu_only, users, tmp_path):
    beat = monitor.Heartbeat(interval_s=5)
    beat.host = HostSampler(proc=tmp_path / "no-proc")
    beat.beat()
    assert WorkerHeartbeat.objects.get(worker_id=beat.worker_id).state["host"] is None
    assert not MonitorSample.objects.filter(name=monitor.host_series(beat.worker_id)).exists()
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    assert "not reported (no /proc on its host)" in page
