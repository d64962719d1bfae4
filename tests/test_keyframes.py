"""Keyframes first: make every shot's keyframe, make one again, approve, and the render's refusal until every
keyframe is approved (pages and API)."""

import numpy as np
import pytest
from PIL import Image

from productions.keyframes import KeyframeError, approve_keyframe, keyframe_refusal, make_keyframes, remake_keyframe
from productions.lib.files import load_image
from productions.models import Episode, KeyframeAttempt, Segment, SegmentAttempt
from tests.conftest import post_json
from tests.keyframe_helpers import run_queued, storyboard_episode

pytestmark = pytest.mark.django_db(transaction=True)


def shots(episode) -> list[Segment]:
    return list(episode.segments.order_by("index"))


def test_make_keyframes_for_six_shots(project, users, queue, settings, monkeypatch):
    events = []
    monkeypatch.setattr("productions.events.publish_episode_event", lambda episode, payload: events.append(payload))
    episode = storyboard_episode(project)
    version = episode.storyboard_version
    assert make_keyframes(episode, users["producer"]) == [0, 1, 2, 3, 4, 5]
    assert all(a.finished_at is None for a in KeyframeAttempt.objects.all())  # "making" at once
    assert make_keyframes(episode, users["producer"]) == []  # under way: not queued twice
    assert run_queued(queue) == 1  # one task draws them all (in parallel)
    width, height = episode.native_size()
    for shot in shots(episode):
        attempt = shot.keyframe_log.get()
        assert attempt.number == 1 and attempt.finished_at and not attempt.error and attempt.backend == "builtin"
        assert attempt.path == f"episodes/{episode.pk}/keyframes/shot-{shot.pk}-1.png" == shot.keyframe_path
        with Image.open(shot.file("keyframe_path")) as image:
            assert image.format == "PNG" and image.size == (width, height)
        assert attempt.prompt == shot.prompt and shot.action.rstrip(".") in shot.prompt  # the prompt as used
        assert attempt.seed == (episode.seed if shot.index == 0 else shot.seed)
        assert shot.keyframe_approved_at is None
    # keyframes are not storyboard edits: a producer editing a shot meanwhile gets no false conflict
    assert Episode.objects.get(pk=episode.pk).storyboard_version == version
    made = [e for e in events if e["type"] == "keyframe"]  # pages follow them on the episode's channel
    assert sorted(e["segment"] for e in made if e["status"] == "making") == list(range(6))
    assert sorted(e["segment"] for e in made if e["status"] == "made") == list(range(6))
    pictures = [load_image(s.file("keyframe_path")) for s in shots(episode)]
    assert not np.array_equal(pictures[1], pictures[2])  # each shot its own picture
    assert make_keyframes(episode, users["producer"]) == []  # nothing missing


def test_remake_with_a_new_seed_keeps_the_old_one_in_history(project, users, queue, producer_client):
    episode = storyboard_episode(project, shots=3)
    make_keyframes(episode, users["producer"])
    run_queued(queue)
    shot = episode.segments.get(index=1)
    first = shot.keyframe_log.get()
    old_picture = load_image(shot.file("keyframe_path"))
    approve_keyframe(shot, users["producer"])

    response = producer_client.post(f"/episodes/{episode.pk}/shots/1/keyframe/remake/",
                                    {"new_seed": ["", "1"], "version": episode.storyboard_version})
    assert response.status_code == 302
    first.refresh_from_db()
    shot.refresh_from_db()
    assert first.decision == KeyframeAttempt.Decision.REPLACED and first.reviewer == users["producer"]
    assert shot.keyframe_approved_at is None and not shot.keyframe_path  # making again
    assert producer_client.get(f"/api/episodes/{episode.pk}/shots/1/keyframes").json()["status"] == "making"
    run_queued(queue)
    shot.refresh_from_db()
    second = shot.keyframe_log.get(number=2)
    assert second.seed != first.seed and shot.keyframe_path == second.path
    assert not np.array_equal(load_image(shot.file("keyframe_path")), old_picture)

    history = producer_client.get(f"/api/episodes/{episode.pk}/shots/1/keyframes").json()
    assert history["status"] == "made" and history["number"] == 2 and not history["approved"]
    assert [(a["number"], a["decision"]) for a in history["attempts"]] == [(2, ""), (1, "replaced")]
    old = producer_client.get(history["attempts"][1]["url"])  # the old keyframe stays viewable
    assert old.status_code == 200 and old["Content-Type"] == "image/png"
    current = producer_client.get(f"/api/episodes/{episode.pk}/shots/1/keyframe")
    assert current.status_code == 200 and current["Content-Type"] == "image/png"

    # the same seed again (after an edited action): the seed is kept, the approval cleared
    remade = post_json(producer_client, f"/api/episodes/{episode.pk}/shots/1/keyframe/remake", {"new_seed": False})
    assert remade.status_code == 202, remade.content
    run_queued(queue)
    assert shot.keyframe_log.get(number=3).seed == second.seed

    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'class="keyframes"' in page and "made again" in page  # the episode page's history lists them


