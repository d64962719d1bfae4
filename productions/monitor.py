"""Monitoring for staff: GPUs, render workers (their host's CPU and memory), queues, throughput, the gates.

Each render worker process runs one heartbeat thread (started by a Huey on_startup hook, see tasks.py). Every
TOWER_HEARTBEAT_S seconds it reads its GPUs and its host (productions.lib.host: CPU and memory of the host and
of the worker process, from /proc), updates its WorkerHeartbeat row, stores one MonitorSample per GPU and one
for its host (the monitor's charts of the last hour) and publishes the readings to the "monitor" group.

GPUs come from where they can be measured, never made up:
* local GPUs through NVML (the `nvidia-ml-py` package, imported as `pynvml`) when it imports and finds a
  driver: name, VRAM used/total and utilisation;
* ComfyUI servers (TOWER_COMFYUI_URLS) through their /system_stats, via the backend's health-checked pool:
  name and VRAM per device, plus the server's queue and Tower's jobs on it. ComfyUI reports no utilisation:
  it stays unknown (None) unless the server is on this host and NVML knows the same device index.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import socket
import sys
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Max, Min, Prefetch, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from productions.lib.host import HostSampler
from productions.process_thread import ProcessThread

log = logging.getLogger(__name__)

HISTORY_S = 3600
KEEP_SAMPLES_S = 2 * 3600
KEEP_PEAKS_S = 8 * 86400  # the gates' week, and a day to spare
QUEUE_SERIES = "Huey queue"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


# --- reading GPUs ---------------------------------------------------------------------------------------------
def nvml_gpus() -> list[dict] | None:
    """Local GPUs through NVML, or None when NVML is not importable or finds no driver."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver, no GPU: NVML raises its own error classes
        return None
    gpus = []
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                utilization: float | None = float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:  # some devices (MIG slices) don't report it
                utilization = None
            gpus.append({
                "name": f"{name.decode() if isinstance(name, bytes) else name} #{index}", "index": index,
                "server": f"{socket.gethostname()} (local)", "source": "nvml", "healthy": True,
                "vram_used": int(memory.used), "vram_total": int(memory.total), "utilization": utilization,
                "queue": None,
            })
    finally:
        pynvml.nvmlShutdown()
    return gpus


def previews_label(sends: bool | None) -> str:
    """Whether a server sends step previews (0.3.64 does only when started with --preview-method auto)."""
    if sends is None:
        return "not seen yet"
    return "on" if sends else "off: start ComfyUI with --preview-method auto"


def comfyui_gpus() -> list[dict] | None:
    """One entry per device of each configured ComfyUI server (a server that is down: one entry, no VRAM)."""
    if not settings.TOWER_COMFYUI_URLS:
        return None
    from productions.media_config import comfyui_backend

    gpus = []
    for server in comfyui_backend().snapshot():
        queue = (server.get("queue_running") or 0) + (server.get("queue_pending") or 0)
        common = {"server": server["url"], "source": "comfyui", "healthy": bool(server.get("healthy")),
                  "queue": queue, "inflight": server.get("inflight", 0), "jobs_done": server.get("jobs_done", 0),
                  "jobs_failed": server.get("jobs_failed", 0), "error": server.get("last_error", ""),
                  "previews": previews_label(server.get("sends_previews"))}
        devices = server.get("devices") or []
        if not devices:
            gpus.append({**common, "name": server["url"], "index": None, "vram_used": None, "vram_total": None,
                         "utilization": None})
        for device in devices:
            total, free = device.get("vram_total"), device.get("vram_free")
            gpus.append({**common, "name": str(device.get("name") or f"device {device.get('index', 0)}"),
                         "index": device.get("index"), "vram_total": total,
                         "vram_used": total - free if total is not None and free is not None else None,
                         "utilization": None})
    return gpus


def gpu_snapshot() -> list[dict]:
    local = nvml_gpus() or []
    remote = comfyui_gpus() or []
    by_index = {gpu["index"]: gpu for gpu in local}
    matched: set[int] = set()
    for gpu in remote:  # a ComfyUI server on this host: NVML knows its devices' utilisation
        if urlparse(gpu["server"]).hostname in LOCAL_HOSTS and gpu["index"] in by_index:
            gpu["utilization"] = by_index[gpu["index"]]["utilization"]
            matched.add(gpu["index"])
    return [gpu for gpu in local if gpu["index"] not in matched] + remote


