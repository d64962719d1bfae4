"""GPU monitoring: ComfyUI servers (the fake one) and NVML (a stand-in module: no GPU here), the worker
heartbeat, and the staff-only page."""

from __future__ import annotations

import sys
import types
from datetime import timedelta

import pytest
from django.utils import timezone

from productions import monitor
from productions.models import MonitorSample, Segment, WorkerHeartbeat
from tests.conftest import small_episode
from tests.fake_comfyui import FakeComfyUI

pytestmark = pytest.mark.django_db(transaction=True)

GIB = 1024**3


@pytest.fixture
def fake_gpu_server(settings):
    devices = [{"name": "cuda:0 NVIDIA H100 80GB HBM3 : cudaMallocAsync", "type": "cuda", "index": 0,
                "vram_total": 80 * GIB, "vram_free": 60 * GIB, "torch_vram_total": 0, "torch_vram_free": 0}]
    with FakeComfyUI(devices=devices, name="gpu1") as fake:
        settings.TOWER_COMFYUI_URLS = [fake.url]
        yield fake


@pytest.fixture
def fake_nvml(monkeypatch):
    """The few pynvml calls monitor.nvml_gpus() makes, answering for two local GPUs."""
    module = types.ModuleType("pynvml")
    memory = [types.SimpleNamespace(used=10 * GIB, total=80 * GIB), types.SimpleNamespace(used=1 * GIB, total=24 * GIB)]
    module.nvmlInit = lambda: None
    module.nvmlShutdown = lambda: None
    module.nvmlDeviceGetCount = lambda: 2
    module.nvmlDeviceGetHandleByIndex = lambda i: i
    module.nvmlDeviceGetName = lambda h: [b"NVIDIA H100", "NVIDIA L4"][h]
    module.nvmlDeviceGetMemoryInfo = lambda h: memory[h]
    module.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=[87, 3][h])
    monkeypatch.setitem(sys.modules, "pynvml", module)
    return module


def test_comfyui_servers_report_vram_and_queue(fake_gpu_server):
    gpus = monitor.gpu_snapshot()
    assert len(gpus) == 1
    gpu = gpus[0]
    assert gpu["name"].startswith("cuda:0 NVIDIA H100") and gpu["server"] == fake_gpu_server.url
    assert (gpu["vram_used"], gpu["vram_total"]) == (20 * GIB, 80 * GIB)
    assert gpu["healthy"] and gpu["queue"] == 0 and gpu["utilization"] is None  # ComfyUI doesn't say


def test_a_down_server_is_listed_without_made_up_numbers(settings):
    settings.TOWER_COMFYUI_URLS = ["http://127.0.0.1:9"]  # discard port: nothing listens
    [gpu] = monitor.gpu_snapshot()
    assert not gpu["healthy"] and gpu["vram_total"] is None and gpu["vram_used"] is None


def test_nvml_gives_local_gpus_and_utilisation_to_a_local_comfyui(fake_nvml, fake_gpu_server, settings):
    gpus = monitor.gpu_snapshot()
    # GPU 0 is the local ComfyUI server's device: listed once, as the server's, with NVML's utilisation.
    assert [g["source"] for g in gpus] == ["nvml", "comfyui"]
    local, server = gpus
    assert local["name"] == "NVIDIA L4 #1" and local["utilization"] == 3.0 and local["vram_total"] == 24 * GIB
    assert server["utilization"] == 87.0
    settings.TOWER_COMFYUI_URLS = []
    assert [g["name"] for g in monitor.gpu_snapshot()] == ["NVIDIA H100 #0", "NVIDIA L4 #1"]


def test_a_heartbeat_records_the_worker_samples_and_state(fake_gpu_server, project):
    beat = monitor.Heartbeat(interval_s=5)
    beat.beat()
    row = WorkerHeartbeat.objects.get(worker_id=beat.worker_id)
    assert row.is_live(5) and row.state["gpus"][0]["vram_total"] == 80 * GIB
    names = set(MonitorSample.objects.values_list("name", flat=True))
    assert names == {f"{row.state['gpus'][0]['name']} @ {fake_gpu_server.url}", monitor.QUEUE_SERIES,
                     monitor.host_series(beat.worker_id)}  # the host's CPU and memory (tests/test_monitor_host.py)

    episode = small_episode(project)
    Segment.objects.create(episode=episode, index=0, prompt="p", seed=1, native_frames=10, delivered_frames=48,
                           status="done", finished_at=timezone.now() - timedelta(minutes=7))
    Segment.objects.create(episode=episode, index=1, prompt="p", seed=2, native_frames=10, delivered_frames=48,
                           status="generating", progress=0.4, started_at=timezone.now())
    state = monitor.monitor_state(with_history=True)
    assert [w["worker_id"] for w in state["workers"]] == [beat.worker_id] and state["workers"][0]["live"]
    assert state["gpus"][0]["server"] == fake_gpu_server.url and state["queue_length"] is not None
    assert state["running"] == [{**state["running"][0], "episode": episode.pk, "segment": 1, "progress": 0.4}]
    assert state["throughput"]["segments_last_hour"] == 1 and state["throughput"]["frames_last_hour"] == 48
    assert sum(state["throughput"]["segments_per_5min"]) == 1
    assert {p["name"] for p in state["history"]} == names
    vram = next(p for p in state["history"] if p["vram_pct"] is not None)
    assert vram["vram_pct"] == 25.0


def test_the_heartbeat_thread_starts_once_and_marks_the_worker_stopped(fake_gpu_server):
    first = monitor.start_heartbeat(interval_s=0.2)
    assert monitor.start_heartbeat(interval_s=0.2) is first  # Huey calls the hook once per worker thread
    monitor.stop_heartbeat()
    row = WorkerHeartbeat.objects.get(worker_id=first.worker_id)
    assert row.stopped_at is not None and not row.is_live(0.2)


def test_the_monitor_page_is_for_staff(fake_gpu_server, users, producer_client):
    from tests.conftest import client_for

    monitor.Heartbeat(interval_s=5).beat()
    assert producer_client.get("/monitor/").status_code == 403
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    assert "NVIDIA H100 80GB HBM3" in page and "20480 / 81920 MiB" in page and "not reported" in page
    assert 'id="monitor-state"' in page and "monitor.js" in page


def test_a_server_that_sends_no_previews_is_named_on_the_monitor(fake_gpu_server, users):
    from productions.media_config import comfyui_backend
    from tests.conftest import client_for

    comfyui_backend().pool.servers[fake_gpu_server.url].sends_previews = False  # what a job there found
    monitor.Heartbeat(interval_s=5).beat()
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    assert "off: start ComfyUI with --preview-method auto" in page
