"""The LoRA stack as a graph transformation (workflows.with_loras), validated against a real ComfyUI 0.3.64's
node schemas: LoraLoader (model + clip) after a checkpoint, LoraLoaderModelOnly after Wan's UNETLoader."""

from __future__ import annotations

import pytest

from productions.lib.comfyui.workflows import (
    WorkflowLibrary,
    lora_chain,
    lora_names,
    model_loaders,
    with_loras,
    workflow_problems,
)
from productions.lib.prompts import LoraUse
from tests.fake_comfyui import FakeComfyUI

STACK = (LoraUse("hero.safetensors", 0.8), LoraUse("villain.safetensors", -0.5))


@pytest.fixture(scope="module")
def object_info() -> dict:
    return FakeComfyUI(loras=["hero.safetensors", "villain.safetensors"]).object_info()


def test_a_checkpoint_gets_a_chain_of_lora_loaders_on_model_and_clip(object_info) -> None:
    wf = WorkflowLibrary().get("keyframe_txt2img")
    graph = with_loras(wf.fill({"prompt": "a fox"}), STACK, object_info)
    assert workflow_problems(graph, object_info) == []
    loaders = [k for k, v in graph.items() if v["class_type"] == "LoraLoader"]
    assert len(loaders) == 2
    first, second = (graph[k]["inputs"] for k in loaders)
    assert first["model"] == ["1", 0] and first["clip"] == ["1", 1]
    assert first["strength_model"] == first["strength_clip"] == 0.8
    assert second["model"] == [loaders[0], 0] and second["clip"] == [loaders[0], 1]
    assert second["strength_model"] == second["strength_clip"] == -0.5
    # every user of the checkpoint's model and clip now takes them from the end of the chain
    assert graph["6"]["inputs"]["model"] == [loaders[1], 0]
    assert graph["3"]["inputs"]["clip"] == graph["4"]["inputs"]["clip"] == [loaders[1], 1]
    assert graph["7"]["inputs"]["vae"] == ["1", 2]  # the VAE is not touched
    assert lora_chain(graph) == [("hero.safetensors", 0.8), ("villain.safetensors", -0.5)]


def test_wan_unet_gets_model_only_loaders(object_info) -> None:
    wf = WorkflowLibrary().get("wan22_ti2v_5b")
    graph = with_loras(wf.fill({"prompt": "a fox"}), STACK, object_info)
    assert workflow_problems(graph, object_info, ignore_values=wf.upload_inputs()) == []
    assert model_loaders(graph, object_info) == [("1", 0, None)]
    only = [k for k, v in graph.items() if v["class_type"] == "LoraLoaderModelOnly"]
    assert len(only) == 2 and not any(v["class_type"] == "LoraLoader" for v in graph.values())
    assert graph[only[0]]["inputs"]["model"] == ["1", 0]
    assert graph["4"]["inputs"]["model"] == [only[1], 0]  # ModelSamplingSD3 reads the chain's end
    assert lora_chain(graph) == [("hero.safetensors", 0.8), ("villain.safetensors", -0.5)]


def test_a_lora_the_server_lacks_is_a_problem_naming_it(object_info) -> None:
    wf = WorkflowLibrary().get("keyframe_txt2img")
    graph = with_loras(wf.fill({}), (LoraUse("nobody.safetensors", 1.0),), object_info)
    problems = workflow_problems(graph, object_info)
    assert len(problems) == 1 and "LoRA 'nobody.safetensors'" in problems[0].message


def test_no_stack_leaves_the_graph_as_it_was(object_info) -> None:
    graph = WorkflowLibrary().get("keyframe_txt2img").fill({})
    assert with_loras(graph, (), object_info) == graph


def test_lora_names_reads_both_dropdown_styles() -> None:
    old = {"LoraLoader": {"input": {"required": {"lora_name": [["a.safetensors", "b.safetensors"], {}]}}}}
    new = {"LoraLoader": {"input": {"required": {"lora_name": ["COMBO", {"options": ["c.safetensors"]}]}}}}
    assert lora_names(old) == ["a.safetensors", "b.safetensors"]
    assert lora_names(new) == ["c.safetensors"]
    assert lora_names({}) is None
