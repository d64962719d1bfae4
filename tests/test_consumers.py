"""The WebSocket consumers in process (Channels' communicator): authentication, membership, the snapshot on
connect, events forwarded as the renderer publishes them, the staff-only monitor."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from productions.events import publish_episode_event
from productions.routing import websocket_urlpatterns
from tests.conftest import small_episode

pytestmark = pytest.mark.django_db(transaction=True)

app = URLRouter(websocket_urlpatterns)


async def connect(path: str, user) -> tuple[WebsocketCommunicator, dict | int]:
    """Returns the communicator and its first message, or the close code if it was closed at once."""
    communicator = WebsocketCommunicator(app, path)
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_output(timeout=10)
    if first["type"] == "websocket.close":
        return communicator, first["code"]
    import json

    return communicator, json.loads(first["text"])


def test_sockets_refuse_anonymous_users_and_outsiders(project, users):
    episode = small_episode(project)

    async def scenario():
        for user, code in ((AnonymousUser(), 4401), (users["outsider"], 4404)):
            _, first = await connect(f"/ws/episodes/{episode.pk}/", user)
            assert first == code
        _, first = await connect(f"/ws/episodes/{episode.pk + 999}/", users["staff"])
        assert first == 4404
        _, first = await connect("/ws/monitor/", users["producer"])
        assert first == 4403
        _, first = await connect("/ws/monitor/", AnonymousUser())
        assert first == 4401

    async_to_sync(scenario)()


def test_a_member_gets_a_snapshot_then_live_events(project, users):
    episode = small_episode(project, title="<img src=x onerror=alert(1)>")

    async def scenario():
        viewer, first = await connect(f"/ws/episodes/{episode.pk}/", users["viewer"])
        assert first["type"] == "snapshot" and first["state"]["status"] == "draft"
        assert first["state"]["segments"] == [] and first["state"]["final_url"] is None

        def publish():  # the renderer's calls, from another thread as in the worker
            publish_episode_event(episode, {"type": "episode", "status": "rendering", "stage": "keyframe"})
            publish_episode_event(episode, {"type": "progress", "segment": 0, "step": 3, "total": 10,
                                            "progress": 0.24, "preview": True})
            publish_episode_event(episode, {"type": "progress", "segment": 0, "step": 4, "total": 10,
                                            "progress": 0.32, "preview": True})

        thread = threading.Thread(target=publish)
        thread.start()
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        state = await viewer.receive_json_from(timeout=10)
        assert state["type"] == "snapshot" and state["cause"] == "episode"
        progress = await viewer.receive_json_from(timeout=10)
        assert progress["type"] == "progress" and progress["step"] == 3 and progress["total"] == 10
        assert progress["preview_url"].startswith(f"/episodes/{episode.pk}/segments/0/preview/?v=")
        second = await viewer.receive_json_from(timeout=10)
        assert second["step"] == 4 and second["preview"] is False  # previews at most once a second
        assert "eta_s" in second and second["ts"] >= progress["ts"]
        # The page may ask for a fresh snapshot (e.g. its tab woke up).
        await viewer.send_json_to({"type": "snapshot"})
        again = await viewer.receive_json_from(timeout=10)
        assert again["type"] == "snapshot" and again["state"]["id"] == episode.pk
        await viewer.disconnect()

    async_to_sync(scenario)()


def test_staff_get_the_monitor_snapshot(users):
    async def scenario():
        _, first = await connect("/ws/monitor/", users["staff"])
        assert first["type"] == "snapshot"
        assert {"workers", "gpus", "queue_length", "running", "throughput", "history"} <= set(first["state"])

    async_to_sync(scenario)()
