"""Live push end to end: a real daphne process and a real Huey worker process on the test database, in both
deployment shapes (embedded: the SQLite channel layer and queue; studio: Redis for both). A WebSocket client
signed in as a producer watches a render it started through the API."""

from __future__ import annotations

import pytest

from productions.models import Episode
from tests.conftest import small_episode
from tests.fake_comfyui import FakeComfyUI
from tests.live import (
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
from tests.worker import HueyWorker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

@pytest.fixture
def stack(request, tmp_path, settings):
    """daphne + a Huey worker for one shape; both write and read media where this test does."""
    shape, extra = request.param if isinstance(request.param, tuple) else (request.param, {})
    env = {**shape_env(shape), "TOWER_MEDIA_ROOT": str(settings.MEDIA_ROOT), "TOWER_HEARTBEAT_S": "1", **extra}
    web = DaphneServer(tmp_path / "daphne.log", **env)
    worker = HueyWorker(tmp_path / "worker.log", **env)
    try:
        web.start()
        worker.start()
        yield web, worker
    finally:
        worker.stop()
        web.stop()
        forget_redis_keys(env)


@pytest.mark.parametrize("stack", SHAPES, indirect=True)
def test_a_producer_watches_a_render_live_and_a_dropped_socket_catches_up(stack, project, users):
    web, worker = stack
    episode = small_episode(project)
    producer = session_cookie(users["producer"])

    # Authentication on the socket: anonymous -> 4401, a stranger -> 4404, another site's page -> refused.
    import websocket

    for who, code in ((None, 4401), (session_cookie(users["outsider"]), 4404)):
        assert close_code(open_socket(web, f"/ws/episodes/{episode.pk}/", who)) == code
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(web.ws_url + f"/ws/episodes/{episode.pk}/", origin="http://evil.example",
                                    header=[f"Cookie: sessionid={producer}"], timeout=10)

    ws = open_socket(web, f"/ws/episodes/{episode.pk}/", producer)
    viewer = open_socket(web, f"/ws/episodes/{episode.pk}/", session_cookie(users["viewer"]))
    assert receive_until(ws, lambda m: True, 10)["state"]["status"] == "draft"
    assert receive_until(viewer, lambda m: True, 10)["type"] == "snapshot"

    api = ApiSession(web, producer)
    response = api.post(f"/api/episodes/{episode.pk}/render")
    assert response.status_code == 202, response.text

    seen: list[dict] = []
    first_progress = receive_until(ws, lambda m: m["type"] == "progress", 120, seen)
    viewer.close()  # the viewer's connection drops mid-render...

    final = receive_until(ws, lambda m: m["type"] == "snapshot" and m["state"]["status"] in {"review", "failed"},
                          180, seen)
    state = final["state"]
    assert state["status"] == "review", state["error"] + worker.log()[-3000:]
    assert state["final_url"] and state["conformance"]["passed"] and state["progress"] == 1.0
    assert [s["status"] for s in state["segments"]] == ["done", "done"]

    progress = [m for m in seen if m["type"] == "progress"]
    assert first_progress["total"] > 0 and 0 < first_progress["progress"] <= 0.8
    assert any(m.get("preview_url") for m in progress), "no preview frame was pushed"
    assert any(m.get("eta_s") is not None for m in progress), "no ETA was pushed"
    statuses = {(s["index"], s["status"]) for m in seen if m["type"] == "snapshot" for s in m["state"]["segments"]}
    assert {(0, "generating"), (0, "done"), (1, "generating"), (1, "done")} <= statuses
    preview = api.get(next(m["preview_url"] for m in progress if m.get("preview_url")))
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/jpeg"

    # ...and reconnecting shows the final state it missed: the first message is a snapshot from the database.
    viewer = open_socket(web, f"/ws/episodes/{episode.pk}/", session_cookie(users["viewer"]))
    snapshot = receive_until(viewer, lambda m: True, 10)
    assert snapshot["type"] == "snapshot" and snapshot["state"]["status"] == "review"
    assert snapshot["state"]["final_url"] == state["final_url"]

    # The push crossed processes quickly (publish time -> receipt, same host clock). Generous: 2 busy cores.
    delays = sorted(m["_rx"] - m["ts"] for m in seen if "ts" in m)
    assert delays and delays[len(delays) // 2] < 1.0, delays
    assert Episode.objects.get(pk=episode.pk).status == "review"

    # The viewer cannot start, approve or reject through the live API either.
    viewer_api = ApiSession(web, session_cookie(users["viewer"]))
    assert viewer_api.post(f"/api/episodes/{episode.pk}/segments/0/approve").status_code == 403
    assert viewer_api.post(f"/api/episodes/{episode.pk}/render").status_code == 403
    ws.close()
    viewer.close()


@pytest.mark.parametrize("stack", [("embedded", {"TOWER_HEARTBEAT_S": "0.5"})], indirect=True)
def test_the_monitor_socket_streams_worker_heartbeats(stack, users, tmp_path):
    web, worker = stack
    # The worker was started without ComfyUI: its heartbeats carry no GPU, but they arrive.
    ws = open_socket(web, "/ws/monitor/", session_cookie(users["staff"]))
    first = receive_until(ws, lambda m: True, 10)
    assert first["type"] == "snapshot"
    beat = receive_until(ws, lambda m: m["type"] == "heartbeat", 30)
    assert beat["worker"].endswith(f":{worker.pid}") and beat["state"]["queue_length"] is not None
    assert any(s["name"] == "Huey queue" for s in beat["samples"])
    assert any(w["live"] for w in beat["state"]["workers"])
    ws.close()

    assert close_code(open_socket(web, "/ws/monitor/", session_cookie(users["producer"]))) == 4403


def test_a_worker_reports_its_comfyui_gpus_to_the_monitor(tmp_path, settings, users):
    with FakeComfyUI(name="gpu-a") as fake:
        env = {"TOWER_MEDIA_ROOT": str(settings.MEDIA_ROOT), "TOWER_HEARTBEAT_S": "0.5",
               "TOWER_COMFYUI_URLS": fake.url}
        web = DaphneServer(tmp_path / "daphne.log", **env)
        worker = HueyWorker(tmp_path / "worker.log", **env)
        try:
            web.start()
            worker.start()
            ws = open_socket(web, "/ws/monitor/", session_cookie(users["staff"]))
            beat = receive_until(ws, lambda m: m["type"] == "heartbeat" and m["state"]["gpus"], 60)
            [gpu] = beat["state"]["gpus"]
            assert gpu["server"] == fake.url and gpu["healthy"] and gpu["vram_total"] == 24 * 1024**3
            assert gpu["vram_used"] == 4 * 1024**3 and "Fake GPU" in gpu["name"]
            assert any(s["vram_pct"] is not None for s in beat["samples"])
            ws.close()
            wait_for(lambda: "Fake GPU" in ApiSession(web, session_cookie(users["staff"])).get("/monitor/").text,
                     10, "the monitor page")
        finally:
            worker.stop()
            web.stop()
