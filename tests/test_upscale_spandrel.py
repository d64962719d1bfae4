"""Architectures Tower does not implement go through spandrel, when spandrel can be imported.

spandrel imports torchvision, which has no CPU wheel here, so most tests use a stand-in `spandrel` module with
the slice of spandrel's API that Tower calls (ModelLoader().load_from_file -> ImageModelDescriptor with
model, scale, input/output channels, purpose, supports_half/bfloat16, and a call that pads the input to the
architecture's size requirements and crops the output). The last test uses the real spandrel where it is
importable (the GPU machine has torchvision: bench/cuda_on_device.sh carries spandrel there).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from productions.lib.upscale.realesrgan import RealESRGANUpscaler
from productions.lib.upscale.weights import WeightsError, load_model, spandrel_available

from .images import anime_frame


class TinySR(nn.Module):
    """x`scale` by a conv and a pixel shuffle: an architecture Tower does not know."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return self.shuffle(self.head(x))


def stand_in_spandrel(*, purpose: str = "SR", multiple_of: int = 8, supports_bfloat16: bool = True):
    """A module object that behaves like spandrel 0.4 for the calls Tower makes."""

    class ImageModelDescriptor:
        def __init__(self, model: nn.Module, scale: int) -> None:
            self.model, self.scale = model, scale
            self.input_channels = self.output_channels = 3
            self.purpose = purpose
            self.supports_half, self.supports_bfloat16 = False, supports_bfloat16
            self.architecture = types.SimpleNamespace(name="TinySR")

        @torch.inference_mode()
        def __call__(self, image: torch.Tensor) -> torch.Tensor:  # spandrel: pad, run, clamp, crop
            h, w = image.shape[-2:]
            pad_h, pad_w = -h % multiple_of, -w % multiple_of
            if pad_h or pad_w:
                image = F.pad(image, (0, pad_w, 0, pad_h), mode="reflect")
            out = self.model(image).clamp_(0, 1)
            return out[..., : h * self.scale, : w * self.scale]

    class ModelLoader:
        def load_from_file(self, path: str) -> ImageModelDescriptor:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if "head.weight" not in state:
                raise ValueError("UnsupportedModelError: unknown architecture")
            scale = int((state["head.weight"].shape[0] // 3) ** 0.5)
            model = TinySR(scale)
            model.load_state_dict(state)
            return ImageModelDescriptor(model, scale)

    module = types.ModuleType("spandrel")
    module.ModelLoader = ModelLoader  # type: ignore[attr-defined]
    module.ImageModelDescriptor = ImageModelDescriptor  # type: ignore[attr-defined]
    return module


def save_tiny(path: Path, scale: int = 2) -> Path:
    torch.manual_seed(3)
    torch.save(TinySR(scale).state_dict(), path)
    return path


def test_an_unknown_architecture_loads_and_upscales_through_spandrel(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "spandrel", stand_in_spandrel())
    path = save_tiny(tmp_path / "tiny-x2.pth")
    loaded = load_model(path)
    assert (loaded.source, loaded.arch, loaded.scale, loaded.name) == ("spandrel", "spandrel:TinySR", 2, "tiny-x2")
    assert loaded.supports_half is False and len(loaded.sha256) == 64
    frames = [anime_frame(13, 21, seed=s) for s in range(3)]  # not multiples of 8
    up = RealESRGANUpscaler(device="cpu", loaded=loaded, batch_size=2, tile=0)
    outs = list(up.upscale(frames, 42, 26))  # the network's own x2 size: no resize
    assert len(outs) == 3 and all(o.shape == (26, 42, 3) and o.dtype == np.uint8 for o in outs)
    net = up.net.net  # the upscaler's own copy of the network
    assert all(h % 8 == 0 and w % 8 == 0 for *_, h, w in net.seen)  # padded to the size requirement
    # each frame equals the network run directly on it (reflect pre-pad 10 as for every model, then cropped)
    for frame, out in zip(frames, outs, strict=True):
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
        x = F.pad(F.pad(x, (10, 10, 10, 10), mode="reflect"), (0, -(41) % 8, 0, -(33) % 8), mode="reflect")
        with torch.inference_mode():
            y = net.shuffle(net.head(x)).clamp(0, 1)[..., 20 : 20 + 26, 20 : 20 + 42]
        expected = y[0].mul(255).round().byte().permute(1, 2, 0).numpy()
        assert np.abs(expected.astype(int) - out.astype(int)).max() <= 1


def test_a_dtype_the_architecture_does_not_support_is_refused_or_avoided(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "spandrel", stand_in_spandrel(supports_bfloat16=False))
    loaded = load_model(save_tiny(tmp_path / "tiny.pth"))
    with pytest.raises(ValueError, match=r"spandrel:TinySR .*tiny\.pth\) does not run correctly in torch\.bfloat16"):
        RealESRGANUpscaler(device="cpu", dtype="bf16", loaded=loaded)
    assert RealESRGANUpscaler(device="cpu", loaded=loaded).dtype == torch.float32


def test_models_that_are_not_rgb_super_resolution_are_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "spandrel", stand_in_spandrel(purpose="Restoration"))
    refused = r"denoise\.pth: spandrel loaded TinySR \(Restoration, x1, 3 -> 3 channels\).*x2 or more"
    with pytest.raises(WeightsError, match=refused):
        load_model(save_tiny(tmp_path / "denoise.pth", scale=1))
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(WeightsError, match=r"other\.pth: spandrel could not load it: ValueError: Unsupported"):
        load_model(other)


@pytest.mark.skipif(not spandrel_available(), reason="spandrel cannot be imported here (it needs torchvision)")
def test_real_spandrel_safmn_with_its_size_requirement(tmp_path) -> None:
    from spandrel.architectures.SAFMN import SAFMN

    torch.manual_seed(0)
    path = tmp_path / "safmn-x2.pth"
    torch.save(SAFMN(dim=8, n_blocks=1, upscaling_factor=2).state_dict(), path)
    loaded = load_model(path)
    assert loaded.arch == "spandrel:SAFMN" and loaded.scale == 2 and loaded.supports_half is False
    frames = [anime_frame(30, 44, seed=s) for s in range(2)]  # 30 + 2 x 10 pre-pad: not a multiple of 8
    cpu = RealESRGANUpscaler(device="cpu", loaded=loaded, tile=0)
    expected = list(cpu.upscale(frames, 88, 60))
    assert all(o.shape == (60, 88, 3) for o in expected)
    if torch.cuda.is_available():  # SAFMN does not support fp16: the CUDA default falls back to float32
        gpu = RealESRGANUpscaler(device="cuda", loaded=loaded)
        assert gpu.dtype == torch.float32
        got = list(gpu.upscale(frames, 88, 60))
        for a, b in zip(expected, got, strict=True):
            assert np.abs(a.astype(int) - b.astype(int)).mean() < 0.5
