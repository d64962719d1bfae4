"""Hostile text (a lone surrogate, NUL, control characters, line breaks in one-line fields, oversize) is refused
with a 4xx naming the field, by the API and the forms, and nothing is created, moved or half-written."""

from __future__ import annotations

import json

import pytest

from productions.models import Episode, Project, Segment, SegmentAttempt
from tests.conftest import post_json
from tests.reviewable import awaiting_review, segment_files

pytestmark = pytest.mark.django_db

SURROGATE = '"a\\ud800b"'  # JSON text: json.dumps would write the same escape
HOSTILE = {
    "surrogate": SURROGATE,
    "nul": json.dumps("a\x00b"),
    "escape": json.dumps("a\x1b[31mb"),
    "delete": json.dumps("a\x7fb"),
}
ONE_LINE_ONLY = {"cr": json.dumps("a\rb"), "lf": json.dumps("a\nb"), "line separator": json.dumps("a\u2028b")}

EPISODE = {"title": "Ep 1", "synopsis": "A girl finds a dragon.", "seed": 3}
EPISODE_TEXT = {  # field: multi-line
    "title": False, "synopsis": True, "style": True, "negative_prompt": True,
    "transitions": False, "video_model": False, "keyframe_model": False, "interpolation": False, "backend": False,
    "upscaler": False,
}
EPISODE_LIMITS = {"title": 200, "synopsis": 4000, "style": 2000, "negative_prompt": 2000,
                  "transitions": 500, "video_model": 60}


def body_with(fields: dict, name: str, raw_value: str) -> str:
    """A JSON body whose `name` is `raw_value`, spliced in as JSON text (a lone surrogate stays one)."""
    text = json.dumps({**fields, name: "@@"})
    return text.replace('"@@"', raw_value)


def post_raw(client, url: str, body: str):
    return client.post(url, data=body.encode("utf-8"), content_type="application/json")


def refused(response, field: str) -> None:
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    assert all(isinstance(m, str) and m for m in errors[field])


def hostile_cases(fields: dict[str, bool]):
    for field, multiline in fields.items():
        kinds = dict(HOSTILE) if multiline else {**HOSTILE, **ONE_LINE_ONLY}
        for kind, raw in kinds.items():
            yield pytest.param(field, raw, id=f"{field}-{kind}")


@pytest.mark.parametrize(("field", "raw"), list(hostile_cases(EPISODE_TEXT)))
def test_hostile_episode_text_is_a_422_naming_the_field(producer_client, project, field, raw):
    response = post_raw(producer_client, f"/api/projects/{project.pk}/episodes", body_with(EPISODE, field, raw))
    refused(response, field)
    assert Episode.objects.count() == 0


@pytest.mark.parametrize(("field", "raw"), list(hostile_cases({"name": False, "description": True})))
def test_hostile_project_text_is_a_422_naming_the_field(staff_client, field, raw):
    response = post_raw(staff_client, "/api/projects", body_with({"name": "Pilot 2"}, field, raw))
    refused(response, field)
    assert not Project.objects.exists()


@pytest.mark.parametrize(("field", "limit"), list(EPISODE_LIMITS.items()))
def test_oversized_episode_text_is_a_422_naming_the_field(producer_client, project, field, limit):
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**EPISODE, field: "x" * (limit + 1)})
    refused(response, field)


def test_a_huge_project_description_is_refused(staff_client):
    response = post_json(staff_client, "/api/projects", {"name": "Big", "description": "x" * 2_400_000})
    refused(response, "description")
    assert not Project.objects.exists()
    response = staff_client.post("/", {"name": "Big", "description": "x" * 5001})
    assert response.status_code == 200 and "at most 5000 characters" in response.content.decode()
    assert not Project.objects.exists()


