#!/usr/bin/env python
"""Dashboard push latency: from the worker's publish (another process) to a WebSocket client's receipt.

    .venv/bin/python bench/dashboard_latency.py [--sockets 50] [--events 200] [--interval 0.05]

For each shape, on a throwaway data folder: a daphne process serves the episode page's socket, `--sockets`
signed-in clients watch one episode, and a separate publisher process (what the render worker is) calls
productions.events.publish_episode_event for `--events` progress events. Each event carries its publish time;
each client notes when it arrives (same host, same clock). Shapes: embedded (the SQLite channel layer) and
redis (channels_redis at TOWER_REDIS_URL, default redis://127.0.0.1:6379/0, under a prefix of its own).
Prints `name: value` lines ending with p95_ms_embedded and p95_ms_redis. Targets: <= 250 ms embedded,
<= 50 ms Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_comfyui import free_port  # noqa: E402


def setup_django(data_dir: Path, env: dict[str, str]) -> None:
    os.environ["TOWER_DATA_DIR"] = str(data_dir)
    os.environ.pop("TOWER_DATABASE_URL", None)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tower.settings")
    import django

    django.setup()


def publish(episode_id: int, events: int, interval: float) -> None:
    """The publisher process: what EpisodeRender does for each progress step."""
    from productions.events import publish_episode_event
    from productions.models import Episode

    episode = Episode.objects.get(pk=episode_id)
    publish_episode_event(episode, {"type": "progress", "segment": 0, "step": 0, "total": events,
                                    "progress": 0.0, "preview": False})  # warm-up (connections, imports)
    time.sleep(0.5)
    for step in range(1, events + 1):
        publish_episode_event(episode, {"type": "progress", "segment": 0, "step": step, "total": events,
                                        "progress": 0.8 * step / events, "preview": False, "bench": True})
        time.sleep(interval)


def prepare(data_dir: Path) -> tuple[int, str]:
    """Migrate, and make a producer, a project, an episode and a session. Returns (episode id, session key)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from productions.models import Episode, Membership, Project

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password=uuid.uuid4().hex)
    project = Project.objects.create(name="bench")
    Membership.objects.create(project=project, user=user, role=Membership.PRODUCER)
    episode = Episode.objects.create(project=project, title="bench", synopsis="A fox runs.", width=320, height=180,
                                     duration_s=2.0, segment_count=2)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return episode.pk, session.session_key


def start_daphne(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "tower.asgi:application"], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return proc
        time.sleep(0.2)
    raise RuntimeError("daphne did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(shape: str, data_dir: Path, episode_id: int, session: str, args) -> list[float]:
    import websocket

    env = dict(os.environ, TOWER_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="tower.settings",
               PYTHONUNBUFFERED="1")
    env.pop("TOWER_DATABASE_URL", None)
    tag = f"towerbench{uuid.uuid4().hex[:8]}"  # no dashes: Huey drops them from its key names
    if shape == "redis":
        env.update(TOWER_REDIS_URL=args.redis_url, TOWER_CHANNELS_PREFIX=tag, TOWER_HUEY_NAME=tag)
    else:
        env["TOWER_REDIS_URL"] = ""
    port = free_port()
    daphne = start_daphne(env, port, data_dir / f"daphne-{shape}.log")
    delays: list[float] = []
    sockets = []
    try:
        for _ in range(args.sockets):
            ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws/episodes/{episode_id}/", timeout=30,
                                             header=[f"Cookie: sessionid={session}"],
                                             origin=f"http://127.0.0.1:{port}")
            first = json.loads(ws.recv())
            if first.get("type") != "snapshot":
                raise RuntimeError(f"expected a snapshot, got {first}")
            sockets.append(ws)

        # One thread reads every socket as soon as it is readable (50 threads would queue on the GIL and
        # stamp frames late): websocket-client buffers nothing beyond one frame, so select() tells the truth.
        ready = selectors.DefaultSelector()
        for ws in sockets:
            ws.sock.setblocking(True)
            ready.register(ws.sock, selectors.EVENT_READ, ws)
        expected = args.sockets * args.events
        publisher = subprocess.Popen([sys.executable, __file__, "--publish", str(episode_id), "--events",
                                      str(args.events), "--interval", str(args.interval)], env=env, cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + args.interval * args.events + 60
        while len(delays) < expected and time.monotonic() < deadline:
            for key, _ in ready.select(timeout=1.0):
                received = time.time()
                opcode, frame = key.data.recv_data_frame(True)  # True: a ping comes back, not a blocking wait
                if opcode != websocket.ABNF.OPCODE_TEXT:
                    continue
                message = json.loads(frame.data)
                if message.get("bench"):
                    delays.append(received - message["ts"])
        _, errors = publisher.communicate(timeout=60)
        if publisher.returncode:
            raise RuntimeError(f"publisher failed: {errors[-2000:]}")
        cpu[shape] = cpu_seconds(daphne.pid)
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                ws.close()
        stop(daphne)
        if shape == "redis":
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in list(client.scan_iter(match=f"*{tag}*", count=500)):
                client.delete(key)
    return delays


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), for the per-event cost of the web server."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


cpu: dict[str, float] = {}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between published events")
    parser.add_argument("--redis-url", default=os.environ.get("TOWER_REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--publish", type=int, help=argparse.SUPPRESS)  # internal: be the publisher process
    args = parser.parse_args()

    if args.publish:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tower.settings")
        import django

        django.setup()
        publish(args.publish, args.events, args.interval)
        return 0

    data_dir = Path(tempfile.mkdtemp(prefix="tower-bench-"))
    try:
        setup_django(data_dir, {"TOWER_REDIS_URL": ""})
        episode_id, session = prepare(data_dir)
        results: dict[str, list[float]] = {}
        for shape in ("embedded", "redis"):
            results[shape] = measure(shape, data_dir, episode_id, session, args)
        print(f"sockets: {args.sockets}")
        print(f"events: {args.events}")
        print(f"interval_ms: {args.interval * 1000:.0f}")
        for shape, delays in results.items():
            expected = args.sockets * args.events
            print(f"received_{shape}: {len(delays)} of {expected}")
            if shape in cpu:
                print(f"daphne_cpu_s_{shape}: {cpu[shape]:.2f}")
            if delays:
                print(f"p50_ms_{shape}: {percentile(delays, 0.5) * 1000:.1f}")
                print(f"max_ms_{shape}: {max(delays) * 1000:.1f}")
        for shape, delays in results.items():
            print(f"p95_ms_{shape}: {percentile(delays, 0.95) * 1000:.1f}" if delays else f"p95_ms_{shape}: nan")
        return 0 if all(len(d) == args.sockets * args.events for d in results.values()) else 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