def test_approve_and_the_render_refusal_naming_the_shots(project, users, queue, producer_client):
    episode = storyboard_episode(project)
    assert keyframe_refusal(episode) is None  # no keyframes at all: the render makes them itself
    response = post_json(producer_client, f"/api/episodes/{episode.pk}/keyframes", {"indexes": [0, 1, 2]})
    assert response.status_code == 202 and response.json() == {"queued": [0, 1, 2]}
    run_queued(queue)
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/keyframes").json() == {"queued": [3, 4, 5]}
    run_queued(queue)
    for index in (0, 2, 3, 5):
        body = post_json(producer_client, f"/api/episodes/{episode.pk}/shots/{index}/keyframe/approve").json()
        assert body["approved"] and body["status"] == "approved" and body["approved_by"] == "pat"
    message = "Approve or remake the keyframes of shots 2 and 5 first."
    assert keyframe_refusal(episode) == message

    refused = producer_client.post(f"/api/episodes/{episode.pk}/render")
    assert refused.status_code == 409 and message in refused.json()["detail"]
    page = producer_client.post(f"/episodes/{episode.pk}/render/", follow=True).content.decode()
    assert message in page
    assert Episode.objects.get(pk=episode.pk).status == Episode.Status.DRAFT
    from django.core.management import CommandError, call_command
    with pytest.raises(CommandError, match="shots 2 and 5"):
        call_command("render_episode", str(episode.pk))

    from django.template.loader import render_to_string
    html = render_to_string("productions/_storyboard_actions.html",
                            {"episode": episode, "can_produce": True, "storyboard": {"version": 1, "editable": True}})
    assert 'id="render" disabled' in html and message in html and 'id="make-keyframes"' in html

    stale = post_json(producer_client, f"/api/episodes/{episode.pk}/shots/1/keyframe/approve", {"number": 7})
    assert stale.status_code == 409 and "made again meanwhile" in stale.json()["detail"]
    response = producer_client.post(f"/episodes/{episode.pk}/shots/1/keyframe/approve/", {"number": "1"})
    assert response.status_code == 302
    approve_keyframe(episode.segments.get(index=4), users["producer"])
    assert keyframe_refusal(episode) is None
    attempt = episode.segments.get(index=4).keyframe_log.get()
    assert attempt.decision == "approved" and attempt.reviewer == users["producer"]

    html = render_to_string("productions/_shot_keyframe.html", {"shot": episode.segments.get(index=4), "row": {},
                                                                "can_produce": True, "storyboard": {}})
    assert 'class="keyframe"' in html and "approved by pat" in html.lower()
    assert 'class="remake-keyframe"' in html and 'name="new_seed" value="1" checked' in html