def test_multi_line_fields_keep_newlines_and_tabs(producer_client, project):
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes",
                         {**EPISODE, "synopsis": "A girl walks.\r\nShe finds\ta dragon.", "style": "soft\nlight"})
    assert response.status_code == 201, response.content
    episode = Episode.objects.get()
    assert episode.synopsis == "A girl walks.\nShe finds\ta dragon." and episode.style == "soft\nlight"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("title", "Ep\r\n1", "single line"),
    ("title", "Ep\x071", "control character"),
    ("synopsis", "A girl\x00 walks.", "NUL"),
    ("style", "soft\x1blight", "control character"),
])
def test_the_episode_form_refuses_hostile_text_and_shows_the_page_again(producer_client, project, field, value,
                                                                       message):
    data = {**EPISODE, "duration_s": 30, "width": 1920, "height": 1080, "fps": 24, "min_bitrate_bps": 10_000_000,
            field: value}
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", data)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field] and message in form.errors[field][0], form.errors
    assert value not in response.content.decode()
    assert Episode.objects.count() == 0


def test_the_project_form_refuses_a_control_character_in_the_name(staff_client):
    response = staff_client.post("/", {"name": "Pilot\x08 2", "description": "ok"})
    assert response.status_code == 200 and "control character" in response.content.decode()
    assert not Project.objects.filter(name__startswith="Pilot").exists()


@pytest.mark.parametrize("raw", [SURROGATE, HOSTILE["nul"], HOSTILE["escape"]])
@pytest.mark.parametrize("field", ["reason", "prompt"])
def test_a_hostile_rejection_is_a_422_and_the_segment_stays_reviewable(producer_client, project, field, raw,
                                                                       monkeypatch):
    monkeypatch.setattr("productions.tasks.render_episode", lambda episode_id: None)
    episode = awaiting_review(project)
    segment = episode.segments.get(index=1)
    before = segment_files(segment)
    url = f"/api/episodes/{episode.pk}/segments/1"
    response = post_raw(producer_client, f"{url}/reject", body_with({"reason": "too dark"}, field, raw))
    refused(response, field)
    assert segment_files(segment) == before
    segment.refresh_from_db()
    assert segment.status == Segment.Status.DONE and segment.review == Segment.Review.UNREVIEWED
    assert not SegmentAttempt.objects.filter(decision=Segment.Review.REJECTED).exists()
    # Still reviewable: rejected properly now, its files kept in the attempt.
    assert post_json(producer_client, f"{url}/reject", {"reason": "too dark"}).status_code == 202
    attempt = SegmentAttempt.objects.get(segment=segment)
    assert attempt.decision == "rejected" and episode.media_file(attempt.video_path).read_bytes() == before[
        "proxy_path"]


@pytest.mark.parametrize("raw", [SURROGATE, HOSTILE["nul"]])
def test_a_hostile_approval_reason_is_a_422_and_the_segment_stays_approvable(producer_client, project, raw):
    episode = awaiting_review(project)
    url = f"/api/episodes/{episode.pk}/segments/0/approve"
    refused(post_raw(producer_client, url, body_with({}, "reason", raw)), "reason")
    assert episode.segments.get(index=0).review == Segment.Review.UNREVIEWED
    assert post_json(producer_client, url, {"reason": "fine"}).status_code == 200
    assert episode.segments.get(index=0).review == Segment.Review.APPROVED


def test_the_review_form_refuses_a_nul_in_the_reason_and_moves_nothing(producer_client, project):
    episode = awaiting_review(project)
    segment = episode.segments.get(index=0)
    before = segment_files(segment)
    response = producer_client.post(f"/episodes/{episode.pk}/segments/0/review/reject/",
                                    {"reason": "bad\x00", "then": "review"}, follow=True)
    assert response.status_code == 200 and "NUL" in response.content.decode()
    assert segment_files(segment) == before
    assert episode.segments.get(index=0).status == Segment.Status.DONE


@pytest.mark.parametrize("url", [
    "/api/projects?name=%00%ED%A0%80", "/api/episodes/1?x=%00", "/api/episodes/%00", "/api/episodes/%ED%A0%80",
    "/api/projects/1%00/episodes", "/projects/1/?q=%00", "/episodes/%00/", "/?next=%ED%A0%80%0D%0A",
])
def test_hostile_query_strings_and_paths_are_never_a_500(producer_client, project, url):
    producer_client.raise_request_exception = False
    assert producer_client.get(url).status_code < 500
