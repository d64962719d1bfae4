"""Several servers: failover when one dies mid-job, least-loaded choice, health and VRAM snapshot."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import numpy as np
import pytest
import requests

from productions.lib.backend import SegmentRequest
from productions.lib.comfyui.backend import ComfyUIBackend
from productions.lib.comfyui.pool import Attempt, ServerPool
from tests.fake_comfyui import FAST_POOL_OPTIONS, FakeComfyUI, make_backend

pytestmark = pytest.mark.timeout(30)
W, H = 64, 36



def request(index: int = 0) -> SegmentRequest:
    return SegmentRequest("x", index, np.full((H, W, 3), 120, np.uint8), W, H, 4, 8, index=index)


def test_a_server_killed_mid_job_fails_over_to_the_other() -> None:
    a = FakeComfyUI(step_delay_s=0.05, name="a").start()
    b = FakeComfyUI(step_delay_s=0.01, name="b").start()
    try:
        with make_backend(a.url, b.url) as backend:
            records: list[Attempt] = []
            killed = threading.Event()

            def progress(step: int, total: int, preview: object) -> None:
                if step == 2 and not killed.is_set():
                    killed.set()
                    a.kill()

            t0 = time.monotonic()
            result = backend.generate_segment(request(), progress, on_attempt=records.append)
            assert time.monotonic() - t0 < 8
            assert len(result.frames) == 4 and result.info["server"] == b.url
            attempts = result.info["attempts"]
            assert [(x["server"], x["outcome"]) for x in attempts] == [(a.url, "retry"), (b.url, "success")]
            assert "Lost contact" in attempts[0]["error"] and attempts[0]["prompt_id"]
            assert all(x["ended_at"] >= x["started_at"] for x in attempts)
            # each attempt is reported when it starts and when it ends
            assert [(r.number, r.outcome) for r in records] == [(1, "running"), (1, "retry"), (2, "running"),
                                                                (2, "success")]
            snap = {s["url"]: s for s in backend.snapshot()}
            assert snap[a.url]["healthy"] is False and snap[b.url]["healthy"] is True
            assert snap[a.url]["jobs_failed"] == 1 and snap[b.url]["jobs_done"] == 1
            # the pool keeps working on the survivor, and takes the dead one back when it returns
            assert backend.generate_segment(request(1)).info["server"] == b.url
            a.start()
            time.sleep(0.6)
            assert {s["url"]: s["healthy"] for s in backend.snapshot()}[a.url] is True
    finally:
        a.stop()
        b.stop()


def test_least_loaded_server_gets_the_job() -> None:
    with FakeComfyUI(hang=True, name="busy") as busy, FakeComfyUI(name="idle") as idle:
        for _ in range(2):  # another client's jobs waiting on the first server
            requests.post(busy.url + "/prompt", json={"prompt": _tiny_prompt(), "client_id": "someone-else",
                                                      "prompt_id": str(uuid.uuid4())}, timeout=5)
        with make_backend(busy.url, idle.url) as backend:
            backend.pool.check_all()
            snap = {s["url"]: s for s in backend.snapshot()}
            assert snap[busy.url]["foreign_jobs"] == 2 and snap[busy.url]["load"] == 2
            assert backend.pool.pick() == idle.url
            result = backend.generate_segment(request())
            assert result.info["server"] == idle.url


def test_concurrent_jobs_spread_over_servers() -> None:
    with FakeComfyUI(step_delay_s=0.05, name="a") as a, FakeComfyUI(step_delay_s=0.05, name="b") as b, \
            make_backend(a.url, b.url) as backend:
        results: list = [None, None]

        def run(i: int) -> None:
            results[i] = backend.generate_segment(request(i))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.02)
        for t in threads:
            t.join(20)
        assert {r.info["server"] for r in results} == {a.url, b.url}  # Tower's in-flight count spreads them


def test_jobs_picked_at_the_same_moment_go_to_different_servers() -> None:
    """Picking a server and counting the job on it are one step: two threads that pick at once cannot both
    see the same server idle (they did, and an anchored render then ran on one server of two)."""
    with FakeComfyUI(name="a") as a, FakeComfyUI(name="b") as b, make_backend(a.url, b.url) as backend:
        backend.pool.check_all()
        start = threading.Barrier(8)
        picked: list[str | None] = []

        def pick() -> None:
            start.wait(5)
            picked.append(backend.pool.pick(acquire=True))

        threads = [threading.Thread(target=pick) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(picked) == sorted([a.url] * 4 + [b.url] * 4)  # every pick saw the others' jobs
        assert {s["url"]: s["inflight"] for s in backend.snapshot()} == {a.url: 4, b.url: 4}


def test_snapshot_has_devices_and_vram() -> None:
    devices = [{"name": "cuda:0 H100", "type": "cuda", "index": 0, "vram_total": 80 * 2**30,
                "vram_free": 70 * 2**30, "torch_vram_total": 0, "torch_vram_free": 0},
               {"name": "cuda:1 H100", "type": "cuda", "index": 1, "vram_total": 80 * 2**30,
                "vram_free": 10 * 2**30, "torch_vram_total": 0, "torch_vram_free": 0}]
    with FakeComfyUI(devices=devices) as fake:
        pool = ServerPool([fake.url], **FAST_POOL_OPTIONS)
        try:
            (snap,) = pool.snapshot()
            assert snap["healthy"] and snap["comfyui_version"] == "0.3.64-fake"
            assert [d["vram_free"] for d in snap["devices"]] == [70 * 2**30, 10 * 2**30]
            assert snap["checked_at"] is not None and snap["load"] == 0
        finally:
            pool.close()


def test_workflow_unsupported_on_one_server_moves_to_another() -> None:
    with FakeComfyUI(checkpoints=["sd_xl_base_1.0.safetensors"], name="no-svd") as a, \
            FakeComfyUI(name="full") as b, make_backend(a.url, b.url) as backend:
        result = backend.generate_segment(request())
        assert [(x["server"], x["outcome"]) for x in result.info["attempts"]] == [
            (a.url, "unsuitable"), (b.url, "success")]
        assert "no checkpoint 'svd_xt.safetensors'" in result.info["attempts"][0]["error"]
        assert a.stats["prompts"] == 0


def test_a_workflow_no_server_can_run_fails_fast() -> None:
    from productions.lib.comfyui.errors import WorkflowInvalid

    with FakeComfyUI(checkpoints=[], name="a") as a, FakeComfyUI(checkpoints=[], name="b") as b, \
            make_backend(a.url, b.url) as backend:
        t0 = time.monotonic()
        with pytest.raises(WorkflowInvalid, match="no checkpoint 'svd_xt.safetensors'") as caught:
            backend.generate_segment(request())
        assert time.monotonic() - t0 < 2
        assert [x["outcome"] for x in caught.value.attempts] == ["unsuitable", "failed"]
        assert a.stats["prompts"] == b.stats["prompts"] == 0


def test_no_server_configured() -> None:
    from productions.lib.comfyui.errors import NoServerAvailable

    with make_backend() as backend, pytest.raises(NoServerAvailable, match="TOWER_COMFYUI_URLS"):
        backend.generate_segment(request())


def test_shared_backend_takes_its_configuration_as_values() -> None:
    with FakeComfyUI() as fake:
        backend = ComfyUIBackend.shared([f" {fake.url}/ ", " "], pool_options=FAST_POOL_OPTIONS, deadline_s=42,
                                        segment_workflow="svd_img2vid")
        try:
            assert backend.name == "comfyui" and backend.is_ai is True
            assert backend.deadline_s == 42 and backend.segment_workflow == "svd_img2vid"
            assert list(backend.pool.servers) == [fake.url]
            assert ComfyUIBackend.shared([fake.url], pool_options=FAST_POOL_OPTIONS).pool is backend.pool
        finally:
            backend.pool.close()


def _tiny_prompt() -> dict:
    return {"1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "2": {"class_type": "VAEDecode", "inputs": {"samples": ["1", 0], "vae": ["3", 2]}},
            "3": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
            "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "other"}}}


class SilentServer:
    """Accepts TCP connections and never answers (a hung or firewalled host); records when each one opened."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.opened: list[float] = []
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.opened.append(time.monotonic())
            self._conns.append(conn)  # held open, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self._conns:
            conn.close()


def test_hung_servers_are_checked_at_the_same_time_and_hold_up_no_other() -> None:
    timeout = 2.0
    first, second = SilentServer(), SilentServer()
    try:
        with FakeComfyUI(name="ok") as ok:
            pool = ServerPool([first.url, second.url, ok.url], health_timeout_s=timeout, start=False)
            try:
                pool.check_all()
                snap = {s["url"]: s for s in pool.snapshot()}
            finally:
                pool.close()
        assert snap[ok.url]["healthy"] is True
        for hung in (first, second):
            assert snap[hung.url]["healthy"] is False and "Timeout" in snap[hung.url]["last_error"]
            assert len(hung.opened) == 1
        # checked one after the other, the second would be contacted only once the first timed out
        assert abs(first.opened[0] - second.opened[0]) < timeout / 2
    finally:
        first.close()
        second.close()
