"""Workflow files, parameter filling and validation against /object_info (no server needed for most)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from productions.lib.backend import SegmentRequest
from productions.lib.comfyui.backend import ComfyUIBackend, native_size_for
from productions.lib.comfyui.client import ClientTimeouts, ComfyUIClient
from productions.lib.comfyui.errors import WorkflowInvalid
from productions.lib.comfyui.workflows import (
    DEFAULT_DIR,
    WorkflowLibrary,
    combo_options,
    prompt_error_problems,
    validate_workflow,
    workflow_problems,
)
from tests.fake_comfyui import FAST_CLIENT_TIMEOUTS, FAST_POOL_OPTIONS, FakeComfyUI

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def library() -> WorkflowLibrary:
    return WorkflowLibrary(DEFAULT_DIR)


def test_library_discovers_the_workflows_by_kind(library: WorkflowLibrary) -> None:
    assert {"keyframe_txt2img", "svd_img2vid", "svd_img2vid_rife", "svd_img2vid_upscale"} <= set(library.names())
    assert library.errors == {}
    segment = [w.name for w in library.of_kind("segment") if w.name.startswith("svd_")]
    assert segment[0] == "svd_img2vid_rife" and segment[-1] == "svd_img2vid"  # highest priority first
    assert {"wan22_ti2v_5b", "wan21_flf2v_720p"} <= {w.name for w in library.of_kind("segment")}
    assert [w.name for w in library.of_kind("keyframe")] == ["keyframe_txt2img"]


def test_keyframe_without_lora_bypasses_the_lora_node(library: WorkflowLibrary) -> None:
    wf = library.get("keyframe_txt2img")
    graph = wf.fill({"prompt": "a castle", "seed": 7, "width": 1344, "height": 768})
    assert "2" not in graph  # the LoraLoader is gone...
    assert graph["6"]["inputs"]["model"] == ["1", 0]  # ...and its consumers read the checkpoint directly
    assert graph["3"]["inputs"]["clip"] == ["1", 1] and graph["4"]["inputs"]["clip"] == ["1", 1]
    assert graph["3"]["inputs"]["text"] == "a castle"
    assert "grid" in graph["4"]["inputs"]["text"]  # the manifest's default negative prompt
    assert graph["6"]["inputs"]["seed"] == 7
    assert wf.graph["2"]["class_type"] == "LoraLoader"  # the template itself is untouched


def test_keyframe_with_lora_sets_name_and_both_strengths(library: WorkflowLibrary) -> None:
    graph = library.get("keyframe_txt2img").fill({"lora_name": "hero.safetensors", "lora_strength": 0.6})
    lora = graph["2"]["inputs"]
    assert lora["lora_name"] == "hero.safetensors"
    assert lora["strength_model"] == lora["strength_clip"] == 0.6
    assert graph["6"]["inputs"]["model"] == ["2", 0]


def test_svd_fill(library: WorkflowLibrary) -> None:
    graph = library.get("svd_img2vid").fill({"init_image": "tower/x.png", "width": 1024, "height": 576,
                                             "num_frames": 25, "fps": 6, "seed": 3, "not_declared": 1})
    cond = graph["3"]["inputs"]
    assert (cond["width"], cond["height"], cond["video_frames"], cond["fps"]) == (1024, 576, 25, 6)
    assert cond["motion_bucket_id"] == 127 and graph["4"]["inputs"]["min_cfg"] == 1.0
    assert graph["2"]["inputs"]["image"] == "tower/x.png"
    assert graph["7"]["class_type"] == "SaveImage"


def test_admin_adds_a_workflow_without_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("svd_img2vid.json", "svd_img2vid.params.json"):
        shutil.copy(DEFAULT_DIR / name, tmp_path / name)
    graph = json.loads((DEFAULT_DIR / "svd_img2vid.json").read_text())
    graph["5"]["inputs"]["steps"] = 30
    (tmp_path / "svd_fast.json").write_text(json.dumps(graph))
    manifest = json.loads((DEFAULT_DIR / "svd_img2vid.params.json").read_text())
    manifest["priority"] = 5
    (tmp_path / "svd_fast.params.json").write_text(json.dumps(manifest))
    (tmp_path / "broken.json").write_text("{}")
    (tmp_path / "broken.params.json").write_text(json.dumps({"kind": "segment", "output_node": "9"}))
    library = WorkflowLibrary(tmp_path)
    assert library.directory == tmp_path
    assert [w.name for w in library.of_kind("segment")] == ["svd_fast", "svd_img2vid"]
    assert "broken.params.json" in library.errors  # reported, not fatal
    assert library.get("svd_fast").fill({})["5"]["inputs"]["steps"] == 30


def test_both_dropdown_styles_are_read() -> None:
    assert combo_options([["a.safetensors", "b.safetensors"], {"tooltip": "x"}]) == ["a.safetensors",
                                                                                       "b.safetensors"]
    assert combo_options(["COMBO", {"options": ["x.pth"]}]) == ["x.pth"]
    assert combo_options(["INT", {"default": 1}]) is None


def test_validation_names_node_class_input_and_file(library: WorkflowLibrary) -> None:
    info = FakeComfyUI(checkpoints=["sd_xl_base_1.0.safetensors"], custom_nodes=True).object_info()
    svd = library.get("svd_img2vid")
    graph = svd.fill({"init_image": "tower/x.png"})
    with pytest.raises(WorkflowInvalid) as caught:
        validate_workflow(graph, info, ignore_values=svd.upload_inputs())
    assert str(caught.value).startswith(
        "The server has no checkpoint 'svd_xt.safetensors' (node 1 ImageOnlyCheckpointLoader, input ckpt_name)")
    assert caught.value.problems[0].node_id == "1"
    # list-style dropdown for LoadImage: without ignore_values the upload name is checked too
    problems = workflow_problems(graph, info)
    assert any("input image 'tower/x.png'" in p.message for p in problems)
    # COMBO-style dropdown (upscale models)
    up = library.get("svd_img2vid_upscale").fill({})
    messages = [p.message for p in workflow_problems(up, info, ignore_values={("2", "image")})]
    assert ("The server has no upscale model 'RealESRGAN_x4plus_anime_6B.pth' (node 8 UpscaleModelLoader, "
            "input model_name)") in messages


def test_validation_missing_node_class_and_changed_inputs(library: WorkflowLibrary) -> None:
    info = FakeComfyUI().object_info()  # no custom nodes
    rife = library.get("svd_img2vid_rife").fill({})
    problems = workflow_problems(rife, info, ignore_values={("2", "image")})
    assert [p.message for p in problems] == [
        "The server has no node type 'RIFE VFI' (node 8): install the custom node pack that provides it, or "
        "use a workflow without it"]
    # A newer RIFE VFI that needs an input our workflow lacks
    info = FakeComfyUI(custom_nodes=True).object_info()
    del rife["8"]["inputs"]["dtype"]
    rife["5"]["inputs"]["steps"] = 0
    messages = [p.message for p in workflow_problems(rife, info, ignore_values={("2", "image")})]
    assert any("required input 'dtype' (node 8 RIFE VFI, input dtype)" in m for m in messages)
    assert any("below the minimum 1 (node 5 KSampler, input steps)" in m for m in messages)


def test_server_400_bodies_become_plain_words() -> None:
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}},
            "node_errors": {"4": {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                              "details": "ckpt_name: 'x.safetensors' not in [...]",
                                              "extra_info": {"input_name": "ckpt_name",
                                                             "received_value": "x.safetensors"}}],
                                  "dependent_outputs": ["9"], "class_type": "ImageOnlyCheckpointLoader"}}}
    assert [p.message for p in prompt_error_problems(body)] == [
        "The server has no checkpoint 'x.safetensors' (node 4 ImageOnlyCheckpointLoader, input ckpt_name)"]
    body = {"error": {"type": "invalid_prompt", "message": "Cannot execute because node RIFE VFI does not exist.",
                      "details": "Node ID '#12'", "extra_info": {}}, "node_errors": {}}
    assert prompt_error_problems(body)[0].message.startswith("The server has no node type 'RIFE VFI' (node 12)")


def test_native_keyframe_size() -> None:
    assert native_size_for((1344, 768), 1920, 1080) == (1344, 768)
    assert native_size_for((768, 432), 1024, 576) == (768, 448)  # multiples of 64
    assert native_size_for((1024, 1024), 1024, 576) == (1344, 768)  # SDXL square area, 16:9


@pytest.mark.timeout(20)
def test_a_workflow_the_server_cannot_run_is_refused_before_queueing() -> None:
    import numpy as np

    with FakeComfyUI(checkpoints=["sd_xl_base_1.0.safetensors"]) as fake, ComfyUIBackend.for_urls(
        [fake.url], timeouts=ClientTimeouts(**FAST_CLIENT_TIMEOUTS), pool_options=FAST_POOL_OPTIONS,
        deadline_s=10,
    ) as backend:
        request = SegmentRequest("x", 1, np.zeros((36, 64, 3), np.uint8), 64, 36, 4, 8)
        with pytest.raises(WorkflowInvalid) as caught:
            backend.generate_segment(request)
        assert ("The server has no checkpoint 'svd_xt.safetensors' (node 1 ImageOnlyCheckpointLoader, input "
                "ckpt_name)") in str(caught.value)
        assert fake.stats["prompts"] == 0 and fake.stats["uploads"] == []  # nothing queued, nothing uploaded
        assert [a["outcome"] for a in caught.value.attempts] == ["failed"]


@pytest.mark.timeout(20)
def test_the_servers_own_400_is_explained(library: WorkflowLibrary) -> None:
    with FakeComfyUI(checkpoints=["sd_xl_base_1.0.safetensors"]) as fake:
        client = ComfyUIClient(fake.url, timeouts=ClientTimeouts(**FAST_CLIENT_TIMEOUTS))
        graph = library.get("svd_img2vid").fill({})
        with pytest.raises(WorkflowInvalid) as caught:
            client.submit(graph)
        text = str(caught.value)
        assert "The server has no checkpoint 'svd_xt.safetensors' (node 1 ImageOnlyCheckpointLoader, input " \
               "ckpt_name)" in text
        assert "input image 'tower/init.png' (node 2 LoadImage, input image)" in text
        graph["8"] = {"class_type": "RIFE VFI", "inputs": {}}
        with pytest.raises(WorkflowInvalid, match=r"no node type 'RIFE VFI' \(node 8\)"):
            client.submit(graph)
        assert fake.stats["rejected"] == 2 and not fake.pending
