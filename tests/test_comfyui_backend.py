"""ComfyUIBackend end to end through the fake server: keyframe, segments, previews, variants."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image

from productions.lib.backend import KeyframeRequest, SegmentRequest
from productions.lib.comfyui.client import ClientTimeouts, ComfyUIClient, FileRef, decode_preview
from productions.lib.comfyui.errors import ComfyUIError
from tests.fake_comfyui import FAST_CLIENT_TIMEOUTS, FakeComfyUI, make_backend

pytestmark = pytest.mark.timeout(30)
W, H = 64, 36



def init_image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_segments_are_generated_and_chained_through_the_fake_server() -> None:
    with FakeComfyUI(step_delay_s=0.005) as fake, make_backend(fake.url) as backend:
        attempts: list[dict] = []
        first = backend.generate_segment(
            SegmentRequest("a quiet harbour", 11, init_image(), W, H, 6, 8, index=0),
            on_attempt=lambda a: attempts.append(a.as_dict()),
        )
        assert len(first.frames) == 6 and first.fps == 8
        assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in first.frames)
        assert np.abs(first.frames[0].astype(int) - init_image().astype(int)).mean() < 3  # starts on the init
        info = first.info
        assert info["backend"] == "comfyui" and info["server"] == fake.url and info["workflow"] == "svd_img2vid"
        assert info["checkpoint"] == "svd_xt.safetensors" and info["prompt_id"] in fake.stats["completed"]
        assert [a["outcome"] for a in info["attempts"]] == ["success"]
        assert [a["outcome"] for a in attempts] == ["running", "success"]  # start and end reported
        json.dumps(info)  # plain data, storable as JSON
        second = backend.generate_segment(
            SegmentRequest("a quiet harbour", 12, first.frames[-1], W, H, 6, 8, index=1))
        assert np.abs(second.frames[0].astype(int) - first.frames[-1].astype(int)).mean() < 3
        posted = fake.received[-1]
        assert posted["3"]["inputs"]["video_frames"] == 6 and posted["5"]["inputs"]["seed"] == 12
        assert posted["2"]["inputs"]["image"].startswith("tower/tower_")  # uploaded init image
        assert posted["7"]["inputs"]["filename_prefix"] == "tower/segment_001"
        assert fake.history == {}  # each job's history entry was deleted afterwards
        assert len(fake.stats["history_deletes"]) == 2


def test_previews_reach_the_progress_callback() -> None:
    calls: list[tuple[int, int, np.ndarray | None]] = []
    with FakeComfyUI(step_delay_s=0.005) as fake, make_backend(fake.url) as backend:
        backend.generate_segment(SegmentRequest("x", 1, init_image(), W, H, 4, 8),
                                 lambda s, t, p: calls.append((s, t, p)))
    previews = [(s, t, p) for s, t, p in calls if p is not None]
    assert [s for s, _t, _p in calls] == [1, 2, 3, 4]  # one call per sampler step, with that step's preview
    assert len(previews) == 4 and all(t == 4 for _s, t, _p in previews)
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 for _s, _t, p in previews)


def test_no_previews_when_not_asked() -> None:
    calls: list = []
    with FakeComfyUI() as fake, make_backend(fake.url, preview_method="none") as backend:
        backend.generate_segment(SegmentRequest("x", 1, init_image(), W, H, 4, 8),
                                 lambda s, t, p: calls.append(p))
    assert calls and all(p is None for p in calls)


def test_keyframe_at_native_size_with_lora() -> None:
    with FakeComfyUI() as fake, make_backend(fake.url) as backend:
        frame = backend.generate_keyframe(KeyframeRequest("a hero on a cliff", 5, 1024, 576),
                                          params={"lora_name": "tower_character.safetensors",
                                                  "lora_strength": 0.7})
        assert frame.shape == (576, 1024, 3)  # resized to the request
        posted = fake.received[-1]
        assert (posted["5"]["inputs"]["width"], posted["5"]["inputs"]["height"]) == (1344, 768)  # native
        assert posted["2"]["inputs"]["lora_name"] == "tower_character.safetensors"
        assert posted["2"]["inputs"]["strength_clip"] == 0.7
        assert posted["3"]["inputs"]["text"] == "a hero on a cliff"
        backend.generate_keyframe(KeyframeRequest("no lora", 5, W, H), params={"width": 64, "height": 64})
        assert "2" not in fake.received[-1]  # LoraLoader bypassed


def test_rife_variant_is_used_when_the_server_has_it() -> None:
    with FakeComfyUI(custom_nodes=True) as fake, make_backend(fake.url) as backend:
        result = backend.generate_segment(SegmentRequest("x", 1, init_image(), W, H, 4, 6),
                                          params={"interpolation_multiplier": 2})
        assert result.info["workflow"] == "svd_img2vid_rife"
        assert len(result.frames) == 7 and result.fps == 12 and result.info["interpolated_x"] == 2
    with FakeComfyUI(custom_nodes=True) as fake, make_backend(fake.url, variants=False) as backend:
        result = backend.generate_segment(SegmentRequest("x", 1, init_image(), W, H, 4, 6))
        assert result.info["workflow"] == "svd_img2vid" and len(result.frames) == 4


def test_upscale_variant_when_the_server_has_the_model() -> None:
    with FakeComfyUI(upscale_models=["RealESRGAN_x4plus_anime_6B.pth"]) as fake, make_backend(fake.url) as b:
        result = b.generate_segment(SegmentRequest("x", 1, init_image(), W, H, 3, 8),
                                    params={"output_width": 128, "output_height": 72})
        assert result.info["workflow"] == "svd_img2vid_upscale"
        assert result.frames[0].shape == (72, 128, 3) and result.info["size"] == [128, 72]


def test_api_prefix_routes() -> None:
    with FakeComfyUI() as fake:
        client = ComfyUIClient(fake.url + "/api", timeouts=ClientTimeouts(**FAST_CLIENT_TIMEOUTS))
        assert client.system_stats()["devices"][0]["vram_total"] > 0
        assert "KSampler" in client.object_info()
        assert client.queue() == {"queue_running": [], "queue_pending": []}
        assert client.history("nope") is None


def _jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 4), color).save(buf, format="JPEG")
    return buf.getvalue()


def test_binary_preview_frames_of_both_types() -> None:
    type1 = struct.pack(">II", 1, 1) + _jpeg((250, 0, 0))
    image = decode_preview(type1)
    assert image is not None and image.shape == (4, 8, 3) and image[0, 0, 0] > 200
    meta = json.dumps({"node_id": "5", "prompt_id": "p1", "image_type": "image/jpeg"}).encode()
    type4 = struct.pack(">II", 4, len(meta)) + meta + _jpeg((0, 250, 0))
    image = decode_preview(type4, "p1")
    assert image is not None and image[0, 0, 1] > 200
    assert decode_preview(type4, "another-job") is None  # previews of other jobs are ignored
    assert decode_preview(struct.pack(">I", 3) + b"xxxx") is None


@pytest.mark.parametrize("ref", [
    FileRef("../../etc/passwd"), FileRef("/etc/passwd"), FileRef("a.png", "../x"), FileRef("a.png", "/abs"),
    FileRef("a.png", "x/../../y"), FileRef("a\x00.png"), FileRef("a.png", type="system"), FileRef("a/b.png"),
    FileRef("a.png", "x\\y"),
])
def test_unsafe_output_names_are_refused(ref: FileRef) -> None:
    with pytest.raises(ComfyUIError, match="unsafe"):
        ref.check("http://server")


def test_ordinary_output_names_pass() -> None:
    FileRef("segment_000_00001_.png", "tower", "output").check()
    FileRef("ComfyUI_temp_abc_00001_.png", "", "temp").check()
