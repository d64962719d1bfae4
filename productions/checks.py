"""Start-up checks of the upscaling settings: a wrong variable stops `manage.py up` (and every other command)
with a message naming it, instead of failing the first render an hour later."""

from __future__ import annotations

import importlib.util
import re

from django.conf import settings
from django.core import checks

from productions.lib.upscale import CHOICES
from productions.lib.upscale.config import realesrgan_problem

DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?")


@checks.register("tower")
def upscaler_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    choice = settings.TOWER_UPSCALER
    if choice not in CHOICES:
        messages.append(checks.Error(f"TOWER_UPSCALER={choice!r} is not one of: {', '.join(CHOICES)}.",
                                     id="tower.E010"))
    device = settings.TOWER_UPSCALE_DEVICE
    if device and not DEVICE_PATTERN.fullmatch(device):
        messages.append(checks.Error(
            f"TOWER_UPSCALE_DEVICE={device!r} is not a device: use cpu, cuda or cuda:N (or leave it empty).",
            id="tower.E011"))
    if choice == "realesrgan":
        problem = realesrgan_problem(settings.TOWER_UPSCALE_MODEL, settings.TOWER_MODELS_DIR or None)
        if problem:
            messages.append(checks.Error(f"TOWER_UPSCALER=realesrgan cannot run: {problem}.", id="tower.E013"))
    elif choice == "auto" and importlib.util.find_spec("torch") is not None:  # without torch, auto is Lanczos
        problem = realesrgan_problem(settings.TOWER_UPSCALE_MODEL, settings.TOWER_MODELS_DIR or None)
        if problem:
            messages.append(checks.Warning(
                f"Real-ESRGAN cannot run ({problem}): TOWER_UPSCALER=auto will use Lanczos even on CUDA.",
                hint="Set TOWER_UPSCALE_MODEL or TOWER_MODELS_DIR, or TOWER_UPSCALER=lanczos to choose it.",
                id="tower.W013"))
    return messages


@checks.register("tower")
def video_model_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """TOWER_VIDEO_MODEL names a video profile that runs on TOWER_BACKEND, and every profile file parses."""
    from productions.catalog import configuration_problem

    problem = configuration_problem()
    return [checks.Error(f"{problem}.", id="tower.E020")] if problem else []
