"""A protocol-faithful fake ComfyUI server for tests and benchmarks (aiohttp, like the real one).

It speaks ComfyUI's HTTP + WebSocket protocol as documented in ComfyUI's server.py / execution.py / main.py
(and checked against a real 0.3.64 server, see the project's notes): /prompt (200 and 400 shapes), /ws with
the real event order, binary previews (type 1, or type 4 after `feature_flags`), /history/{id} (+ delete),
/view, /upload/image, /queue (+ delete), /interrupt, /object_info (both dropdown styles), /system_stats,
everything also under /api/. A queued workflow is executed for real on a tiny graph interpreter: the node
classes of Tower's workflows render frames (with Tower's built-in generator when importable, else gradients)
and SaveImage writes one PNG per frame.

It misbehaves on request, via attributes / `configure(**kw)` or `POST /fake/control {...}`:
  job_time_s        every job takes this long in total (fixed T; the benchmark uses it)
  image_job_time_s  a still's job (a txt2img graph: EmptyLatentImage) takes this long instead: a GPU makes a
                    keyframe in a fraction of a clip's time
  step_delay_s      per sampler step otherwise
  silent            send no websocket events at all (the job still runs; /history has the result)
  drop_socket_at_step, drop_socket_times   abort the job's sockets at that sampler step, for N jobs
  refuse_ws         answer /ws upgrades with 503
  ws_limit          accept this many sockets in all, then answer 503
  execution_error, execution_error_type, execution_error_times   fail the KSampler node with this message
  reject_prompts    answer POST /prompt with a 400 (value_not_in_list on the first model input)
  hang              accept prompts but never start them
  down              (kill()) the port refuses connections; restart() brings it back with an empty memory

Use in tests:
    with FakeComfyUI(step_delay_s=0.01) as fake:   # background thread, random free port on 127.0.0.1
        fake.url ...
Or as a process:  python tests/fake_comfyui.py --port 8188 [--job-time 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import functools
import io
import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web
from PIL import Image

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

try:  # render with Tower's built-in generator when it is there (same frames the pipeline knows)
    from productions.lib.backend import KeyframeRequest, SegmentRequest
    from productions.lib.generator import BuiltinGenerator

    _GENERATOR: Any = BuiltinGenerator()
except Exception:  # pragma: no cover - fallback while the generator is missing or broken
    _GENERATOR = None

DEFAULT_CHECKPOINTS = ["sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors", "svd_xt.safetensors",
                       "svd.safetensors"]
DEFAULT_LORAS = ["tower_character.safetensors"]
DEFAULT_RIFE_MODELS = ["rife47.pth", "rife49.pth"]
SAMPLERS = ["euler", "euler_ancestral", "heun", "dpm_2", "dpmpp_2m", "dpmpp_sde", "ddim", "uni_pc"]
SCHEDULERS = ["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta"]
# The model files of the shipped profiles (workflows/*.profile.json): the fake's install has them.
DEFAULT_UNETS = ["wan2.2_ti2v_5B_fp16.safetensors", "wan2.1_flf2v_720p_14B_fp16.safetensors"]
DEFAULT_TEXT_ENCODERS = ["umt5_xxl_fp8_e4m3fn_scaled.safetensors"]
DEFAULT_VAES = ["wan2.2_vae.safetensors", "wan_2.1_vae.safetensors"]
DEFAULT_CLIP_VISIONS = ["clip_vision_h.safetensors"]
# A real ComfyUI 0.3.64's /object_info (core nodes), which the fake serves (with its own model files).
OBJECT_INFO_PATH = Path(os.environ.get("TOWER_COMFYUI_OBJECT_INFO")
                        or _REPO.parent / "shared" / "comfyui" / "object_info-0.3.64.json")
PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4
MAX_SEED = 0xFFFFFFFFFFFFFFFF


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (nothing listens there until someone binds it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@functools.lru_cache(maxsize=1)
def real_object_info() -> dict[str, Any]:
    try:
        return json.loads(OBJECT_INFO_PATH.read_text())
    except OSError as exc:
        raise RuntimeError(f"the fake ComfyUI serves a real server's node schemas from {OBJECT_INFO_PATH}: {exc} "
                           "(set TOWER_COMFYUI_OBJECT_INFO to its path)") from exc


def _canonical_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _set_options(spec: list, options: list) -> None:
    """Replace a dropdown's choices in place, in whichever style the node declares it."""
    if spec and isinstance(spec[0], list):
        spec[0] = list(options)
    elif spec and spec[0] == "COMBO":
        spec[1] = {**(spec[1] if len(spec) > 1 else {}), "options": list(options)}


def _int(default: int, lo: int, hi: int, step: int = 1) -> list:
    return ["INT", {"default": default, "min": lo, "max": hi, "step": step}]


def _float(default: float, lo: float, hi: float, step: float = 0.01) -> list:
    return ["FLOAT", {"default": default, "min": lo, "max": hi, "step": step}]


class NodeInterrupted(Exception):
    pass


class NodeFailed(Exception):
    def __init__(self, exc_type: str, message: str) -> None:
        super().__init__(message)
        self.exc_type = exc_type


# -- rendering -------------------------------------------------------------------------------------------


