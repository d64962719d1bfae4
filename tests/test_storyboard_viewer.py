"""Viewers see the storyboard and cannot change it: no forms or buttons on the page, 403 from the shot POSTs
and the API; people outside the project get 404."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.models import Episode
from tests.conftest import client_for, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode = Episode.objects.create(project=project, title="Pilot", synopsis="A fox runs. It rests.", seed=3)
    storyboard.draft(episode)
    return episode


def test_viewer_page_is_read_only(episode, viewer_client):
    page = viewer_client.get(f"/episodes/{episode.pk}/storyboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "A fox runs." in html and 'class="shot card"' in html and 'id="storyboard-totals"' in html
    for control in ("<form method=\"post\" action=\"/episodes/", "save-shot", "move-up", "add-shot",
                    "delete-shot", "<textarea"):
        assert control not in html


def test_viewer_posts_are_refused(episode, viewer_client):
    for op in ("edit", "add", "delete", "split", "merge", "move"):
        response = viewer_client.post(f"/episodes/{episode.pk}/storyboard/shots/0/{op}/",
                                      {"version": 1, "action": "x", "to": "1"})
        assert response.status_code == 403, op
    api = f"/api/episodes/{episode.pk}"
    assert viewer_client.patch(f"{api}/shots/0", {"version": 1, "action": "x"},
                               content_type="application/json").status_code == 403
    assert post_json(viewer_client, f"{api}/shots", {"version": 1, "after": 0}).status_code == 403
    assert viewer_client.delete(f"{api}/shots/0?version=1").status_code == 403
    for op in ("split", "merge"):
        assert post_json(viewer_client, f"{api}/shots/0/{op}", {"version": 1}).status_code == 403
    assert post_json(viewer_client, f"{api}/shots/0/move", {"version": 1, "to": 1}).status_code == 403
    assert viewer_client.get(f"{api}/storyboard").json()["can_produce"] is False
    episode.refresh_from_db()
    assert episode.storyboard_version == 1 and episode.segments.get(index=0).action == "A fox runs."


def test_outsiders_get_404(episode, users):
    outsider = client_for(users["outsider"])
    assert outsider.get(f"/episodes/{episode.pk}/storyboard/").status_code == 404
    assert outsider.get(f"/api/episodes/{episode.pk}/storyboard").status_code == 404
    assert outsider.post(f"/episodes/{episode.pk}/storyboard/shots/0/edit/", {"version": 1}).status_code == 404
