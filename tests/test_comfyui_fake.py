"""The fake server itself follows the documented protocol (event order, queue/interrupt semantics, shapes)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
import websocket

from tests.fake_comfyui import FakeComfyUI

pytestmark = pytest.mark.timeout(20)


def tiny(prefix: str = "t", steps: int = 2) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["1", 1]}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 32, "height": 32, "batch_size": 2}},
        "4": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 1, "steps": steps, "cfg": 7.0,
                                                   "sampler_name": "euler", "scheduler": "normal",
                                                   "positive": ["2", 0], "negative": ["2", 0],
                                                   "latent_image": ["3", 0], "denoise": 1.0}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": prefix}},
    }


def events_of(fake: FakeComfyUI, prompt: dict, **extra: object) -> tuple[str, list]:
    client_id = uuid.uuid4().hex
    ws = websocket.create_connection(f"ws://127.0.0.1:{fake.port}/ws?clientId={client_id}", timeout=5)
    prompt_id = str(uuid.uuid4())
    response = requests.post(fake.url + "/prompt", json={"prompt": prompt, "client_id": client_id,
                                                         "prompt_id": prompt_id, **extra}, timeout=5)
    assert response.status_code == 200 and response.json()["prompt_id"] == prompt_id
    seen: list = []
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            seen.append(("binary", int.from_bytes(data[:4], "big")))
            continue
        msg = json.loads(data)
        seen.append((msg["type"], msg["data"].get("node")))
        if msg["type"] == "executing" and msg["data"]["node"] is None:
            break
    ws.close()
    return prompt_id, seen


def test_successful_job_event_order_and_history() -> None:
    with FakeComfyUI() as fake:
        prompt_id, seen = events_of(fake, tiny(), extra_data={"preview_method": "auto"})
        kinds = [k for k, _ in seen if k not in ("status", "progress_state")]
        assert kinds[:2] == ["execution_start", "execution_cached"]
        assert kinds[-3:] == ["executed", "execution_success", "executing"]
        assert seen[-2][0] == "status" and seen[-1] == ("executing", None)  # status, then LAST executing null
        assert ("progress", "4") in seen and ("binary", 1) in seen  # previews (no feature flag: type 1)
        history = requests.get(f"{fake.url}/api/history/{prompt_id}", timeout=5).json()[prompt_id]
        assert history["status"]["status_str"] == "success" and history["status"]["completed"] is True
        images = history["outputs"]["6"]["images"]
        assert len(images) == 2 and images[0]["type"] == "output"  # one PNG per frame
        view = requests.get(fake.url + "/view", params=images[0], timeout=5)
        assert view.status_code == 200 and view.content[:4] == b"\x89PNG"
        assert requests.get(fake.url + "/view", params={"filename": "../x.png"}, timeout=5).status_code == 400
        requests.post(fake.url + "/history", json={"delete": [prompt_id]}, timeout=5)
        assert requests.get(f"{fake.url}/history/{prompt_id}", timeout=5).json() == {}


def test_error_event_order() -> None:
    with FakeComfyUI(execution_error="boom", execution_error_type="RuntimeError") as fake:
        prompt_id, seen = events_of(fake, tiny(steps=4))
        kinds = [k for k, _ in seen if k not in ("progress_state",)]
        assert kinds[-3:] == ["execution_error", "status", "executing"] and "execution_success" not in kinds
        status = requests.get(f"{fake.url}/history/{prompt_id}", timeout=5).json()[prompt_id]["status"]
        assert status["status_str"] == "error" and status["messages"][-1][0] == "execution_error"


def test_queue_delete_and_interrupt_semantics() -> None:
    with FakeComfyUI(step_delay_s=0.2) as fake:
        ids = [str(uuid.uuid4()) for _ in range(2)]
        for pid in ids:
            requests.post(fake.url + "/prompt", json={"prompt": tiny(steps=20), "prompt_id": pid}, timeout=5)
        time.sleep(0.3)
        queue = requests.get(fake.url + "/queue", timeout=5).json()
        assert [q[1] for q in queue["queue_running"]] == [ids[0]] and [q[1] for q in queue["queue_pending"]] == [ids[1]]
        requests.post(fake.url + "/queue", json={"delete": [ids[0]]}, timeout=5)  # running: nothing happens
        requests.post(fake.url + "/interrupt", json={"prompt_id": ids[1]}, timeout=5)  # pending: nothing happens
        queue = requests.get(fake.url + "/queue", timeout=5).json()
        assert len(queue["queue_running"]) == 1 and len(queue["queue_pending"]) == 1
        requests.post(fake.url + "/queue", json={"delete": [ids[1]]}, timeout=5)
        requests.post(fake.url + "/interrupt", json={"prompt_id": ids[0]}, timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and ids[0] not in fake.history:
            time.sleep(0.05)
        messages = fake.history[ids[0]]["status"]["messages"]
        assert messages[-1][0] == "execution_interrupted"
        assert requests.get(fake.url + "/queue", timeout=5).json() == {"queue_running": [], "queue_pending": []}


def test_prompt_error_shapes() -> None:
    with FakeComfyUI(checkpoints=[]) as fake:
        r = requests.post(fake.url + "/prompt", json={"prompt": tiny()}, timeout=5)
        body = r.json()
        assert r.status_code == 400 and body["error"]["type"] == "prompt_outputs_failed_validation"
        err = body["node_errors"]["1"]["errors"][0]
        assert err["type"] == "value_not_in_list" and err["extra_info"]["input_name"] == "ckpt_name"
        assert body["node_errors"]["1"]["class_type"] == "CheckpointLoaderSimple"
        bad = tiny()
        bad["7"] = {"class_type": "NoSuchNode", "inputs": {}}
        body = requests.post(fake.url + "/api/prompt", json={"prompt": bad}, timeout=5).json()
        assert body["error"]["type"] == "invalid_prompt"
        assert body["error"]["message"] == "Cannot execute because node NoSuchNode does not exist."
        r = requests.post(fake.url + "/prompt", data=b"not json", timeout=5)
        assert r.status_code == 500


def test_object_info_has_both_dropdown_styles_and_system_stats() -> None:
    with FakeComfyUI(custom_nodes=True, upscale_models=["4x.pth"]) as fake:
        info = requests.get(fake.url + "/object_info", timeout=5).json()
        assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0][0].endswith(".safetensors")
        # a real 0.3.64 lists its upscale models in the old style; the custom RIFE node uses COMBO
        assert info["UpscaleModelLoader"]["input"]["required"]["model_name"] == [["4x.pth"]]
        assert info["RIFE VFI"]["input"]["required"]["ckpt_name"][0] == "COMBO"
        stats = requests.get(fake.url + "/api/system_stats", timeout=5).json()
        assert {"vram_total", "vram_free", "torch_vram_total", "torch_vram_free"} <= set(stats["devices"][0])
