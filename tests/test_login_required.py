"""Login is required on every page and API route; only the login page is open."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PAGES = [
    "/", "/projects/1/", "/projects/1/episodes/new/", "/episodes/1/", "/episodes/1/video/",
    "/episodes/1/keyframe/", "/episodes/1/qa/", "/episodes/1/segments/0/video/", "/episodes/1/segments/0/preview/",
    "/api/docs", "/api/openapi.json", "/admin/", "/episodes/1/live/", "/monitor/",
    "/episodes/1/segments/0/attempts/1/preview/", "/episodes/1/storyboard/",
    "/episodes/1/shots/0/keyframe/", "/episodes/1/keyframes/1/",
    "/projects/1/characters/", "/projects/1/characters/1/edit/", "/projects/1/characters/1/image/",
    "/episodes/1/segments/0/view/", "/episodes/1/segments/0/compare/", "/episodes/1/versions/1/video/",
    "/projects/1/team/", "/notifications/", "/episodes/1/package/",
]
POSTS = ["/episodes/1/render/", "/episodes/1/cancel/", "/episodes/1/segments/0/review/approve/",
         "/episodes/1/segments/0/review/reject/", "/episodes/1/keyframes/",
         "/episodes/1/shots/0/keyframe/approve/", "/episodes/1/shots/0/keyframe/remake/",
         *[f"/episodes/1/storyboard/shots/0/{op}/" for op in ("edit", "add", "delete", "split", "merge", "move")],
         "/projects/1/characters/", "/projects/1/style/", "/projects/1/characters/1/delete/",
         "/episodes/1/approve-all/", "/episodes/1/reopen/",
         "/projects/1/team/add/", "/projects/1/team/create/", "/projects/1/team/1/role/",
         "/projects/1/team/1/remove/", "/projects/1/webhook/", "/notifications/1/read/", "/notifications/read-all/",
         "/notifications/email/"]
API = [
    ("get", "/api/projects"), ("post", "/api/projects"), ("get", "/api/projects/1/episodes"),
    ("post", "/api/projects/1/episodes"), ("get", "/api/episodes/1"), ("post", "/api/episodes/1/render"),
    ("post", "/api/episodes/1/cancel"), ("get", "/api/episodes/1/video"),
    ("get", "/api/episodes/1/segments/0/video"), ("post", "/api/episodes/1/segments/0/approve"),
    ("post", "/api/episodes/1/segments/0/reject"), ("get", "/api/episodes/1/segments/0/attempts"),
    ("get", "/api/episodes/1/storyboard"), ("patch", "/api/episodes/1/shots/0"), ("post", "/api/episodes/1/shots"),
    ("delete", "/api/episodes/1/shots/0"), ("post", "/api/episodes/1/shots/0/split"),
    ("post", "/api/episodes/1/shots/0/merge"), ("post", "/api/episodes/1/shots/0/move"),
    ("post", "/api/episodes/1/keyframes"), ("post", "/api/episodes/1/shots/0/keyframe/approve"),
    ("post", "/api/episodes/1/shots/0/keyframe/remake"), ("get", "/api/episodes/1/shots/0/keyframe"),
    ("get", "/api/episodes/1/shots/0/keyframes"),
    ("post", "/api/episodes/1/approve-all"), ("post", "/api/episodes/1/reopen"), ("get", "/api/episodes/1/versions"),
    ("get", "/api/episodes/1/versions/1/video"),
    ("get", "/api/projects/1/characters"), ("post", "/api/projects/1/characters"), ("get", "/api/characters/1"),
    ("patch", "/api/characters/1"), ("delete", "/api/characters/1"), ("put", "/api/projects/1/style"),
    ("post", "/api/characters/1/reference-image"), ("delete", "/api/characters/1/reference-image"),
    ("get", "/api/episodes/1/notes"), ("post", "/api/episodes/1/notes"), ("patch", "/api/notes/1"),
    ("delete", "/api/notes/1"), ("get", "/api/episodes/1/timeline"),
    ("get", "/api/projects/1/members"), ("post", "/api/projects/1/members"), ("post", "/api/projects/1/accounts"),
    ("patch", "/api/projects/1/members/1"), ("delete", "/api/projects/1/members/1"),
    ("get", "/api/projects/1/webhook"), ("put", "/api/projects/1/webhook"), ("get", "/api/notifications"),
    ("get", "/api/notifications/unread"), ("post", "/api/notifications/read"), ("post", "/api/notifications/1/read"),
    ("get", "/api/episodes/1/package"),
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_send_anonymous_visitors_to_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("url", POSTS)
def test_actions_send_anonymous_visitors_to_login(url):
    response = Client().post(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(("method", "url"), API)
def test_api_routes_answer_401_to_anonymous_callers(method, url):
    response = getattr(Client(), method)(url, content_type="application/json")
    assert response.status_code == 401


def test_every_url_pattern_is_covered():
    """A new route must be added above, so nobody ships an open page by accident."""
    from django.urls import get_resolver

    names = {p.name for p in get_resolver().url_patterns[-1].url_patterns}
    assert names == {"project-list", "project-detail", "episode-new", "episode-detail", "episode-render",
                     "episode-cancel", "episode-file", "segment-file", "episode-live", "segment-review", "episode-qa",
                     "attempt-file", "monitor", "episode-storyboard", "shot-edit", "shot-add", "shot-delete",
                     "shot-split", "shot-merge", "shot-move", "episode-keyframes", "keyframe-attempt",
                     "shot-keyframe", "shot-keyframe-approve", "shot-keyframe-remake",
                     "project-characters", "project-style", "character-edit", "character-delete", "character-image",
                     "segment-view", "attempt-compare", "episode-approve-all", "episode-reopen",
                     "version-file", "episode-package",
                     "project-team", "team-add", "team-create", "team-role", "team-remove", "team-webhook",
                     "notifications", "notification-read", "notifications-read-all", "notifications-email"}


def test_the_login_page_is_open_and_works(users):
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "pat", "password": "pat-secret-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_signed_in_users_reach_the_docs(producer_client):
    assert producer_client.get("/api/docs").status_code == 200
    assert producer_client.get("/api/openapi.json").json()["info"]["title"] == "Tower API"


def test_the_stylesheet_is_served_without_login():
    response = Client().get("/static/tower.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)
