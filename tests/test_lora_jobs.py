"""A shot's LoRA stack and reference picture reach ComfyUI: a keyframe (SD checkpoint: LoraLoader) and a segment
(Wan UNET: LoraLoaderModelOnly) through the fake server over real HTTP and WebSocket, the same stack in the same
order in both; a workflow that declares `reference_image` gets the character's picture uploaded and set, the
others ignore it; check_servers names LoRA files a server lacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from productions.lib.backend import KeyframeRequest, SegmentRequest
from productions.lib.comfyui.errors import WorkflowInvalid
from productions.lib.comfyui.workflows import DEFAULT_DIR, WorkflowLibrary, lora_chain
from productions.lib.prompts import CharacterSpec, compose
from tests.fake_comfyui import FakeComfyUI, make_backend

pytestmark = pytest.mark.timeout(60)
LORAS = ["aiko_v2.safetensors", "kenji.safetensors", "other.safetensors"]


def characters(tmp_path: Path, *, picture: bool = False) -> tuple[CharacterSpec, ...]:
    ref = ""
    if picture:
        ref = str(tmp_path / "aiko.png")
        Image.fromarray(np.full((40, 40, 3), (200, 30, 60), dtype=np.uint8)).save(ref)
    return (CharacterSpec("Aiko", "red scarf", "aiko_style", "aiko_v2.safetensors", 0.7, ref),
            CharacterSpec("Kenji", "tall", "", "kenji.safetensors", 0.55))


def test_keyframe_and_segment_carry_the_same_lora_stack_in_order(tmp_path) -> None:
    cast = characters(tmp_path)
    composed = compose("They meet at the station", cast, style="anime")
    assert [u.name for u in composed.loras] == ["aiko_v2.safetensors", "kenji.safetensors"]
    with FakeComfyUI(loras=LORAS) as fake, make_backend(fake.url) as backend:
        backend.generate_keyframe(KeyframeRequest(composed.positive, 3, 64, 64, characters=cast,
                                                  loras=composed.loras))
        keyframe_graph = fake.received[-1]
        result = backend.generate_segment(SegmentRequest(
            composed.positive, 4, np.zeros((64, 64, 3), np.uint8), 64, 64, 5, 24, model="wan22_ti2v_5b",
            characters=cast, loras=composed.loras))
        segment_graph = fake.received[-1]
    stack = [("aiko_v2.safetensors", 0.7), ("kenji.safetensors", 0.55)]
    assert lora_chain(keyframe_graph) == stack and lora_chain(segment_graph) == stack
    assert sum(v["class_type"] == "LoraLoader" for v in keyframe_graph.values()) == 2
    assert sum(v["class_type"] == "LoraLoaderModelOnly" for v in segment_graph.values()) == 2
    assert result.info["loras"] == [{"name": n, "strength": s} for n, s in stack]
    # the style is in the composed prompt once, and the backend does not add it again
    texts = [v["inputs"]["text"] for v in keyframe_graph.values() if v["class_type"] == "CLIPTextEncode"]
    assert composed.positive in texts and composed.positive.count("anime") == 1


def test_style_is_not_added_twice(tmp_path) -> None:
    # the project's style and the episode's overlap: the composed prompt holds each phrase once, in its own order
    composed = compose("A fox runs.", (), style="cel shading", episode_style="anime, cel shading")
    assert composed.positive == "A fox runs, cel shading, anime"
    with FakeComfyUI() as fake, make_backend(fake.url) as backend:
        backend.generate_keyframe(KeyframeRequest(composed.positive, 1, 64, 64, style="anime, cel shading"))
        texts = [v["inputs"]["text"] for v in fake.received[-1].values() if v["class_type"] == "CLIPTextEncode"]
    assert composed.positive in texts


def reference_library(tmp_path: Path) -> WorkflowLibrary:
    """The shipped workflows plus a test segment workflow whose Wan latent takes the character's picture."""
    folder = tmp_path / "workflows"
    shutil.copytree(DEFAULT_DIR, folder)
    graph = json.loads((folder / "wan22_ti2v_5b.json").read_text())
    manifest = json.loads((folder / "wan22_ti2v_5b.params.json").read_text())
    graph["12"] = {"class_type": "LoadImage", "inputs": {"image": "tower/reference.png"}}
    graph["8"]["inputs"]["start_image"] = ["12", 0]
    del graph["7"]
    manifest["params"].pop("init_image")
    manifest["params"]["reference_image"] = ["12", "image"]
    manifest["uploads"] = ["reference_image"]
    manifest["bypass"] = {"reference_image": {"node": "12", "outputs": []}}
    manifest["priority"] = 5
    (folder / "wan_reference_test.json").write_text(json.dumps(graph))
    (folder / "wan_reference_test.params.json").write_text(json.dumps(manifest))
    return WorkflowLibrary(folder)


def test_reference_picture_is_uploaded_and_set_where_the_workflow_takes_one(tmp_path) -> None:
    library = reference_library(tmp_path)
    assert library.get("wan_reference_test").takes_reference_image
    init = np.zeros((64, 64, 3), np.uint8)
    with FakeComfyUI(loras=LORAS) as fake, make_backend(fake.url, library=library) as backend:
        result = backend.generate_segment(SegmentRequest("x", 1, init, 64, 64, 5, 24, model="wan22_ti2v_5b",
                                                         characters=characters(tmp_path, picture=True)))
        assert result.info["workflow"] == "wan_reference_test"
        graph = fake.received[-1]
        assert graph["12"]["inputs"]["image"] in fake.stats["uploads"]
        assert len(fake.stats["uploads"]) == 1  # the picture only: this workflow takes no init image
        uploaded = fake.dirs["input"] / graph["12"]["inputs"]["image"]
        assert np.asarray(Image.open(uploaded).convert("RGB"))[0, 0].tolist() == [200, 30, 60]
        # without a picture the node is bypassed and its optional link dropped: the job still runs
        backend.generate_segment(SegmentRequest("x", 2, init, 64, 64, 5, 24, model="wan22_ti2v_5b",
                                                characters=characters(tmp_path)))
        graph = fake.received[-1]
        assert "12" not in graph and "start_image" not in graph["8"]["inputs"]


def test_workflows_without_a_reference_input_ignore_the_picture(tmp_path) -> None:
    with FakeComfyUI() as fake, make_backend(fake.url) as backend:
        backend.generate_keyframe(KeyframeRequest("x", 1, 64, 64, characters=characters(tmp_path, picture=True)))
        assert fake.stats["uploads"] == []


def test_check_servers_names_the_lora_files_a_server_lacks() -> None:
    with FakeComfyUI(loras=["aiko_v2.safetensors"]) as fake, make_backend(fake.url) as backend:
        assert backend.what_servers_lack("", 64, 64, 5, 6, loras=["aiko_v2.safetensors"]) == {fake.url: None}
        with pytest.raises(WorkflowInvalid) as caught:
            backend.check_servers("", 64, 64, 5, 6, loras=["aiko_v2.safetensors", "kenji.safetensors"])
    assert "kenji.safetensors" in str(caught.value) and "aiko_v2" not in str(caught.value)
