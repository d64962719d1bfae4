"""Review notes through the API: who may write, resolve and delete, and what is refused (422 naming the field)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from productions.models import Note, SegmentAttempt
from tests.conftest import client_for, post_json
from tests.reviewable import awaiting_review

DRAWING = [{"color": "#FF3B30", "width": 0.005, "points": [[0.1, 0.2], [0.5, 0.5], [0.9, 0.25]]}]


def kept(episode, relative: str) -> str:
    path = Path(settings.MEDIA_ROOT) / "episodes" / str(episode.pk) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"video")
    return str(path.relative_to(settings.MEDIA_ROOT))


@pytest.fixture
def episode(project):
    """Awaiting review, with a final video; segment 0 has an archived attempt 1 and its current attempt 2."""
    episode = awaiting_review(project)
    episode.final_path = kept(episode, "final.mp4")
    episode.save(update_fields=["final_path"])
    segment = episode.segments.get(index=0)
    SegmentAttempt.objects.create(segment=segment, number=1, backend="builtin", seed=1, prompt="p",
                                  outcome="succeeded", decision="rejected", files_dir="x",
                                  video_path=kept(episode, "segment-00/attempt-01/proxy.mp4"))
    SegmentAttempt.objects.create(segment=segment, number=2, backend="builtin", seed=2, prompt="p",
                                  outcome="succeeded")
    segment.attempts = 2
    segment.save(update_fields=["attempts"])
    return episode


def url(episode) -> str:
    return f"/api/episodes/{episode.pk}/notes"


@pytest.mark.django_db
def test_members_write_notes_the_author_or_a_producer_resolves_and_deletes(episode, users):
    viewer, producer = client_for(users["viewer"]), client_for(users["producer"])
    made = post_json(viewer, url(episode), {"text": "Hand pops here", "frame_start": 10, "frame_end": 14,
                                            "drawing": DRAWING})
    assert made.status_code == 201, made.content
    note = made.json()
    assert (note["segment"], note["attempt"], note["frame_start"], note["frame_end"]) == (None, None, 10, 14)
    assert note["author"] == "vic" and note["can_change"] and note["drawing"][0]["color"] == "#ff3b30"

    on_clip = post_json(producer, url(episode), {"text": "Too dark", "frame_start": 3, "segment": 0}).json()
    assert (on_clip["segment"], on_clip["attempt"], on_clip["frame_end"]) == (0, 2, 3)  # the current attempt
    old = post_json(producer, url(episode), {"text": "Was better", "frame_start": 0, "segment": 0, "attempt": 1})
    assert old.status_code == 201 and old.json()["attempt"] == 1

    listed = viewer.get(url(episode) + "?final=true").json()
    assert [n["text"] for n in listed] == ["Hand pops here"]
    assert [n["text"] for n in viewer.get(url(episode) + "?segment=0&attempt=2").json()] == ["Too dark"]
    assert len(viewer.get(url(episode)).json()) == 3
    assert viewer.get(url(episode) + "?segment=0").json()[0]["can_change"] is False  # the producer's note

    # the viewer may not resolve or delete the producer's note; the producer may resolve the viewer's
    assert viewer.patch(f"/api/notes/{on_clip['id']}", {"resolved": True},
                        content_type="application/json").status_code == 403
    assert viewer.delete(f"/api/notes/{on_clip['id']}").status_code == 403
    resolved = producer.patch(f"/api/notes/{note['id']}", {"resolved": True}, content_type="application/json")
    assert resolved.status_code == 200 and resolved.json()["resolved"] is True
    assert producer.patch(f"/api/notes/{note['id']}", {"text": "edited"},
                          content_type="application/json").status_code == 403  # only the author edits text
    assert viewer.patch(f"/api/notes/{note['id']}", {"text": "Hand pops at 12"},
                        content_type="application/json").json()["text"] == "Hand pops at 12"
    assert viewer.delete(f"/api/notes/{note['id']}").status_code == 204
    assert producer.delete(f"/api/notes/{on_clip['id']}").status_code == 204
    assert list(Note.objects.values_list("text", flat=True)) == ["Was better"]


@pytest.mark.django_db
def test_outsiders_get_404_everywhere(episode, users):
    note = Note.objects.create(episode=episode, author=users["producer"], text="x", frame_start=0, frame_end=0)
    outsider = client_for(users["outsider"])
    assert outsider.get(url(episode)).status_code == 404
    assert post_json(outsider, url(episode), {"text": "hi", "frame_start": 0}).status_code == 404
    assert outsider.patch(f"/api/notes/{note.pk}", {"resolved": True},
                          content_type="application/json").status_code == 404
    assert outsider.delete(f"/api/notes/{note.pk}").status_code == 404
    assert outsider.get(f"/episodes/{episode.pk}/segments/0/view/").status_code == 404
    assert outsider.get(f"/episodes/{episode.pk}/segments/0/compare/").status_code == 404
    assert Note.objects.filter(pk=note.pk, resolved=False).exists()


BAD = [
    ({"frame_start": 0}, "text"),
    ({"text": "   ", "frame_start": 0}, "text"),
    ({"text": "x" * 2001, "frame_start": 0}, "text"),
    ({"text": "bad\x00", "frame_start": 0}, "text"),
    ({"text": "x"}, "frame_start"),
    ({"text": "x", "frame_start": "soon"}, "frame_start"),
    ({"text": "x", "frame_start": -1}, "frame_start"),
    ({"text": "x", "frame_start": True}, "frame_start"),
    ({"text": "x", "frame_start": "3"}, "frame_start"),
    ({"text": "x", "frame_start": 10**30}, "frame_start"),
    ({"text": "x", "frame_start": 0, "segment": 10**30}, "segment"),
    ({"text": 5, "frame_start": 0}, "text"),
    ({"text": "x", "frame_start": 48}, "frame_start"),  # the final has frames 0..47
    ({"text": "x", "frame_start": 5, "frame_end": 4}, "frame_end"),
    ({"text": "x", "frame_start": 5, "frame_end": 48}, "frame_end"),
    ({"text": "x", "frame_start": 0, "segment": 0, "frame_end": 10**6}, "frame_end"),
    ({"text": "x", "frame_start": 0, "segment": 9}, "segment"),
    ({"text": "x", "frame_start": 0, "attempt": 1}, "attempt"),
    ({"text": "x", "frame_start": 0, "segment": 0, "attempt": 7}, "attempt"),
    ({"text": "x", "frame_start": 0, "drawing": {"points": []}}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": ["line"]}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"color": "red", "width": 0.01, "points": [[0, 0]]}]}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"color": "#ffffff", "width": 0, "points": [[0, 0]]}]}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"color": "#ffffff", "width": 0.01, "points": []}]}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"color": "#ffffff", "width": 0.01, "points": [[1.5, 0]]}]},
     "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"color": "#ffffff", "width": 0.01, "points": [[0, "a"]]}]},
     "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"color": "#ffffff", "width": 0.01, "points": [[0, 0, 0]]}]},
     "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"points": [[0, 0]], "script": "alert(1)"}]}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"points": [[0, True]]}]}, "drawing"),
    ({"text": "x", "frame_start": 0, "drawing": [{"points": [[0, 0]]}] * 201}, "drawing"),
]


@pytest.mark.django_db
def test_bad_notes_are_refused_naming_the_field(episode, users):
    viewer = client_for(users["viewer"])
    for body, field in BAD:
        response = post_json(viewer, url(episode), body)
        assert response.status_code == 422, (body, response.content)
        assert field in response.json()["errors"], (body, response.json())
    assert viewer.get(url(episode) + f"?segment={10**30}").status_code == 422
    nan = viewer.post(url(episode), data='{"text": "x", "frame_start": 0, "drawing": [{"points": [[NaN, 0]]}]}',
                      content_type="application/json")
    assert nan.status_code in (400, 422)
    not_json = viewer.post(url(episode), data="{nope", content_type="application/json")
    assert not_json.status_code in (400, 422)
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_no_final_video_no_final_notes(project, users):
    episode = awaiting_review(project)  # segments, but no final video
    response = post_json(client_for(users["producer"]), url(episode), {"text": "x", "frame_start": 0})
    assert response.status_code == 409 and "final video" in response.json()["detail"]


@pytest.mark.django_db
def test_pages_show_the_room_the_attempts_and_the_comparison(episode, users):
    viewer = client_for(users["viewer"])
    page = viewer.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'class="review-room"' in page
    assert f'data-notes-url="/api/episodes/{episode.pk}/notes?final=true&amp;with_segments=true"' in page
    assert f"/episodes/{episode.pk}/segments/0/view/" in page

    view = viewer.get(f"/episodes/{episode.pk}/segments/0/view/")
    assert view.status_code == 200
    text = view.content.decode()
    assert "Attempt 1 (rejected)" in text and "Attempt 2 (current)" in text and 'id="compare-link"' in text
    assert "segment=0&amp;attempt=2" in text  # the current attempt's notes
    older = viewer.get(f"/episodes/{episode.pk}/segments/0/view/?attempt=1").content.decode()
    assert "segment=0&amp;attempt=1" in older
    assert 'aria-current="page" data-attempt="1"' in older and 'aria-current="page" data-attempt="2"' not in older
    assert viewer.get(f"/episodes/{episode.pk}/segments/0/view/?attempt=5").status_code == 404
    assert viewer.get(f"/episodes/{episode.pk}/segments/0/view/?attempt=x").status_code == 404

    compare = viewer.get(f"/episodes/{episode.pk}/segments/0/compare/").content.decode()
    assert 'id="compare-a"' in compare and "attempts/" in compare.split('id="compare-a"')[1].split(">")[0]
    assert "segments/0/video/" in compare.split('id="compare-b"')[1].split(">")[0]
    assert compare.count("<option") == 4  # both attempts in each chooser
    assert viewer.get(f"/episodes/{episode.pk}/segments/0/compare/?a=1&b=9").status_code == 404
    single = viewer.get(f"/episodes/{episode.pk}/segments/1/compare/").content.decode()
    assert 'id="compare-empty"' in single


@pytest.mark.django_db
def test_the_schema_documents_the_notes_routes(producer_client):
    document = producer_client.get("/api/openapi.json").json()
    post = document["paths"]["/api/episodes/{episode_id}/notes"]["post"]["responses"]
    assert set(post) == {"201", "400", "403", "404", "409", "413", "422"}
    assert set(document["paths"]["/api/notes/{note_id}"]["delete"]["responses"]) == {"204", "403", "404"}
    text = document["components"]["schemas"]["NoteIn"]["properties"]["text"]
    assert (text["minLength"], text["maxLength"]) == (1, 2000)


@pytest.mark.django_db
def test_segment_notes_are_placed_on_the_final_timeline(episode, users):
    """Under the final video, a note on a segment's current clip sits where the final shows those frames (a
    chained segment's first clip frame is the one the segment before ended on: the stitch drops it)."""
    producer = client_for(users["producer"])
    on_final = post_json(producer, url(episode), {"text": "final", "frame_start": 2}).json()
    chained = post_json(producer, url(episode), {"text": "seg 1", "frame_start": 5, "frame_end": 23,
                                                 "segment": 1}).json()
    opening = post_json(producer, url(episode), {"text": "seg 0", "frame_start": 4, "segment": 0}).json()
    archived = post_json(producer, url(episode), {"text": "old", "frame_start": 4, "segment": 0, "attempt": 1}).json()
    listed = {n["id"]: n for n in producer.get(url(episode) + "?final=true&with_segments=true").json()}
    assert set(listed) == {on_final["id"], chained["id"], opening["id"]}  # not the archived attempt's
    assert (listed[on_final["id"]]["final_start"], listed[on_final["id"]]["frame_start"]) == (None, 2)
    assert (listed[opening["id"]]["final_start"], listed[opening["id"]]["final_end"]) == (4, 4)
    assert (listed[chained["id"]]["final_start"], listed[chained["id"]]["final_end"]) == (24 + 4, 24 + 22)
    assert archived["attempt"] == 1
