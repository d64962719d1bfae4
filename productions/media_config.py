"""The media core's configuration, taken from the settings and handed to productions/lib as plain values.

productions/lib reads no environment and imports no Django (tests/test_lib_reads_no_environment.py): what it
needs travels as arguments from here. The one process-wide value, the ffmpeg binary, is applied when the app
starts and again whenever a test changes the setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from productions.lib.ffmpeg import use_ffmpeg

if TYPE_CHECKING:
    from productions.lib.comfyui import ComfyUIBackend

PROCESS_SETTINGS = ("TOWER_FFMPEG",)


def apply_process_settings(**_signal: Any) -> None:
    """Hand the process-wide values to the media core (at start-up; on setting_changed in tests)."""
    use_ffmpeg(settings.TOWER_FFMPEG)


def comfyui_pool_options() -> dict[str, Any]:
    return {"health_interval_s": settings.TOWER_COMFYUI_HEALTH_INTERVAL_S,
            "max_attempts": settings.TOWER_COMFYUI_MAX_ATTEMPTS}


def comfyui_backend(**kwargs: Any) -> ComfyUIBackend:
    """A ComfyUI backend on the process's shared pool of TOWER_COMFYUI_URLS, configured by the settings."""
    from productions.lib.comfyui import ComfyUIBackend

    options: dict[str, Any] = {
        "keyframe_workflow": settings.TOWER_COMFYUI_KEYFRAME_WORKFLOW or None,
        "segment_workflow": settings.TOWER_COMFYUI_SEGMENT_WORKFLOW or None,
        "variants": settings.TOWER_COMFYUI_VARIANTS,
        "preview_method": settings.TOWER_COMFYUI_PREVIEW_METHOD,
        "deadline_s": settings.TOWER_COMFYUI_DEADLINE_S,
    }
    options.update(kwargs)
    return ComfyUIBackend.shared(settings.TOWER_COMFYUI_URLS, pool_options=comfyui_pool_options(), **options)


def upscaler_options() -> dict[str, Any]:
    """select_upscaler's configuration (Real-ESRGAN's weights folder, VRAM budget, CPU allocator tuning)."""
    return {"models_dir": settings.TOWER_MODELS_DIR or None, "vram_gb": settings.TOWER_UPSCALE_VRAM_GB,
            "tune_malloc": settings.TOWER_UPSCALE_MALLOPT}
