"""The storyboard page for a producer: the DOM the browser tests rely on, the shot POSTs, and a refused change
shown beside its shot with the producer's text kept."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.models import Character, Episode

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode = Episode.objects.create(project=project, title="Pilot", synopsis="A fox runs. It rests. It sings.",
                                     seed=3)
    storyboard.draft(episode)
    return episode


def test_the_page_follows_the_dom_contract(episode, producer_client):
    Character.objects.create(project=episode.project, name="Fox")
    html = producer_client.get(f"/episodes/{episode.pk}/storyboard/").content.decode()
    for needle in ('id="storyboard"', 'id="storyboard-totals"', 'class="shot card"', 'data-shot="0"',
                   'data-shot-id="', 'textarea name="action"', 'name="duration_s"', 'name="motion"',
                   'name="characters"', 'select name="join"', 'name="join_frames"', 'class="save-shot"',
                   "move-up", "move-down", "split-shot", "merge-next", "delete-shot", "add-shot",
                   'class="shot-prompt', 'class="shot-errors"', 'name="version" value="1"'):
        assert needle in html, needle
    detail = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert f'href="/episodes/{episode.pk}/storyboard/"' in detail


def test_page_posts_change_the_storyboard(episode, producer_client):
    base = f"/episodes/{episode.pk}/storyboard/shots"
    fox = Character.objects.create(project=episode.project, name="Fox")
    first = episode.segments.get(index=0)
    response = producer_client.post(f"{base}/0/edit/", {
        "version": 1, "shot_id": first.pk, "action": "The fox\r\nwakes.", "duration_s": "4,5", "motion": "0.3",
        "characters_shown": "1", "characters": [str(fox.pk)], "join": "cut", "join_frames": ""})
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.action, first.delivered_frames, first.motion) == ("The fox\nwakes.", 108, 0.3)
    assert list(first.characters.all()) == [fox]
    for url, body in [(f"{base}/0/add/", {}), (f"{base}/1/move/", {"to": "3"}), (f"{base}/0/split/", {}),
                      (f"{base}/0/merge/", {}), (f"{base}/2/delete/", {})]:
        version = Episode.objects.get(pk=episode.pk).storyboard_version
        assert producer_client.post(url, {"version": version, **body}).status_code == 302, url
    assert Episode.objects.get(pk=episode.pk).storyboard_version == 7


def test_a_refused_change_shows_beside_its_shot_with_the_text_kept(episode, producer_client):
    second = episode.segments.get(index=1)
    response = producer_client.post(f"/episodes/{episode.pk}/storyboard/shots/1/edit/", {
        "version": 1, "shot_id": second.pk, "action": "Words I typed.", "duration_s": "0", "join": "continuous"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Shot 2: the duration must be a number of seconds above 0." in html
    assert "Words I typed." in html and 'value="0"' in html
    second.refresh_from_db()
    assert second.action == "" and Episode.objects.get(pk=episode.pk).storyboard_version == 1
    bad = producer_client.post(f"/episodes/{episode.pk}/storyboard/shots/1/edit/", {
        "version": 1, "shot_id": second.pk, "duration_s": "soon"})
    assert bad.status_code == 422 and "Shot 2: the duration must be a number." in bad.content.decode()
