"""Accuracy and cost of the automatic QA checks on the labelled corpus (tests/qa_corpus.py).

    nice -n 10 .venv/bin/python bench/qa_accuracy.py [--bases 24] [--hard-seeds 4] [--frames 72] [--verbose]
                                                     [--timing]

Prints, per defect class (= the check meant to catch it): recall on the items carrying that defect,
precision over every item the check flagged, and the false-positive rate on clean segments and hard negatives;
then `min_recall: X` and `max_false_positive_rate: X`. `--timing` also makes a real 30 s episode with the
pipeline's own functions (built-in generator, write_segment_files, stitch_episode) and times QA against that
post-generation: per segment on the native frames in memory and on the 1080p master, and on the episode
file with its seams; plus 130 frames of 1920x1080 in memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from productions.lib.qa import check_frames, check_video_file  # noqa: E402
from tests import qa_corpus as corpus  # noqa: E402


def run_accuracy(args: argparse.Namespace) -> dict:
    classes = corpus.DEFECT_CLASSES
    fired: dict[str, dict[str, bool]] = {}
    labels: dict[str, str] = {}
    variants: dict[str, str] = {}
    values: dict[str, dict[str, float | None]] = {}
    higher_is_worse: dict[str, bool] = {}
    per_frame: list[float] = []
    sources: set[str] = set()
    t0 = time.perf_counter()
    for item in corpus.iter_corpus(bases=args.bases, hard_negative_seeds=args.hard_seeds, frames=args.frames,
                                   fps=args.fps):
        t = time.perf_counter()
        result = check_frames(item.frames, item.fps, expected_frames=item.expected_frames,
                              boundaries=item.boundaries_s, thumbnails=False)
        per_frame.append((time.perf_counter() - t) / max(1, len(item.frames)))
        sources.add(item.source)
        labels[item.name] = item.label
        variants[item.name] = item.variant
        fired[item.name] = {c.name: c.status == "failed" for c in result.checks}
        values[item.name] = {c.name: c.value for c in result.checks}
        higher_is_worse.update({c.name: c.comparison != ">" for c in result.checks if c.comparison})
    elapsed = time.perf_counter() - t0

    negatives = [n for n, lab in labels.items() if lab in (corpus.CLEAN, corpus.HARD_NEGATIVE)]
    print(f"corpus: {len(labels)} items ({len(negatives)} clean/hard negatives), clean source: "
          f"{', '.join(sorted(sources))}; {elapsed:.1f} s; QA {1e3 * float(np.mean(per_frame)):.2f} ms/frame "
          f"at {corpus.WIDTH}x{corpus.HEIGHT}, {args.fps} fps, {args.frames} frames per segment")
    print(f"{'class':<14}{'items':>6}{'recall':>8}{'precision':>11}{'fp_rate':>9}{'fp':>5}"
          "   weakest defect / worst negative value")
    recalls, fp_rates = {}, {}
    for cls in classes:
        pos = [n for n, lab in labels.items() if lab == cls]
        flagged = [n for n in labels if fired[n].get(cls, False)]
        tp = sum(1 for n in pos if fired[n].get(cls, False))
        fp_neg = [n for n in negatives if fired[n].get(cls, False)]
        recall = tp / len(pos) if pos else float("nan")
        precision = tp / len(flagged) if flagged else float("nan")
        fp_rate = len(fp_neg) / len(negatives) if negatives else float("nan")
        recalls[cls], fp_rates[cls] = recall, fp_rate
        sign = 1.0 if higher_is_worse.get(cls, True) else -1.0
        pos_vals = [sign * v for n in pos if (v := values[n].get(cls)) is not None]
        neg_vals = [sign * v for n in negatives if (v := values[n].get(cls)) is not None]
        margin = (f"   {sign * min(pos_vals):.3g} / {sign * max(neg_vals):.3g}"
                  if pos_vals and neg_vals and cls != "frame_count" else "")
        print(f"{cls:<14}{len(pos):>6}{recall:>8.3f}{precision:>11.3f}{fp_rate:>9.3f}{len(fp_neg):>5}{margin}")
        if args.verbose:
            closest = sorted((n for n in negatives if values[n].get(cls) is not None),
                             key=lambda n: -sign * values[n][cls])[:3]
            for n in closest:
                print(f"    closest negative {n}  value={values[n][cls]:.3g}")
            weakest = sorted((n for n in pos if values[n].get(cls) is not None), key=lambda n: sign * values[n][cls])
            for n in weakest[:3]:
                print(f"    weakest defect {n}  value={values[n][cls]:.3g}")
            for n in pos:
                if not fired[n].get(cls, False):
                    print(f"    missed  {n}  value={values[n].get(cls)}")
            for n in flagged:
                if labels[n] != cls:
                    print(f"    flagged {n} ({labels[n]})  value={values[n].get(cls)}")
    by_variant: dict[str, list[bool]] = defaultdict(list)
    for n, lab in labels.items():
        if lab in classes:
            by_variant[f"{lab}/{variants[n]}"].append(fired[n].get(lab, False))
    weak = {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_variant.items()) if not all(v)}
    if weak:
        print("variants not always caught:", weak)
    neg_any = [n for n in negatives if any(fired[n].values())]
    print(f"negatives failing any check: {len(neg_any)}/{len(negatives)}"
          + (f" ({', '.join(neg_any[:8])})" if neg_any else ""))
    min_recall = min(recalls.values())
    max_fp = max(fp_rates.values())
    print(f"min_recall: {min_recall:.3f}")
    print(f"max_false_positive_rate: {max_fp:.3f}")
    return {"min_recall": min_recall, "max_false_positive_rate": max_fp}


def _timed(fn, *args, **kwargs):
    """(result, wall s, CPU s of this process and its children: ffmpeg decoding counts)."""
    import os

    t0, c0 = time.perf_counter(), os.times()
    out = fn(*args, **kwargs)
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + (
        c1.children_system - c0.children_system)
    return out, time.perf_counter() - t0, cpu


def run_timing() -> None:
    """QA cost against the real post-generation of a 30 s episode made by the pipeline's own functions."""
    import cv2

    from productions.lib.backend import KeyframeRequest, SegmentRequest, never_cancel, no_progress
    from productions.lib.generator import BuiltinGenerator
    from productions.lib.planning import plan_episode
    from productions.lib.post import SegmentFiles, stitch_episode, write_segment_files
    from productions.lib.qa import check_segment_frames, episode_boundaries
    from productions.lib.spec import DELIVERY_SPEC, NATIVE_HEIGHT, NATIVE_WIDTH
    from productions.lib.upscale import LanczosUpscaler

    spec = DELIVERY_SPEC
    plan = plan_episode("A girl walks along a river. She meets a cat. They watch the sunset.", 7, spec)
    gen = BuiltinGenerator()
    init = gen.generate_keyframe(KeyframeRequest(plan.segments[0].prompt, 7, NATIVE_WIDTH, NATIVE_HEIGHT),
                                 no_progress, never_cancel)
    post_s = post_cpu = 0.0
    qa_native, qa_master = [], []
    with tempfile.TemporaryDirectory() as tmp:
        masters = []
        for seg in plan.segments:
            frames = gen.generate_segment(
                SegmentRequest(seg.prompt, seg.seed, init, NATIVE_WIDTH, NATIVE_HEIGHT, seg.native_frames,
                               plan.native_fps, seg.index), no_progress, never_cancel).frames
            init = frames[-1]
            r, wall, cpu = _timed(check_segment_frames, frames, plan.native_fps, seg.native_frames)
            qa_native.append((wall, cpu, r.passed))
            files = SegmentFiles(Path(tmp) / f"n{seg.index}.mkv", Path(tmp) / f"m{seg.index}.mp4")
            _, wall, cpu = _timed(write_segment_files, frames, native_fps=plan.native_fps,
                                  delivered_frames=seg.delivered_frames, spec=spec, upscaler=LanczosUpscaler(),
                                  files=files)
            post_s += wall
            post_cpu += cpu
            r, wall, cpu = _timed(check_video_file, files.master, expected_frames=seg.delivered_frames)
            qa_master.append((wall, cpu, r.passed))
            masters.append(files.master)
        counts = [s.delivered_frames for s in plan.segments]
        episode = Path(tmp) / "episode.mp4"
        _, wall, cpu = _timed(stitch_episode, masters, counts, crossfade_frames=plan.crossfade_frames, spec=spec,
                              out_path=episode)
        post_s += wall
        post_cpu += cpu
        bounds = episode_boundaries(counts, plan.crossfade_frames, spec.fps)
        ep, ep_wall, ep_cpu = _timed(check_video_file, episode, bounds, expected_frames=plan.total_frames)
        # 130 delivered-size frames in memory (what a pipeline holding 1080p frames would pass)
        big = [cv2.resize(f, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
               for f in corpus.clean_segment(1, 7, 130)[0]]
        r, big_wall, big_cpu = _timed(check_segment_frames, big, spec.fps, 130)

    def summary(rows: list[tuple[float, float, bool]]) -> str:
        walls = [w for w, _, _ in rows]
        cpus = [c for _, c, _ in rows]
        return (f"median {float(np.median(walls)):.3f} s wall / {float(np.median(cpus)):.3f} s CPU, "
                f"max {max(walls):.3f} s wall; passed {sum(p for _, _, p in rows)}/{len(rows)}")

    n_native = plan.segments[0].native_frames
    print(f"timing: episode of {len(plan.segments)} segments, {plan.total_frames} frames ({plan.duration_s:.1f} s)")
    print(f"timing: post-generation (write_segment_files x{len(plan.segments)} + stitch_episode): "
          f"{post_s:.1f} s wall / {post_cpu:.1f} s CPU")
    print(f"timing: QA per segment, {n_native} native frames {NATIVE_WIDTH}x{NATIVE_HEIGHT} in memory: "
          f"{summary(qa_native)}")
    print(f"timing: QA per segment, master file ({counts[0]} frames 1080p, decode included): {summary(qa_master)}")
    print(f"timing: QA of 130 frames 1920x1080 in memory: {big_wall:.3f} s wall / {big_cpu:.3f} s CPU "
          f"({1e3 * big_wall / 130:.2f} ms/frame)")
    print(f"timing: QA of the episode file with {len(bounds)} seams: {ep_wall:.2f} s wall / {ep_cpu:.2f} s CPU "
          f"(passed={ep.passed}: {ep.summary()})")
    native_total = sum(w for w, _, _ in qa_native)
    print(f"timing: QA added to post-generation: in-memory segments + episode file = "
          f"{native_total + ep_wall:.2f} s wall = {100 * (native_total + ep_wall) / post_s:.1f} % "
          f"(CPU {100 * (sum(c for _, c, _ in qa_native) + ep_cpu) / post_cpu:.1f} %); "
          f"with master-file QA instead of in-memory: "
          f"{100 * (sum(w for w, _, _ in qa_master) + ep_wall) / post_s:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", type=int, default=24, help="clean generated segments (defects injected)")
    parser.add_argument("--hard-seeds", type=int, default=4, help="seeds per hard-negative kind")
    parser.add_argument("--frames", type=int, default=corpus.SEGMENT_FRAMES, help="frames per segment")
    parser.add_argument("--fps", type=int, default=corpus.FPS, help="24 (masters) or a native rate such as 8")
    parser.add_argument("--verbose", action="store_true", help="list misses and false positives")
    parser.add_argument("--timing", action="store_true", help="also time QA against a real episode's post")
    parser.add_argument("--timing-only", action="store_true", help="skip the accuracy run")
    args = parser.parse_args()
    if not args.timing_only:
        run_accuracy(args)
    if args.timing or args.timing_only:
        run_timing()


if __name__ == "__main__":
    main()
