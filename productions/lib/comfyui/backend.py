"""`ComfyUIBackend`: Tower's Backend protocol on top of a pool of ComfyUI servers and workflow files.

    backend = ComfyUIBackend.shared(urls, library=WorkflowLibrary(folder))   # the app: media_config.py
    frame = backend.generate_keyframe(KeyframeRequest(...), progress, should_cancel)
    result = backend.generate_segment(SegmentRequest(...), progress, should_cancel,
                                      on_attempt=lambda a: store(a.as_dict()))

For each job the pool picks a server; the backend picks the best workflow of the kind that this server can
run (highest manifest priority whose nodes and models the server has: e.g. the RIFE-interpolating SVD variant
where `RIFE VFI` is installed, else plain SVD), validates it against the server's /object_info BEFORE queueing
(a missing node or model is refused with a message naming node, class, input and file), uploads the init image,
runs the job and returns the frames. Retryable failures move to another server (see pool.py).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import requests
from PIL import Image

from ..backend import (
    CancelCheck,
    Frame,
    KeyframeRequest,
    ProgressCallback,
    SegmentRequest,
    SegmentResult,
    never_cancel,
    no_progress,
)
from ..model_profiles import DEFAULT_COMFYUI_MODEL, DEFAULT_KEYFRAME_MODEL, ModelProfile, load_profiles
from ..prompts import CharacterSpec, LoraUse, join_phrases
from .client import DEFAULT_DEADLINE_S, ClientTimeouts, JobResult, encode_png
from .errors import ComfyUIError, WorkflowInvalid
from .pool import Attempt, AttemptCallback, JobContext, ServerPool, ServerState, VramWatch, shared_pool
from .workflows import (
    REFERENCE_IMAGE,
    Workflow,
    WorkflowLibrary,
    lora_names,
    problems_message,
    with_loras,
    workflow_problems,
)

log = logging.getLogger(__name__)

DEFAULT_KEYFRAME_WORKFLOW = "keyframe_txt2img"
DEFAULT_SEGMENT_WORKFLOW = "svd_img2vid"
UNREACHABLE = "did not answer"
DEFAULT_VRAM_BUDGET_GB = 10.0
DEFAULT_FREE_BELOW_GB = 16.0
GIB = 1024**3
# The parameter by which a workflow declares that it interpolates frames on the server (RIFE VFI's multiplier).
INTERPOLATION_PARAM = "interpolation_multiplier"


def native_size_for(native: tuple[int, int], width: int, height: int, multiple: int = 64) -> tuple[int, int]:
    """The model's native pixel count reshaped to the requested aspect ratio (multiples of `multiple`)."""
    area = native[0] * native[1]
    aspect = width / height
    w = max(multiple, int(round(math.sqrt(area * aspect) / multiple)) * multiple)
    h = max(multiple, int(round(area / w / multiple)) * multiple)
    return w, h


def resize(frame: Frame, width: int, height: int) -> Frame:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)


