"""QA policy: a segment failing a blocking check is regenerated with a new seed, up to 3 tries, then flagged;
the episode is never stitched from a flagged segment."""

import numpy as np
import pytest

from productions import render as render_module
from productions.lib.generator import BuiltinGenerator
from productions.models import Episode, QAReport, SegmentAttempt
from productions.render import EpisodeRender
from tests.conftest import small_episode

pytestmark = pytest.mark.django_db(transaction=True)


def tiled_2x2(frame: np.ndarray) -> np.ndarray:
    """The old pipeline's defect: the picture repeated as a grid."""
    h, w = frame.shape[:2]
    small = frame[::2, ::2][: h // 2, : w // 2]
    return np.tile(small, (2, 2, 1))


class GridOnSomeTries(BuiltinGenerator):
    """The built-in generator, but segment `index` comes out as a 2x2 grid on its first `bad_tries` tries."""

    def __init__(self, index: int, bad_tries: int):
        super().__init__()
        self.index, self.bad_tries, self.tries = index, bad_tries, 0

    def stream_segment(self, request, progress, should_cancel):
        result = super().stream_segment(request, progress, should_cancel)
        if request.index == self.index:
            self.tries += 1
            if self.tries <= self.bad_tries:
                result.frames = (f if i == 0 else tiled_2x2(f) for i, f in enumerate(result.frames))
        return result


def render_with(episode, backend, monkeypatch) -> str:
    monkeypatch.setattr(render_module, "get_backend", lambda name: backend)
    episode.queue_render()
    return EpisodeRender(episode).run()


def test_a_grid_segment_is_regenerated_with_a_new_seed_and_then_passes(project, monkeypatch):
    episode = small_episode(project, duration_s=3.0)  # 1.5 s segments: grid QA samples 3 frames of each
    status = render_with(episode, GridOnSomeTries(index=1, bad_tries=1), monkeypatch)
    assert status in {Episode.Status.DELIVERED, "review"}, Episode.objects.get(pk=episode.pk).error
    segment = episode.segments.get(index=1)
    assert segment.status == "done" and segment.attempts == 2
    first, second = segment.attempt_log.order_by("number")
    assert first.seed != second.seed
    assert first.outcome == SegmentAttempt.Outcome.FAILED and first.error.startswith("QA: ")
    assert "grid" in first.error
    assert second.outcome == SegmentAttempt.Outcome.SUCCEEDED
    reports = list(QAReport.objects.filter(segment=segment, kind="segment").order_by("created_at"))
    assert [r.passed for r in reports] == [False, True]
    grid = next(c for c in reports[0].checks if c["name"] == "grid")
    assert grid["passed"] is False and grid["value"] >= grid["threshold"] and grid["worst_frames"]
    assert reports[0].details["seed"] == first.seed
    # The untouched segment passed first time, and the episode itself was checked at its boundaries.
    assert episode.segments.get(index=0).attempts == 1
    episode_report = QAReport.objects.get(episode=episode, kind="episode")
    assert len(episode_report.details["boundaries_s"]) == 1


def test_a_segment_failing_every_try_is_flagged_and_nothing_is_stitched(project, monkeypatch):
    episode = small_episode(project, duration_s=3.0)  # 1.5 s segments: grid QA samples 3 frames of each
    assert render_with(episode, GridOnSomeTries(index=0, bad_tries=99), monkeypatch) == Episode.Status.FAILED
    episode.refresh_from_db()
    assert "Segment 0 failed automatic QA on every attempt" in episode.error
    assert not (episode.media_dir / "final.mp4").exists()
    flagged = episode.segments.get(index=0)
    assert flagged.status == "failed" and flagged.attempts == 3
    assert "QA failed on 3 attempt(s)" in flagged.error and "override" in flagged.error
    assert flagged.file("proxy_path"), "the last try stays viewable for the producer"
    assert len({a.seed for a in flagged.attempt_log.all()}) == 3
    assert QAReport.objects.filter(segment=flagged, passed=False).count() == 3
    # Segment 1 was still generated (from segment 0's last frame) so the producer sees the whole episode.
    assert episode.segments.get(index=1).status == "done"
