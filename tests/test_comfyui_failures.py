"""Each failure mode ends in success (after reconnect / polling / retry) or a clear error before its
deadline, never a hang. Timings are shortened (FAST_CLIENT_TIMEOUTS) so each test takes about a second."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from productions.lib.backend import Cancelled, SegmentRequest
from productions.lib.comfyui.errors import (
    DeadlineExceeded,
    ExecutionFailed,
    Interrupted,
    NoServerAvailable,
    WorkflowInvalid,
)
from tests.fake_comfyui import FakeComfyUI, free_port
from tests.fake_comfyui import make_backend as fake_make_backend

pytestmark = pytest.mark.timeout(30)
W, H = 64, 36


def make_backend(*urls: str, deadline_s: float = 10, **kwargs: object):
    return fake_make_backend(*urls, deadline_s=deadline_s, **kwargs)


def request(frames: int = 4) -> SegmentRequest:
    return SegmentRequest("x", 1, np.full((H, W, 3), 90, np.uint8), W, H, frames, 8)


def outcomes(info_or_error: object) -> list[str]:
    attempts = info_or_error["attempts"] if isinstance(info_or_error, dict) else info_or_error.attempts
    return [a["outcome"] for a in attempts]


def test_execution_error_is_permanent_and_names_the_node() -> None:
    with FakeComfyUI(execution_error="mat1 and mat2 shapes cannot be multiplied",
                     execution_error_type="RuntimeError") as fake, make_backend(fake.url) as backend:
        t0 = time.monotonic()
        with pytest.raises(ExecutionFailed) as caught:
            backend.generate_segment(request())
        assert time.monotonic() - t0 < 3
        text = str(caught.value)
        assert "failed in node 5 KSampler" in text and "mat1 and mat2 shapes cannot be multiplied" in text
        assert not caught.value.retryable and outcomes(caught.value) == ["failed"]
        assert fake.stats["prompts"] == 1  # not retried


def test_out_of_memory_is_retried_and_then_succeeds() -> None:
    with FakeComfyUI(execution_error="CUDA out of memory. Tried to allocate 2.00 GiB",
                     execution_error_times=1) as fake, make_backend(fake.url) as backend:
        result = backend.generate_segment(request())
        assert len(result.frames) == 4
        assert outcomes(result.info) == ["retry", "success"]
        assert "out of memory" in result.info["attempts"][0]["error"]


def test_socket_dropped_mid_job_is_reopened_with_the_same_client_id() -> None:
    with FakeComfyUI(step_delay_s=0.05, drop_socket_at_step=2) as fake, make_backend(fake.url) as backend:
        steps: list[int] = []
        result = backend.generate_segment(request(), lambda s, t, p: steps.append(s))
        assert len(result.frames) == 4 and outcomes(result.info) == ["success"]
        assert any("reopened" in n for n in result.info["notes"])
        assert fake.stats["ws_connects"] >= 2 and 4 in steps  # progress kept flowing after the reconnect


def test_socket_lost_for_good_falls_back_to_polling_history() -> None:
    # the first socket drops at step 1 and every reopen is refused: the job is followed through /history
    with FakeComfyUI(step_delay_s=0.05, drop_socket_at_step=1, ws_limit=1) as fake, \
            make_backend(fake.url) as backend:
        t0 = time.monotonic()
        result = backend.generate_segment(request())
        assert len(result.frames) == 4 and outcomes(result.info) == ["success"]
        assert any("progress socket lost" in n for n in result.info["notes"])
        assert not any("reopened" in n for n in result.info["notes"])
        assert time.monotonic() - t0 < 5


def test_silent_socket_falls_back_to_polling_history() -> None:
    with FakeComfyUI(silent=True, step_delay_s=0.02) as fake, make_backend(fake.url) as backend:
        t0 = time.monotonic()
        result = backend.generate_segment(request())
        assert len(result.frames) == 4 and time.monotonic() - t0 < 5
        assert any("no event" in n for n in result.info["notes"])


def test_a_job_that_never_runs_hits_its_deadline_and_is_cancelled() -> None:
    with FakeComfyUI(hang=True) as fake, make_backend(fake.url, deadline_s=1.5) as backend:
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="did not finish job .* it was cancelled there") as caught:
            backend.generate_segment(request())
        assert time.monotonic() - t0 < 4
        assert outcomes(caught.value) == ["failed"]
        assert fake.stats["queue_deletes"] == fake.stats["prompt_ids"]  # removed from the server's queue
        assert fake.pending == []


def test_an_unreachable_server_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there once closed
    with make_backend(f"http://127.0.0.1:{port}") as backend:
        t0 = time.monotonic()
        with pytest.raises(NoServerAvailable, match="No ComfyUI server answered"):
            backend.generate_segment(request())
        assert time.monotonic() - t0 < 4
        snap = backend.snapshot()[0]
        assert snap["healthy"] is False and "ConnectionError" in snap["last_error"]


def test_a_server_restarted_mid_job_forgets_it_and_the_job_is_rerun() -> None:
    with FakeComfyUI(step_delay_s=0.05) as fake, make_backend(fake.url) as backend:
        fired = threading.Event()

        def progress(step: int, total: int, preview: object) -> None:
            if step == 2 and not fired.is_set():
                fired.set()
                fake.restart()  # same port, empty queue and history

        result = backend.generate_segment(request(), progress)
        assert len(result.frames) == 4
        assert outcomes(result.info)[-1] == "success" and outcomes(result.info)[0] == "retry"
        assert "no longer knows job" in result.info["attempts"][0]["error"] or \
            "Lost contact" in result.info["attempts"][0]["error"]


def test_server_side_validation_error_is_not_retried() -> None:
    with FakeComfyUI(reject_prompts=True) as fake, make_backend(fake.url) as backend:
        with pytest.raises(WorkflowInvalid, match=r"no checkpoint 'svd_xt.safetensors' \(node 1 "
                                                  r"ImageOnlyCheckpointLoader, input ckpt_name\)") as caught:
            backend.generate_segment(request())
        assert not caught.value.retryable and outcomes(caught.value) == ["failed"]
        assert fake.stats["rejected"] == 1


def test_interrupted_by_someone_else() -> None:
    with FakeComfyUI(step_delay_s=0.05) as fake, make_backend(fake.url) as backend:
        def progress(step: int, total: int, preview: object) -> None:
            if step == 2:
                fake.interrupt_flag = True  # as if someone pressed Cancel in ComfyUI's own UI

        with pytest.raises(Interrupted, match="not by Tower"):
            backend.generate_segment(request(), progress)


def test_cancel_a_running_job_interrupts_it_on_the_server() -> None:
    with FakeComfyUI(step_delay_s=0.1) as fake, make_backend(fake.url) as backend:
        steps: list[int] = []
        t0 = time.monotonic()
        with pytest.raises(Cancelled) as caught:
            backend.generate_segment(request(), lambda s, t, p: steps.append(s), lambda: len(steps) >= 2)
        assert time.monotonic() - t0 < 3
        prompt_id = fake.stats["prompt_ids"][0]
        assert fake.stats["interrupts"] == [prompt_id]  # /interrupt with our prompt_id
        assert prompt_id in fake.stats["queue_deletes"]
        assert prompt_id not in fake.stats["completed"] and prompt_id in fake.stats["failed"]
        assert [a["outcome"] for a in caught.value.attempts] == ["cancelled"]  # type: ignore[attr-defined]
        time.sleep(0.2)
        assert fake.running is None


def test_cancel_a_pending_job_deletes_it_from_the_queue() -> None:
    with FakeComfyUI(hang=True) as fake, make_backend(fake.url) as backend:
        t0 = time.monotonic()
        deadline = t0 + 0.5
        with pytest.raises(Cancelled):
            backend.generate_segment(request(), should_cancel=lambda: time.monotonic() > deadline)
        assert time.monotonic() - t0 < 3
        assert fake.stats["queue_deletes"][:1] == fake.stats["prompt_ids"] and fake.pending == []
        assert fake.stats["interrupts"] == []  # never interrupt a job that is not running
