"""A dead or frozen worker's episode is taken over within the lease by another worker, and only one worker
ends it (two real Huey consumer processes on the test database and queue; SIGKILL and SIGSTOP)."""

import os
import signal
import time

import pytest
from huey.contrib.djhuey import HUEY

from productions.models import Episode, Segment, SegmentAttempt
from productions.tasks import start_render
from tests.conftest import small_episode
from tests.worker import HueyWorker, status_of, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LEASE_S = 10  # a frozen worker is taken over after 3/4 of it plus a sweep (lease/8) and a queue pick-up
ENDED = {"review", "delivered", "failed", "cancelled"}


@pytest.fixture
def workers(tmp_path, settings):
    HUEY.storage.flush_queue()
    env = {"TOWER_MEDIA_ROOT": str(settings.MEDIA_ROOT), "TOWER_LEASE_S": str(LEASE_S)}
    pair = [HueyWorker(tmp_path / f"worker{i}.log", **env).start() for i in range(2)]
    yield pair
    for worker in pair:
        if worker.proc and worker.proc.poll() is None:
            os.killpg(worker.pid, signal.SIGCONT)
        worker.stop()
    HUEY.storage.flush_queue()


def holder_of(pk: int) -> str:
    return Episode.objects.values_list("claimed_by", flat=True).get(pk=pk)


def mid_render(project, workers) -> tuple[Episode, HueyWorker, HueyWorker]:
    """Start an episode and wait until one worker holds it with a segment done and the next one under way:
    (episode, holder, other)."""
    episode = small_episode(project, duration_s=6.0, segment_count=6)
    assert start_render(episode)
    wait_for(lambda: Segment.objects.filter(episode=episode, status="done").exists(), 120, "a finished segment",
             interval=0.1)
    # ...and under way with the next one (not between two segments): its attempt is what a takeover interrupts
    wait_for(lambda: SegmentAttempt.objects.filter(segment__episode=episode, outcome="running").exists(), 60,
             "a segment under way", interval=0.02)
    claimed = holder_of(episode.pk)
    holder = next(w for w in workers if f":{w.pid}:" in claimed)
    return episode, holder, next(w for w in workers if w is not holder)


def takeover_s(episode: Episode, survivor: HueyWorker, since: float) -> float:
    wait_for(lambda: f":{survivor.pid}:" in holder_of(episode.pk), 90, "the other worker to take over",
             interval=0.1, worker=survivor)
    return time.monotonic() - since


def check_one_render(episode: Episode, survivor: HueyWorker) -> None:
    wait_for(lambda: status_of(episode.pk) in ENDED, 180, "the render", worker=survivor)
    episode.refresh_from_db()
    assert episode.status == "review" and episode.error == "", episode.error
    assert episode.final_file is not None
    assert not SegmentAttempt.objects.filter(segment__episode=episode, outcome="running").exists()


def check_no_temporaries(episode: Episode) -> None:
    assert not list(episode.media_dir.rglob(".*tmp*")), "temporaries were left behind"


def test_a_killed_workers_episode_is_taken_over_within_the_lease(project, workers):
    episode, holder, survivor = mid_render(project, workers)
    holder.kill()
    taken = takeover_s(episode, survivor, time.monotonic())
    print(f"takeover after SIGKILL: {taken:.2f} s (lease {LEASE_S} s)")
    assert taken <= LEASE_S
    check_one_render(episode, survivor)
    check_no_temporaries(episode)


def test_a_frozen_workers_episode_is_taken_over_and_it_then_stands_down(project, workers):
    """The frozen worker's process is alive (its pid answers), so only its silence tells: after the takeover
    it wakes up, finds the episode taken, and stops without touching it; only the new holder ends it."""
    episode, holder, survivor = mid_render(project, workers)
    os.killpg(holder.pid, signal.SIGSTOP)
    taken = takeover_s(episode, survivor, time.monotonic())
    print(f"takeover of a frozen worker: {taken:.2f} s (lease {LEASE_S} s)")
    os.killpg(holder.pid, signal.SIGCONT)
    assert taken <= LEASE_S
    check_one_render(episode, survivor)
    wait_for(lambda: "lease lost" in holder.log(), 30, "the woken worker to stand down", worker=holder)
    time.sleep(1)
    # Only now: until the woken worker reaches a safe point it may still be writing a file of its own, which it
    # removes as it stands down.
    check_no_temporaries(episode)
    episode.refresh_from_db()
    assert episode.status == "review" and episode.error == "" and episode.claimed_by == ""
    interrupted = SegmentAttempt.objects.filter(segment__episode=episode, outcome="interrupted")
    assert interrupted.exists(), "the frozen worker's attempt should read 'interrupted'"
