"""Every shipped workflow, filled as Tower fills it for its model, is accepted by a real ComfyUI 0.3.64's node
schemas (../shared/comfyui/object_info-0.3.64.json), and the fake server serves those schemas."""

import copy
import json
import urllib.request

import pytest

from productions.lib.comfyui.workflows import DEFAULT_DIR, WorkflowLibrary, workflow_problems
from productions.lib.model_profiles import load_profiles
from tests.fake_comfyui import FakeComfyUI, _set_options, real_object_info

LIBRARY = WorkflowLibrary(DEFAULT_DIR)
PROFILES = load_profiles()
CUSTOM_NODES = {"RIFE VFI"}  # not a core node: the real object_info has only core nodes
FILE_INPUTS = {("CheckpointLoaderSimple", "ckpt_name"), ("ImageOnlyCheckpointLoader", "ckpt_name"),
               ("LoraLoader", "lora_name"), ("UNETLoader", "unet_name"), ("CLIPLoader", "clip_name"),
               ("VAELoader", "vae_name"), ("CLIPVisionLoader", "clip_name"), ("UpscaleModelLoader", "model_name")}


def with_files(graph: dict) -> dict:
    """The real schemas, with the graph's own model files installed (the recorded install had test files)."""
    info = copy.deepcopy(real_object_info())
    for node in graph.values():
        for name, value in node["inputs"].items():
            if (node["class_type"], name) in FILE_INPUTS and isinstance(value, str):
                spec = info[node["class_type"]]["input"]["required"][name]
                options = spec[0] if isinstance(spec[0], list) else spec[1].get("options", [])
                _set_options(spec, [*options, value])
    return info


PAIRS = [(p.name, w) for p in PROFILES.values() for w in p.workflows]


def test_every_shipped_workflow_belongs_to_a_profile():
    assert {w for _, w in PAIRS} == set(LIBRARY.names()) and not LIBRARY.errors
    for profile, name in PAIRS:  # a segment workflow's manifest names the model that lists it
        wf = LIBRARY.get(name)
        assert wf.model == (profile if wf.kind == "segment" else ""), (profile, name)


def filled(profile_name: str, name: str) -> dict:
    wf, profile = LIBRARY.get(name), PROFILES[profile_name]
    width, height = profile.size_for(1920, 1080)
    values = {**profile.defaults, **profile.files, "prompt": "a girl walks through a forest",
              "negative_prompt": "blurry", "seed": 7, "width": width, "height": height, "filename_prefix": "t"}
    if profile.kind == "video":
        values.update(num_frames=profile.frames_per_run, fps=profile.native_fps, interpolation_multiplier=4)
    return wf.fill(values)


@pytest.mark.parametrize(("profile", "name"), PAIRS)
def test_every_shipped_workflow_is_valid_for_a_real_server(profile, name):
    graph = filled(profile, name)
    problems = workflow_problems(graph, with_files(graph), ignore_values=LIBRARY.get(name).upload_inputs())
    assert [p.message for p in problems if p.class_type not in CUSTOM_NODES] == []
    custom = {p.class_type for p in problems}
    assert custom <= CUSTOM_NODES and bool(custom) == any(n["class_type"] in CUSTOM_NODES for n in graph.values())
    for param, value in PROFILES[profile].files.items():  # the profile's files reach the graph
        assert any(graph[n]["inputs"][i] == value for n, i in LIBRARY.get(name).params[param]), param


def test_every_video_profile_has_a_workflow_and_its_nodes_exist_on_a_real_server():
    info = real_object_info()
    for profile in PROFILES.values():
        if profile.backend != "comfyui":
            continue
        assert profile.workflows, profile.name
        assert set(profile.nodes) <= set(info), (profile.name, set(profile.nodes) - set(info))
        for name in profile.workflows:
            used = {n["class_type"] for n in LIBRARY.get(name).graph.values()} - CUSTOM_NODES
            assert used <= set(profile.nodes) | {"ImageUpscaleWithModel", "UpscaleModelLoader", "ImageScale"}, name


def test_the_real_schemas_catch_what_a_real_server_refuses():
    graph = filled("wan22_ti2v_5b", "wan22_ti2v_5b")
    graph["9"]["inputs"]["sampler_name"] = "warp_drive"
    graph["8"]["inputs"]["width"] = 16  # Wan22ImageToVideoLatent: min 32
    graph["2"]["inputs"]["type"] = "wan3"
    messages = [p.message for p in workflow_problems(graph, with_files(graph), ignore_values={("7", "image")})]
    assert any("'warp_drive'" in m and "node 9 KSampler" in m for m in messages), messages
    assert any("below the minimum 32" in m and "node 8 Wan22ImageToVideoLatent" in m for m in messages), messages
    assert any("'wan3'" in m and "node 2 CLIPLoader" in m for m in messages), messages


def test_the_fake_serves_a_real_servers_schemas_with_its_own_files():
    with FakeComfyUI(unets=["mine.safetensors"]) as fake, \
            urllib.request.urlopen(f"{fake.url}/object_info", timeout=10) as response:
        served = json.load(response)
    real = real_object_info()
    assert set(served) == set(real)  # no custom nodes unless asked
    assert served["KSampler"] == real["KSampler"]
    assert served["Wan22ImageToVideoLatent"] == real["Wan22ImageToVideoLatent"]
    assert served["UNETLoader"]["input"]["required"]["unet_name"][0] == ["mine.safetensors"]
