"""Collected review decisions (productions.decisions): several approvals and rejections in a row through the
pages and the API never meet a render started by the one before; one render follows "Render changes" or the
last open decision; "Approve all" needs its confirmation; bad input gets a 4xx naming the field, never a 500.
No render runs here (tests/reviewable.py: finished segments whose files are on disk); queued renders are
recorded, not sent to a worker."""

from __future__ import annotations

import pytest

from productions.models import Episode, Segment, SegmentAttempt
from tests.conftest import post_json
from tests.reviewable import awaiting_review

pytestmark = pytest.mark.django_db(transaction=True)


def reviews(episode: Episode) -> list[str]:
    return [s.current_review() for s in episode.segments.order_by("index")]


def flash(page: str) -> str:
    return page.split('class="flash')[1].split("</p>")[0] if 'class="flash' in page else ""


def test_decisions_in_a_row_then_one_render_on_render_changes(project, producer_client, queued):
    episode = awaiting_review(project, count=4, join="cut")  # separate shots: each rejection makes only its own
    base = f"/episodes/{episode.pk}"
    # page, API, page: approve, reject (with an edited prompt), approve: none is refused, nothing is queued
    response = producer_client.post(f"{base}/segments/0/review/approve/", follow=True)
    assert "Segment 0 approved." in response.content.decode()
    response = post_json(producer_client, f"/api{base}/segments/1/reject",
                         {"reason": "Off model", "prompt": "A fox with one tail."})
    assert response.status_code == 202 and response.json()["status"] == "review"
    response = producer_client.post(f"{base}/segments/2/review/approve/", follow=True)
    page = response.content.decode()
    assert "Segment 2 approved." in page and "flash error" not in page
    assert queued == [] and reviews(episode) == ["approved", "rejected", "approved", "unreviewed"]
    rejected = episode.segments.get(index=1)
    assert rejected.status == Segment.Status.PENDING and rejected.action == "A fox with one tail."

    # the page says so: one open decision left, Render changes offered, the final marked out of date
    assert 'id="render-changes"' in page and "Render changes (1 segment to make again)" in page
    assert "1 segment still waits for a decision (#3)" in page and "Approve all…" in page

    response = producer_client.post(f"{base}/render/", follow=True)
    assert queued == [episode.pk]
    page = response.content.decode()
    assert 'class="flash render-state success">Render queued' in page  # cleared when the render ends
    episode.refresh_from_db()
    assert episode.status == Episode.Status.QUEUED
    # while it renders, decisions wait (and say why), and nothing is queued twice
    response = post_json(producer_client, f"/api{base}/segments/3/approve")
    assert response.status_code == 409 and "queued" in response.json()["detail"]
    assert queued == [episode.pk]


def test_the_last_open_decision_starts_one_render(project, producer_client, queued):
    episode = awaiting_review(project, count=3, join="cut")
    base = f"/episodes/{episode.pk}"
    assert post_json(producer_client, f"/api{base}/segments/0/reject", {"reason": "Too dark"}).status_code == 202
    assert post_json(producer_client, f"/api{base}/segments/1/approve").json()["status"] == "review"
    assert queued == []
    response = producer_client.post(f"{base}/segments/2/review/approve/", follow=True)
    assert "That was the last open decision: one render makes the changes now." in response.content.decode()
    assert queued == [episode.pk]
    episode.refresh_from_db()
    assert episode.status == Episode.Status.QUEUED

    # deciding again about an already decided segment never starts a render by itself
    other = awaiting_review(project, count=2)
    assert post_json(producer_client, f"/api/episodes/{other.pk}/segments/0/approve").status_code == 200
    assert post_json(producer_client, f"/api/episodes/{other.pk}/segments/1/approve").json()["status"] == "review"
    response = post_json(producer_client, f"/api/episodes/{other.pk}/segments/0/reject", {"reason": "On reflection"})
    assert response.json()["status"] == "review" and queued == [episode.pk]


