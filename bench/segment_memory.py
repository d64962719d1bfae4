#!/usr/bin/env python
"""Peak memory of a render worker for one long segment (issue 10: under 1 GB for 90 s, flat in length).

    .venv/bin/python bench/segment_memory.py [--seconds 30 90]

Each length runs in a fresh process: an episode of ONE segment of that length (built-in generator at
1024x576, Lanczos to 1920x1080, the default interpolation), rendered by EpisodeRender as the worker does.
Prints the Python process's peak resident memory (ru_maxrss: the worker) and the largest ffmpeg child's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys
sys.path.insert(0, os.environ["TOWER_ROOT"])
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from productions.models import Episode, Project
from productions.render import EpisodeRender
seconds = float(sys.argv[1])
e = Episode.objects.create(project=Project.objects.create(name="m"), title="m", seed=3, segment_count=1,
                           duration_s=seconds, synopsis="A girl walks through a forest at sunset.")
e.queue_render()
status = EpisodeRender(e).run()
e.refresh_from_db()
s = e.segments.get()
print(json.dumps({"status": status, "error": e.error, "native_frames": s.native_frames,
                  "delivered_frames": s.delivered_frames,
                  "worker_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ffmpeg_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[30.0, 90.0])
    args = parser.parse_args()
    for seconds in args.seconds:
        with tempfile.TemporaryDirectory(prefix="tower-mem-") as data:
            env = {**os.environ, "TOWER_DATA_DIR": data, "TOWER_BACKEND": "builtin", "TOWER_UPSCALER": "lanczos",
                   "DJANGO_SETTINGS_MODULE": "tower.settings", "TOWER_ROOT": str(ROOT)}
            env.pop("TOWER_DATABASE_URL", None)
            env.pop("TOWER_REDIS_URL", None)
            out = subprocess.run([sys.executable, "-c", CHILD, str(seconds)], env=env, capture_output=True,
                                 text=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
        print(f"segment_{seconds:g}s: {json.dumps(result)}")
        print(f"worker_peak_mb_{seconds:g}s: {result['worker_peak_mb']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
