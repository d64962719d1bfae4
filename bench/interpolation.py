#!/usr/bin/env python
"""Interpolation methods on the built-in generator's footage: ghost frames and seconds per 30 s episode.

    nice -n 10 .venv/bin/python bench/interpolation.py [--methods hold:12 hold:8 none:24 mci:8 blend:8]

Each method renders the same default 30 s episode (6 chained segments, built-in generator, Lanczos to
1920x1080, x264 at the delivery preset) with EpisodeRender. Ghost frames are counted twice on the delivered
file, by two different checks:
- `qa_ghosts`: Tower's own automatic QA (the episode report's `ghosting` check, on the frames being encoded);
- `mix_ghosts`: an independent frame-by-frame test (tests/ghosts.py, the one that found 513 ghosts in 720
  frames): on the pixels that change between a frame's neighbours, the frame is fitted as a*prev + (1-a)*next.
Seconds: the whole render (generation included) and post-generation alone, wall clock on this machine.
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
    parser.add_argument("--methods", nargs="+", default=["hold:12", "hold:8", "none:24", "mci:8", "blend:8"])
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="tower-interp-"))
    os.environ.update(TOWER_DATA_DIR=str(data_dir), TOWER_BACKEND="builtin", TOWER_UPSCALER="lanczos")
    os.environ.pop("TOWER_DATABASE_URL", None)
    os.environ.pop("TOWER_REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tower.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from productions.lib.planning import timeline_frames
    from productions.models import Episode, Project
    from productions.render import EpisodeRender
    from tests.ghosts import file_ghosts

    call_command("migrate", verbosity=0)
    project = Project.objects.create(name="interpolation")
    print(f"load_before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| method | native fps | frames | qa_ghosts | mix_ghosts | render_s | post_s |")
    print("|---|---|---|---|---|---|---|")
    try:
        for spec in args.methods:
            method, rate = spec.split(":")
            episode = Episode.objects.create(
                project=project, title=spec, seed=1234, interpolation=method, native_fps=int(rate),
                synopsis="A girl walks through a forest at sunset. She finds a sleeping dragon. They fly over the "
                         "sea at night. Lanterns rise over the city. Snow falls on the shrine. Dawn breaks.")
            episode.queue_render()
            started = time.perf_counter()
            status = EpisodeRender(episode).run()
            wall = time.perf_counter() - started
            episode.refresh_from_db()
            if status != Episode.Status.REVIEW:
                print(f"| {method} | {rate} | render ended {status}: {episode.error} |")
                continue
            report = episode.qa_reports.filter(kind="episode").first()
            ghost = next((c for c in report.checks if c["name"] == "ghosting"), None)
            qa_ghosts = (ghost.get("details") or {}).get("ghost_frames", ghost["value"]) if ghost else "-"
            t = episode.timings
            post = t["post_segments_s"] + t["stitch_encode_s"]
            segments = list(episode.segments.all())
            frames = timeline_frames([s.delivered_frames for s in segments], [s.join_spec for s in segments])
            print(f"| {method} | {rate} | {frames} | {qa_ghosts} | {len(file_ghosts(episode.final_file))} | "
                  f"{wall:.1f} | {post:.1f} |", flush=True)
            shutil.rmtree(episode.media_dir, ignore_errors=True)
    finally:
        print(f"load_after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
