"""VRAM discipline on ComfyUI servers: a model is sent only where its estimated need fits the budget, a small
card unloads between model families (and only then), and each job's peak VRAM is recorded."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.backend import KeyframeRequest, SegmentRequest
from productions.lib.comfyui.errors import WorkflowInvalid
from tests.fake_comfyui import FakeComfyUI, make_backend

pytestmark = pytest.mark.timeout(60)
GB = 1024**3


def card(total_gb: float, name: str = "gpu") -> list[dict]:
    return [{"name": name, "type": "cuda", "index": 0, "vram_total": int(total_gb * GB),
             "vram_free": int(total_gb * GB), "torch_vram_total": 0, "torch_vram_free": 0}]


def frame() -> np.ndarray:
    return np.zeros((36, 64, 3), np.uint8)


def test_a_model_over_the_budget_is_refused_before_generation_naming_model_need_and_servers():
    with FakeComfyUI(devices=card(12)) as small, FakeComfyUI(devices=card(24)) as big, \
            make_backend(small.url, big.url) as backend:
        with pytest.raises(WorkflowInvalid) as caught:  # FLF2V-14B: ~24 GB, budget 10 GB everywhere
            backend.check_servers("wan21_flf2v_720p", 1280, 720, 81, 16)
        message = str(caught.value)
        assert "Wan 2.1 FLF2V-14B" in message and "about 24 GB" in message
        assert small.url in message and big.url in message and "TOWER_VRAM_BUDGET_GB=10" in message
        backend.check_servers("wan22_ti2v_5b", 1280, 704, 121, 24)  # ~8 GB fits under 10 on both
        assert small.stats["prompts"] == big.stats["prompts"] == 0


def test_the_pool_sends_a_model_only_where_it_fits():
    with FakeComfyUI(devices=card(6)) as tiny, FakeComfyUI(devices=card(12)) as fits, \
            make_backend(tiny.url, fits.url, vram_budget_gb=10) as backend:
        lacks = backend.what_servers_lack("svd_xt", 64, 36, 4, 6)
        assert "about 8 GB" in lacks[tiny.url] and "6.0 GB card" in lacks[tiny.url] and lacks[fits.url] is None
        for i in range(3):  # the tiny card is least loaded and first, yet never chosen
            result = backend.generate_segment(SegmentRequest("x", i, frame(), 64, 36, 4, 6, model="svd_xt"))
            assert result.info["server"] == fits.url
        assert tiny.stats["prompts"] == 0


def test_a_small_card_unloads_between_model_families_and_only_then():
    with FakeComfyUI(devices=card(12)) as small, make_backend(small.url) as backend:
        backend.generate_keyframe(KeyframeRequest("a fox", 1, 64, 36, model="sdxl"))
        backend.generate_segment(SegmentRequest("x", 1, frame(), 64, 36, 4, 6, model="svd_xt"))
        backend.generate_segment(SegmentRequest("x", 2, frame(), 64, 36, 4, 6, model="svd_xt"))
        backend.generate_keyframe(KeyframeRequest("a fox", 2, 64, 36, model="sdxl"))
        kinds = [e[0] for e in small.stats["events"]]
    assert kinds == ["prompt", "free", "prompt", "prompt", "free", "prompt"]
    assert ("free", True, True) in small.stats["events"]


def test_a_large_card_keeps_its_models_loaded():
    with FakeComfyUI(devices=card(80)) as big, make_backend(big.url) as backend:
        backend.generate_keyframe(KeyframeRequest("a fox", 1, 64, 36, model="sdxl"))
        backend.generate_segment(SegmentRequest("x", 1, frame(), 64, 36, 4, 6, model="svd_xt"))
        assert [e[0] for e in big.stats["events"]] == ["prompt", "prompt"]


def test_each_jobs_peak_vram_is_recorded_on_its_attempt():
    with FakeComfyUI(devices=card(12), job_vram_gb=7.5, job_time_s=1.5) as fake, \
            make_backend(fake.url, vram_poll_s=0.1) as backend:
        result = backend.generate_segment(SegmentRequest("x", 1, frame(), 64, 36, 4, 6, model="svd_xt"))
    assert result.info["peak_vram_bytes"] == int(7.5 * GB)
    assert result.info["attempts"][-1]["peak_vram_bytes"] == int(7.5 * GB)


@pytest.mark.django_db
def test_the_monitor_charts_each_jobs_peak_against_the_budget(users, project, settings):
    from productions.models import Segment, SegmentAttempt
    from tests.conftest import client_for, small_episode

    settings.TOWER_VRAM_BUDGET_GB = 10
    episode = small_episode(project)
    segment = Segment.objects.create(episode=episode, index=0, prompt="x", seed=1, native_frames=4,
                                     delivered_frames=8)
    for number, gb in ((1, 7.5), (2, 11.0)):
        SegmentAttempt.objects.create(segment=segment, number=number, backend="comfyui", seed=1, prompt="x",
                                      server="http://gpu1:8188", peak_vram_bytes=int(gb * GB))
    page = client_for(users["staff"]).get("/monitor/").content.decode()
    chart = page[page.index('id="chart-peak-vram"'):page.index("</svg>", page.index('id="chart-peak-vram"'))]
    bars = chart.count("<rect")
    assert bars == 2 and chart.count('class="bar over"') == 1  # 11 GB is over the 10 GB budget line
    assert "try 1 on http://gpu1:8188: 7.5 GB" in chart and "11.0 GB" in chart
    assert 'class="budget"' in chart and "against the budget (10 GB)" in page
