"""Open sockets lose access when their user does: a real daphne process and real WebSocket clients, in both
deployment shapes (embedded: the SQLite channel layer; studio: Redis). The change is made in this process (as
the admin site or a shell in another process would), so it reaches daphne only through the channel layer."""

from __future__ import annotations

import pytest
from django.db import connection

from productions.models import Membership
from tests.conftest import small_episode
from tests.live import (
    REDIS_URL,
    SHAPES,
    ApiSession,
    DaphneServer,
    close_code,
    forget_redis_keys,
    open_socket,
    receive_until,
    session_cookie,
    shape_env,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

@pytest.fixture
def web(request, tmp_path, settings):
    """daphne for one shape; this process publishes on the same channel layer."""
    shape = getattr(request, "param", "embedded")
    env = {**shape_env(shape), "TOWER_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    if shape == "redis":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                               "CONFIG": {"hosts": [REDIS_URL],
                                                          "prefix": env["TOWER_CHANNELS_PREFIX"]}}}
    server = DaphneServer(tmp_path / "daphne.log", **env)
    try:
        yield server.start()
    finally:
        server.stop()
        forget_redis_keys(env)


def snapshot_socket(web, episode, sessionid: str):
    ws = open_socket(web, f"/ws/episodes/{episode.pk}/", sessionid)
    first = receive_until(ws, lambda m: True, 10)
    assert first["type"] == "snapshot" and first["state"]["id"] == episode.pk
    return ws


def still_answers(ws, episode) -> None:
    ws.send('{"type": "snapshot"}')
    again = receive_until(ws, lambda m: True, 10)
    assert again["type"] == "snapshot" and again["state"]["id"] == episode.pk


def test_a_snapshot_request_after_removal_is_refused(web, project, users):
    """Removed behind Tower's back (raw SQL: no signal reaches the socket): the next message re-checks."""
    episode = small_episode(project)
    ws = snapshot_socket(web, episode, session_cookie(users["viewer"]))
    still_answers(ws, episode)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM productions_membership WHERE user_id = %s", [users["viewer"].pk])
    ws.send('{"type": "snapshot"}')
    assert close_code(ws) == 4403


@pytest.mark.parametrize("web", SHAPES, indirect=True)
def test_removal_from_the_project_closes_the_users_sockets(web, project, users):
    episode = small_episode(project)
    viewer = snapshot_socket(web, episode, session_cookie(users["viewer"]))
    producer = snapshot_socket(web, episode, session_cookie(users["producer"]))

    Membership.objects.filter(user=users["viewer"]).delete()
    assert close_code(viewer, timeout=10) == 4403  # at once, without the browser sending anything

    # A change of role that keeps the project visible keeps the socket.
    Membership.objects.filter(user=users["producer"]).update(role=Membership.VIEWER)
    Membership.objects.get(user=users["producer"]).save()  # the admin site saves the row: signals fire
    still_answers(producer, episode)
    producer.close()


@pytest.mark.parametrize("web", SHAPES, indirect=True)
def test_logout_closes_that_sessions_sockets(web, project, users):
    episode = small_episode(project)
    signed_out, elsewhere = session_cookie(users["viewer"]), session_cookie(users["viewer"])
    ws = snapshot_socket(web, episode, signed_out)
    other = snapshot_socket(web, episode, elsewhere)

    response = ApiSession(web, signed_out).post("/logout/")
    assert response.status_code in (200, 302)
    assert close_code(ws, timeout=10) == 4401
    still_answers(other, episode)  # the same user's other browser stays signed in
    other.close()


def test_a_deactivated_or_demoted_account_loses_its_sockets(web, project, users):
    episode = small_episode(project)
    viewer = snapshot_socket(web, episode, session_cookie(users["viewer"]))
    monitor = open_socket(web, "/ws/monitor/", session_cookie(users["staff"]))
    assert receive_until(monitor, lambda m: True, 10)["type"] == "snapshot"

    users["staff"].is_staff = False
    users["staff"].save()
    assert close_code(monitor, timeout=10) == 4403

    users["viewer"].is_active = False
    users["viewer"].save()
    assert close_code(viewer, timeout=10) == 4401
