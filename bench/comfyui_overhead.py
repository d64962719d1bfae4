"""Tower's overhead per segment through ComfyUIBackend, against a fake ComfyUI that takes a fixed T per job.

The fake runs in its own process (tests/fake_comfyui.py, frames rendered once and reused so its CPU work stays
inside T). Segments are generated one after another and chained (init image = previous last frame), exactly
as an episode is. Overhead per segment = (end-to-end time - segments x T) / segments: socket, upload, queueing,
event handling, /history, downloading and decoding every frame, history deletion, pool bookkeeping.

    .venv/bin/python bench/comfyui_overhead.py [--job-time 1.0] [--width 1024 --height 576 --frames 25]

Prints `name: value` lines; the last is `overhead_per_segment_s: X` (the larger of the two episode lengths).
Wall-clock overhead depends on how busy the machine is (load averages are printed); `tower_cpu_*` is the CPU
time Tower's process spent per segment (mostly PNG decoding of the downloaded frames), which does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from productions.lib.backend import SegmentRequest  # noqa: E402
from productions.lib.comfyui.backend import ComfyUIBackend  # noqa: E402
from tests.fake_comfyui import FakeProcess  # noqa: E402


def first_keyframe(width: int, height: int) -> np.ndarray:
    """A realistic init image (the built-in generator's keyframe): frames compress like real content."""
    try:
        from productions.lib.backend import KeyframeRequest
        from productions.lib.generator import BuiltinGenerator

        request = KeyframeRequest("a harbour town at dusk, anime", 1, width, height)
        return BuiltinGenerator().generate_keyframe(request, lambda *a: None, lambda: False)
    except Exception:
        y = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
        return np.broadcast_to(y, (height, width, 3)).copy()


def run_episode(backend: ComfyUIBackend, segments: int, args: argparse.Namespace) -> dict[str, float]:
    init = first_keyframe(args.width, args.height)
    per_segment: list[float] = []
    downloads: list[float] = []
    previews = 0

    def progress(step: int, total: int, preview: np.ndarray | None) -> None:
        nonlocal previews
        previews += preview is not None

    cpu: list[float] = []
    t_start = time.perf_counter()
    for index in range(segments):
        t0, c0 = time.perf_counter(), time.process_time()
        result = backend.generate_segment(
            SegmentRequest("bench", index, init, args.width, args.height, args.frames, 8, index=index), progress)
        per_segment.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        timings = result.info["timings"]
        downloads.append(timings["downloaded"] - timings["executed"])
        assert len(result.frames) == args.frames
        init = result.frames[-1]
    total = time.perf_counter() - t_start
    overheads = [s - args.job_time for s in per_segment]
    k = max(1, min(6, segments // 2))
    return {
        "total_s": total,
        "overhead_per_segment_s": (total - segments * args.job_time) / segments,
        "overhead_p50_s": statistics.median(overheads),
        "overhead_max_s": max(overheads),
        f"overhead_first{k}_mean_s": statistics.fmean(overheads[:k]),
        f"overhead_last{k}_mean_s": statistics.fmean(overheads[-k:]),
        "tower_cpu_per_segment_s": statistics.fmean(cpu),
        f"tower_cpu_first{k}_mean_s": statistics.fmean(cpu[:k]),
        f"tower_cpu_last{k}_mean_s": statistics.fmean(cpu[-k:]),
        "download_decode_mean_s": statistics.fmean(downloads),
        "previews_per_segment": previews / segments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-time", type=float, default=1.0, help="T: seconds the fake takes per segment")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--episodes", default="6,24", help="segment counts to measure")
    args = parser.parse_args()
    counts = [int(c) for c in args.episodes.split(",")]

    with FakeProcess("--job-time", str(args.job_time), "--cache-render") as fake:
        backend = ComfyUIBackend.for_urls([fake.url], params={"steps": args.steps}, segment_workflow="svd_img2vid")
        try:
            # warm-up: the fake renders and encodes its frames once; /object_info gets cached
            run_episode(backend, 1, args)
            print(f"load_average_1min: {os.getloadavg()[0]:.2f}")
            print(f"cpu_count: {os.cpu_count()}")
            print(f"job_time_s: {args.job_time}")
            print(f"frame_size: {args.width}x{args.height}")
            print(f"frames_per_segment: {args.frames}")
            results = {}
            for count in counts:
                results[count] = run_episode(backend, count, args)
                for key, value in results[count].items():
                    print(f"segments_{count}_{key}: {value:.3f}")
            print(f"load_average_1min_after: {os.getloadavg()[0]:.2f}")
            state = fake.state()
            print(f"server_history_entries_left: {len(state['history'])}")
            print(f"server_jobs_completed: {len(state['stats']['completed'])}")
            if len(counts) > 1:
                growth = results[counts[-1]]["overhead_per_segment_s"] - results[counts[0]]["overhead_per_segment_s"]
                print(f"overhead_growth_{counts[0]}_to_{counts[-1]}_s: {growth:.3f}")
            print(f"overhead_per_segment_s: {results[counts[-1]]['overhead_per_segment_s']:.3f}")
        finally:
            backend.close()


if __name__ == "__main__":
    main()
