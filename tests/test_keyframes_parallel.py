"""Storyboard keyframes through the worker: a real Huey consumer makes them, and with two ComfyUI servers the
keyframes are drawn two at a time (about half the time of one server; the fakes' jobs take a fixed time)."""

import time

import pytest
from PIL import Image

from productions.keyframes import make_keyframes, run_attempts
from productions.models import KeyframeAttempt
from tests.fake_comfyui import FakeProcess
from tests.keyframe_helpers import storyboard_episode
from tests.test_comfyui_episode import PARALLEL_WALL_RATIO
from tests.worker import HueyWorker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

JOB_S = 2.0
SHOTS = 6


def test_a_huey_worker_makes_the_keyframes_of_six_shots(project, users, queue, tmp_path, settings):
    episode = storyboard_episode(project)
    worker = HueyWorker(tmp_path / "worker.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT)).start()
    try:
        assert make_keyframes(episode, users["producer"]) == list(range(6))
        wait_for(lambda: not KeyframeAttempt.objects.filter(segment__episode=episode, finished_at=None).exists(),
                 120, "six keyframes", worker=worker)
    finally:
        worker.stop()
    for shot in episode.segments.order_by("index"):
        attempt = shot.keyframe_log.get()
        assert not attempt.error and shot.keyframe_path == attempt.path
        with Image.open(shot.file("keyframe_path")) as image:
            assert image.size == episode.native_size()


def test_two_comfyui_servers_make_keyframes_in_about_half_the_time(project, users, queue, settings):
    settings.TOWER_NATIVE_SIZE = (128, 72)
    servers = [FakeProcess("--job-time", str(JOB_S), "--cache-render"),
               FakeProcess("--job-time", str(JOB_S), "--cache-render")]
    walls = {}
    try:
        for count in (1, 2):
            settings.TOWER_COMFYUI_URLS = [s.url for s in servers[:count]]
            episode = storyboard_episode(project, shots=SHOTS, title=f"on {count}", backend="comfyui")
            make_keyframes(episode, users["producer"])
            ids = [task.args[0] for task in queue.pending()][0]
            queue.storage.flush_queue()
            started = time.monotonic()
            results = run_attempts(ids)  # the task's body, here: the same process measures it
            walls[count] = time.monotonic() - started
            assert list(results.values()) == ["made"] * SHOTS, results
            used = set(KeyframeAttempt.objects.filter(segment__episode=episode).values_list("backend", flat=True))
            assert used == {"comfyui"}
    finally:
        for server in servers:
            server.stop()
    print(f"keyframes: one server {walls[1]:.2f} s, two servers {walls[2]:.2f} s, ratio {walls[2] / walls[1]:.3f}")
    assert walls[1] >= SHOTS * JOB_S * 0.9  # one at a time on one server
    assert walls[2] <= PARALLEL_WALL_RATIO * walls[1], walls
