#!/usr/bin/env python
"""Render a full 30 s 1920x1080 episode with the built-in generator and compare post-generation to a floor.

    nice -n 10 .venv/bin/python bench/render_episode.py [--out FILE] [--preset veryfast] [--interpolation hold]

Runs Tower's real render path (EpisodeRender, the code the worker runs) on a throwaway data folder.

Post-generation is everything after the backend hands over frames: the lossless native clips and review proxies
(written while generating), then the one ffmpeg run that upscales, interpolates, joins and encodes (with the
episode QA's frames on a second output). Its CPU seconds are the ffmpeg processes' own (getrusage of the
children) plus the render thread's time spent feeding them; QA's Python work is reported apart (qa_over_post).

The floor is the best a competent engineer could do for the same delivery file: encode the very frames Tower
delivers, with the same encoder settings, and nothing else. Those frames are produced beforehand (untimed) from
the clean source (the lossless native clips, upscaled and brought to 24 fps as Tower does) into memory, then
piped from memory (through a pipe widened as Tower's are) to one ffmpeg encode: no decode of the lossy final, no
disk read in the timed part.

Then one segment is rejected and made again, and the episode re-stitched: restitch_after_reject_s is that
segment's post-processing plus the re-stitch (its generation excluded). It is the last segment: a rejected
segment takes the segments chained after it with it (productions.review.continued_by_all), and this one is the only
one made again. `--reject N` rejects another; the figure then counts the clips of every segment made again.

This machine's speed drifts by 10-20 % over minutes (it is shared), more than the differences measured, so
floors and rejections take turns, `--floor-runs` times each (3): floor, reject + re-stitch, floor, ... Each
floor encodes the episode as it then stands. The medians count: the one pass over every stitch of the run (the
first render's and each re-stitch's, the same work on the same plan), the floor over its runs, the re-stitch
over the rejections.

Prints `name: value` lines; the last is post_over_floor_ratio (wall clock).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _list(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to copy the rendered episode (and, named "
                                                 "...-restitched, the episode after the rejection)")
    parser.add_argument("--preset", default=None, help="x264 preset (default: TOWER_X264_PRESET or veryfast)")
    parser.add_argument("--interpolation", default="", help="none, hold, mci, blend (default: the backend's)")
    parser.add_argument("--reject", type=int, default=-1, help="the segment rejected (default: the last)")
    parser.add_argument("--floor-runs", type=int, default=3,
                        help="floor encodes and rejections, taking turns; the medians count (default 3)")
    args = parser.parse_args()
    if args.floor_runs < 1:
        parser.error("--floor-runs must be at least 1")

    data_dir = Path(tempfile.mkdtemp(prefix="tower-bench-"))
    os.environ["TOWER_DATA_DIR"] = str(data_dir)
    os.environ.pop("TOWER_DATABASE_URL", None)
    os.environ.pop("TOWER_REDIS_URL", None)
    os.environ["TOWER_BACKEND"] = "builtin"
    os.environ["TOWER_UPSCALER"] = "lanczos"
    if args.preset:
        os.environ["TOWER_X264_PRESET"] = args.preset
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tower.settings")

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from productions.lib.encoding import delivery_encode_args
    from productions.lib.ffmpeg import ffmpeg_command, widen_pipe
    from productions.lib.planning import timeline_frames
    from productions.lib.post import episode_graph, upscale_chain
    from productions.models import Episode, Project, Segment
    from productions.render import EpisodeRender
    from productions.review import reject_segment

    try:
        call_command("migrate", verbosity=0)
        print(f"load_before: {load()}")
        project = Project.objects.create(name="bench")
        episode = Episode.objects.create(
            project=project, title="bench", seed=1234, interpolation=args.interpolation,
            synopsis="A girl walks through a forest at sunset. She finds a sleeping dragon. "
                     "They fly over the sea at night. Lanterns rise over the city. Snow falls on the shrine. "
                     "Dawn breaks over the mountains.",
        )
        episode.queue_render()
        started = time.perf_counter()
        status = EpisodeRender(episode).run()
        wall = time.perf_counter() - started
        episode.refresh_from_db()
        if status not in (Episode.Status.REVIEW, Episode.Status.DELIVERED):  # review: rendered, awaits approval
            print(f"render ended {status}: {episode.error}", file=sys.stderr)
            return 1
        spec = episode.delivery_spec()
        t = dict(episode.timings)
        segments = list(episode.segments.order_by("index"))
        frames = timeline_frames([s.delivered_frames for s in segments], [s.join_spec for s in segments])
        clips_s, clips_cpu = t["post_segments_s"], t["post_segments_cpu_s"]
        passes = [(t["stitch_encode_s"], t["stitch_encode_cpu_s"])]  # every one pass of the run: (wall, CPU)
        qa = t["qa_segments_s"] + t["qa_episode_s"]
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(episode.final_file, args.out)

        encode = delivery_encode_args(spec, settings.TOWER_X264_PRESET)
        floor_out = data_dir / "floor.mp4"
        frame_bytes = spec.width * spec.height * 3 // 2

        def floor_run() -> tuple[float, float]:
            """The floor once: the delivered frames of the episode as it now stands, made from its native clips
            as Tower makes them (untimed, into memory), then piped from memory to one encode (timed)."""
            render = EpisodeRender(episode)
            clips = [render.clip(s, upscaled=False) for s in episode.segments.order_by("index")]
            graph = episode_graph(clips, spec, upscale_chain(spec, f"scale={spec.width}:{spec.height}:flags=lanczos"))
            inputs = [x for c in clips for x in ("-i", str(c.path))]
            raw = subprocess.run(ffmpeg_command([*inputs, "-filter_complex", graph, "-map", "[out]", "-f", "rawvideo",
                                                 "-pix_fmt", spec.pix_fmt, "pipe:1"]),
                                 capture_output=True, check=True).stdout
            assert len(raw) == frames * frame_bytes, (len(raw), frames)
            cmd = ffmpeg_command(["-f", "rawvideo", "-pix_fmt", spec.pix_fmt, "-s", f"{spec.width}x{spec.height}",
                                  "-r", str(spec.fps), "-i", "pipe:0", *encode, str(floor_out)])
            view = memoryview(raw)
            cpu0, thread0, started = children_cpu(), time.thread_time(), time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert proc.stdin is not None
            widen_pipe(proc.stdin)  # as Tower's own pipes are
            for i in range(frames):
                proc.stdin.write(view[i * frame_bytes:(i + 1) * frame_bytes])
            proc.stdin.close()
            assert proc.wait() == 0
            return time.perf_counter() - started, children_cpu() - cpu0 + time.thread_time() - thread0

        user = get_user_model().objects.create_user("bench", password="x", is_staff=True)
        reject_index = segments[args.reject].index
        restitches: list[float] = []
        remade: list[Segment] = []

        def reject_and_restitch() -> None:
            """One segment rejected, made again, the episode stitched again."""
            nonlocal remade
            reject_segment(episode.segments.get(index=reject_index), user, "bench: make it again")
            remade = list(episode.segments.filter(status="pending").order_by("index"))
            episode.refresh_from_db()
            episode.queue_render()
            assert EpisodeRender(episode).run() == Episode.Status.REVIEW
            episode.refresh_from_db()
            redone = episode.segments.filter(pk__in=[s.pk for s in remade])
            restitches.append(sum(s.timings["post_s"] for s in redone) + episode.timings["stitch_encode_s"])
            passes.append((episode.timings["stitch_encode_s"], episode.timings["stitch_encode_cpu_s"]))

        # Floors and re-stitches take turns, so that a machine whose speed drifts over the minutes (a shared
        # one does, by 10-20 %) moves both alike; the medians count.
        floors: list[tuple[float, float]] = []
        for _ in range(args.floor_runs):
            floors.append(floor_run())
            reject_and_restitch()
        if args.out:  # the re-stitched file beside the first render's, to look at the joins around the remake
            shutil.copyfile(episode.final_file, args.out.with_name(f"{args.out.stem}-restitched{args.out.suffix}"))
        floor = statistics.median(w for w, _ in floors)
        floor_cpu = statistics.median(c for _, c in floors)
        one_pass = statistics.median(w for w, _ in passes)
        one_pass_cpu = statistics.median(c for _, c in passes)
        post, post_cpu = clips_s + one_pass, clips_cpu + one_pass_cpu
        restitch = statistics.median(restitches)

        qa_report = episode.qa_reports.filter(kind="episode").order_by("-created_at").first()
        checks = {c["name"]: c for c in qa_report.checks} if qa_report else {}
        ghost, seams = checks.get("ghosting"), checks.get("seams")
        print(f"preset: {settings.TOWER_X264_PRESET}")
        print(f"interpolation: {episode.interpolation} from {episode.native_fps} fps")
        print(f"frames: {frames}")
        print(f"wall_s: {wall:.2f}  (the first render)")
        print(f"keyframe_s: {t['keyframe_s']:.2f}")
        print(f"generate_s: {t['generate_s']:.2f}")
        print(f"clips_s: {clips_s:.2f}  (native clips + proxies, beside generation)")
        print(f"clips_cpu_s: {clips_cpu:.2f}")
        print(f"one_pass_s: {one_pass:.2f}  (median of {_list(w for w, _ in passes)}: upscale, interpolate, join, "
              f"encode, episode QA frames; the first render's, then each re-stitch's)")
        print(f"one_pass_cpu_s: {one_pass_cpu:.2f}  (median of {_list(c for _, c in passes)})")
        print(f"conformance_s: {t['conformance_s']:.2f}")
        print(f"qa_segments_s: {t['qa_segments_s']:.2f}")
        print(f"qa_episode_s: {t['qa_episode_s']:.2f}")
        print(f"episode_ghosting: {ghost['value'] if ghost else 'not measured'} ({ghost['message'] if ghost else ''})")
        print(f"episode_seams: {seams['value'] if seams else 'not measured'} ({seams['message'] if seams else ''})")
        print(f"post_s: {post:.2f}")
        print(f"post_cpu_s: {post_cpu:.2f}")
        print(f"floor_s: {floor:.2f}  (median of {_list(w for w, _ in floors)})")
        print(f"floor_cpu_s: {floor_cpu:.2f}  (median of {_list(c for _, c in floors)})")
        print(f"qa_over_post: {qa / post:.3f}")
        print(f"load_after: {load()}")
        if args.out:
            print(f"out: {args.out}")
        print(f"post_over_floor_cpu_ratio: {post_cpu / floor_cpu:.3f}")
        print(f"restitch_remade_segments: {', '.join(str(s.index) for s in remade)} (segment {reject_index} "
              f"rejected, {len(restitches)} times)")
        print(f"restitch_after_reject_s: {restitch:.2f}  (median of {_list(restitches)})")
        print(f"restitch_over_floor_ratio: {restitch / floor:.3f}")
        print(f"post_over_floor_ratio: {post / floor:.3f}")
        return 0
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