class ComfyUIBackend:
    """Backend protocol implementation (name "comfyui", is_ai True) driving ComfyUI servers."""

    name = "comfyui"
    is_ai = True

    def __init__(
        self,
        pool: ServerPool,
        *,
        library: WorkflowLibrary | None = None,
        keyframe_workflow: str | None = None,
        segment_workflow: str | None = None,
        variants: bool = True,
        params: Mapping[str, Any] | None = None,
        deadline_s: float | None = None,
        on_attempt: AttemptCallback | None = None,
        preview_method: str = "auto",
        max_attempts: int | None = None,
        owns_pool: bool = False,
        profiles: Mapping[str, ModelProfile] | None = None,
        vram_budget_gb: float = DEFAULT_VRAM_BUDGET_GB,
        free_below_gb: float = DEFAULT_FREE_BELOW_GB,
        vram_poll_s: float = 0.5,
    ) -> None:
        self.pool = pool
        self.library = library or WorkflowLibrary()
        self.keyframe_workflow = keyframe_workflow
        self.segment_workflow = segment_workflow
        self.variants = variants
        self.params = dict(params or {})
        self.deadline_s = deadline_s if deadline_s is not None else DEFAULT_DEADLINE_S
        self.on_attempt = on_attempt
        self.preview_method = preview_method
        self.max_attempts = max_attempts
        self.owns_pool = owns_pool
        # Model profiles by name (model_profiles.py): a segment request names its model, whose workflows,
        # default settings and model files it runs with.
        self.profiles = dict(profiles) if profiles is not None else load_profiles([self.library.directory])
        # VRAM discipline (the seed: under 10 GB on a 12 GB card): a model whose estimated need is over
        # min(budget, the server's GPU memory) is not sent there; a server with less GPU memory than
        # `free_below_gb` is asked to unload before a job of another model; each job's peak is polled.
        self.vram_budget_gb = vram_budget_gb
        self.free_below_gb = free_below_gb
        self.vram_poll_s = vram_poll_s

    @classmethod
    def shared(cls, urls: Sequence[str], *, pool_options: Mapping[str, Any] | None = None,
               **kwargs: Any) -> ComfyUIBackend:
        """A backend on the process's shared pool for `urls` (one health thread for every backend of the
        process); `pool_options` are ServerPool's, the rest this class's (the app passes its settings)."""
        return cls(shared_pool(urls, **dict(pool_options or {})), **kwargs)

    @classmethod
    def for_urls(cls, urls: list[str], *, timeouts: ClientTimeouts | None = None,
                 pool_options: Mapping[str, Any] | None = None, **kwargs: Any) -> ComfyUIBackend:
        """A backend with its own pool (closed by close()); handy for tests and scripts."""
        pool = ServerPool(urls, timeouts=timeouts, **dict(pool_options or {}))
        return cls(pool, owns_pool=True, **kwargs)

    def close(self) -> None:
        if self.owns_pool:
            self.pool.close()

    def __enter__(self) -> ComfyUIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> list[dict[str, Any]]:
        return self.pool.snapshot()

    @property
    def parallelism(self) -> int:
        """How many independent jobs are worth running at once: one per server."""
        return max(1, len(self.pool.servers))

    # -- choosing a workflow -----------------------------------------------------------------------------

    def candidates(self, kind: str, model: str = "") -> list[Workflow]:
        """The workflows to try, highest manifest priority first: a forced one; else every keyframe workflow,
        or the segment workflows of the model (manifest `model`; SVD-XT's when a manifest or a request names
        none)."""
        forced = self.keyframe_workflow if kind == "keyframe" else self.segment_workflow
        if forced:
            return [self.library.get(forced)]
        found = self.library.of_kind(kind)
        if kind == "segment":  # only the model's own workflows (manifest "model"; none named: SVD-XT's)
            model = model or DEFAULT_COMFYUI_MODEL
            found = [w for w in found if (w.model or DEFAULT_COMFYUI_MODEL) == model]
        if not found:
            raise WorkflowInvalid(f"No {kind} workflow" + (f" for the model {model!r}" if kind == "segment" else "")
                                  + f" in {self.library.directory}", elsewhere=False)
        if not self.variants:  # the plain workflow only: the lowest priority
            default = DEFAULT_KEYFRAME_WORKFLOW if kind == "keyframe" else DEFAULT_SEGMENT_WORKFLOW
            return [next((w for w in found if w.name == default), found[-1])]
        return found

    def choose(self, kind: str, values: Mapping[str, Any], object_info: Mapping[str, Any],
               server: str | None = None, *, server_interpolation: bool = True, model: str = "",
               loras: Sequence[LoraUse] = (),
               ) -> tuple[Workflow, dict[str, Any], list[str]]:
        """The first workflow of `kind` (by priority) that this server can run, filled with `values`.
        Without `server_interpolation`, workflows that interpolate frames on the server (RIFE) are passed over:
        the episode interpolates another way (hold, mci) and must get frames at the native rate.

        `loras`: the shot's LoRA stack, chained after the model loaders (workflows.with_loras) and validated with
        the rest (a server that lacks a LoRA file is refused naming it).

        Returns (workflow, graph, skipped) where `skipped` says why higher-priority variants were passed over.
        Raises WorkflowInvalid naming what the server lacks when none fits.
        """
        skipped: list[str] = []
        first_error: tuple[Workflow, list] | None = None
        default = DEFAULT_KEYFRAME_WORKFLOW if kind == "keyframe" else DEFAULT_SEGMENT_WORKFLOW
        candidates = self.candidates(kind, model)
        if not server_interpolation:
            candidates = [wf for wf in candidates if INTERPOLATION_PARAM not in wf.params] or candidates
        for wf in candidates:
            graph = with_loras(wf.fill(values), loras, object_info)
            problems = workflow_problems(graph, object_info, ignore_values=wf.upload_inputs())
            if not problems:
                return wf, graph, skipped
            skipped.append(f"{wf.name}: {problems[0].message}")
            if first_error is None or wf.name == default:
                first_error = (wf, problems)
        assert first_error is not None
        wf, problems = first_error
        message = problems_message(problems, name=wf.name, server=server)
        if len(candidates) > 1:
            message += f" (no {kind} workflow fits this server: tried {', '.join(w.name for w in candidates)})"
        raise WorkflowInvalid(message, server=server, problems=problems)

    def vram_problem(self, profile: ModelProfile | None, server: ServerState) -> str | None:
        """Why `profile`'s model does not fit this server's VRAM under the budget, in a sentence; None when it
        fits or cannot be judged (no estimate, a server without a GPU, or one not heard from yet)."""
        total = server.vram_total_bytes
        if profile is None or profile.vram_gb is None or total is None:
            return None
        usable = min(self.vram_budget_gb, total / GIB)
        if profile.vram_gb <= usable + 1e-9:
            return None
        return (f"{profile.label} needs about {profile.vram_gb:g} GB of VRAM ({profile.vram_source}), over "
                f"{usable:.1f} GB usable here ({total / GIB:.1f} GB card, budget TOWER_VRAM_BUDGET_GB="
                f"{self.vram_budget_gb:g})")

    def _free_on_model_change(self, ctx: JobContext, family: str) -> None:
        """Unload the previous model first when this job loads another one on a small card."""
        state = ctx.server
        total = state.vram_total_bytes
        if (family and state.last_model not in (None, family) and total is not None
                and total < self.free_below_gb * GIB):
            log.info("asking %s to unload %s before %s", ctx.url, state.last_model, family)
            ctx.client.free(unload_models=True, free_memory=True)

    def what_servers_lack(self, model: str, width: int, height: int, num_frames: int, fps: int,
                          keyframe_model: str = "", loras: Sequence[str] = ()) -> dict[str, str | None]:
        """Per server, what it lacks to run an episode of `model` (a keyframe workflow and one of the model's
        segment workflows: node classes, model files, values; and the LoRA files `loras` that the episode's
        characters use), in a sentence; None where it has everything.
        Asks each server's /object_info (cached), queues nothing."""
        profile = self.profiles.get(model or DEFAULT_COMFYUI_MODEL)
        values: dict[str, Any] = {**(profile.workflow_values if profile else {}),
                                  "prompt": "preflight", "negative_prompt": None, "seed": 0, "width": width,
                                  "height": height, "num_frames": num_frames, "fps": fps,
                                  "filename_prefix": "tower/preflight", "init_image": "tower/placeholder.png"}
        kf = self.profiles.get(keyframe_model or DEFAULT_KEYFRAME_MODEL)
        kf_values = {**values, **(kf.workflow_values if kf else {})}
        lacks: dict[str, str | None] = {}
        for url in list(self.pool.servers):
            try:
                info = self.pool.object_info(url)
            except (ComfyUIError, requests.RequestException, ValueError) as exc:
                lacks[url] = f"{UNREACHABLE} ({exc})"
                continue
            server = self.pool.servers[url]
            too_big = self.vram_problem(profile, server) or self.vram_problem(kf, server)
            if too_big:
                lacks[url] = too_big
                continue
            why: list[str] = []
            try:
                self.choose("keyframe", kf_values, info, server=url)
                self.choose("segment", values, info, server=url, model=model)
            except WorkflowInvalid as exc:  # names node, class, input and the missing file or value
                why.append(str(exc))
            listed = set(lora_names(info) or ())
            missing = [name for name in dict.fromkeys(loras) if name and name not in listed]
            if missing:
                why.append(f"the server has no LoRA file {', '.join(repr(n) for n in missing)} (the episode's "
                           "characters use it: copy it into the server's models/loras folder)")
            lacks[url] = "; ".join(why) or None
        return lacks

    def check_servers(self, model: str, width: int, height: int, num_frames: int, fps: int,
                      keyframe_model: str = "", loras: Sequence[str] = ()) -> None:
        """Before anything is queued: refuse an episode that no server can run, naming what each one lacks
        (including the LoRA files in `loras`, the episode's characters', that it does not list).
        A server that does not answer now may come back (the pool waits for it): it does not refuse."""
        lacks = self.what_servers_lack(model, width, height, num_frames, fps, keyframe_model, loras)
        if lacks and all(why and not why.startswith(UNREACHABLE) for why in lacks.values()):
            raise WorkflowInvalid(f"no ComfyUI server can run the model {model or DEFAULT_COMFYUI_MODEL!r}: "
                                  + "; ".join(f"{url}: {why}" for url, why in lacks.items()), elsewhere=False)

    # -- the Backend protocol ----------------------------------------------------------------------------

    def _reference(self, kind: str, characters: Sequence[CharacterSpec], model: str = "") -> Frame | None:
        """The shot's reference picture, read only when a workflow that may run takes one."""
        if not any(c.reference_image for c in characters):
            return None
        if not any(wf.takes_reference_image for wf in self.candidates(kind, model)):
            return None
        return reference_picture(characters)

    def _values(self, base: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
        values = dict(base)
        values.update(self.params)
        values.update(params or {})
        return values

    def _run(
        self,
        kind: str,
        values: dict[str, Any],
        progress: ProgressCallback,
        should_cancel: CancelCheck,
        on_attempt: AttemptCallback | None,
        upload: Sequence[tuple[str, Frame | None]] | None,
        description: str,
        native_for: tuple[int, int] | None = None,
        server_interpolation: bool = True,
        model: str = "",
        family: str = "",
        loras: Sequence[LoraUse] = (),
    ) -> tuple[JobResult, Workflow, list[str], list[dict[str, Any]]]:
        """One job through the pool. `family`: the profile of the model it loads (its VRAM need rules out
        servers where it does not fit; a change of model on a small card asks the server to unload first).
        `loras`: the shot's LoRA stack, chained after the model loaders in every workflow. An upload whose
        parameter the chosen workflow does not declare (a reference picture for a workflow without one) is
        skipped."""
        seen: dict[int, Attempt] = {}
        callbacks = [cb for cb in (self.on_attempt, on_attempt) if cb is not None]

        def report(attempt: Attempt) -> None:
            seen[attempt.number] = attempt
            for cb in callbacks:
                cb(attempt)

        encoded: dict[str, tuple[bytes, str]] = {}  # each image's PNG and upload name, made once per call
        uploads = [(param, image) for param, image in (upload or ()) if image is not None]

        def png_of(param: str, image: Frame) -> tuple[bytes, str]:
            if param not in encoded:
                png = encode_png(image)
                encoded[param] = (png, f"tower_{hashlib.sha1(png).hexdigest()[:20]}.png")
            return encoded[param]

        def job(ctx: JobContext) -> tuple[JobResult, Workflow, list[str]]:
            info = ctx.object_info()
            job_values = dict(values)
            for param, _image in uploads:
                job_values[param] = "tower/placeholder.png"  # checked after upload, not against lists
            wf, graph, skipped = self.choose(kind, job_values, info, server=ctx.url,
                                             server_interpolation=server_interpolation, model=model, loras=loras)
            if native_for is not None and wf.native_size:
                job_values["width"], job_values["height"] = native_size_for(wf.native_size, *native_for)
                graph = with_loras(wf.fill(job_values), loras, info)
            taken = [(param, image) for param, image in uploads if param in wf.params]
            for param, image in taken:
                png, name = png_of(param, image)
                job_values[param] = ctx.client.upload_image(png, name)
            if taken:
                graph = with_loras(wf.fill(job_values), loras, info)
            self._free_on_model_change(ctx, family)
            watch = VramWatch(ctx.url, self.pool.timeouts, self.vram_poll_s) if self.vram_poll_s else None
            try:
                result = ctx.client.run(
                    graph,
                    output_node=wf.output_node,
                    progress=progress,
                    should_cancel=ctx.should_cancel,
                    deadline_at=ctx.deadline_at,
                    preview_method=self.preview_method,
                    progress_node=wf.progress_node,
                    on_queued=ctx.queued,
                )
            finally:
                if watch is not None:
                    ctx.attempt.peak_vram_bytes = watch.stop()
                ctx.server.last_model = family
            if self.preview_method not in ("", "none") and any(v for v, _ in result.node_progress.values()):
                ctx.server.sends_previews = result.previews > 0  # 0.3.64 without --preview-method sends none
            return result, wf, skipped

        profile = self.profiles.get(family)
        result, wf, skipped = self.pool.run(
            job,
            should_cancel=should_cancel,
            on_attempt=report,
            deadline_s=self.deadline_s,
            max_attempts=self.max_attempts,
            description=description,
            suitable=lambda server: self.vram_problem(profile, server) is None,
        )
        return result, wf, skipped, [a.as_dict() for a in seen.values()]

    def generate_keyframe(
        self,
        request: KeyframeRequest,
        progress: ProgressCallback = no_progress,
        should_cancel: CancelCheck = never_cancel,
        *,
        on_attempt: AttemptCallback | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Frame:
        """txt2img with the keyframe model's profile (request.model; SDXL when it names none): its files and
        settings, at its native size nearest the request's aspect ratio (without a profile: the manifest's
        `native_size` reshaped), resized to request.width x request.height. `params` overrides workflow
        parameters, e.g. {"lora_name": "hero.safetensors", "lora_strength": 0.8, "ckpt_name": ...}."""
        base = _request_values(request, "tower/keyframe")
        profile = self.profiles.get(request.model or DEFAULT_KEYFRAME_MODEL)
        overridden = any(k in (params or {}) or k in self.params for k in ("width", "height"))
        native_for = None if overridden else (request.width, request.height)
        if profile is not None and profile.kind == "image":
            base = {**profile.workflow_values, **base}
            if native_for is not None:
                base["width"], base["height"] = profile.size_for(request.width, request.height)
                native_for = None
        values = self._values(base, params)
        result, _wf, _skipped, _attempts = self._run(
            "keyframe", values, progress, should_cancel, on_attempt,
            [(REFERENCE_IMAGE, self._reference("keyframe", request.characters))], "keyframe", native_for,
            family=profile.name if profile is not None else "", loras=request.loras,
        )
        if not result.images:
            raise WorkflowInvalid("The keyframe workflow produced no image", server=result.server)
        return resize(result.images[0], request.width, request.height)

    def generate_segment(
        self,
        request: SegmentRequest,
        progress: ProgressCallback = no_progress,
        should_cancel: CancelCheck = never_cancel,
        *,
        on_attempt: AttemptCallback | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> SegmentResult:
        """img2vid from request.init_image. The result's fps is request.fps times any interpolation done
        inside ComfyUI (RIFE variant), and its frames may be larger than requested (upscale variant);
        `info` says which server, workflow, prompt_id and attempts produced it."""
        profile = self.profiles.get(request.model or DEFAULT_COMFYUI_MODEL)
        base = {**_request_values(request, f"tower/segment_{request.index:03d}"),
                "num_frames": request.num_frames, "fps": request.fps,
                MOTION_PARAM: motion_bucket(request.motion)}  # the shot's motion (workflows that take it)
        if profile is not None:  # the model's settings and files first; the request and overrides win
            base = {**profile.workflow_values, **base}
        if request.delivery_fps and request.fps and request.delivery_fps % request.fps == 0:
            base[INTERPOLATION_PARAM] = request.delivery_fps // request.fps  # RIFE to exactly the delivery rate
        values = self._values(base, params)
        result, wf, skipped, attempts = self._run(
            "segment", values, progress, should_cancel, on_attempt,
            [("init_image", request.init_image), ("end_image", request.end_image),
             (REFERENCE_IMAGE, self._reference("segment", request.characters, request.model))],
            f"segment {request.index}", server_interpolation=request.server_interpolation, model=request.model,
            family=profile.name if profile is not None else "", loras=request.loras,
        )
        frames = result.images
        multiplier = 1
        if len(frames) != request.num_frames and request.num_frames > 1 and len(frames) > 1:
            multiplier = max(1, round((len(frames) - 1) / (request.num_frames - 1)))
        info = {
            "backend": self.name,
            "server": result.server,
            "workflow": wf.name,
            "model": request.model or None,
            "prompt_id": result.prompt_id,
            "checkpoint": values.get("ckpt_name") or wf.defaults.get("ckpt_name") or _template_value(
                wf, "ckpt_name"),
            "frames": len(frames),
            "size": [int(frames[0].shape[1]), int(frames[0].shape[0])] if frames else None,
            "interpolated_x": multiplier,
            "skipped_workflows": skipped,
            "loras": [{"name": use.name, "strength": use.strength} for use in request.loras],
            "attempts": attempts,
            "peak_vram_bytes": attempts[-1].get("peak_vram_bytes") if attempts else None,
            "timings": result.timings,
            "notes": result.notes,
        }
        return SegmentResult(frames=frames, fps=request.fps * multiplier, info=info)


def reference_picture(characters: Sequence[CharacterSpec]) -> Frame | None:
    """The reference picture a workflow taking one is given: the first of the shot's characters (in the bible's
    order) that has one; None when none has (the workflow then runs without its picture node)."""
    for character in characters:
        if character.reference_image:
            try:
                with Image.open(character.reference_image) as img:
                    return np.asarray(img.convert("RGB"), dtype=np.uint8)
            except OSError as exc:
                raise WorkflowInvalid(f"The reference picture of {character.name!r} cannot be read "
                                      f"({character.reference_image}): {exc}", elsewhere=False) from exc
    return None


def _request_values(request: KeyframeRequest | SegmentRequest, filename_prefix: str) -> dict[str, Any]:
    """The workflow parameters every generation request fills: prompt (with style), negative, seed, size."""
    return {
        "prompt": _with_style(request.prompt, request.style),
        "negative_prompt": request.negative_prompt or None,
        "seed": request.seed & 0xFFFFFFFFFFFFFFFF,
        "width": request.width,
        "height": request.height,
        "filename_prefix": filename_prefix,
    }


MOTION_PARAM = "motion_bucket_id"  # SVD's motion strength, 1..255 (127 its own default)


def motion_bucket(motion: float) -> int:
    """A shot's motion strength (0..1, 0.5 the default) as SVD's motion_bucket_id: 0 -> 1, 0.5 -> 127 (the
    model's default), 1 -> 255, linear on each side."""
    motion = min(1.0, max(0.0, float(motion)))
    if motion <= 0.5:
        return round(1 + motion / 0.5 * 126)
    return round(127 + (motion - 0.5) / 0.5 * 128)


def _with_style(prompt: str, style: str) -> str:
    """The prompt with the style's phrases it lacks. A storyboard prompt (lib/prompts.compose) already holds the
    style, so nothing is added twice: phrases are compared as prompts.join_phrases does."""
    if not style or not style.strip():
        return prompt
    return join_phrases([prompt, style]) if prompt else join_phrases([style])


def _template_value(wf: Workflow, param: str) -> Any:
    for node_id, input_name in wf.params.get(param, ()):
        return wf.graph[node_id]["inputs"].get(input_name)
    return None


__all__ = ["ComfyUIBackend", "motion_bucket", "native_size_for"]
