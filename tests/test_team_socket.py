"""Removing a member from the Team (through the API, in the live daphne process) takes effect at once: the
removed viewer's open episode socket is closed without the browser sending anything, a new one is refused, and
the open page's next request gets 404; a member whose role changes keeps theirs."""

from __future__ import annotations

import pytest

from tests.conftest import small_episode
from tests.live import ApiSession, DaphneServer, close_code, open_socket, receive_until, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def web(tmp_path, settings):
    server = DaphneServer(tmp_path / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))
    try:
        yield server.start()
    finally:
        server.stop()


def snapshot_socket(web, episode, sessionid: str):
    ws = open_socket(web, f"/ws/episodes/{episode.pk}/", sessionid)
    assert receive_until(ws, lambda m: True, 10)["type"] == "snapshot"
    return ws


def change(session: ApiSession, method: str, path: str, body: dict | None = None):
    token = session.http.cookies.get("csrftoken", "")
    return session.http.request(method, session.server.url + path, json=body, timeout=30,
                                headers={"X-CSRFToken": token, "Origin": session.server.url})


def test_removal_from_the_team_closes_the_open_socket_and_page(web, project, users):
    episode = small_episode(project)
    viewer_cookie = session_cookie(users["viewer"])
    viewer_page = ApiSession(web, viewer_cookie)
    assert viewer_page.get(f"/episodes/{episode.pk}/").status_code == 200
    viewer_ws = snapshot_socket(web, episode, viewer_cookie)
    producer = ApiSession(web, session_cookie(users["producer"]))
    producer_ws = snapshot_socket(web, episode, producer.http.cookies["sessionid"])

    # A second producer, then the first one is made a viewer: still sees the episode, keeps the socket.
    assert change(producer, "POST", f"/api/projects/{project.pk}/members",
                  {"user": "sam", "role": "producer"}).status_code == 201
    assert change(producer, "PATCH", f"/api/projects/{project.pk}/members/{users['producer'].pk}",
                  {"role": "viewer"}).status_code == 200
    producer_ws.send('{"type": "snapshot"}')
    assert receive_until(producer_ws, lambda m: m.get("type") == "snapshot", 10)

    staff = ApiSession(web, session_cookie(users["staff"]))
    assert change(staff, "DELETE", f"/api/projects/{project.pk}/members/{users['viewer'].pk}").status_code == 204
    assert close_code(viewer_ws, timeout=10) == 4403  # at once, without the browser sending anything
    assert viewer_page.get(f"/episodes/{episode.pk}/").status_code == 404
    assert close_code(open_socket(web, f"/ws/episodes/{episode.pk}/", viewer_cookie)) == 4404