def _gradient_frames(width: int, height: int, count: int, seed: int, init: np.ndarray | None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed & 0xFFFFFFFF)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    base = (c0 * (1 - x) + c1 * x) * (0.75 + 0.25 * y)
    if init is not None:
        init = np.asarray(Image.fromarray(init).resize((width, height)), dtype=np.float32)
    frames = []
    for i in range(count):
        img = np.roll(base, shift=i * max(1, width // 64), axis=1)
        if init is not None:
            w = max(0.0, 1.0 - i / max(1, count - 1) * 2)
            img = init * w + img * (1 - w)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def render_frames(width: int, height: int, count: int, seed: int, text: str,
                  init: np.ndarray | None) -> list[np.ndarray]:
    width, height = int(width), int(height)
    if _GENERATOR is not None and 16 <= width <= 8192 and 16 <= height <= 8192:
        try:
            if init is None:
                return [
                    _GENERATOR.generate_keyframe(
                        KeyframeRequest(prompt=text, seed=seed + i, width=width, height=height),
                        lambda *a: None, lambda: False,
                    )
                    for i in range(count)
                ]
            result = _GENERATOR.generate_segment(
                SegmentRequest(prompt=text, seed=seed, init_image=init, width=width, height=height,
                               num_frames=count, fps=8),
                lambda *a: None, lambda: False,
            )
            return list(result.frames)
        except Exception:
            pass
    return _gradient_frames(width, height, count, seed, init)


def _encode(image: np.ndarray, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kw)
    return buf.getvalue()


# -- the server ------------------------------------------------------------------------------------------


class FakeComfyUI:
    """The fake server. Runs its own asyncio loop in a background thread (start()) or in the foreground
    (serve_forever()). Behaviour attributes may be changed at any time (configure())."""

    BEHAVIOURS = (
        "job_time_s", "image_job_time_s", "job_vram_gb", "step_delay_s", "silent", "preview_method",
        "per_job_previews", "jobs_api",
        "drop_socket_at_step", "drop_socket_times", "refuse_ws", "ws_limit",
        "execution_error", "execution_error_type", "execution_error_times", "reject_prompts", "hang",
    )

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        checkpoints: list[str] | None = None,
        loras: list[str] | None = None,
        upscale_models: list[str] | None = None,
        rife_models: list[str] | None = None,
        unets: list[str] | None = None,
        text_encoders: list[str] | None = None,
        vaes: list[str] | None = None,
        clip_visions: list[str] | None = None,
        custom_nodes: bool = False,
        missing_nodes: tuple[str, ...] = (),
        devices: list[dict] | None = None,
        preview_max: int = 128,
        preview_method: str | None = "auto",
        per_job_previews: bool = False,
        jobs_api: bool = False,
        job_time_s: float | None = None,
        image_job_time_s: float | None = None,
        job_vram_gb: float = 6.0,
        step_delay_s: float = 0.0,
        silent: bool = False,
        drop_socket_at_step: int | None = None,
        drop_socket_times: int = 1,
        refuse_ws: bool = False,
        ws_limit: int | None = None,
        execution_error: str | None = None,
        execution_error_type: str = "torch.OutOfMemoryError",
        execution_error_times: int = -1,
        reject_prompts: bool = False,
        hang: bool = False,
        cache_render: bool = False,
        name: str = "fake",
    ) -> None:
        self.host, self.port, self.name = host, port, name
        self.checkpoints = list(DEFAULT_CHECKPOINTS if checkpoints is None else checkpoints)
        self.loras = list(DEFAULT_LORAS if loras is None else loras)
        self.upscale_models = list(upscale_models or [])
        self.rife_models = list(DEFAULT_RIFE_MODELS if rife_models is None else rife_models)
        self.unets = list(DEFAULT_UNETS if unets is None else unets)
        self.text_encoders = list(DEFAULT_TEXT_ENCODERS if text_encoders is None else text_encoders)
        self.vaes = list(DEFAULT_VAES if vaes is None else vaes)
        self.clip_visions = list(DEFAULT_CLIP_VISIONS if clip_visions is None else clip_visions)
        self.custom_nodes = custom_nodes
        self.missing_nodes = set(missing_nodes)
        self.devices = devices or [{
            "name": f"cuda:0 NVIDIA Fake GPU ({name})", "type": "cuda", "index": 0,
            "vram_total": 24 * 1024**3, "vram_free": 20 * 1024**3,
            "torch_vram_total": 2 * 1024**3, "torch_vram_free": 1024**3,
        }]
        self.preview_max = preview_max
        # The server's --preview-method start flag (None: started without it, so 0.3.64 sends no previews
        # whatever a job asks), and whether per-job preview_method is honoured (releases after Dec 2025).
        self.preview_method = preview_method
        self.per_job_previews = per_job_previews
        # A newer server: /api/jobs, canonical-UUID prompt ids only (0.3.64 has neither).
        self.jobs_api = jobs_api
        self.job_time_s = job_time_s
        self.image_job_time_s = image_job_time_s
        self.job_vram_gb = job_vram_gb  # GPU memory a running job holds (/system_stats shows it)
        self.step_delay_s = step_delay_s
        self.silent = silent
        self.drop_socket_at_step = drop_socket_at_step
        self.drop_socket_times = drop_socket_times
        self.refuse_ws = refuse_ws
        self.ws_limit = ws_limit
        self.execution_error = execution_error
        self.execution_error_type = execution_error_type
        self.execution_error_times = execution_error_times
        self.reject_prompts = reject_prompts
        self.hang = hang
        # Benchmarks: render and encode frames once per (width, height, count) and reuse them, so that the
        # fake's own CPU work stays far inside the fixed job time.
        self.cache_render = cache_render
        self._frame_cache: dict[tuple, list[np.ndarray]] = {}
        self._png_cache: dict[int, bytes] = {}

        self.root: Path | None = None  # a temporary folder, made when the server starts
        self.dirs: dict[str, Path] = {}
        self.stats: dict[str, Any] = {"prompts": 0, "rejected": 0, "interrupts": [], "queue_deletes": [],
                                      "history_deletes": [], "uploads": [], "ws_connects": 0, "completed": [],
                                      "failed": [], "prompt_ids": [], "events": [], "job_requests": 0,
                                      "history_requests": 0}
        self.received: list[dict] = []  # every accepted workflow, for tests to inspect
        self._reset_memory()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._counter = 0

    def _reset_memory(self) -> None:
        self.pending: list[list] = []  # [number, prompt_id, prompt, extra_data, outputs]
        self.running: list | None = None
        self.history: dict[str, dict] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.socket_features: dict[str, dict] = {}
        self.number = 0
        self.last_node: str | None = None
        self.running_client: str | None = None
        self.interrupt_flag = False
        self._wakeup: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def configure(self, **kw: Any) -> None:
        for key, value in kw.items():
            if key not in self.BEHAVIOURS:
                raise ValueError(f"unknown behaviour {key!r}")
            setattr(self, key, value)

    def start(self) -> FakeComfyUI:
        """Serve in a background thread; returns once the port is listening."""
        if self.port == 0:
            self.port = free_port(self.host)
        self._ready.clear()
        self._thread = threading.Thread(target=self._thread_main, name=f"fake-comfyui-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake ComfyUI did not start")
        return self

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
            self._ready.set()
            loop.run_forever()
        finally:
            # as asyncio.run ends: what is still pending (a shutdown that outlived stop()'s wait) is cancelled and
            # run to its end here, not destroyed pending when the loop is collected
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _ensure_dirs(self) -> None:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="fake-comfyui-"))
            self.dirs = {t: self.root / t for t in ("input", "output", "temp")}
            for d in self.dirs.values():
                d.mkdir(parents=True, exist_ok=True)

    def remove_files(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root, self.dirs = None, {}

    async def _serve(self) -> None:
        self._ensure_dirs()
        self._reset_memory()
        self._wakeup = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024**2)
        self._add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._worker = asyncio.ensure_future(self._work())

    async def _shutdown(self, abort: bool) -> None:
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # not GeneratorExit: the coroutine must close
            await self._worker
        for ws in list(self.sockets.values()):
            if abort:
                _abort(ws)
            else:
                with contextlib.suppress(Exception):
                    await ws.close(code=1001, message=b"Server shutdown")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _call(self, coro_fn: Callable[[], Any], timeout: float = 10) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(timeout)

    def stop(self, *, abort: bool = False, remove_files: bool = True) -> None:
        if self._loop is None or self._thread is None:
            if remove_files:
                self.remove_files()
            return
        with contextlib.suppress(Exception):
            self._call(lambda: self._shutdown(abort))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None
        self._thread = None
        if remove_files:
            self.remove_files()

    def kill(self) -> None:
        """Die like a killed process: sockets reset, the port refuses connections, memory lost."""
        self.stop(abort=True, remove_files=False)

    def restart(self) -> None:
        """Come back on the same port with an empty queue and history (a restarted ComfyUI)."""
        self.kill()
        self.start()

    def __enter__(self) -> FakeComfyUI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._serve())
        print(f"fake ComfyUI listening on {self.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            loop.run_forever()

    # -- object_info -------------------------------------------------------------------------------------

    def input_files(self) -> list[str]:
        base = self.dirs.get("input")
        if base is None:
            return []
        return sorted(str(p.relative_to(base)).replace(os.sep, "/") for p in base.rglob("*") if p.is_file())

    def object_info(self) -> dict[str, Any]:
        """A real ComfyUI 0.3.64's node schemas (../shared/comfyui/object_info-0.3.64.json), with this fake's
        model files in the model dropdowns (kept in the style each node uses), its input files in LoadImage,
        the custom `RIFE VFI` node when `custom_nodes`, and without `missing_nodes`."""
        info = dict(real_object_info())
        files = {
            ("CheckpointLoaderSimple", "ckpt_name"): self.checkpoints,
            ("ImageOnlyCheckpointLoader", "ckpt_name"): self.checkpoints,
            ("LoraLoader", "lora_name"): self.loras,
            ("LoraLoaderModelOnly", "lora_name"): self.loras,
            ("UNETLoader", "unet_name"): self.unets,
            ("CLIPLoader", "clip_name"): self.text_encoders,
            ("VAELoader", "vae_name"): self.vaes,
            ("CLIPVisionLoader", "clip_name"): self.clip_visions,
            ("UpscaleModelLoader", "model_name"): self.upscale_models,
            ("LoadImage", "image"): self.input_files(),
        }
        for (cls, name), options in files.items():
            if cls in info:
                entry = copy.deepcopy(info[cls])
                _set_options(entry["input"]["required"][name], options)
                info[cls] = entry
        if self.custom_nodes:
            required = {
                "ckpt_name": ["COMBO", {"options": self.rife_models, "default": "rife47.pth"}],
                "frames": ["IMAGE"],
                "clear_cache_after_n_frames": _int(10, 1, 1000),
                "multiplier": _int(2, 1, 64),
                "fast_mode": ["BOOLEAN", {"default": True}],
                "ensemble": ["BOOLEAN", {"default": True}],
                "scale_factor": [[0.25, 0.5, 1.0, 2.0, 4.0], {"default": 1.0}],
                "dtype": [["float32", "float16"], {"default": "float32"}],
                "torch_compile": ["BOOLEAN", {"default": False}],
                "batch_size": _int(1, 1, 64),
            }
            inputs = {"required": required, "optional": {"optional_interpolation_states": ["INTERPOLATION_STATES"]}}
            info["RIFE VFI"] = {
                "input": inputs, "input_order": {k: list(v) for k, v in inputs.items()}, "output": ["IMAGE"],
                "output_is_list": [False], "output_name": ["IMAGE"], "name": "RIFE VFI", "display_name": "RIFE VFI",
                "description": "", "python_module": "custom_nodes.fake", "category": "fake", "output_node": False,
            }
        return {k: v for k, v in info.items() if k not in self.missing_nodes}

    def node_classes(self) -> dict[str, dict]:
        """What validation needs of each node class: its inputs, outputs and whether it is an output node."""
        return {name: {"required": entry["input"].get("required") or {},
                       "optional": entry["input"].get("optional") or {},
                       "output": entry["output"], "output_node": bool(entry.get("output_node"))}
                for name, entry in self.object_info().items()}

    # -- validation (execution.validate_prompt) ----------------------------------------------------------

    def validate(self, prompt: Any) -> tuple[bool, dict | None, list[str], dict]:
        if not isinstance(prompt, dict):
            return False, _err("invalid_prompt", "Prompt is not a dictionary"), [], {}
        classes = self.node_classes()
        outputs = []
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return False, _err("invalid_prompt", "Cannot execute because a node is missing the class_type "
                                   "property.", f"Node ID '#{node_id}'"), [], {}
            cls = node["class_type"]
            if cls not in classes:
                return False, _err("invalid_prompt", f"Cannot execute because node {cls} does not exist.",
                                   f"Node ID '#{node_id}'"), [], {}
            if classes[cls].get("output_node"):
                outputs.append(node_id)
        if not outputs:
            return False, _err("prompt_no_outputs", "Prompt has no outputs"), [], {}
        node_errors: dict[str, dict] = {}
        good: list[str] = []
        seen: dict[str, list] = {}

        def check(node_id: str) -> bool:
            if node_id in seen:
                return not seen[node_id]
            seen[node_id] = []
            node = prompt[node_id]
            spec = classes[node["class_type"]]
            req, opt = spec.get("required", {}), spec.get("optional", {})
            inputs = node.get("inputs") or {}
            errors: list[dict] = []
            ok = True
            for name, cfg in list(req.items()) + list(opt.items()):
                if name not in inputs:
                    if name in req:
                        errors.append({"type": "required_input_missing", "message": "Required input is missing",
                                       "details": name, "extra_info": {"input_name": name}})
                    continue
                val = inputs[name]
                if isinstance(val, list) and len(val) == 2 and isinstance(val[0], str):
                    if val[0] not in prompt:
                        errors.append({"type": "bad_linked_input", "message": "Bad linked input, must be a "
                                       "length-2 list of [string, int]", "details": name,
                                       "extra_info": {"input_name": name, "received_value": val}})
                        continue
                    src_out = classes[prompt[val[0]]["class_type"]]["output"]
                    if val[1] >= len(src_out) or (src_out[val[1]] != cfg[0] and cfg[0] != "*"):
                        errors.append({"type": "return_type_mismatch", "message": "Return type mismatch between "
                                       "linked nodes", "details": f"{name}, received_type() mismatch input_type"
                                       f"({cfg[0]})", "extra_info": {"input_name": name}})
                        continue
                    if not check(val[0]):
                        ok = False
                    continue
                options = cfg[0] if isinstance(cfg[0], list) else (
                    cfg[1].get("options") if cfg[0] == "COMBO" else None)
                if options is not None:
                    if val not in options:
                        errors.append({"type": "value_not_in_list", "message": "Value not in list",
                                       "details": f"{name}: '{val}' not in {options}",
                                       "extra_info": {"input_name": name, "input_config": cfg,
                                                      "received_value": val}})
                elif cfg[0] in ("INT", "FLOAT"):
                    bounds = cfg[1] if len(cfg) > 1 else {}
                    if not isinstance(val, (int, float)) or isinstance(val, bool):
                        errors.append({"type": "invalid_input_type", "message": "Failed to convert an input value "
                                       f"to a {cfg[0]} value", "details": f"{name}, {val}",
                                       "extra_info": {"input_name": name, "received_value": val}})
                    elif "min" in bounds and val < bounds["min"]:
                        errors.append({"type": "value_smaller_than_min", "message": "Value {} smaller than min of "
                                       "{}".format(val, bounds["min"]), "details": name,
                                       "extra_info": {"input_name": name, "received_value": val}})
                    elif "max" in bounds and val > bounds["max"]:
                        errors.append({"type": "value_bigger_than_max", "message": "Value {} bigger than max of "
                                       "{}".format(val, bounds["max"]), "details": name,
                                       "extra_info": {"input_name": name, "received_value": val}})
            seen[node_id] = errors
            return ok and not errors

        for out in outputs:
            if check(out):
                good.append(out)
            else:
                for node_id, errors in seen.items():
                    if errors:
                        entry = node_errors.setdefault(node_id, {"errors": errors, "dependent_outputs": [],
                                                                 "class_type": prompt[node_id]["class_type"]})
                        entry["dependent_outputs"].append(out)
        if not good:
            details = "\n".join(f"{e['message']}: {e['details']}" for v in node_errors.values() for e in v["errors"])
            return False, _err("prompt_outputs_failed_validation", "Prompt outputs failed validation", details), \
                [], node_errors
        return True, None, good, node_errors

    # -- sending -----------------------------------------------------------------------------------------

    async def send_json(self, event: str, data: dict, sid: str | None) -> None:
        if self.silent:
            return
        message = json.dumps({"type": event, "data": data})
        targets = [self.sockets.get(sid)] if sid else list(self.sockets.values())
        for ws in targets:
            if ws is not None and not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.send_str(message)

    async def send_bytes(self, data: bytes, sid: str | None) -> None:
        if self.silent:
            return
        targets = [self.sockets.get(sid)] if sid else list(self.sockets.values())
        for ws in targets:
            if ws is not None and not ws.closed:
                with contextlib.suppress(Exception):
                    await ws.send_bytes(data)

    def queue_info(self) -> dict:
        return {"exec_info": {"queue_remaining": len(self.pending) + (1 if self.running else 0)}}

    async def queue_updated(self) -> None:
        await self.send_json("status", {"status": self.queue_info()}, None)

    # -- routes ------------------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        routes = [
            ("GET", "/ws", self.h_ws),
            ("GET", "/system_stats", self.h_system_stats),
            ("GET", "/object_info", self.h_object_info),
            ("GET", "/object_info/{node_class}", self.h_object_info_node),
            ("GET", "/prompt", self.h_get_prompt),
            ("POST", "/prompt", self.h_post_prompt),
            ("GET", "/queue", self.h_get_queue),
            ("POST", "/queue", self.h_post_queue),
            ("POST", "/interrupt", self.h_interrupt),
            ("POST", "/free", self.h_free),
            ("GET", "/history", self.h_get_history),
            ("GET", "/history/{prompt_id}", self.h_get_history_id),
            ("GET", "/api/jobs", self.h_jobs),
            ("GET", "/api/jobs/{prompt_id}", self.h_job),
            ("POST", "/history", self.h_post_history),
            ("GET", "/view", self.h_view),
            ("POST", "/upload/image", self.h_upload),
            ("POST", "/fake/control", self.h_control),
            ("GET", "/fake/state", self.h_state),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, "/api" + path, handler)
            app.router.add_route(method, path, handler)

    async def h_ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_ws or (self.ws_limit is not None and self.stats["ws_connects"] >= self.ws_limit):
            return web.Response(status=503, text="websocket refused (fake)")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.rel_url.query.get("clientId", "") or uuid.uuid4().hex
        old = self.sockets.pop(sid, None)
        if old is not None and old is not ws:
            pass  # the real server just forgets the old socket under that id
        self.sockets[sid] = ws
        self.stats["ws_connects"] += 1
        try:
            await self.send_json("status", {"status": self.queue_info(), "sid": sid}, sid)
            if self.running_client == sid and self.last_node is not None:
                await self.send_json("executing", {"node": self.last_node, "display_node": self.last_node,
                                                   "prompt_id": self.running[1] if self.running else None}, sid)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    with contextlib.suppress(ValueError, AttributeError):
                        data = json.loads(msg.data)
                        if data.get("type") == "feature_flags":
                            self.socket_features[sid] = dict(data.get("data") or {})
        finally:
            if self.sockets.get(sid) is ws:
                self.sockets.pop(sid, None)
        return ws

    async def h_system_stats(self, request: web.Request) -> web.Response:
        return web.json_response({
            "system": {"os": "posix", "ram_total": 64 * 1024**3, "ram_free": 48 * 1024**3,
                       "comfyui_version": "0.3.64-fake", "python_version": sys.version,
                       "pytorch_version": "2.8.0+fake", "embedded_python": False, "argv": ["main.py"]},
            "devices": copy.deepcopy(self.devices),
        })

    async def h_object_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.object_info())

    async def h_object_info_node(self, request: web.Request) -> web.Response:
        info = self.object_info()
        name = request.match_info["node_class"]
        return web.json_response({name: info[name]} if name in info else {})

    async def h_get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response(self.queue_info())

    async def h_post_prompt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
        self.stats["prompts"] += 1
        if "prompt" not in body:
            return web.json_response({"error": _err("no_prompt", "No prompt provided", "No prompt provided"),
                                      "node_errors": {}}, status=400)
        prompt = body["prompt"]
        if self.jobs_api and body.get("prompt_id") is not None and not _canonical_uuid(body["prompt_id"]):
            # newer servers (the jobs API's releases) accept only canonical lowercase UUIDs as prompt ids
            return web.json_response({"error": _err("invalid_prompt_id", "Invalid prompt_id format",
                                                    "prompt_id must be a canonical lowercase UUID"),
                                      "node_errors": {}}, status=400)
        valid, error, outputs, node_errors = self.validate(prompt)
        if valid and self.reject_prompts:
            valid, error, node_errors = False, *self._forced_rejection(prompt)
        if not valid:
            self.stats["rejected"] += 1
            return web.json_response({"error": error, "node_errors": node_errors}, status=400)
        number = float(body["number"]) if "number" in body else self.number
        self.number += 1
        extra = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        self.stats["prompt_ids"].append(prompt_id)
        self.stats["events"].append(("prompt", sorted({n["class_type"] for n in prompt.values()})))
        self.received.append(copy.deepcopy(prompt))
        self.pending.append([number, prompt_id, prompt, extra, outputs])
        self.pending.sort(key=lambda item: item[0])
        assert self._wakeup is not None
        self._wakeup.set()
        await self.queue_updated()
        return web.json_response({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    def _forced_rejection(self, prompt: dict) -> tuple[dict, dict]:
        for node_id, node in prompt.items():
            for name in ("ckpt_name", "lora_name", "model_name"):
                if name in node.get("inputs", {}):
                    val = node["inputs"][name]
                    err = {"type": "value_not_in_list", "message": "Value not in list",
                           "details": f"{name}: '{val}' not in []",
                           "extra_info": {"input_name": name, "input_config": [[]], "received_value": val}}
                    return (_err("prompt_outputs_failed_validation", "Prompt outputs failed validation",
                                 f"Value not in list: {name}: '{val}' not in []"),
                            {node_id: {"errors": [err], "dependent_outputs": [],
                                       "class_type": node["class_type"]}})
        return _err("prompt_outputs_failed_validation", "Prompt outputs failed validation"), {}

    async def h_get_queue(self, request: web.Request) -> web.Response:
        return web.json_response({"queue_running": [self.running] if self.running else [],
                                  "queue_pending": copy.deepcopy(self.pending)})

    async def h_post_queue(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clear"):
            self.pending = []
        for prompt_id in body.get("delete") or []:
            self.stats["queue_deletes"].append(prompt_id)
            self.pending = [item for item in self.pending if item[1] != prompt_id]
        await self.queue_updated()
        return web.Response(status=200)

    async def h_free(self, request: web.Request) -> web.Response:
        """Like ComfyUI's: it only sets flags, applied between jobs; recorded in `events` for ordering tests."""
        body = await request.json()
        self.stats["events"].append(("free", bool(body.get("unload_models")), bool(body.get("free_memory"))))
        return web.Response(status=200)

    async def h_interrupt(self, request: web.Request) -> web.Response:
        body: dict = {}
        with contextlib.suppress(Exception):
            body = await request.json()
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        self.stats["interrupts"].append(prompt_id)
        if self.running and (prompt_id is None or prompt_id == self.running[1]):
            self.interrupt_flag = True
        return web.Response(status=200)

    def _job(self, prompt_id: str) -> dict | None:
        """A job as newer servers' /api/jobs/{id} shows it (comfy_execution/jobs.py): status pending,
        in_progress, completed or failed; outputs and execution_status once it is history."""
        if prompt_id in self.history:
            entry = self.history[prompt_id]
            failed = entry["status"]["status_str"] == "error"
            return {"id": prompt_id, "status": "failed" if failed else "completed", "outputs": entry["outputs"],
                    "execution_status": entry["status"]}
        if self.running and self.running[1] == prompt_id:
            return {"id": prompt_id, "status": "in_progress", "outputs_count": 0}
        if any(item[1] == prompt_id for item in self.pending):
            return {"id": prompt_id, "status": "pending", "outputs_count": 0}
        return None

    async def h_jobs(self, request: web.Request) -> web.Response:
        if not self.jobs_api:
            return web.Response(status=404, text="404: Not Found")
        self.stats["job_requests"] += 1
        ids = [*([self.running[1]] if self.running else []), *(i[1] for i in self.pending), *self.history]
        jobs = [job for job in (self._job(i) for i in ids) if job]
        return web.json_response({"jobs": jobs, "pagination": {"offset": 0, "limit": None, "total": len(jobs),
                                                                "has_more": False}})

    async def h_job(self, request: web.Request) -> web.Response:
        if not self.jobs_api:
            return web.Response(status=404, text="404: Not Found")
        self.stats["job_requests"] += 1
        job = self._job(request.match_info["prompt_id"])
        if job is None:
            return web.json_response({"error": "Job not found"}, status=404)
        return web.json_response(job)

    async def h_get_history(self, request: web.Request) -> web.Response:
        max_items = request.rel_url.query.get("max_items")
        items = list(self.history.items())
        if max_items is not None:
            items = items[-int(max_items):]
        return web.json_response(dict(items))

    async def h_get_history_id(self, request: web.Request) -> web.Response:
        self.stats["history_requests"] += 1
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry is not None else {})

    async def h_post_history(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clear"):
            self.history.clear()
        for prompt_id in body.get("delete") or []:
            self.stats["history_deletes"].append(prompt_id)
            self.history.pop(prompt_id, None)
        return web.Response(status=200)

    def _safe_dir(self, kind: str | None, subfolder: str) -> Path | None:
        base = self.dirs.get(kind or "output")
        if base is None:
            return None
        target = (base / os.path.normpath(subfolder)).resolve() if subfolder else base.resolve()
        if os.path.commonpath((str(base.resolve()), str(target))) != str(base.resolve()):
            return None
        return target

    async def h_view(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        filename = query.get("filename", "")
        if not filename or filename[0] == "/" or ".." in filename:
            return web.Response(status=400)
        folder = self._safe_dir(query.get("type", "output"), query.get("subfolder", ""))
        if folder is None:
            return web.Response(status=403)
        path = folder / os.path.basename(filename)
        if not path.is_file():
            return web.Response(status=404)
        return web.Response(body=path.read_bytes(), content_type="image/png",
                            headers={"Content-Disposition": f'filename="{path.name}"'})

    async def h_upload(self, request: web.Request) -> web.Response:
        post = await request.post()
        image = post.get("image")
        if image is None or not getattr(image, "filename", None):
            return web.Response(status=400)
        subfolder = str(post.get("subfolder", "") or "")
        folder = self._safe_dir(str(post.get("type", "input") or "input"), subfolder)
        if folder is None:
            return web.Response(status=400)
        folder.mkdir(parents=True, exist_ok=True)
        name = os.path.basename(image.filename)
        target = folder / name
        if target.exists() and str(post.get("overwrite", "")) not in ("true", "1"):
            stem, ext = os.path.splitext(name)
            i = 1
            while target.exists():
                name = f"{stem} ({i}){ext}"
                target = folder / name
                i += 1
        target.write_bytes(image.file.read())
        self.stats["uploads"].append(f"{subfolder}/{name}" if subfolder else name)
        return web.json_response({"name": name, "subfolder": subfolder, "type": str(post.get("type", "input"))})

    async def h_control(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.configure(**body)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({k: getattr(self, k) for k in self.BEHAVIOURS})

    async def h_state(self, request: web.Request) -> web.Response:
        return web.json_response({"stats": self.stats, "pending": len(self.pending),
                                  "running": self.running[1] if self.running else None,
                                  "history": list(self.history),
                                  "behaviour": {k: getattr(self, k) for k in self.BEHAVIOURS}})

    # -- execution (main.prompt_worker + execution.PromptExecutor) --------------------------------------

    async def _work(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self.pending or self.hang:
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), 0.2)
                continue
            item = self.pending.pop(0)
            self.running = item
            self.interrupt_flag = False
            await self.queue_updated()
            used = int(self.job_vram_gb * 1024**3)
            for device in self.devices:  # a job holds GPU memory while it runs (what /system_stats shows)
                device["vram_free"] = max(0, device["vram_free"] - used)
            try:
                await self._execute(item)
            finally:
                for device in self.devices:
                    device["vram_free"] = min(device["vram_total"], device["vram_free"] + used)
                self.running = None
                self.running_client = None
                self.last_node = None
            await self.queue_updated()
            await self.send_json("executing", {"node": None, "prompt_id": item[1]}, item[3].get("client_id"))

    def _order(self, prompt: dict, outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(node_id: str) -> None:
            if node_id in order:
                return
            for val in prompt[node_id].get("inputs", {}).values():
                if isinstance(val, list) and len(val) == 2 and isinstance(val[0], str) and val[0] in prompt:
                    visit(val[0])
            order.append(node_id)

        for out in outputs:
            visit(out)
        return order

    async def _execute(self, item: list) -> None:
        number, prompt_id, prompt, extra, outputs = item
        sid = extra.get("client_id")
        self.running_client = sid
        job_time_s = self.job_time_s
        if self.image_job_time_s is not None and any(
                isinstance(node, dict) and node.get("class_type") == "EmptyLatentImage" for node in prompt.values()):
            job_time_s = self.image_job_time_s
        t_end = time.monotonic() + job_time_s if job_time_s else None
        messages: list[list] = []

        async def event(name: str, data: dict, keep: bool = True) -> None:
            if keep:
                messages.append([name, data])
            await self.send_json(name, data, sid)

        ts = _now_ms()
        await event("execution_start", {"prompt_id": prompt_id, "timestamp": ts})
        await event("execution_cached", {"nodes": [], "prompt_id": prompt_id, "timestamp": ts})
        order = self._order(prompt, outputs)
        values: dict[str, tuple] = {}
        ui_outputs: dict[str, dict] = {}
        meta: dict[str, dict] = {}
        status = "success"
        executed: list[str] = []
        for node_id in order:
            node = prompt[node_id]
            cls = node["class_type"]
            self.last_node = node_id
            await self.send_json("progress_state", {"prompt_id": prompt_id, "nodes": {node_id: {
                "value": 0, "max": 1, "state": "running", "node_id": node_id, "prompt_id": prompt_id,
                "display_node_id": node_id, "parent_node_id": None, "real_node_id": node_id}}}, sid)
            await self.send_json("executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id},
                                 sid)
            inputs = {k: (values[v[0]][v[1]] if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
                          and v[0] in values else v) for k, v in node.get("inputs", {}).items()}
            try:
                result, ui = await self._run_node(node_id, cls, inputs, prompt, extra, t_end, len(order))
            except NodeInterrupted:
                status = "interrupted"
                await event("execution_interrupted", {"prompt_id": prompt_id, "node_id": node_id, "node_type": cls,
                                                      "executed": executed, "timestamp": _now_ms()})
                break
            except NodeFailed as exc:
                status = "error"
                await event("execution_error", {
                    "prompt_id": prompt_id, "node_id": node_id, "node_type": cls, "executed": executed,
                    "exception_message": str(exc), "exception_type": exc.exc_type,
                    "traceback": ["  File \"fake.py\", line 1, in execute\n"], "current_inputs": {},
                    "current_outputs": {}, "timestamp": _now_ms()})
                break
            except Exception as exc:  # a bug in a fake node is an execution error like any other
                status = "error"
                await event("execution_error", {
                    "prompt_id": prompt_id, "node_id": node_id, "node_type": cls, "executed": executed,
                    "exception_message": f"{exc}", "exception_type": type(exc).__name__,
                    "traceback": [], "current_inputs": {}, "current_outputs": {}, "timestamp": _now_ms()})
                break
            values[node_id] = result
            executed.append(node_id)
            meta[node_id] = {"node_id": node_id, "display_node": node_id, "parent_node": None,
                             "real_node_id": node_id}
            if ui is not None:
                ui_outputs[node_id] = ui
                await self.send_json("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                                  "prompt_id": prompt_id}, sid)
        if status == "success":
            if t_end is not None:
                await asyncio.sleep(max(0.0, t_end - time.monotonic()))
            await event("execution_success", {"prompt_id": prompt_id, "timestamp": _now_ms()})
            self.stats["completed"].append(prompt_id)
        else:
            self.stats["failed"].append(prompt_id)
        self.history[prompt_id] = {
            "prompt": item,
            "outputs": ui_outputs if status == "success" else {},
            "status": {"status_str": "success" if status == "success" else "error",
                       "completed": status == "success", "messages": messages},
            "meta": meta,
        }

    async def _run_node(self, node_id: str, cls: str, inp: dict, prompt: dict, extra: dict,
                        t_end: float | None, n_nodes: int) -> tuple[tuple, dict | None]:
        loop = asyncio.get_running_loop()
        if cls == "CheckpointLoaderSimple":
            return ("MODEL", "CLIP", "VAE"), None
        if cls == "ImageOnlyCheckpointLoader":
            return ("MODEL", "CLIP_VISION", "VAE"), None
        if cls == "LoraLoader":
            return (inp["model"], inp["clip"]), None
        if cls == "LoraLoaderModelOnly":
            return (inp["model"],), None
        if cls == "CLIPTextEncode":
            return ({"text": str(inp.get("text", ""))},), None
        if cls == "EmptyLatentImage":
            return ({"w": inp["width"], "h": inp["height"], "n": inp["batch_size"], "init": None},), None
        if cls == "LoadImage":
            path = self._safe_dir("input", os.path.dirname(inp["image"]))
            file = (path / os.path.basename(inp["image"])) if path else None
            if file is None or not file.is_file():
                raise NodeFailed("FileNotFoundError", f"[Errno 2] No such file or directory: {inp['image']!r}")
            with Image.open(file) as img:
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
            return ([arr], None), None
        if cls == "SVD_img2vid_Conditioning":
            latent = {"w": inp["width"], "h": inp["height"], "n": inp["video_frames"], "init": inp["init_image"][0]}
            return ({"svd": True}, {"svd": True}, latent), None
        if cls == "VideoLinearCFGGuidance":
            return (inp["model"],), None
        if cls in ("UNETLoader", "CLIPLoader", "VAELoader", "CLIPVisionLoader"):
            return ({"UNETLoader": "MODEL", "CLIPLoader": "CLIP", "VAELoader": "VAE",
                     "CLIPVisionLoader": "CLIP_VISION"}[cls],), None
        if cls == "ModelSamplingSD3":
            return (inp["model"],), None
        if cls == "CLIPVisionEncode":
            return ({"clip_vision_output": True},), None
        if cls in ("Wan22ImageToVideoLatent", "WanFirstLastFrameToVideo"):
            # length steps by 4: a real server makes ((length - 1) // 4) * 4 + 1 frames (nodes_wan.py)
            frames = ((int(inp["length"]) - 1) // 4) * 4 + 1
            start = inp.get("start_image")
            latent = {"w": inp["width"], "h": inp["height"], "n": frames, "init": start[0] if start else None}
            if cls == "Wan22ImageToVideoLatent":
                return (latent,), None
            return (inp["positive"], inp["negative"], latent), None
        if cls == "KSampler":
            return (await self._sample(node_id, inp, extra, t_end),), None
        if cls == "VAEDecode":
            lat = inp["samples"]
            key = (int(lat["w"]), int(lat["h"]), int(lat["n"]))
            if self.cache_render and key in self._frame_cache:
                if t_end is not None:
                    await asyncio.sleep(max(0.0, t_end - time.monotonic()))
                return (self._frame_cache[key],), None
            frames = await loop.run_in_executor(None, render_frames, lat["w"], lat["h"], lat["n"], lat["seed"],
                                                lat.get("text", ""), lat.get("init"))
            if self.cache_render:
                self._frame_cache[key] = frames
            if t_end is not None:  # a fixed job time: sampling and decoding take it; saving comes last
                await asyncio.sleep(max(0.0, t_end - time.monotonic()))
            return (frames,), None
        if cls == "RIFE VFI":
            return (await loop.run_in_executor(None, _interpolate, inp["frames"], int(inp["multiplier"])),), None
        if cls == "UpscaleModelLoader":
            name = str(inp["model_name"]).lower()
            return ({"scale": 4 if ("4x" in name or "x4" in name) else 2},), None
        if cls == "ImageUpscaleWithModel":
            s = inp["upscale_model"]["scale"]
            return ([np.repeat(np.repeat(f, s, axis=0), s, axis=1) for f in inp["image"]],), None
        if cls == "ImageScale":
            size = (int(inp["width"]), int(inp["height"]))
            frames = await loop.run_in_executor(
                None, lambda: [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.LANCZOS))
                               for f in inp["image"]])
            return (frames,), None
        if cls in ("SaveImage", "PreviewImage"):
            kind = "output" if cls == "SaveImage" else "temp"
            prefix = str(inp.get("filename_prefix", "ComfyUI")) if cls == "SaveImage" else "ComfyUI_temp"
            images = await loop.run_in_executor(None, self._save, inp["images"], prefix, kind)
            return (), {"images": images}
        raise NodeFailed("NotImplementedError", f"the fake cannot run {cls}")

    async def _sample(self, node_id: str, inp: dict, extra: dict, t_end: float | None) -> dict:
        prompt_id = self.running[1] if self.running else ""
        sid = extra.get("client_id")
        steps = int(inp["steps"])
        latent = dict(inp["latent_image"])
        latent["seed"] = int(inp["seed"])
        pos = inp.get("positive")
        latent["text"] = pos.get("text", "") if isinstance(pos, dict) else ""
        # with a fixed job time, sampling takes 60 % of it (VAEDecode pads to the end)
        delay = max(0.0, (t_end - time.monotonic()) * 0.6) / max(1, steps) if t_end else self.step_delay_s
        # ComfyUI 0.3.64 sends previews only when started with --preview-method (per-job preview_method came
        # with a later release: `per_job_previews`), and each step's preview BEFORE that step's progress.
        asked = extra.get("preview_method", "none") not in ("none", None, "")
        preview = self.preview_method not in (None, "", "none") or (self.per_job_previews and asked)
        for step in range(1, steps + 1):
            if self.interrupt_flag:
                self.interrupt_flag = False
                raise NodeInterrupted()
            if step == max(1, steps // 2) and self.execution_error and self.execution_error_times != 0:
                if self.execution_error_times > 0:
                    self.execution_error_times -= 1
                raise NodeFailed(self.execution_error_type, self.execution_error)
            await asyncio.sleep(delay)
            # A real server's order per step (comfy_execution/progress.py, then main.py's hook): progress_state,
            # the preview image, then the classic progress message.
            await self.send_json("progress_state", {"prompt_id": prompt_id, "nodes": {node_id: {
                "value": step, "max": steps, "state": "running", "node_id": node_id, "prompt_id": prompt_id,
                "display_node_id": node_id, "parent_node_id": None, "real_node_id": node_id}}}, sid)
            if preview and not self.silent:
                await self.send_bytes(self._preview(latent, step, steps, prompt_id, node_id, sid), sid)
            await self.send_json("progress", {"value": step, "max": steps, "prompt_id": prompt_id,
                                              "node": node_id}, sid)
            if self.drop_socket_at_step == step and self.drop_socket_times != 0:
                self.drop_socket_times -= 1
                ws = self.sockets.get(sid) if sid else None
                if ws is not None:
                    _abort(ws)
        if self.interrupt_flag:
            self.interrupt_flag = False
            raise NodeInterrupted()
        return latent

    def _preview(self, latent: dict, step: int, steps: int, prompt_id: str, node_id: str,
                 sid: str | None) -> bytes:
        w, h = int(latent["w"]), int(latent["h"])
        scale = min(1.0, self.preview_max / max(w, h))
        pw, ph = max(8, int(w * scale)), max(8, int(h * scale))
        rng = np.random.default_rng((latent["seed"] + step) & 0xFFFFFFFF)
        noise = rng.integers(0, 256, (ph, pw, 3)).astype(np.float32)
        base = _gradient_frames(pw, ph, 1, latent["seed"], None)[0].astype(np.float32)
        t = step / steps
        img = np.clip(base * t + noise * (1 - t), 0, 255).astype(np.uint8)
        jpeg = _encode(img, "JPEG", quality=80)
        if sid and self.socket_features.get(sid, {}).get("supports_preview_metadata"):
            meta = json.dumps({"node_id": node_id, "display_node_id": node_id, "parent_node_id": None,
                               "real_node_id": node_id, "prompt_id": prompt_id, "image_type": "image/jpeg"})
            raw = meta.encode()
            return struct.pack(">I", PREVIEW_IMAGE_WITH_METADATA) + struct.pack(">I", len(raw)) + raw + jpeg
        return struct.pack(">I", PREVIEW_IMAGE) + struct.pack(">I", 1) + jpeg

    def _save(self, frames: list[np.ndarray], prefix: str, kind: str) -> list[dict]:
        subfolder, base = os.path.split(os.path.normpath(prefix))
        folder = self._safe_dir(kind, subfolder)
        if folder is None:
            raise NodeFailed("Exception", "Saving image outside the output folder is not allowed.")
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for frame in frames:
            self._counter += 1
            name = f"{base}_{self._counter:05}_.png"
            data = self._png_cache.get(id(frame)) if self.cache_render else None
            if data is None:
                data = _encode(np.ascontiguousarray(frame), "PNG", compress_level=4)  # as SaveImage does
                if self.cache_render:
                    self._png_cache[id(frame)] = data
            (folder / name).write_bytes(data)
            out.append({"filename": name, "subfolder": subfolder, "type": kind})
        return out


def _interpolate(frames: list[np.ndarray], multiplier: int) -> list[np.ndarray]:
    if multiplier <= 1 or len(frames) < 2:
        return list(frames)
    out = []
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        af, bf = a.astype(np.float32), b.astype(np.float32)
        for k in range(multiplier):
            t = k / multiplier
            out.append((af * (1 - t) + bf * t).astype(np.uint8))
    out.append(frames[-1])
    return out


def _abort(ws: web.WebSocketResponse) -> None:
    """Drop a socket like a dead process or a broken network would: no close frame."""
    with contextlib.suppress(Exception):
        transport = ws._req.transport if ws._req is not None else None  # type: ignore[attr-defined]
        if transport is not None:
            transport.abort()


def _err(kind: str, message: str, details: str = "") -> dict:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeProcess:
    """The fake server in a child process (`python tests/fake_comfyui.py`): killable for real, and its CPU
    work does not share Tower's GIL (the benchmark uses this)."""

    def __init__(self, *args: str, port: int | None = None) -> None:
        import subprocess

        if port is None:
            port = free_port()
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", str(port), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake ComfyUI exited with {self.proc.returncode}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("fake ComfyUI process did not start")

    def control(self, **behaviour: Any) -> dict:
        import requests

        return requests.post(self.url + "/fake/control", json=behaviour, timeout=5).json()

    def state(self) -> dict:
        import requests

        return requests.get(self.url + "/fake/state", timeout=5).json()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.kill()

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake ComfyUI server (protocol-faithful, renders frames).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--job-time", type=float, default=None, help="every job takes this many seconds")
    parser.add_argument("--image-job-time", type=float, default=None,
                        help="a still's (txt2img) job takes this many seconds instead of --job-time")
    parser.add_argument("--step-delay", type=float, default=0.02, help="seconds per sampler step otherwise")
    parser.add_argument("--custom-nodes", action="store_true", help="also offer 'RIFE VFI'")
    parser.add_argument("--preview-method", default="auto",
                        help="like ComfyUI's start flag; 'none': no previews whatever a job asks (0.3.64)")
    parser.add_argument("--upscale-model", action="append", default=[], help="offer this upscale model")
    parser.add_argument("--cache-render", action="store_true", help="render each frame size once (benchmarks)")
    args = parser.parse_args(argv)
    fake = FakeComfyUI(host=args.host, port=args.port, job_time_s=args.job_time,
                       image_job_time_s=args.image_job_time, step_delay_s=args.step_delay,
                       custom_nodes=args.custom_nodes, upscale_models=args.upscale_model,
                       cache_render=args.cache_render, preview_method=args.preview_method)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # terminate() cleans up like Ctrl-C
    try:
        fake.serve_forever()
    finally:
        fake.remove_files()


if __name__ == "__main__":
    main()


# Short timings for tests: failures must surface in seconds, never hang.
FAST_CLIENT_TIMEOUTS: dict[str, Any] = {
    "http_s": 2.0, "connect_s": 1.0, "recv_tick_s": 0.05, "silence_s": 0.5, "poll_interval_s": 0.1,
    "reconnect_attempts": 3, "reconnect_backoff_s": 0.1, "max_http_failures": 3,
}
FAST_POOL_OPTIONS: dict[str, Any] = {
    "health_interval_s": 0.2, "health_timeout_s": 1.0, "backoff_s": 0.05, "wait_for_server_s": 1.0,
}
# Small jobs: a few sampler steps, tiny frames.
SMALL_PARAMS: dict[str, Any] = {"steps": 4}


def make_backend(*urls: str, deadline_s: float = 15, **kwargs: Any):
    """A ComfyUIBackend on its own pool of `urls`, with the fast test timeouts and small workflow params."""
    from productions.lib.comfyui.backend import ComfyUIBackend
    from productions.lib.comfyui.client import ClientTimeouts

    kwargs.setdefault("params", dict(SMALL_PARAMS))
    return ComfyUIBackend.for_urls(list(urls), timeouts=ClientTimeouts(**FAST_CLIENT_TIMEOUTS),
                                   pool_options=FAST_POOL_OPTIONS, deadline_s=deadline_s, **kwargs)