def test_approve_all_needs_its_confirmation_and_works_through_the_api(project, producer_client, queued):
    episode = awaiting_review(project, count=3)
    base = f"/episodes/{episode.pk}"
    # the page's form without its confirm step approves nothing
    response = producer_client.post(f"{base}/approve-all/", follow=True)
    assert "needs its confirmation" in response.content.decode() and reviews(episode) == ["unreviewed"] * 3
    response = producer_client.post(f"{base}/approve-all/", {"confirm": "yes"}, follow=True)
    assert "Approved 3 segments (0, 1, 2)." in response.content.decode()
    assert reviews(episode) == ["approved"] * 3 and queued == []  # nothing changed: no render
    assert all(a.decision == "approved" for a in SegmentAttempt.objects.filter(segment__episode=episode))
    # nothing left to approve
    response = post_json(producer_client, f"/api{base}/approve-all")
    assert response.status_code == 409 and "Nothing to approve" in response.json()["detail"]

    # API: a rejected segment and two open ones; approve-all closes the last open decisions: one render
    other = awaiting_review(project, count=3)
    api = f"/api/episodes/{other.pk}"
    assert post_json(producer_client, f"{api}/segments/2/reject", {"reason": "Blurry"}).status_code == 202
    body = post_json(producer_client, f"{api}/approve-all").json()
    assert body["approved"] == [0, 1] and body["rendering"] is True and body["episode"]["status"] == "queued"
    assert queued == [other.pk]


def test_approve_all_asks_a_reason_for_segments_qa_flagged(project, producer_client, queued):
    episode = awaiting_review(project, count=2)
    Segment.objects.filter(episode=episode, index=1).update(status=Segment.Status.FAILED, error="QA failed: grid")
    Episode.objects.filter(pk=episode.pk).update(status=Episode.Status.FAILED)
    api = f"/api/episodes/{episode.pk}"
    response = post_json(producer_client, f"{api}/approve-all")
    assert response.status_code == 422 and "Segment 1 failed automatic QA" in response.json()["errors"]["reason"][0]
    assert reviews(episode) == ["unreviewed", "unreviewed"]  # all or nothing
    body = post_json(producer_client, f"{api}/approve-all", {"reason": "The grid is a fence."}).json()
    assert body["approved"] == [0, 1] and body["episode"]["status"] == "queued" and queued == [episode.pk]
    flagged = SegmentAttempt.objects.get(segment__episode=episode, segment__index=1)
    assert flagged.reason == "The grid is a fence."
    assert SegmentAttempt.objects.get(segment__episode=episode, segment__index=0).reason == ""


BAD_INPUT = [
    ("json", "approve-all", "[1, 2]", 422),
    ("json", "approve-all", "{not json", 400),
    ("json", "approve-all", '{"reason": 5}', 422),
    ("json", "approve-all", '{"reason": "' + "x" * 5000 + '"}', 422),
    ("json", "approve-all", '{"reason": "ok", "extra": 1}', 422),
    ("json", "segments/0/approve", '{"reason": "bad \\u0000 byte"}', 422),
    ("json", "segments/0/reject", '{"reason": ""}', 422),
    ("json", "segments/9/reject", '{"reason": "no such segment"}', 404),
    ("json", "reopen", "", 409),
    ("get", "versions/1/video", None, 404),
    ("get", "versions/x/video", None, 422),
    ("form", "segments/0/review/destroy/", {}, 404),
    ("form", "approve-all/", {"confirm": "yes", "reason": "\x00"}, 302),
    ("form", "reopen/", {}, 302),
    ("page", "versions/7/video/", None, 404),
]


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(project, producer_client, queued):
    episode = awaiting_review(project, count=2)
    for method, path, body, status in BAD_INPUT:
        if method == "json":
            response = producer_client.post(f"/api/episodes/{episode.pk}/{path}", data=body,
                                            content_type="application/json")
        elif method == "get":
            response = producer_client.get(f"/api/episodes/{episode.pk}/{path}")
        elif method == "page":
            response = producer_client.get(f"/episodes/{episode.pk}/{path}")
        else:
            response = producer_client.post(f"/episodes/{episode.pk}/{path}", body)
        assert response.status_code == status, (method, path, response.content[:300])
        if status == 422 and method == "json":
            assert response.json()["detail"]
        assert reviews(episode) == ["unreviewed", "unreviewed"] and queued == [], (method, path)


def test_viewers_and_outsiders_cannot_approve_all_or_reopen(project, users, viewer_client, queued):
    from tests.conftest import client_for

    episode = awaiting_review(project, count=2)
    for path in ("approve-all", "reopen"):
        assert post_json(viewer_client, f"/api/episodes/{episode.pk}/{path}").status_code == 403
        assert post_json(client_for(users["outsider"]), f"/api/episodes/{episode.pk}/{path}").status_code == 404
        assert viewer_client.post(f"/episodes/{episode.pk}/{path}/", {"confirm": "yes"}).status_code == 403
    page = viewer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "Approve all…" not in page and 'id="reopen"' not in page and 'id="render-changes"' not in page
    assert reviews(episode) == ["unreviewed", "unreviewed"] and queued == []
