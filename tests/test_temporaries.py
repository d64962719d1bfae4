"""Temporary files are deleted only when provably abandoned: a worker taking an episode over keeps another
live worker's write in progress, and deletes what a dead one left (real writer processes)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from productions.models import Episode
from tests.conftest import render_now, small_episode
from tests.worker import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

WRITER = """
import sys, time
from pathlib import Path
from productions.lib.files import temporary_path
path = temporary_path(Path(sys.argv[1]))
path.parent.mkdir(parents=True, exist_ok=True)
path.write_bytes(b"half a video")
print(path, flush=True)
time.sleep(float(sys.argv[2]))
"""


def start_writer(final: Path, linger_s: float) -> tuple[subprocess.Popen, Path]:
    """Another process writing `final` under a temporary name (as ffmpeg does in another worker)."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(final), str(linger_s)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    return proc, Path(proc.stdout.readline().strip())


def test_taking_an_episode_over_keeps_a_live_writers_temporary(project, settings):
    settings.TOWER_LEASE_S = 60
    episode = small_episode(project)
    live, live_file = start_writer(episode.media_dir / "final.mp4", 120)
    dead, dead_file = start_writer(episode.media_dir / "segment-00" / "native.mkv", 0)
    dead.wait(timeout=30)
    legacy_old = episode.media_dir / ".final.tmp-0123abcd.mp4"  # no writer in the name: judged by its age
    legacy_fresh = episode.media_dir / "segment-01" / ".proxy.tmp-4567cdef.mp4"
    for path in (legacy_old, legacy_fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left over")
    an_hour_ago = time.time() - 3600
    os.utime(legacy_old, (an_hour_ago, an_hour_ago))
    try:
        assert render_now(episode) == Episode.Status.REVIEW
        assert live_file.exists(), "a live worker's write in progress was deleted"
        assert legacy_fresh.exists(), "a recent temporary of an unknown writer was deleted"
        assert not dead_file.exists() and not legacy_old.exists(), "abandoned temporaries were kept"
    finally:
        live.kill()
        live.wait()
