"""What a real ComfyUI 0.3.64 does differently from a naive fake, and Tower coping with it: previews only with
the server's start flag, each step's preview before that step's progress, and an interrupt that lands at the
end of the current sampler step, after which the server writes the job's history."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from productions.lib.backend import Cancelled, SegmentRequest
from productions.lib.comfyui.client import NO_PREVIEWS
from tests.fake_comfyui import SMALL_PARAMS, FakeComfyUI, make_backend

pytestmark = pytest.mark.timeout(60)


def request(steps_seed: int = 1) -> SegmentRequest:
    return SegmentRequest("x", steps_seed, np.zeros((36, 64, 3), np.uint8), 64, 36, 4, 6, model="svd_xt")


def test_every_preview_carries_its_own_step_the_first_included():
    calls: list[tuple[int, int, bool]] = []
    with FakeComfyUI(step_delay_s=0.02) as fake, make_backend(fake.url) as backend:
        backend.generate_segment(request(), lambda s, t, p: calls.append((s, t, p is not None)))
    with_preview = [s for s, t, p in calls if p]
    assert with_preview == [1, 2, 3, 4] and all(t == SMALL_PARAMS["steps"] for _s, t, _p in calls)


def test_a_server_started_without_the_preview_flag_sends_none_and_tower_says_so():
    calls: list[bool] = []
    with FakeComfyUI(step_delay_s=0.01, preview_method=None) as fake, make_backend(fake.url) as backend:
        result = backend.generate_segment(request(), lambda s, t, p: calls.append(p is not None))
        snapshot = backend.snapshot()[0]
    assert calls and not any(calls)  # progress, but no preview although Tower asked for them per job
    assert NO_PREVIEWS in result.info["notes"] and snapshot["sends_previews"] is False
    with FakeComfyUI(step_delay_s=0.01, preview_method=None, per_job_previews=True) as newer, \
            make_backend(newer.url) as backend:
        backend.generate_segment(request(), lambda s, t, p: calls.append(p is not None))
        assert backend.snapshot()[0]["sends_previews"] is True  # a newer server honours the job's own ask


def test_a_cancel_is_reported_only_once_the_server_has_stopped_and_leaves_no_history():
    cancel = threading.Event()
    with FakeComfyUI(step_delay_s=3.0) as fake, make_backend(fake.url, deadline_s=30) as backend:
        threading.Timer(1.0, cancel.set).start()  # during the first sampler step (3 s, like a slow real one)
        started = time.monotonic()
        with pytest.raises(Cancelled):
            backend.generate_segment(request(), should_cancel=cancel.is_set)
        took = time.monotonic() - started
        assert took >= 2.9, took  # the interrupt lands at the end of the step, and Tower waited for it
        assert fake.running is None and fake.stats["interrupts"]
        time.sleep(0.5)
        assert fake.history == {}  # deleted after the server wrote it, not before


def test_each_step_is_reported_once_though_the_server_sends_progress_state_and_progress():
    calls: list[tuple[int, int, bool]] = []
    with FakeComfyUI(step_delay_s=0.02) as fake, make_backend(fake.url) as backend:
        backend.generate_segment(request(), lambda s, t, p: calls.append((s, t, p is not None)))
    steps = [(s, t) for s, t, _p in calls]
    assert steps == sorted(set(steps)) and [s for s, _t in steps] == [1, 2, 3, 4]
    assert all(p for _s, _t, p in calls)  # each step's one call carries its preview


@pytest.mark.parametrize("newer", [False, True])
def test_jobs_are_followed_with_the_jobs_api_where_the_server_has_it(newer):
    with FakeComfyUI(step_delay_s=0.02, jobs_api=newer, silent=True) as fake, make_backend(fake.url) as backend:
        result = backend.generate_segment(request())  # silent: no socket events, so Tower polls
        assert len(result.frames) == 4
    if newer:
        assert fake.stats["job_requests"] > 0 and fake.stats["history_requests"] == 0
    else:
        assert fake.stats["job_requests"] == 0 and fake.stats["history_requests"] > 0


def test_prompt_ids_are_canonical_lowercase_uuids_as_newer_servers_demand():
    from productions.lib.comfyui.client import ComfyUIClient
    from productions.lib.comfyui.workflows import DEFAULT_DIR, WorkflowLibrary

    with FakeComfyUI(jobs_api=True) as fake:
        client = ComfyUIClient(fake.url)
        graph = WorkflowLibrary(DEFAULT_DIR).get("keyframe_txt2img").fill(
            {"prompt": "x", "seed": 1, "width": 64, "height": 64, "steps": 1, "ckpt_name": "sd_xl_base_1.0.safetensors",
             "filename_prefix": "t"})
        upper = "6F962D0E-40D9-45E8-B378-7247258CADDE"
        refused = client.post_json("/prompt", {"prompt": graph, "prompt_id": upper})
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_prompt_id"
        assert client.submit(graph, prompt_id=upper) == upper.lower()
