"""An episode awaiting review without rendering one: two finished segments whose files are on disk (the review
loop moves and records files; what is in them does not matter to it)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils import timezone

from productions.models import Episode, Segment, SegmentAttempt
from tests.conftest import small_episode

FILES = {"native_path": "native.mkv", "proxy_path": "proxy.mp4", "last_frame_path": "last.png",
         "preview_path": "preview.webp"}


def awaiting_review(project, count: int = 2, join: str = "continuous") -> Episode:
    """`join` into every segment after the first: continuous (one chained shot, the default), or "cut" for
    separate shots, where a rejection makes only that segment again (tests/test_reject_chained.py)."""
    episode = small_episode(project, status=Episode.Status.REVIEW, segment_count=count)
    now = timezone.now()
    for index in range(count):
        paths = {}
        for field, name in FILES.items():
            relative = Path("episodes") / str(episode.pk) / f"segment-{index:02d}" / name
            target = Path(settings.MEDIA_ROOT) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f"{field} of segment {index}".encode())
            paths[field] = str(relative)
        Segment.objects.create(episode=episode, index=index, prompt=f"Beat {index}.", seed=index, native_frames=24,
                               delivered_frames=24, status=Segment.Status.DONE, progress=1.0, attempts=1,
                               started_at=now, finished_at=now, join=join if index else "continuous", **paths)
    return episode


def segment_files(segment: Segment) -> dict[str, bytes]:
    """The segment's current files by field (missing ones left out)."""
    segment.refresh_from_db()
    return {field: path.read_bytes() for field in FILES if (path := segment.file(field))}


def block_proxy_move(segment: Segment) -> Path:
    """Make the move of `segment`'s proxy into its attempt folder fail, after its other files moved: the attempt
    folder exists (so a second one is made beside it) and a folder that is not empty has the proxy's place
    there. Returns that proxy place (a folder holding `in-the-way`)."""
    attempt = SegmentAttempt.objects.create(segment=segment, number=1, seed=segment.seed, prompt=segment.prompt,
                                            outcome=SegmentAttempt.Outcome.SUCCEEDED, started_at=segment.started_at,
                                            finished_at=segment.finished_at)
    (segment.media_dir / "attempt-01").mkdir(parents=True)
    blocker = segment.media_dir / f"attempt-01-{attempt.pk}" / "proxy.mp4"
    (blocker / "in-the-way").mkdir(parents=True)
    return blocker