# --- where Real-ESRGAN can run ---------------------------------------------------------------------------------
REALESRGAN_NEEDS_CUDA = (
    "Real-ESRGAN needs a CUDA GPU, and no render worker has one: on a CPU it takes about 5 s a frame, hours for "
    "an episode. Choose Auto (Real-ESRGAN where there is CUDA, Lanczos elsewhere) or Lanczos.")


DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg")


@functools.lru_cache(maxsize=1)
def local_upscale_cuda() -> bool:
    """Whether Real-ESRGAN in this process would run on CUDA: TOWER_UPSCALE_DEVICE is not the CPU, torch is
    installed and sees a CUDA device. Without the NVIDIA driver (Linux) there is none: known without importing
    torch (the driver's /proc entry, its control device, or WSL2's GPU device: one exists wherever CUDA can
    run, containers included). Each worker reports it in its heartbeat."""
    if settings.TOWER_UPSCALE_DEVICE.strip().lower() == "cpu":
        return False
    if sys.platform.startswith("linux") and not any(os.path.exists(p) for p in DRIVER_PATHS):
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA install is no CUDA
        log.warning("torch could not check for CUDA", exc_info=True)
        return False


def realesrgan_cuda_available() -> bool:
    """Some live render worker would run Real-ESRGAN on CUDA (its heartbeat says so). With no live worker in
    the embedded shape (its worker runs on this host), this process's own answer."""
    from productions.models import WorkerHeartbeat

    interval = settings.TOWER_HEARTBEAT_S
    live = [b for b in WorkerHeartbeat.objects.filter(stopped_at__isnull=True,
                                                      seen_at__gte=timezone.now() - timedelta(seconds=3 * interval))]
    if any((b.state or {}).get("upscale_cuda") for b in live):
        return True
    return not live and not settings.REDIS_URL and local_upscale_cuda()


def upscaler_refusal(upscaler: str) -> str | None:
    """Why an episode whose upscaler is `upscaler` (its own or the instance default) must not render now."""
    if upscaler == "realesrgan" and not realesrgan_cuda_available():
        return REALESRGAN_NEEDS_CUDA
    return None


# --- the heartbeat --------------------------------------------------------------------------------------------
def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat(threading.Thread):
    def __init__(self, interval_s: float) -> None:
        super().__init__(name="tower-heartbeat", daemon=True)
        self.interval_s = interval_s
        self.worker_id = worker_identity()
        self.stopping = threading.Event()
        self.last_trim = 0.0
        self.host = HostSampler()

    def run(self) -> None:
        from productions.models import WorkerHeartbeat

        close_old_connections()
        try:
            WorkerHeartbeat.objects.update_or_create(worker_id=self.worker_id, defaults={
                "host": socket.gethostname(), "pid": os.getpid(), "started_at": timezone.now(),
                "seen_at": timezone.now(), "stopped_at": None})
        except Exception:
            log.exception("could not register the worker heartbeat")
        while True:
            try:
                self.beat()
            except Exception:  # never let monitoring kill itself: try again next time
                log.exception("worker heartbeat failed")
            finally:
                close_old_connections()
            if self.stopping.wait(self.interval_s):
                break
        try:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).update(stopped_at=timezone.now())
        finally:
            close_old_connections()

    def beat(self) -> None:
        from productions.events import publish_monitor_event
        from productions.models import MonitorSample, WorkerHeartbeat
        from productions.tasks import queue_length

        gpus = gpu_snapshot()
        queue = queue_length()
        host = self.host.sample()  # None where there is no /proc to read
        now = timezone.now()
        state = {"gpus": gpus, "queue_length": queue, "upscale_cuda": local_upscale_cuda(), "host": host}
        WorkerHeartbeat.objects.update_or_create(worker_id=self.worker_id, defaults={
            "host": socket.gethostname(), "pid": os.getpid(), "seen_at": now, "stopped_at": None, "state": state})
        samples = [MonitorSample(at=now, worker_id=self.worker_id, name=sample_name(gpu),
                                 vram_used=gpu["vram_used"], vram_total=gpu["vram_total"],
                                 utilization=gpu["utilization"], queue_depth=gpu["queue"] or 0) for gpu in gpus]
        samples.append(MonitorSample(at=now, worker_id=self.worker_id, name=QUEUE_SERIES, queue_depth=queue))
        if host:
            samples.append(MonitorSample(
                at=now, worker_id=self.worker_id, name=host_series(self.worker_id),
                cpu_percent=host["cpu_percent"], process_cpu_percent=host["process_cpu_percent"],
                load_1m=host["load"][0], memory_used=host["memory_used"], memory_total=host["memory_total"],
                process_rss=host["process_rss"]))
        MonitorSample.objects.bulk_create(samples)
        if time.monotonic() - self.last_trim > 60:
            self.last_trim = time.monotonic()
            trim_samples(now)
        publish_monitor_event({"type": "heartbeat", "worker": self.worker_id,
                               "samples": [sample_point(s) for s in samples], "state": monitor_state(queue=queue)})


