"""The review loop, in process: a render awaits review, approvals deliver, a rejection archives the attempt,
regenerates the segment with a new seed (and an edited prompt) and re-stitches; viewers can do none of it."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from productions.models import Episode, QAReport, Segment, SegmentAttempt, file_fingerprint
from productions.render import EpisodeRender
from tests.conftest import post_json, render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rendered(project) -> Episode:
    episode = small_episode(project, synopsis="<script>window.__xss = 1</script> A fox runs. It finds a lantern.")
    assert render_now(episode) == Episode.Status.REVIEW
    episode.refresh_from_db()
    return episode


def test_a_render_awaits_review_and_the_last_approval_delivers_it(rendered, producer_client, users):
    episode = rendered
    assert episode.progress() == 1.0 and episode.current_conformance().passed
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "Awaiting review" in page and page.count("Approve</button>") == 2
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page and "<script>window.__xss" not in page
    for segment in episode.segments.all():  # a badge per segment: the QA verdict on its current files, if any
        report = segment.current_qa()
        expected = "not checked" if report is None else ("pass" if report.passed else "fail")
        card = page.split(f'id="segment-{segment.index}"')[1].split("</figure>")[0]
        assert f"QA {expected}" in card
    QAReport.objects.filter(episode=episode, kind="segment").delete()
    assert producer_client.get(f"/episodes/{episode.pk}/").content.decode().count("QA not checked") == 2

    response = producer_client.post(f"/episodes/{episode.pk}/segments/0/review/approve/")
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.status == Episode.Status.REVIEW
    body = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/1/approve").json()
    assert body["status"] == "delivered" and [s["review"] for s in body["segments"]] == ["approved", "approved"]
    attempt = SegmentAttempt.objects.get(segment__episode=episode, segment__index=1)
    assert attempt.decision == "approved" and attempt.reviewer == users["producer"]
    # Delivered: nothing more to review.
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/approve").status_code == 409


def test_a_rejection_keeps_the_attempt_and_regenerates_with_a_new_seed(rendered, producer_client, users, queued):
    episode = rendered
    QAReport.objects.create(episode=episode, segment=episode.segments.get(index=1), kind="segment", passed=False,
                            checks=[{"name": "grid", "passed": False}])
    first_final = file_fingerprint(episode.final_file)
    old = episode.segments.get(index=1)
    old_proxy = old.file("proxy_path").read_bytes()
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "QA fail" in page and "QA failed: grid" in page

    assert post_json(producer_client, f"/api/episodes/{episode.pk}/segments/1/reject",
                     {"reason": "  "}).status_code == 422
    response = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/1/reject",
                         {"reason": "The fox has <b>two</b> tails", "prompt": "A fox with ONE tail finds a lantern."})
    assert response.status_code == 202, response.content
    # Collected: segment 0 still waits for a decision, so nothing is queued yet.
    assert response.json()["status"] == "review" and queued == []

    segment = episode.segments.get(index=1)
    assert segment.status == Segment.Status.PENDING and segment.seed != old.seed
    assert segment.prompt == "A fox with ONE tail finds a lantern."
    assert not segment.proxy_path and not segment.native_path
    attempt = SegmentAttempt.objects.get(segment=segment, number=1)
    assert attempt.decision == "rejected" and attempt.reason == "The fox has <b>two</b> tails"
    assert attempt.reviewer == users["producer"] and attempt.seed == old.seed and attempt.prompt == old.prompt
    assert attempt.qa == {"passed": False, "report": attempt.qa["report"], "failed": ["grid"]}
    archived = episode.media_file(attempt.video_path)
    assert archived.read_bytes() == old_proxy and attempt.files_dir.endswith("segment-01/attempt-01")
    assert episode.media_file(attempt.preview_path).exists()
    assert producer_client.get(f"/episodes/{episode.pk}/segments/1/attempts/{attempt.pk}/preview/").status_code == 200

    # Approving segment 0 is the last open decision: one render follows by itself.
    body = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/approve").json()
    assert body["status"] == "queued" and queued == [episode.pk]
    # The worker's part (in process here): only the rejected segment is made again, and the final re-stitched.
    episode.refresh_from_db()
    assert EpisodeRender(episode).run() == Episode.Status.REVIEW
    episode.refresh_from_db()
    first, second = episode.segments.order_by("index")
    assert (first.attempts, second.attempts) == (1, 2) and second.status == "done"
    assert file_fingerprint(episode.final_file) != first_final
    assert episode.current_conformance().passed
    assert [a.seed for a in second.attempt_log.order_by("number")] == [old.seed, second.seed]
    # The failing report was about the rejected attempt's files: it no longer counts for the segment.
    assert second.current_qa() is None or second.current_qa().pk != attempt.qa["report"]

    api = producer_client.get(f"/api/episodes/{episode.pk}/segments/1/attempts").json()
    assert [(a["number"], a["decision"]) for a in api] == [(1, "rejected"), (2, "")]
    assert api[0]["reason"] == "The fox has <b>two</b> tails" and api[0]["video_url"]
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "The fox has &lt;b&gt;two&lt;/b&gt; tails" in page and "Attempts (2)" in page

    # Segment 0's approval still holds (it was not made again): approving the new segment 1 delivers.
    body = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/1/approve").json()
    assert body["status"] == "delivered"


def test_several_rejections_are_made_again_by_one_render(rendered, producer_client, queued):
    episode = rendered
    first_final = file_fingerprint(episode.final_file)
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert page.count("Reject</button>") == 2 and "render-changes" not in page

    # from the page: reject segment 1 (collected: nothing is queued, the episode stays in review). Segment 0
    # first would make segment 1 again with it (it continues from segment 0's last frame: test_reject_chained).
    response = producer_client.post(f"/episodes/{episode.pk}/segments/1/review/reject/",
                                    {"reason": "Too dark", "prompt": ""})
    assert response.status_code == 302 and queued == []
    episode.refresh_from_db()
    assert episode.status == Episode.Status.REVIEW
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "Render changes (1 segment to make again)</button>" in page
    assert "1 rejected segment waits to be made again" in page
    # through the API: reject segment 0, the last open decision: one render makes both again
    response = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/reject", {"reason": "Off model"})
    assert response.status_code == 202 and response.json()["status"] == "queued" and queued == [episode.pk]
    assert [s.status for s in episode.segments.order_by("index")] == ["pending", "pending"]
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/approve").status_code == 409
    episode.refresh_from_db()
    assert episode.status == Episode.Status.QUEUED
    assert EpisodeRender(episode).run() == Episode.Status.REVIEW
    episode.refresh_from_db()
    assert [(s.attempts, s.status) for s in episode.segments.order_by("index")] == [(2, "done"), (2, "done")]
    assert file_fingerprint(episode.final_file) != first_final and episode.current_conformance().passed
    assert [(a.number, a.decision, a.reason) for a in SegmentAttempt.objects.filter(
        segment__episode=episode, decision="rejected").order_by("segment__index")] == [
        (1, "rejected", "Off model"), (1, "rejected", "Too dark")]
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "render-changes" not in page and "wait to be made again" not in page


def test_delivery_needs_the_conformance_report_of_the_current_final_video(rendered, producer_client):
    episode = rendered
    final = episode.final_file
    os.utime(final, ns=(final.stat().st_atime_ns, final.stat().st_mtime_ns + 10**9))  # another file now
    for index in (0, 1):
        post_json(producer_client, f"/api/episodes/{episode.pk}/segments/{index}/approve")
    episode.refresh_from_db()
    assert episode.status == Episode.Status.REVIEW and episode.current_conformance() is None


def test_viewers_and_outsiders_cannot_review(rendered, viewer_client, users):
    episode = rendered
    page = viewer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "Approve</button>" not in page and "Reject and regenerate" not in page and "Start render" not in page
    assert viewer_client.post(f"/episodes/{episode.pk}/segments/0/review/approve/").status_code == 403
    assert viewer_client.post(f"/episodes/{episode.pk}/segments/0/review/reject/",
                              {"reason": "no"}).status_code == 403
    assert post_json(viewer_client, f"/api/episodes/{episode.pk}/segments/0/approve").status_code == 403
    assert post_json(viewer_client, f"/api/episodes/{episode.pk}/segments/0/reject",
                     {"reason": "no"}).status_code == 403
    outsider = Client()
    outsider.force_login(users["outsider"])
    assert post_json(outsider, f"/api/episodes/{episode.pk}/segments/0/approve").status_code == 404
    assert outsider.get(f"/episodes/{episode.pk}/live/").status_code == 404
    assert Segment.objects.filter(episode=episode, review="unreviewed").count() == 2


def test_review_posts_need_a_csrf_token(rendered, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["producer"])
    assert client.post(f"/episodes/{rendered.pk}/segments/0/review/approve/").status_code == 403
    assert post_json(client, f"/api/episodes/{rendered.pk}/segments/0/approve").status_code == 403
    client.get(f"/episodes/{rendered.pk}/")
    token = client.cookies["csrftoken"].value
    response = client.post(f"/api/episodes/{rendered.pk}/segments/0/approve", data="{}",
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def test_nothing_is_reviewed_while_rendering(project, producer_client):
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.REVIEW
    episode.queue_render()
    response = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/approve")
    assert response.status_code == 409 and "queued" in response.json()["detail"]
    for body in ({}, {"content_type": "application/json"}):  # the body is optional
        assert producer_client.post(f"/api/episodes/{episode.pk}/segments/0/approve", **body).status_code == 409


def test_the_live_section_endpoint_matches_the_snapshot_fingerprints(rendered, producer_client):
    from productions.live import episode_state

    state = episode_state(rendered)
    html = producer_client.get(f"/episodes/{rendered.pk}/live/").content.decode()
    assert f'data-fp="{state["head_fp"]}"' in html and f'data-fp="{state["final_fp"]}"' in html
    assert all(f'data-fp="{s["fp"]}"' in html for s in state["segments"])
    assert f'data-fp="n{len(state["segments"])}"' in html


def test_a_segment_flagged_by_qa_can_be_approved_with_a_reason(project, producer_client, settings, monkeypatch,
                                                                queued):
    from productions import render as render_module
    from productions.lib.qa.results import CheckResult

    real = render_module.check_segment_frames

    def flag_the_lantern(frames, fps, native_frames, prompt="", **options):
        result = real(frames, fps, native_frames, prompt=prompt, **options)
        if "lantern" in prompt:
            result.checks.append(CheckResult(name="grid", passed=False, blocking=True, value=1.0, threshold=0.5))
        return result

    settings.TOWER_QA_MAX_ATTEMPTS = 1
    monkeypatch.setattr(render_module, "check_segment_frames", flag_the_lantern)
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.FAILED
    flagged = episode.segments.get(index=1)
    assert flagged.is_flagged() and not episode.final_file
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "Approve anyway" in page and "QA fail" in page

    url = f"/api/episodes/{episode.pk}/segments/1/approve"
    assert post_json(producer_client, url).status_code == 422  # overriding QA needs a reason
    body = post_json(producer_client, url, {"reason": "The grid is a fence, on purpose."}).json()
    assert body["status"] == "failed" and queued == []  # collected: segment 0 still waits for a decision
    attempt = flagged.current_attempt()
    assert attempt.decision == "approved" and attempt.reason == "The grid is a fence, on purpose."
    assert attempt.qa["passed"] is False and attempt.qa["failed"] == ["grid"]

    # The last open decision: one render stitches the overridden segment in, and delivers (all approved).
    body = post_json(producer_client, f"/api/episodes/{episode.pk}/segments/0/approve").json()
    assert body["status"] == "queued" and queued == [episode.pk]
    episode.refresh_from_db()
    assert EpisodeRender(episode).run() == Episode.Status.DELIVERED  # stitched from the overridden segment
    assert [s.attempts for s in episode.segments.order_by("index")] == [1, 1]  # nothing generated again
    assert episode.versions.get().number == 1
