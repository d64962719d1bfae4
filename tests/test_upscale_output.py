"""Output size and type, streaming with bounded memory, batching and memory planning of the Real-ESRGAN upscaler."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from productions.lib.upscale.config import VRAM_ENV, vram_budget_bytes
from productions.lib.upscale.realesrgan import Plan, RealESRGANUpscaler, plan_batch_and_tile
from productions.lib.upscale.weights import load_model


@pytest.fixture(scope="module")
def upscaler() -> RealESRGANUpscaler:
    return RealESRGANUpscaler(device="cpu")


def _frames(n: int, h: int = 36, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.slow  # one full 1024x576 frame through the network: ~5-15 s on 2 shared cores
def test_1024x576_to_exactly_1920x1080_uint8(upscaler: RealESRGANUpscaler) -> None:
    yy, xx = np.mgrid[0:576, 0:1024]
    frame = np.stack([xx * 255 // 1023, yy * 255 // 575, (xx + yy) * 255 // 1598], axis=-1).astype(np.uint8)
    (out,) = list(upscaler.upscale([frame], 1920, 1080))
    assert out.shape == (1080, 1920, 3) and out.dtype == np.uint8
    assert out.max() > 200  # full range used
    # channels in the right order and colours kept (the model itself shifts smooth gradients by a few levels)
    small = out[::15, ::15].astype(np.float64)
    ref = frame[::8, ::8].astype(np.float64)
    for c in range(3):
        assert np.corrcoef(small[..., c].ravel(), ref[..., c].ravel())[0, 1] > 0.98
    assert abs(float(out.mean()) - float(frame.mean())) < 8.0
    info = upscaler.describe()
    for key in ("name", "model", "weights_path", "weights_sha256", "device", "dtype", "tile"):
        assert key in info, key
    assert info["name"] == "realesrgan" and info["device"] == "cpu" and info["dtype"] == "float32"


def test_small_frames_any_target_size(upscaler: RealESRGANUpscaler) -> None:
    frames = _frames(3)
    outs = list(upscaler.upscale(frames, 120, 68))  # 64x36 -> x4 -> 120x68 (the 1024x576 -> 1920x1080 ratio)
    assert len(outs) == 3 and all(o.shape == (68, 120, 3) and o.dtype == np.uint8 for o in outs)
    assert upscaler.ffmpeg_filter(1920, 1080) is None


def test_is_a_lazy_generator_with_bounded_lookahead() -> None:
    up = RealESRGANUpscaler(device="cpu", batch_size=2, tile=0, prefetch=2)  # background thread on CPU too
    pulled = 0

    def endless() -> Iterator[np.ndarray]:
        nonlocal pulled
        frame = _frames(1, 16, 24)[0]
        while True:
            pulled += 1
            yield frame

    gen = up.upscale(endless(), 48, 32)
    first = list(itertools.islice(gen, 3))
    assert len(first) == 3 and first[0].shape == (32, 48, 3)
    time.sleep(0.5)  # let the worker run ahead as far as it may
    # consumed 2 batches; at most prefetch (2) queued + 1 being put + 1 being built: bounded, not endless
    assert pulled <= (2 + 2 + 2) * 2
    gen.close()  # stops the worker
    time.sleep(0.3)
    assert not any(t.name == "upscale-prefetch" and t.is_alive() for t in threading.enumerate())


def test_worker_errors_reach_the_consumer() -> None:
    up = RealESRGANUpscaler(device="cpu", prefetch=1)

    def bad() -> Iterator[np.ndarray]:
        yield _frames(1, 16, 24)[0]
        yield np.zeros((16, 24), np.uint8)  # not RGB

    with pytest.raises(ValueError, match="frames must be H x W x 3 uint8 RGB"):
        list(up.upscale(bad(), 48, 32))


def test_batches_group_frames_of_the_same_size() -> None:
    up = RealESRGANUpscaler(device="cpu", batch_size=4, tile=0)
    frames = _frames(3, 16, 24) + _frames(2, 20, 20, seed=1)
    outs = list(up.upscale(frames, 40, 40))
    assert len(outs) == 5 and all(o.shape == (40, 40, 3) for o in outs)
    # batched results equal per-frame results
    single = RealESRGANUpscaler(device="cpu", batch_size=1, tile=0, loaded=up.loaded)
    for frame, out in zip(frames, outs, strict=True):
        (ref,) = list(single.upscale([frame], 40, 40))
        assert np.abs(ref.astype(int) - out.astype(int)).max() <= 1


def test_plan_fits_whole_frames_then_tiles_under_the_budget() -> None:
    gb = 1024**3
    common = {"bytes_per_px": 600.0, "fixed_bytes": 0.5 * gb, "out_bytes_per_px": 96.0, "tile_pad": 18}
    # 10 GB: whole 1044x596 frames, as many as fit (capped)
    plan = plan_batch_and_tile(596, 1044, budget_bytes=10 * gb, max_batch=8, **common)
    assert plan == Plan(8, 0, 18)
    plan = plan_batch_and_tile(596, 1044, budget_bytes=2 * gb, max_batch=64, **common)
    assert plan.tile == 0 and plan.batch == int((1.5 * gb) // (596 * 1044 * 696))
    # 0.8 GB: one frame does not fit -> tiles that do
    plan = plan_batch_and_tile(596, 1044, budget_bytes=0.8 * gb, max_batch=8, **common)
    assert 32 <= plan.tile < 1044 and plan.tile % 8 == 0
    work = (plan.tile + 36) ** 2 * 600 + 596 * 1044 * 96
    assert 0.5 * gb + plan.batch * work <= 0.8 * gb
    with pytest.raises(MemoryError, match=VRAM_ENV):
        plan_batch_and_tile(596, 1044, budget_bytes=0.55 * gb, max_batch=8, **common)


def test_vram_budget() -> None:
    assert vram_budget_bytes() == 10 * 1024**3
    assert vram_budget_bytes(2.5) == int(2.5 * 1024**3)
    with pytest.raises(ValueError, match="must be positive"):
        vram_budget_bytes(0)


def test_cpu_rejects_fp16_and_cuda_absent() -> None:
    loaded = load_model()
    with pytest.raises(ValueError, match="fp16 on CPU"):
        RealESRGANUpscaler(device="cpu", dtype="fp16", loaded=loaded)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            RealESRGANUpscaler(device="cuda", loaded=loaded)
