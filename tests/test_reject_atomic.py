"""A rejection that the database refuses, or whose files cannot be moved, changes nothing: the segment keeps its
files and its state, and can still be approved or rejected."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection

from productions.models import Segment, SegmentAttempt
from productions.review import reject_segment
from tests.conftest import post_json
from tests.reviewable import awaiting_review, block_proxy_move, segment_files

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def segment_writes_refused():
    """The database refuses every update of a segment row (what a full disk or a lost connection would do)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("CREATE TRIGGER refuse_segment BEFORE UPDATE ON productions_segment "
                           "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        else:
            cursor.execute("CREATE FUNCTION refuse_segment() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql")
            cursor.execute("CREATE TRIGGER refuse_segment BEFORE UPDATE ON productions_segment "
                           "FOR EACH ROW EXECUTE FUNCTION refuse_segment()")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("DROP TRIGGER refuse_segment")
            else:
                cursor.execute("DROP TRIGGER refuse_segment ON productions_segment")
                cursor.execute("DROP FUNCTION refuse_segment()")


@pytest.fixture
def no_renders(monkeypatch):
    monkeypatch.setattr("productions.tasks.render_episode", lambda episode_id: None)


def assert_untouched(segment: Segment, files: dict[str, bytes]) -> None:
    assert segment_files(segment) == files
    assert segment.status == Segment.Status.DONE and segment.review == Segment.Review.UNREVIEWED
    assert not SegmentAttempt.objects.filter(segment=segment, decision=Segment.Review.REJECTED).exists()
    attempt_folders = list(segment.media_dir.glob("attempt-*"))
    assert attempt_folders == [], attempt_folders


def test_a_refused_database_write_moves_no_file(project, users, producer_client, no_renders):
    episode = awaiting_review(project)
    segment = episode.segments.get(index=1)
    files = segment_files(segment)
    with segment_writes_refused(), pytest.raises(DatabaseError):
        reject_segment(segment, users["producer"], "too dark")
    assert_untouched(segment, files)
    url = f"/api/episodes/{episode.pk}/segments/1"
    assert post_json(producer_client, f"{url}/approve").status_code == 200  # approvable
    assert post_json(producer_client, f"{url}/reject", {"reason": "too dark after all"}).status_code == 202
    segment.refresh_from_db()
    assert segment.status == Segment.Status.PENDING and segment_files(segment) == {}


def test_a_file_that_cannot_be_moved_rolls_the_rejection_back(project, users, producer_client, no_renders):
    episode = awaiting_review(project)
    segment = episode.segments.get(index=0)
    files = segment_files(segment)
    blocker = block_proxy_move(segment)  # the move of that one file fails after the first files have moved
    attempt = SegmentAttempt.objects.get(segment=segment)
    with pytest.raises(OSError):
        reject_segment(segment, users["producer"], "too dark")
    assert segment_files(segment) == files
    segment.refresh_from_db()
    assert segment.status == Segment.Status.DONE and segment.review == Segment.Review.UNREVIEWED
    assert SegmentAttempt.objects.get(pk=attempt.pk).decision == ""
    assert {p.name for p in blocker.parent.iterdir()} == {"proxy.mp4"}  # only what the test put there
    (blocker / "in-the-way").rmdir()
    blocker.rmdir()
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/reject",
                     {"reason": "too dark"}).status_code == 202
