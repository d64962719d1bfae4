#!/usr/bin/env python
"""Predicted generation time of a 30 s episode per model profile and GPU, from sourced timings only.

    .venv/bin/python bench/generation_budget.py [--duration 30]

For each video model profile (workflows/*.profile.json) and each named GPU, the episode's plan (segments of one
native run each, planning.py) times the time of one run. A run's time comes from the table below, where every
figure names its source: a published number, or a measurement on this machine (the built-in generator, which
runs on the CPU whatever the GPU). Where no sourced figure exists, the prediction prints `unknown`: nothing is
guessed. A per-step figure is scaled by the profile's own step count (sampling dominates a diffusion run); that
derivation is printed beside it.

Prints the table, then `predicted_minutes_<gpu>_<profile>: X` lines (X a number or `unknown`), and last whether
the seed's target (a 30 s episode in under 30 minutes on an RTX 3060 12 GB) is shown to be met.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from productions.lib.backend import KeyframeRequest, SegmentRequest  # noqa: E402
from productions.lib.generator import BuiltinGenerator  # noqa: E402
from productions.lib.interpolation import resolve_profile  # noqa: E402
from productions.lib.model_profiles import ModelProfile, load_profiles  # noqa: E402
from productions.lib.planning import plan_episode  # noqa: E402
from productions.lib.spec import DeliverySpec  # noqa: E402

GPUS = ("rtx3060_12gb", "rtx4090", "h100")


@dataclass(frozen=True)
class RunTiming:
    """One native run of a model at its native size and length on one GPU."""

    seconds: float  # the run, at `steps` sampling steps (text encoding and VAE decode included)
    steps: int | None  # the steps the figure was measured at; None: not a diffusion run (no scaling)
    source: str


# Every figure names where it comes from. Absent (gpu, profile) pairs are unknown.
PUBLISHED: dict[tuple[str, str], RunTiming] = {
    ("rtx4090", "wan22_ti2v_5b"): RunTiming(
        540.0, 50, "Wan-Video/Wan2.2 README: a 5 s 720P video (one 121-frame run) 'in under 9 minutes on a single "
                   "consumer-grade GPU such as 4090' with the default 50 sampling steps (an upper bound)"),
}
NOT_FOUND = {
    "svd_xt": "no published RTX 3060 / 4090 / H100 timing of SVD-XT at 1024x576, 25 frames was found",
    "wan22_ti2v_5b": "no published RTX 3060 or H100 timing of TI2V-5B at 1280x704, 121 frames was found",
    "wan21_flf2v_720p": "no published timing of FLF2V-14B 720p on these GPUs was found",
}


def measure_builtin(profile: ModelProfile, fps: int) -> RunTiming:
    """The built-in generator's run, measured here (CPU), at its native size and run length."""
    gen = BuiltinGenerator()
    w, h = profile.native_width, profile.native_height
    key = gen.generate_keyframe(KeyframeRequest("bench", 1, w, h), lambda *a: None, lambda: False)
    request = SegmentRequest("a girl walks through a forest at sunset", 1, key, w, h, profile.frames_per_run,
                             profile.rate_for(fps))
    started = time.perf_counter()
    for _ in gen.stream_segment(request, lambda *a: None, lambda: False).frames:
        pass
    return RunTiming(time.perf_counter() - started, None,
                     f"measured now on this machine's CPU ({profile.frames_per_run} frames at {w}x{h})")


def run_seconds(timing: RunTiming, profile: ModelProfile) -> tuple[float, str]:
    steps = profile.defaults.get("steps")
    if timing.steps is None or not steps or steps == timing.steps:
        return timing.seconds, ""
    return timing.seconds * steps / timing.steps, f"scaled from {timing.steps} to the profile's {steps} steps"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()
    fps = 24
    spec = DeliverySpec(fps=fps, min_duration_s=args.duration)
    profiles = [p for p in load_profiles().values() if p.kind == "video" and p.run]
    predictions: dict[tuple[str, str], float | None] = {}
    print(f"{args.duration:g} s at {fps} fps; one native run per segment (planning.py)\n")
    print("| profile | segments x frames | gpu | s per run | minutes | source |")
    print("|---|---|---|---|---|---|")
    for profile in profiles:
        rate = resolve_profile(profile, fps, None, "")
        plan = plan_episode("", 0, spec, duration_s=args.duration, segments=None, native_fps=rate.native_fps,
                            interpolation=rate.interpolation, run=profile.run, model=profile.name)
        runs = len(plan.segments)
        shape = f"{runs} x {profile.frames_per_run}"
        builtin = measure_builtin(profile, fps) if profile.backend == "builtin" else None
        for gpu in GPUS:
            timing = builtin or PUBLISHED.get((gpu, profile.name))
            if timing is None:
                predictions[gpu, profile.name] = None
                why = NOT_FOUND.get(profile.name, "no published figure found")
                print(f"| {profile.name} | {shape} | {gpu} | unknown | unknown | {why} |")
                continue
            seconds, derived = run_seconds(timing, profile)
            # every run but the last is full; the last is shorter: charge it in proportion to its frames
            frames = sum(s.native_frames for s in plan.segments) / profile.frames_per_run
            minutes = seconds * frames / 60
            predictions[gpu, profile.name] = minutes
            print(f"| {profile.name} | {shape} | {gpu} | {seconds:.1f} | {minutes:.1f} | {timing.source}"
                  + (f"; {derived}" if derived else "") + " |")
    print()
    for (gpu, name), minutes in predictions.items():
        print(f"predicted_minutes_{gpu}_{name}: {'unknown' if minutes is None else f'{minutes:.1f}'}")
    known = {n: m for (g, n), m in predictions.items() if g == "rtx3060_12gb" and m is not None
             and load_profiles()[n].backend != "builtin"}
    verdict = ", ".join(f"{n} {m:.1f} min" for n, m in known.items()) or "unknown for every AI model"
    print(f"seed_target_30min_on_rtx3060: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
