"""Drives a Tower instance configured by the environment (studio shape: Postgres + Redis) from a test.

    python tests/scale_out_driver.py create N      -> prints the ids of N small episodes, queued
    python tests/scale_out_driver.py status ID...  -> prints JSON: status, error, attempts, workers
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tower.settings")

import django  # noqa: E402

django.setup()

from productions.models import Episode, Project  # noqa: E402
from productions.tasks import start_render  # noqa: E402


def create(count: int) -> list[int]:
    project, _ = Project.objects.get_or_create(name="scale-out")
    ids = []
    for i in range(count):
        episode = Episode.objects.create(
            project=project, title=f"scale-out {i}", synopsis="Rain over a city. A cat waits on a roof.", seed=i,
            width=320, height=180, duration_s=3.0, min_bitrate_bps=200_000, segment_count=3)
        assert start_render(episode)
        ids.append(episode.pk)
    return ids


def status(ids: list[int]) -> dict:
    out = {}
    for episode in Episode.objects.filter(pk__in=ids):
        out[episode.pk] = {
            "status": episode.status, "error": episode.error,
            "attempts": [s.attempts for s in episode.segments.all()],
            "workers": episode.timings.get("workers", []),
            "final": str(episode.final_file or ""),
        }
    return out


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "create":
        print(json.dumps(create(int(args[0]))))
    else:
        print(json.dumps(status([int(a) for a in args])))
