"""The CUDA path of the Real-ESRGAN upscaler: fp16, channels_last, batches, the VRAM budget, the copy stream.

Skipped where torch sees no CUDA device (CI and the development machines have none). On a GPU machine,
`bash bench/cuda_on_device.sh` runs this file and then bench/upscale.py's CUDA part in one go. The CPU
float32 path these are compared with is itself checked against the ncnn reference runtime
(test_upscale_exactness.py), so "matches CPU fp32 at >= 40 dB" carries the exactness over to CUDA.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from productions.lib.upscale import select_upscaler
from productions.lib.upscale.realesrgan import RealESRGANUpscaler
from productions.lib.upscale.weights import LoadedModel, load_model

from .images import anime_frame, mean_abs_diff, psnr

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: these run on a GPU machine")

GB = 1024**3


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model()


@pytest.mark.parametrize("model", ["realesr-animevideov3", "RealESRGAN_x4plus_anime_6B"])
def test_fp16_on_cuda_matches_fp32_on_cpu(model: str) -> None:
    frames = [anime_frame(72, 128, seed=s) for s in range(3)]
    cpu = RealESRGANUpscaler(model, device="cpu", tile=0)
    gpu = RealESRGANUpscaler(model, device="cuda", loaded=cpu.loaded)
    assert gpu.dtype == torch.float16 and gpu.channels_last and gpu.conv_impl == "cudnn"
    expected = list(cpu.upscale(frames, 240, 135))
    got = list(gpu.upscale(frames, 240, 135))
    for a, b in zip(expected, got, strict=True):
        assert b.shape == (135, 240, 3) and b.dtype == np.uint8
        print(f"{model}: CUDA fp16 vs CPU fp32 PSNR {psnr(a, b):.1f} dB")
        assert psnr(a, b) >= 40


def test_1024x576_frames_come_out_1920x1080_in_order_and_batched(loaded: LoadedModel) -> None:
    frames = [anime_frame(576, 1024, seed=s) for s in range(10)]
    gpu = RealESRGANUpscaler(device="cuda", loaded=loaded)
    outs = list(gpu.upscale(frames, 1920, 1080))
    assert len(outs) == 10 and all(o.shape == (1080, 1920, 3) and o.dtype == np.uint8 for o in outs)
    plan = gpu.last_plan
    assert plan is not None and plan.tile == 0 and plan.batch > 1, plan  # 10 GB holds several whole frames
    # each output is its own input's frame: compare with one-at-a-time runs (no thread, no batching)
    single = RealESRGANUpscaler(device="cuda", loaded=loaded, batch_size=1, tile=0, prefetch=0)
    for i in (0, plan.batch - 1, plan.batch, 9):
        (ref,) = list(single.upscale([frames[i]], 1920, 1080))
        assert mean_abs_diff(outs[i], ref) < 0.5, i
    assert psnr(outs[0], outs[1]) < 30  # the frames really differ, so an order mix-up would show
    cpu = RealESRGANUpscaler(device="cpu", loaded=loaded, tile=0)
    (ref,) = list(cpu.upscale([frames[3]], 1920, 1080))
    print(f"1024x576 -> 1920x1080: CUDA fp16 vs CPU fp32 PSNR {psnr(outs[3], ref):.1f} dB, plan {plan}")
    assert psnr(outs[3], ref) >= 40


def test_tiled_matches_untiled_on_cuda(loaded: LoadedModel) -> None:
    frame = anime_frame(288, 512, seed=4)
    whole = RealESRGANUpscaler(device="cuda", loaded=loaded, tile=0)
    tiled = RealESRGANUpscaler(device="cuda", loaded=loaded, tile=96)
    (a,) = list(whole.upscale([frame], 960, 540))
    (b,) = list(tiled.upscale([frame], 960, 540))
    assert tiled.last_plan is not None and tiled.last_plan.tile == 96
    print(f"CUDA tiled vs untiled mean abs diff {mean_abs_diff(a, b):.4f}/255")
    assert mean_abs_diff(a, b) < 0.5


def test_a_small_vram_budget_tiles_and_the_peak_stays_under_it(loaded: LoadedModel, caplog) -> None:
    frames = [anime_frame(576, 1024, seed=s) for s in range(3)]
    budget_gb = 0.75
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    with caplog.at_level(logging.INFO, logger="productions.lib.upscale.realesrgan"):
        up = RealESRGANUpscaler(device="cuda", loaded=loaded, vram_gb=budget_gb)
        outs = list(up.upscale(frames, 1920, 1080))
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    reserved = torch.cuda.max_memory_reserved()
    print(f"budget {budget_gb} GB: plan {up.last_plan}, peak {peak / GB:.3f} GB, reserved {reserved / GB:.3f} GB")
    assert "VRAM calibration failed" not in caplog.text  # the plan came from a measurement, not the fallback
    assert up.last_plan is not None and up.last_plan.tile > 0
    assert peak <= budget_gb * GB
    whole = RealESRGANUpscaler(device="cuda", loaded=loaded, tile=0, batch_size=1)
    for frame, out in zip(frames, outs, strict=True):
        (ref,) = list(whole.upscale([frame], 1920, 1080))
        assert mean_abs_diff(out, ref) < 0.5


def test_default_budget_peak_stays_under_10_gb(loaded: LoadedModel) -> None:
    frames = [anime_frame(576, 1024, seed=s) for s in range(16)]
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base, base_reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    torch.cuda.reset_peak_memory_stats()
    up = RealESRGANUpscaler(device="cuda", loaded=loaded)
    assert sum(1 for _ in up.upscale(frames, 1920, 1080)) == 16
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    left = torch.cuda.memory_reserved() - base_reserved
    print(f"default budget: plan {up.last_plan}, peak allocated {peak / GB:.3f} GB, still reserved {left / GB:.3f} GB")
    assert up.describe()["vram_budget_gb"] == 10.0
    assert peak <= 10 * GB
    assert left <= 0.1 * GB  # the cache went back to the driver for ComfyUI; only the weights stay


def test_auto_picks_realesrgan_on_cuda_and_describes_it() -> None:
    up = select_upscaler("auto")
    assert isinstance(up, RealESRGANUpscaler) and up.device.type == "cuda"
    list(up.upscale([anime_frame(72, 128)], 240, 135))
    info = up.describe()
    assert torch.cuda.get_device_name(up.device) in info["device"]
    assert info["dtype"] == "float16" and info["channels_last"] is True and info["conv"] == "cudnn"
    assert info["model"] == "realesr-animevideov3" and len(info["weights_sha256"]) == 64
    assert info["batch"] >= 1


def test_stopping_early_releases_the_background_thread(loaded: LoadedModel) -> None:
    up = RealESRGANUpscaler(device="cuda", loaded=loaded, batch_size=2)
    frame = anime_frame(72, 128)
    pulled = 0

    def endless() -> Iterator[np.ndarray]:
        nonlocal pulled
        while True:
            pulled += 1
            yield frame

    gen = up.upscale(endless(), 240, 135)
    assert len(list(itertools.islice(gen, 5))) == 5
    time.sleep(0.5)
    assert pulled <= (2 + 2 + 2) * 2 + 2  # prefetch 2 batches ahead, not the whole endless stream
    gen.close()
    time.sleep(0.3)
    assert not any(t.name == "upscale-prefetch" and t.is_alive() for t in threading.enumerate())
