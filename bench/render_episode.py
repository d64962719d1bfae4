#!/usr/bin/env python
"""Render a full 30 s 1920x1080 episode with the built-in generator and compare post-generation to a floor.

    .venv/bin/python bench/render_episode.py [--out FILE] [--preset veryfast]

Runs Tower's real render path (EpisodeRender, the same code the worker runs) on a throwaway data folder, then
times the floor: one ffmpeg command encoding the same 1080p frames (the episode's own, from raw) with the same
encoder settings.
Prints `name: value` lines; the last is post_over_floor_ratio = (upscale + fps + stitch + encode) / floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to copy the rendered episode")
    parser.add_argument("--preset", default=None, help="x264 preset (default: TOWER_X264_PRESET or veryfast)")
    args = parser.parse_args()

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
    from django.core.management import call_command

    from productions.lib.encoding import delivery_encode_args, delivery_preset
    from productions.lib.ffmpeg import run_ffmpeg
    from productions.models import Episode, Project
    from productions.render import EpisodeRender

    try:
        call_command("migrate", verbosity=0)
        project = Project.objects.create(name="bench")
        episode = Episode.objects.create(
            project=project, title="bench", seed=1234,
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
        frames = sum(s.delivered_frames for s in episode.segments.all()) - (
            (episode.segment_count - 1) * round(episode.crossfade_s * spec.fps))

        # The floor: one ffmpeg command encoding the same frames with the same settings. x264's speed depends
        # on the picture (here, textured landscapes took 1.6x as long as testsrc2), so the honest floor encodes
        # the episode's own frames, decoded beforehand (untimed) to raw video. testsrc2 is printed too.
        raw = data_dir / "frames.yuv"
        run_ffmpeg(["-i", str(episode.final_file), "-f", "rawvideo", "-pix_fmt", spec.pix_fmt, str(raw)],
                   "decoding the episode for the floor")
        started = time.perf_counter()
        run_ffmpeg(["-f", "rawvideo", "-pix_fmt", spec.pix_fmt, "-s", f"{spec.width}x{spec.height}",
                    "-r", str(spec.fps), "-i", str(raw), *delivery_encode_args(spec), str(data_dir / "floor.mp4")],
                   "floor encode")
        floor = time.perf_counter() - started
        raw.unlink()
        started = time.perf_counter()
        run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}",
                    "-frames:v", str(frames), *delivery_encode_args(spec), str(data_dir / "floor2.mp4")],
                   "testsrc2 floor encode")
        floor_testsrc2 = time.perf_counter() - started

        t = episode.timings
        post = t["post_segments_s"] + t["stitch_encode_s"]
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(episode.final_file, args.out)
        print(f"preset: {delivery_preset()}")
        print(f"frames: {frames}")
        print(f"wall_s: {wall:.2f}")
        print(f"keyframe_s: {t['keyframe_s']:.2f}")
        print(f"generate_s: {t['generate_s']:.2f}")
        print(f"upscale_fps_segments_s: {t['post_segments_s']:.2f}")
        print(f"stitch_encode_s: {t['stitch_encode_s']:.2f}")
        print(f"conformance_s: {t['conformance_s']:.2f}")
        qa = t["qa_segments_s"] + t["qa_episode_s"]
        print(f"qa_segments_s: {t['qa_segments_s']:.2f}")
        print(f"qa_episode_s: {t['qa_episode_s']:.2f}")
        print(f"post_s: {post:.2f}")
        print(f"floor_testsrc2_s: {floor_testsrc2:.2f}")
        print(f"post_over_testsrc2_floor_ratio: {post / floor_testsrc2:.3f}")
        print(f"floor_s: {floor:.2f}")
        if args.out:
            print(f"out: {args.out}")
        print(f"qa_over_post: {qa / post:.3f}")
        print(f"post_over_floor_ratio: {post / floor:.3f}")
        return 0
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