def test_nothing_to_approve_and_a_closed_storyboard_are_refused(project, users, queue, producer_client):
    episode = storyboard_episode(project, shots=2)
    none_yet = post_json(producer_client, f"/api/episodes/{episode.pk}/shots/0/keyframe/approve")
    assert none_yet.status_code == 409 and "no keyframe to approve" in none_yet.json()["detail"]
    make_keyframes(episode, users["producer"])
    run_queued(queue)
    shot = episode.segments.get(index=0)
    SegmentAttempt.objects.create(segment=shot, number=1, backend="builtin", seed=1, prompt="x")
    with pytest.raises(KeyframeError, match="already rendered"):
        remake_keyframe(shot, users["producer"])
    closed = post_json(producer_client, f"/api/episodes/{episode.pk}/keyframes")
    assert closed.status_code == 409 and "already rendered" in closed.json()["detail"]
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/shots/0/keyframe/remake").status_code == 409
    # approving stays possible (a review afterwards), and a render that made segments is not refused
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/shots/0/keyframe/approve").status_code == 200
    assert keyframe_refusal(episode) is None
    Episode.objects.filter(pk=episode.pk).update(status=Episode.Status.RENDERING)
    SegmentAttempt.objects.all().delete()
    with pytest.raises(KeyframeError, match="rendering"):
        make_keyframes(episode, users["producer"])
    bad = post_json(producer_client, f"/api/episodes/{episode.pk}/keyframes", {"indexes": "all"})
    assert bad.status_code == 422 and "indexes" in bad.json()["errors"]
    assert post_json(producer_client, f"/api/episodes/{episode.pk}/shots/9/keyframe/remake").status_code == 404


def test_viewers_see_keyframes_but_cannot_change_them(project, users, queue, viewer_client):
    from tests.conftest import client_for

    episode = storyboard_episode(project, shots=2)
    make_keyframes(episode, users["producer"])
    run_queued(queue)
    attempt = KeyframeAttempt.objects.filter(segment__index=0).get()
    assert viewer_client.get(f"/episodes/{episode.pk}/shots/0/keyframe/").status_code == 200
    assert viewer_client.get(f"/episodes/{episode.pk}/keyframes/{attempt.pk}/").status_code == 200
    assert viewer_client.get(f"/api/episodes/{episode.pk}/shots/0/keyframes").status_code == 200
    for url in (f"/episodes/{episode.pk}/keyframes/", f"/episodes/{episode.pk}/shots/0/keyframe/approve/",
                f"/episodes/{episode.pk}/shots/0/keyframe/remake/"):
        assert viewer_client.post(url).status_code == 403
    for url in (f"/api/episodes/{episode.pk}/keyframes", f"/api/episodes/{episode.pk}/shots/0/keyframe/approve",
                f"/api/episodes/{episode.pk}/shots/0/keyframe/remake"):
        response = post_json(viewer_client, url)
        assert response.status_code == 403 and "Viewers cannot change" in response.json()["detail"]
    outsider = client_for(users["outsider"])
    assert outsider.get(f"/episodes/{episode.pk}/shots/0/keyframe/").status_code == 404
    assert post_json(outsider, f"/api/episodes/{episode.pk}/shots/0/keyframe/approve").status_code == 404
    from django.template.loader import render_to_string
    html = render_to_string("productions/_shot_keyframe.html", {"shot": episode.segments.get(index=0), "row": {},
                                                                "can_produce": False})
    assert 'class="keyframe"' in html and "approve-keyframe" not in html and "remake-keyframe" not in html
    assert not KeyframeAttempt.objects.filter(decision="approved").exists()


def test_one_failing_shot_does_not_stop_the_others(project, users, queue, monkeypatch, producer_client):
    from productions.lib.backend import BackendError
    from productions.lib.generator import BuiltinGenerator

    episode = storyboard_episode(project, shots=3)
    broken = episode.segments.get(index=1)
    draw = BuiltinGenerator.generate_keyframe

    def failing(self, request, *args, **kwargs):
        if request.seed == broken.seed:
            raise BackendError("the painter ran out of paint")
        return draw(self, request, *args, **kwargs)

    monkeypatch.setattr(BuiltinGenerator, "generate_keyframe", failing)
    make_keyframes(episode, users["producer"])
    run_queued(queue)
    states = [producer_client.get(f"/api/episodes/{episode.pk}/shots/{i}/keyframes").json() for i in range(3)]
    assert [s["status"] for s in states] == ["made", "failed", "made"]
    assert "ran out of paint" in states[1]["error"] and states[1]["url"] is None
    monkeypatch.setattr(BuiltinGenerator, "generate_keyframe", draw)
    assert make_keyframes(episode, users["producer"]) == [1]  # the failed one is made again, the others kept
    run_queued(queue)
    assert broken.keyframe_log.count() == 2 and episode.segments.get(index=0).keyframe_log.count() == 1
