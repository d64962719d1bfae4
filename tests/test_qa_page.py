"""The QA page shows measured values against thresholds with worst-frame thumbnails for every attempt, and a
producer can approve a segment that failed QA on every try only with a written reason, kept in its history."""

import re

import pytest

from productions.models import Episode, SegmentAttempt
from tests.test_qa_policy import GridOnSomeTries, render_with

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flagged_episode(project, monkeypatch):
    from tests.conftest import small_episode

    episode = small_episode(project, duration_s=3.0)  # 1.5 s segments: grid QA samples 3 frames of each
    assert render_with(episode, GridOnSomeTries(index=1, bad_tries=99), monkeypatch) == Episode.Status.FAILED
    return episode


def test_the_qa_page_shows_values_thresholds_and_worst_frames(producer_client, flagged_episode):
    page = producer_client.get(f"/episodes/{flagged_episode.pk}/qa/").content.decode()
    section = page[page.index('id="qa-segment-1"'):]
    assert section.count("<summary>Attempt") == 3  # every try is kept, with its seed
    assert re.search(r"<td>grid.*?</td>\s*<td>0\.\d+.*?</td>\s*<td>\S* ?0\.68</td>", section, re.S)
    assert "data:image/jpeg;base64," in section  # worst-frame thumbnails
    assert "Override QA with this reason" in section
    assert "Quality checks" in producer_client.get(flagged_episode.get_absolute_url()).content.decode()


def test_viewers_see_the_qa_page_but_cannot_override(viewer_client, flagged_episode):
    page = viewer_client.get(f"/episodes/{flagged_episode.pk}/qa/").content.decode()
    assert "grid" in page and "Override QA with this reason" not in page
    viewer_client.post(f"/episodes/{flagged_episode.pk}/segments/1/review/approve/", {"reason": "looks fine"})
    assert flagged_episode.segments.get(index=1).status == "failed"


def test_an_override_needs_a_reason_and_is_kept_in_the_history(producer_client, flagged_episode, users):
    url = f"/episodes/{flagged_episode.pk}/segments/1/review/approve/"
    producer_client.post(url, {"reason": ""})
    assert flagged_episode.segments.get(index=1).status == "failed"
    producer_client.post(url, {"reason": "The split screen is intended: a phone call scene."})
    segment = flagged_episode.segments.get(index=1)
    assert segment.status == "done"
    attempt = SegmentAttempt.objects.get(segment=segment, number=3)
    assert attempt.reason.startswith("The split screen is intended") and attempt.reviewer == users["producer"]
    assert attempt.qa.get("passed") is False
    page = producer_client.get(f"/episodes/{flagged_episode.pk}/qa/").content.decode()
    assert "overriding failed QA" in page and "phone call scene" in page
    flagged_episode.refresh_from_db()
    # Decisions are collected (productions.decisions): segment 0 still waits for one, so nothing is queued yet.
    assert flagged_episode.status == Episode.Status.FAILED
