"""Generation model profiles: what each model was made for, as data beside its workflows.

A profile is one JSON file `NAME.profile.json` in a workflows directory (the repository's `workflows/`, plus the
admin's own directory, whose profiles replace shipped ones of the same name)::

    {
      "label": "Wan 2.2 TI2V-5B",
      "kind": "video",                  # "video" (segments) or "image" (keyframes)
      "backend": "comfyui",             # "comfyui" or "builtin"
      "native_size": [1280, 704],       # what the model was trained at
      "sizes": [[1280, 704], [704, 1280]],  # allowed aspect choices (the first is native_size)
      "frames_per_run": 121,            # video: frames of one native run (never ask for more)
      "frames_step": 4,                 # allowed lengths: frames_per_run - k * frames_step ...
      "frames_min": 5,                  # ... down to frames_min (Wan: 4n+1)
      "run_is_limit": true,             # false: a generator that streams any length (the built-in one)
      "native_fps": 24,                 # video: the rate it generates at (null: any rate, see rate_for)
      "conditioning": "first",          # video: "first", "first_last"; image: "text"
      "interpolation": "none",          # how it reaches the delivery rate: none, hold, rife, mci
      "vram_gb": 8.0, "vram_source": "...",   # estimated need at native size, and where the figure comes from
      "defaults": {"steps": 30, "cfg": 5.0, "sampler_name": "uni_pc", "scheduler": "simple"},
      "nodes": ["UNETLoader", ...],     # node classes its workflows need
      "files": {"unet_name": "wan2.2_ti2v_5B_fp16.safetensors", ...},  # workflow parameter -> model file
      "workflows": ["wan22_ti2v_5b"],   # its workflows, preferred first (none for the built-in generator)
      "description": "...", "sources": ["..."]
    }

Planning (planning.py) makes every segment exactly one native run (the last may be shorter); the native size and
the upscale factor follow from the profile. Django-free: settings pass the directories.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .planning import RunLength

PROFILE_SUFFIX = ".profile.json"
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "workflows"
KINDS = ("video", "image")
BACKENDS = ("builtin", "comfyui")
CONDITIONING = {"video": ("first", "first_last"), "image": ("text",)}
# The models used when nothing names one: the built-in generator's, SVD-XT on ComfyUI (and for segment
# workflows whose manifest names no model: they predate profiles), SDXL for keyframes.
BUILTIN_MODEL = "builtin"
DEFAULT_COMFYUI_MODEL = "svd_xt"
DEFAULT_KEYFRAME_MODEL = "sdxl"
REACH = ("none", "hold", "rife", "mci")


class ProfileError(ValueError):
    """A profile file is malformed, or a name is not a known profile; the message names file and field."""


@dataclass(frozen=True)
class ModelProfile:
    name: str
    label: str
    kind: str
    backend: str
    native_width: int
    native_height: int
    sizes: tuple[tuple[int, int], ...]
    conditioning: str
    frames_per_run: int | None = None
    frames_step: int = 1
    frames_min: int = 1
    run_is_limit: bool = True  # False: frames_per_run is a default segment length, not what the model can do
    native_fps: int | None = None
    interpolation: str = "none"
    vram_gb: float | None = None
    vram_source: str = ""
    size_multiple: int = 8
    defaults: dict[str, Any] = field(default_factory=dict)
    nodes: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    workflows: tuple[str, ...] = ()
    description: str = ""
    sources: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def run(self) -> RunLength | None:
        """The lengths one run can have (None: a generator with no run limit)."""
        if self.frames_per_run is None:
            return None
        return RunLength(self.frames_per_run, self.frames_step, self.frames_min, hard=self.run_is_limit)

    # -- rate and size ---------------------------------------------------------------------------------------
    def rate_for(self, fps: int) -> int:
        """The native rate for a delivery rate: the profile's own, or (a generator that draws at any rate,
        native_fps null) every other frame of an even delivery rate, held on twos."""
        if self.native_fps is not None:
            return self.native_fps
        return fps // 2 if fps % 2 == 0 else fps

    def interpolation_for(self, fps: int) -> str:
        rate = self.rate_for(fps)
        if rate == fps:
            return "none"
        return self.interpolation if self.interpolation != "none" else "hold"

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The allowed native size whose aspect ratio is nearest the delivery's (native_size on ties)."""
        want = math.log(width / height)
        return min(self.sizes, key=lambda s: abs(math.log(s[0] / s[1]) - want))

    @property
    def workflow_values(self) -> dict[str, Any]:
        """What its workflows are filled with before a request's own values: settings, then model files."""
        return {**self.defaults, **self.files}

    def with_options(self, values: dict[str, Any]) -> ModelProfile:
        """This profile with an admin's values: a key naming one of its files replaces that file, any other
        key sets a workflow parameter (steps, cfg, sampler_name, ...)."""
        files = {**self.files, **{k: str(v) for k, v in values.items() if k in self.files}}
        defaults = {**self.defaults, **{k: v for k, v in values.items() if k not in self.files}}
        return dataclasses.replace(self, files=files, defaults=defaults)

    def as_dict(self) -> dict[str, Any]:
        """The profile as `manage.py plan --list --json` and the API show it."""
        return {
            "name": self.name, "label": self.label, "kind": self.kind, "backend": self.backend,
            "native_width": self.native_width, "native_height": self.native_height,
            "sizes": [list(s) for s in self.sizes], "frames_per_run": self.frames_per_run,
            "frames_step": self.frames_step, "frames_min": self.frames_min, "run_is_limit": self.run_is_limit,
            "native_fps": self.native_fps,
            "conditioning": self.conditioning, "interpolation": self.interpolation,
            "vram_gb": self.vram_gb, "vram_source": self.vram_source, "defaults": dict(self.defaults),
            "nodes": list(self.nodes), "files": dict(self.files), "workflows": list(self.workflows),
            "description": self.description, "sources": list(self.sources),
        }


