"""A first-frame model's chains run at once: a shot after a cut starts from its own keyframe, so it does not
wait for the shots before it; within a chain each segment still starts from the last frame of the one before.
Through a real Huey worker and fake ComfyUI servers with a fixed job time (like a GPU's)."""

import pytest

from productions.models import SegmentAttempt
from tests.conftest import small_episode
from tests.test_comfyui_episode import PARALLEL_WALL_RATIO, comfy_worker, render_through, timed_fake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_two_chains_take_the_time_of_one_on_two_servers(project, tmp_path, settings):
    servers = [timed_fake(1.5), timed_fake(1.5)]
    walls = {}
    try:
        for count in (1, 2):
            # four shots, a cut into the third: chains [1, 2] and [3, 4]
            episode = small_episode(project, title=f"chains on {count}", video_model="svd_xt", duration_s=4.0,
                                    segment_count=4, transitions="3: cut")
            worker = comfy_worker(tmp_path, settings, [s.url for s in servers[:count]], f"worker{count}",
                                  TOWER_VRAM_BUDGET_GB="32", TOWER_NATIVE_SIZE="128x72")
            episode = render_through(episode, worker)
            segments = list(episode.segments.order_by("index"))
            assert [s.join for s in segments] == ["cut", "continuous", "cut", "continuous"]
            assert {s.backend_info["server"] for s in segments} == {s.url for s in servers[:count]}
            # within a chain, a segment starts only once the one before it is made (it starts from its last frame)
            made = {s.index: SegmentAttempt.objects.filter(segment=s).latest("number") for s in segments}
            assert made[1].started_at >= made[0].finished_at and made[3].started_at >= made[2].finished_at
            walls[count] = episode.timings["generation_wall_s"]
    finally:
        for server in servers:
            server.stop()
    print(f"chained generation wall: one server {walls[1]:.2f} s, two servers {walls[2]:.2f} s, "
          f"ratio {walls[2] / walls[1]:.3f}")
    assert walls[2] <= PARALLEL_WALL_RATIO * walls[1], walls
