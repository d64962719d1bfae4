"""select_upscaler: auto / realesrgan / lanczos, and what describe() records for the QA report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import productions.lib.upscale as upscale
from productions.lib.upscale import LanczosUpscaler, select_upscaler
from productions.lib.upscale.realesrgan import RealESRGANUpscaler


def test_lanczos() -> None:
    up = select_upscaler("lanczos")
    assert isinstance(up, LanczosUpscaler)
    assert up.ffmpeg_filter(1920, 1080) == "scale=1920:1080:flags=lanczos"
    assert up.describe()["name"] == "lanczos"


def test_realesrgan_on_cpu_describes_weights_device_dtype_tile() -> None:
    up = select_upscaler("realesrgan", device="cpu")
    assert isinstance(up, RealESRGANUpscaler) and up.ffmpeg_filter(1920, 1080) is None
    info = up.describe()
    assert info["name"] == "realesrgan" and info["model"] == "realesr-animevideov3"
    assert Path(info["weights_path"]).is_file() and len(info["weights_sha256"]) == 64
    assert info["device"] == "cpu" and info["dtype"] == "float32" and "tile" in info


def test_realesrgan_options_and_models_dir(tmp_path: Path) -> None:
    from productions.lib.upscale.arch import SRVGGNetCompact

    torch.save({"params_ema": SRVGGNetCompact().state_dict()}, tmp_path / "realesr-animevideov3.pth")
    up = select_upscaler("realesrgan", models_dir=tmp_path, device="cpu", tile=64, dtype="bf16")
    info = up.describe()
    assert info["weights_source"] == "pth" and info["weights_path"] == str(tmp_path / "realesr-animevideov3.pth")
    assert info["dtype"] == "bfloat16" and info["tile"] == 64


def test_auto_is_lanczos_on_cpu() -> None:
    up = select_upscaler("auto", device="cpu")
    assert isinstance(up, LanczosUpscaler) and "no CUDA" in up.describe()["note"]
    if not torch.cuda.is_available():
        assert isinstance(select_upscaler("auto"), LanczosUpscaler)
        assert isinstance(select_upscaler(), LanczosUpscaler)


def test_auto_is_realesrgan_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    def fake(models_dir, device, options):  # noqa: ANN001, ANN202 - stands in for the CUDA model
        calls.append((models_dir, device, options))
        return "realesrgan-on-cuda"

    monkeypatch.setattr(upscale, "_realesrgan", fake)
    assert select_upscaler("auto", device="cuda:0", models_dir="/m") == "realesrgan-on-cuda"
    monkeypatch.setattr(upscale, "_cuda_available", lambda: True)
    assert select_upscaler("auto") == "realesrgan-on-cuda"
    assert calls[0] == ("/m", "cuda:0", {})


def test_auto_falls_back_to_lanczos_when_weights_are_unusable(monkeypatch: pytest.MonkeyPatch) -> None:
    from productions.lib.upscale.weights import WeightsError

    def broken(models_dir, device, options):  # noqa: ANN001, ANN202
        raise WeightsError("/m/realesr-animevideov3.pth: truncated")

    monkeypatch.setattr(upscale, "_realesrgan", broken)
    up = select_upscaler("auto", device="cuda")
    assert isinstance(up, LanczosUpscaler) and "truncated" in up.describe()["note"]
    with pytest.raises(WeightsError):
        select_upscaler("realesrgan", device="cuda")


def test_unknown_choice() -> None:
    with pytest.raises(ValueError, match="auto, realesrgan, lanczos"):
        select_upscaler("bicubic")