def trim_samples(now) -> None:
    """Delete the readings older than KEEP_SAMPLES_S, keeping each GPU series' highest utilisation among them
    per clock hour (a GpuUtilizationPeak, kept KEEP_PEAKS_S) for the gates: a peak is placed in time to the
    hour, however long the worker was down before this trim. Two workers trimming at once may both keep a
    peak of the same readings: harmless, the gates take the maximum."""
    from productions.models import GpuUtilizationPeak, MonitorSample

    old = MonitorSample.objects.filter(at__lt=now - timedelta(seconds=KEEP_SAMPLES_S))
    peaks = old.filter(utilization__isnull=False).order_by().values("name", hour=TruncHour("at")).annotate(
        start=Min("at"), end=Max("at"), peak=Max("utilization"))
    with transaction.atomic():
        GpuUtilizationPeak.objects.bulk_create([GpuUtilizationPeak(
            name=p["name"], start=p["start"], end=p["end"], utilization=p["peak"]) for p in peaks])
        old.delete()
    GpuUtilizationPeak.objects.filter(end__lt=now - timedelta(seconds=KEEP_PEAKS_S)).delete()


def sample_name(gpu: dict) -> str:
    return f"{gpu['name']} @ {gpu['server']}"


def host_series(worker_id: str) -> str:
    """The chart series of a worker's host readings: the worker's id names its host (host:pid)."""
    return worker_id


def share(part: int | None, whole: int | None) -> float | None:
    return round(100.0 * part / whole, 1) if part is not None and whole else None


def sample_point(sample) -> dict:
    point = {"name": sample.name, "t": sample.at.timestamp(), "vram_pct": share(sample.vram_used, sample.vram_total),
             "util": sample.utilization, "queue": sample.queue_depth}
    if sample.memory_total is not None:  # a host reading: CPU and memory, no queue
        point.update(queue=None, host=True, cpu=sample.cpu_percent, proc_cpu=sample.process_cpu_percent,
                     load=sample.load_1m, mem_pct=share(sample.memory_used, sample.memory_total),
                     rss_pct=share(sample.process_rss, sample.memory_total))
    return point


_heartbeat: ProcessThread[Heartbeat] = ProcessThread()


def start_heartbeat(interval_s: float | None = None) -> Heartbeat:
    """Start this process's heartbeat thread once (Huey calls start-up hooks once per worker thread)."""
    return _heartbeat.start(lambda: Heartbeat(interval_s or settings.TOWER_HEARTBEAT_S))


def stop_heartbeat() -> None:
    _heartbeat.stop()


# --- what the page shows --------------------------------------------------------------------------------------
def running_segments() -> list[dict]:
    from productions.models import Segment, SegmentAttempt

    rows = []
    running_attempts = Prefetch("attempt_log", to_attr="running_attempts", queryset=SegmentAttempt.objects.filter(
        outcome=SegmentAttempt.Outcome.RUNNING).order_by("-number"))
    running = Segment.objects.filter(status__in=[Segment.Status.GENERATING, Segment.Status.POST]).select_related(
        "episode", "episode__project").prefetch_related(running_attempts).order_by("started_at")
    for segment in running:
        attempt = segment.running_attempts[0] if segment.running_attempts else None
        server = attempt.server if attempt else ""
        if attempt and not server and attempt.tries:
            server = str(attempt.tries[-1].get("server", ""))
        rows.append({"episode": segment.episode_id, "title": segment.episode.title,
                     "project": segment.episode.project.name, "segment": segment.index,
                     "status": segment.get_status_display(), "progress": round(segment.progress, 3),
                     "backend": attempt.backend if attempt else "", "server": server,
                     "started_at": segment.started_at.timestamp() if segment.started_at else None})
    return rows


