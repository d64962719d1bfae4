"""Shared by the keyframe tests: an episode with N shots made directly as Segment rows, and running the
queued keyframe tasks here (the queue's own tasks, as a worker would take them)."""

from __future__ import annotations

from productions.models import Segment
from tests.conftest import small_episode

ACTIONS = ["A fox runs through snow at dawn.", "A girl walks through a forest.", "They meet by a river at noon.",
           "Rain falls on the village.", "A lantern glows at night.", "They watch the sea at sunset."]


def storyboard_episode(project, shots: int = 6, **overrides):
    episode = small_episode(project, duration_s=float(shots), segment_count=shots, **overrides)
    Segment.objects.bulk_create(
        Segment(episode=episode, index=i, action=ACTIONS[i % len(ACTIONS)], prompt=ACTIONS[i % len(ACTIONS)],
                seed=100 + i, native_frames=12, delivered_frames=24, join="cut" if i else "continuous")
        for i in range(shots))
    return episode


def run_queued(huey) -> int:
    """Run every task waiting in the test run's queue, in this process; returns how many ran."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran
