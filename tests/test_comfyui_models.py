"""The ComfyUI backend runs each model with its own workflow, settings and files, and names what a server lacks
before anything is queued."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.backend import SegmentRequest
from productions.lib.comfyui.errors import WorkflowInvalid
from tests.fake_comfyui import FakeComfyUI, make_backend

pytestmark = pytest.mark.timeout(60)
W, H = 64, 36


def init() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_a_wan_segment_is_one_run_of_its_own_workflow_with_the_profiles_files() -> None:
    with FakeComfyUI(step_delay_s=0.001) as fake, make_backend(fake.url) as backend:
        result = backend.generate_segment(SegmentRequest("a harbour", 5, init(), 128, 64, 121, 24,
                                                         model="wan22_ti2v_5b", delivery_fps=24))
        posted = fake.received[-1]
    assert result.info["workflow"] == "wan22_ti2v_5b" and len(result.frames) == 121 and result.fps == 24
    assert posted["1"]["inputs"]["unet_name"] == "wan2.2_ti2v_5B_fp16.safetensors"
    assert posted["2"]["inputs"]["clip_name"] == "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
    assert posted["3"]["inputs"]["vae_name"] == "wan2.2_vae.safetensors"
    assert posted["8"]["inputs"]["length"] == 121 and posted["4"]["inputs"]["shift"] == 8.0
    assert (posted["9"]["inputs"]["cfg"], posted["9"]["inputs"]["sampler_name"]) == (5.0, "uni_pc")  # profile
    assert posted["9"]["inputs"]["steps"] == 4  # the backend's own params (the tests' small ones) win


def test_svd_on_a_rife_server_interpolates_to_exactly_the_delivery_rate() -> None:
    with FakeComfyUI(step_delay_s=0.001, custom_nodes=True) as fake, make_backend(fake.url) as backend:
        result = backend.generate_segment(SegmentRequest("x", 1, init(), W, H, 25, 6, model="svd_xt",
                                                         delivery_fps=24))
        posted = fake.received[-1]
    assert result.info["workflow"] == "svd_img2vid_rife" and posted["8"]["inputs"]["multiplier"] == 4
    assert result.fps == 24 and len(result.frames) == 97  # 25 frames, 3 in-betweens each
    assert posted["3"]["inputs"]["fps"] == 6 and posted["3"]["inputs"]["video_frames"] == 25


def test_a_server_without_the_model_is_named_before_anything_is_queued() -> None:
    with FakeComfyUI(unets=[]) as bare, FakeComfyUI() as full:
        with make_backend(bare.url) as backend:
            with pytest.raises(WorkflowInvalid) as caught:
                backend.check_servers("wan22_ti2v_5b", 1280, 704, 121, 24)
            assert bare.url in str(caught.value) and "wan2.2_ti2v_5B_fp16.safetensors" in str(caught.value)
            assert "node 1 UNETLoader" in str(caught.value) and bare.stats["prompts"] == 0
        with make_backend(bare.url, full.url) as backend:  # one server can: go on, and say what the other lacks
            lacks = backend.what_servers_lack("wan22_ti2v_5b", 1280, 704, 121, 24)
            backend.check_servers("wan22_ti2v_5b", 1280, 704, 121, 24)
        assert lacks[full.url] is None and "UNETLoader" in lacks[bare.url]


def test_a_model_a_server_has_no_workflow_for_is_refused_in_words(tmp_path) -> None:
    with FakeComfyUI() as fake, make_backend(fake.url) as backend:
        with pytest.raises(WorkflowInvalid, match="No segment workflow for the model 'ltxv'"):
            backend.generate_segment(SegmentRequest("x", 1, init(), W, H, 9, 24, model="ltxv"))
        assert fake.stats["prompts"] == 0