def throughput(now=None) -> dict:
    from productions.models import Episode, Segment

    now = now or timezone.now()
    since = now - timedelta(seconds=HISTORY_S)
    done = Segment.objects.filter(status=Segment.Status.DONE, finished_at__gte=since)
    buckets = [0] * 12  # segments finished per 5 minutes over the last hour, oldest first
    for finished_at in done.values_list("finished_at", flat=True):
        slot = int((finished_at - since).total_seconds() // 300)
        buckets[min(max(slot, 0), 11)] += 1
    frames = done.aggregate(n=Sum("delivered_frames"))["n"] or 0
    return {"segments_last_hour": done.count(), "frames_last_hour": frames,
            "delivered_frames_per_min": round(frames / 60.0, 1),
            "episodes_finished_last_hour": Episode.objects.filter(finished_at__gte=since).count(),
            "segments_per_5min": buckets}


def peak_vram_jobs(limit: int = 24) -> dict[str, Any]:
    """The latest segment jobs' peak VRAM (polled from their server during the job) against the budget, with
    the bars of a 400x140 chart: one bar per job, oldest first, and the budget line."""
    from productions.models import SegmentAttempt

    budget = int(settings.TOWER_VRAM_BUDGET_GB * 1024**3)
    attempts = list(SegmentAttempt.objects.filter(peak_vram_bytes__isnull=False).select_related(
        "segment", "segment__episode").order_by("-started_at")[:limit])[::-1]
    top = max([budget, *(a.peak_vram_bytes for a in attempts)]) * 1.1
    width = 400 / max(len(attempts), 1)
    jobs = []
    for i, a in enumerate(attempts):
        height = 140 * a.peak_vram_bytes / top
        jobs.append({"episode": a.segment.episode_id, "title": a.segment.episode.title,
                     "segment": a.segment.index, "attempt": a.number, "server": a.server,
                     "peak_bytes": a.peak_vram_bytes, "peak_gb": round(a.peak_vram_bytes / 1024**3, 2),
                     "over": a.peak_vram_bytes > budget, "x": round(i * width + 1, 1),
                     "width": round(max(width - 2, 1), 1), "y": round(140 - height, 1), "height": round(height, 1)})
    return {"budget_bytes": budget, "budget_gb": settings.TOWER_VRAM_BUDGET_GB,
            "budget_y": round(140 - 140 * budget / top, 1), "jobs": jobs}


def host_usage(host: dict | None) -> dict | None:
    """A worker's last host reading as the page shows it (None: the worker has no /proc to read)."""
    if not host:
        return None
    mib = 1024**2
    return {**host, "memory_used_mib": round(host["memory_used"] / mib), "memory_total_mib":
            round(host["memory_total"] / mib), "process_rss_mib": round(host["process_rss"] / mib),
            "memory_pct": share(host["memory_used"], host["memory_total"])}


def monitor_state(with_history: bool = False, queue: int | None = None) -> dict[str, Any]:
    """`queue`: the Huey queue length when the caller just read it (else it is read here)."""
    from productions.models import MonitorSample, WorkerHeartbeat
    from productions.tasks import queue_length

    interval = settings.TOWER_HEARTBEAT_S
    workers, gpus = [], []
    for beat in WorkerHeartbeat.objects.filter(seen_at__gte=timezone.now() - timedelta(seconds=HISTORY_S)):
        live = beat.is_live(interval)
        workers.append({"worker_id": beat.worker_id, "host": beat.host, "pid": beat.pid, "live": live,
                        "seen_at": beat.seen_at.timestamp(), "started_at": beat.started_at.timestamp(),
                        "stopped": beat.stopped_at is not None,
                        "queue_length": (beat.state or {}).get("queue_length"),
                        "usage": host_usage((beat.state or {}).get("host"))})
        if live:
            for gpu in (beat.state or {}).get("gpus", []):
                if not any(sample_name(g) == sample_name(gpu) for g in gpus):
                    gpus.append(gpu)
    if queue is None:
        try:
            queue = queue_length()
        except Exception:  # the queue's store is unreachable: say so rather than fail the page
            log.warning("could not read the Huey queue length", exc_info=True)
    state: dict[str, Any] = {"workers": workers, "gpus": gpus, "queue_length": queue,
                             "running": running_segments(), "throughput": throughput(),
                             "interval_s": interval, "at": time.time()}
    if with_history:
        from productions.gates import gates

        state["peak_vram"] = peak_vram_jobs()
        state["gates"] = gates()
        since = timezone.now() - timedelta(seconds=HISTORY_S)
        state["history"] = [sample_point(s) for s in MonitorSample.objects.filter(at__gte=since).order_by("at")]
    return state
