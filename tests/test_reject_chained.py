"""A first-frame model starts each chained segment from the last frame of the one before. Rejecting a segment
makes it again from the same start but it ends elsewhere, so the segments chained after it (up to the next cut,
dissolve or fade) are made again with it: kept, the next join would jump from the new last frame to a picture
that continues the old one. The reject form says so before, the answer after; their attempts are archived with
the reason and an approval of them is withdrawn. A first-and-last-frame model runs each segment between
keyframes the remake keeps, so only the rejected segment is made again."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.files import load_image
from productions.lib.post import SegmentFiles
from productions.models import Episode, QAReport, Segment, SegmentAttempt
from productions.render import EpisodeRender
from productions.review import reject_segment
from tests.conftest import post_json, render_now, small_episode
from tests.reviewable import awaiting_review, block_proxy_move, segment_files
from tests.test_anchored import native_frames

pytestmark = pytest.mark.django_db(transaction=True)

MADE_AGAIN = "Made again with segment 0: it continues from that segment's last frame, which the remake changes."


def card(page: str, index: int) -> str:
    return page.split(f'id="segment-{index}"')[1].split("</figure>")[0]


def first_native_frame(segment: Segment) -> np.ndarray:
    return native_frames(SegmentFiles(segment.media_dir).native, segment.native_frames)[0]


def test_rejecting_a_chained_segment_makes_the_ones_after_it_again(project, producer_client, users, queued):
    episode = small_episode(project, duration_s=3.0, segment_count=3)
    assert render_now(episode) == Episode.Status.REVIEW, Episode.objects.get(pk=episode.pk).error
    base = f"/episodes/{episode.pk}"
    assert post_json(producer_client, f"/api{base}/segments/2/approve").status_code == 200
    old = {s.index: s for s in episode.segments.order_by("index")}
    old_last = load_image(old[0].file("last_frame_path"))

    # the reject form warns before: segment 0's names the two after it and the approval it withdraws
    page = producer_client.get(f"{base}/").content.decode()
    assert ("Segments #1, #2 continue from this one's last frame: rejecting it makes them again too, or the "
            "join would jump. Their approval is withdrawn (#2 approved).") in card(page, 0)
    assert "Segment #2 continues from this one's last frame" in card(page, 1)
    assert "continued-by" not in card(page, 2)

    response = producer_client.post(f"{base}/segments/0/review/reject/", {"reason": "Too dark"}, follow=True)
    assert ("Segment 0 rejected: it will be made again with a new seed. Segments 1 and 2 continue from its last "
            "frame: made again with it.") in response.content.decode()
    # segment 1 was the last open decision: it is decided with segment 0, so the one render starts
    assert queued == [episode.pk]
    now = {s.index: s for s in episode.segments.order_by("index")}
    assert [now[i].status for i in range(3)] == ["pending"] * 3 and now[0].seed != old[0].seed
    for index in (1, 2):
        segment = now[index]
        assert segment.seed == old[index].seed and segment.prompt == old[index].prompt  # their start changes
        assert segment_files(segment) == {} and segment.current_review() == Segment.Review.REJECTED
        attempt = SegmentAttempt.objects.get(segment=segment, number=1)
        assert (attempt.decision, attempt.reason, attempt.reviewer) == ("rejected", MADE_AGAIN, users["producer"])
        assert episode.media_file(attempt.video_path).exists() and episode.media_file(attempt.preview_path).exists()
    assert SegmentAttempt.objects.get(segment=now[0], number=1).reason == "Too dark"

    episode.refresh_from_db()
    assert EpisodeRender(episode).run() == Episode.Status.REVIEW, Episode.objects.get(pk=episode.pk).error
    made = list(episode.segments.order_by("index"))
    assert [(s.attempts, s.status) for s in made] == [(2, "done")] * 3
    # every chained segment starts exactly on the new last frame of the one before it (the join is invisible)
    for before, after in zip(made, made[1:], strict=False):
        assert np.array_equal(first_native_frame(after), load_image(before.file("last_frame_path")))
    assert not np.array_equal(load_image(made[0].file("last_frame_path")), old_last)  # the remake ended elsewhere
    seams = next(c for c in QAReport.objects.get(episode=episode, kind="episode").checks if c["name"] == "seams")
    assert seams["passed"], seams
    assert episode.current_conformance().passed
    attempts = producer_client.get(f"/api{base}/segments/2/attempts").json()
    assert [(a["number"], a["decision"], a["reason"]) for a in attempts] == [(1, "rejected", MADE_AGAIN),
                                                                             (2, "", "")]


def test_a_cut_ends_what_a_rejection_makes_again(project, producer_client, no_renders):
    episode = awaiting_review(project, count=4)
    episode.segments.filter(index=2).update(join="cut")  # segments 0-1 are one shot, 2-3 another
    base = f"/api/episodes/{episode.pk}/segments"
    assert post_json(producer_client, f"{base}/2/approve").status_code == 200
    kept = {i: segment_files(episode.segments.get(index=i)) for i in (2, 3)}

    body = post_json(producer_client, f"{base}/0/reject", {"reason": "Off model"}).json()
    assert [(s["status"], s["review"]) for s in body["segments"]] == [
        ("pending", "rejected"), ("pending", "rejected"), ("done", "approved"), ("done", "unreviewed")]
    assert {i: segment_files(episode.segments.get(index=i)) for i in (2, 3)} == kept
    # the last segment of a chain takes nothing with it; a segment already waiting is left as it is
    body = post_json(producer_client, f"{base}/3/reject", {"reason": "Too fast"}).json()
    assert [s["status"] for s in body["segments"]] == ["pending", "pending", "done", "pending"]
    assert SegmentAttempt.objects.filter(segment__episode=episode, decision="rejected").count() == 3


def test_a_first_and_last_frame_model_makes_only_the_rejected_segment_again(project, producer_client, no_renders):
    episode = awaiting_review(project, count=3)
    Episode.objects.filter(pk=episode.pk).update(video_model="builtin_anchored")
    assert "continued-by" not in producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    body = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/reject", {"reason": "Dull"}).json()
    assert [s["status"] for s in body["segments"]] == ["pending", "done", "done"]


def test_a_failed_move_of_a_later_segment_puts_every_file_back(project, users, no_renders):
    episode = awaiting_review(project, count=3)
    segments = list(episode.segments.order_by("index"))
    files = [segment_files(s) for s in segments]
    block_proxy_move(segments[2])  # segment 2's proxy cannot move, after segments 0 and 1 moved
    with pytest.raises(OSError):
        reject_segment(segments[0], users["producer"], "too dark")
    for segment, before in zip(segments, files, strict=True):
        assert segment_files(segment) == before  # (refreshes it)
        assert segment.status == Segment.Status.DONE and segment.review == Segment.Review.UNREVIEWED
    assert not SegmentAttempt.objects.filter(segment__episode=episode, decision="rejected").exists()
    assert [list(s.media_dir.glob("attempt-*")) for s in segments[:2]] == [[], []]


@pytest.fixture
def no_renders(monkeypatch):
    monkeypatch.setattr("productions.tasks.render_episode", lambda episode_id: None)