def _need(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ProfileError(f"{where}: '{key}' is missing")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProfileError(f"{where}: '{key}' has the wrong type ({value!r})")
    return value


def _size(value: Any, where: str, key: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 16 for v in value)):
        raise ProfileError(f"{where}: '{key}' must be [width, height] in pixels, got {value!r}")
    return value[0], value[1]


def _positive(data: dict, key: str, where: str, default: int | None) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ProfileError(f"{where}: '{key}' must be a whole number >= 1, got {value!r}")
    return value


def load_profile(path: Path) -> ModelProfile:
    path = Path(path)
    name = path.name[: -len(PROFILE_SUFFIX)]
    where = path.name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ProfileError(f"{where}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected a JSON object")
    kind = _need(data, "kind", str, where)
    if kind not in KINDS:
        raise ProfileError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    backend = _need(data, "backend", str, where)
    if backend not in BACKENDS:
        raise ProfileError(f"{where}: 'backend' must be one of {', '.join(BACKENDS)}, got {backend!r}")
    native = _size(_need(data, "native_size", list, where), where, "native_size")
    sizes = [_size(s, where, "sizes") for s in data.get("sizes") or [list(native)]]
    if native not in sizes:
        sizes.insert(0, native)
    conditioning = _need(data, "conditioning", str, where)
    if conditioning not in CONDITIONING[kind]:
        raise ProfileError(f"{where}: 'conditioning' of a {kind} model must be one of "
                           f"{', '.join(CONDITIONING[kind])}, got {conditioning!r}")
    frames_per_run = _positive(data, "frames_per_run", where, None)
    if kind == "video" and frames_per_run is None and backend != "builtin":
        raise ProfileError(f"{where}: a video model needs 'frames_per_run'")
    frames_step = _positive(data, "frames_step", where, 1)
    frames_min = _positive(data, "frames_min", where, 1)
    if frames_per_run is not None and frames_min > frames_per_run:
        raise ProfileError(f"{where}: 'frames_min' ({frames_min}) is over 'frames_per_run' ({frames_per_run})")
    native_fps = _positive(data, "native_fps", where, None)
    interpolation = data.get("interpolation", "none")
    if interpolation not in REACH:
        raise ProfileError(f"{where}: 'interpolation' must be one of {', '.join(REACH)}, got {interpolation!r}")
    vram = data.get("vram_gb")
    if vram is not None and (not isinstance(vram, (int, float)) or isinstance(vram, bool) or vram <= 0):
        raise ProfileError(f"{where}: 'vram_gb' must be a positive number or null, got {vram!r}")
    vram_source = str(data.get("vram_source") or "")
    if vram is not None and not vram_source:
        raise ProfileError(f"{where}: 'vram_gb' needs a 'vram_source' (where the figure comes from)")
    for key in ("defaults", "files"):
        if not isinstance(data.get(key, {}), dict):
            raise ProfileError(f"{where}: '{key}' must be an object")
    for key in ("nodes", "workflows", "sources"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(f"{where}: '{key}' must be a list of names")
    return ModelProfile(
        name=name,
        label=str(data.get("label") or name),
        kind=kind,
        backend=backend,
        native_width=native[0],
        native_height=native[1],
        sizes=tuple(sizes),
        conditioning=conditioning,
        frames_per_run=frames_per_run,
        frames_step=frames_step or 1,
        frames_min=frames_min or 1,
        run_is_limit=bool(data.get("run_is_limit", True)),
        native_fps=native_fps,
        interpolation=interpolation,
        vram_gb=float(vram) if vram is not None else None,
        vram_source=vram_source,
        size_multiple=_positive(data, "size_multiple", where, 8) or 8,
        defaults=dict(data.get("defaults") or {}),
        nodes=tuple(data.get("nodes") or ()),
        files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
        workflows=tuple(data.get("workflows") or ()),
        description=str(data.get("description") or ""),
        sources=tuple(data.get("sources") or ()),
        path=path,
    )


def load_profiles(directories: Iterable[Path | str | None] = ()) -> dict[str, ModelProfile]:
    """Every profile in the shipped directory, then in `directories` (later ones replace earlier names).
    A malformed file raises ProfileError naming it: a broken profile is a configuration error."""
    found: dict[str, ModelProfile] = {}
    seen: set[Path] = set()
    for directory in (SHIPPED_DIR, *directories):
        if directory is None:
            continue
        directory = Path(directory).resolve()
        if directory in seen or not directory.is_dir():
            continue
        seen.add(directory)
        for path in sorted(directory.glob("*" + PROFILE_SUFFIX)):
            profile = load_profile(path)
            found[profile.name] = profile
    return found


def pick(profiles: dict[str, ModelProfile], name: str, kind: str = "video") -> ModelProfile:
    """The profile called `name`, of `kind`; ProfileError listing the choices otherwise."""
    profile = profiles.get(name)
    if profile is None or profile.kind != kind:
        choices = ", ".join(sorted(n for n, p in profiles.items() if p.kind == kind)) or "none"
        raise ProfileError(f"unknown {kind} model {name!r}; choose one of {choices}")
    return profile
