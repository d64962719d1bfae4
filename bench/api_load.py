#!/usr/bin/env python
"""API and page load while a render runs: many signed-in clients on one episode, in both shapes.

    .venv/bin/python bench/api_load.py [--clients 50] [--seconds 30] [--shapes sqlite,postgres]

For each shape, on a throwaway data folder: migrate, make a producer and an episode, start daphne and a Huey
worker, start the episode's render through the API, and once it is rendering run `--clients` threads (each a
session of its own) that GET /api/episodes/{id} and the episode page in turn for `--seconds`. Shapes: sqlite
(the embedded default: SQLite, SQLite Huey and channel layer) and postgres (a database of its own on
127.0.0.1:5432, owned by a role limited to --role-limit connections, and Redis at --redis-url under a prefix of
its own). Prints p50/p95 latency and errors per shape, the peak number of connections to the PostgreSQL
database (pg_stat_activity, sampled every 50 ms), and last `errors_postgres: N` and `errors_sqlite: N`.
An error is an answer of 500 or more, or no answer. Target: 0 and 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_comfyui import free_port  # noqa: E402
from tests.load import (  # noqa: E402
    ConnectionWatch,
    ScratchDatabase,
    hammer,
    prepare_site,
    signed_in,
    wait_until_serving,  # noqa: E402
)

# Long enough to still be rendering when the load ends on a busy 2-core machine.
EPISODE = dict(width=320, height=180, duration_s=24.0, segment_count=6, min_bitrate_bps=200_000)


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def episode_state(base: str, http: requests.Session, episode: int) -> dict:
    return http.get(f"{base}/api/episodes/{episode}", timeout=30).json()


def run_shape(shape: str, args, data_dir: Path) -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tower.settings", TOWER_DATA_DIR=str(data_dir),
               TOWER_BACKEND="builtin", TOWER_X264_PRESET="ultrafast", PYTHONUNBUFFERED="1", TOWER_REDIS_URL="")
    env.pop("TOWER_DATABASE_URL", None)
    database = tag = None
    if shape == "postgres":
        database = ScratchDatabase(role_limit=args.role_limit).create()
        tag = f"towerbench{uuid.uuid4().hex[:8]}"  # no dashes: Huey drops them from its key names
        env.update(TOWER_DATABASE_URL=database.url, TOWER_REDIS_URL=args.redis_url, TOWER_CHANNELS_PREFIX=tag,
                   TOWER_HUEY_NAME=tag)
    procs: list[subprocess.Popen] = []
    watch = None
    try:
        site = prepare_site(env, **EPISODE)
        episode, session = site["episode"], site["session"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        procs.append(spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                            "tower.asgi:application"], env, data_dir / f"daphne-{shape}.log"))
        procs.append(spawn([sys.executable, "manage.py", "run_huey", "--workers", "1", "--delay", "0.1"], env,
                           data_dir / f"worker-{shape}.log"))
        wait_until_serving(base + "/login/")
        http = signed_in(base, session)
        http.get(base + "/login/", timeout=30)  # the CSRF cookie
        started = http.post(f"{base}/api/episodes/{episode}/render", json={}, timeout=30,
                            headers={"X-CSRFToken": http.cookies.get("csrftoken", ""), "Origin": base})
        if started.status_code != 202:
            raise RuntimeError(f"render did not start: {started.status_code} {started.text[:500]}")
        deadline = time.monotonic() + 120
        while episode_state(base, http, episode).get("status") != "rendering" and time.monotonic() < deadline:
            time.sleep(0.5)
        before = episode_state(base, http, episode)
        if database is not None:
            watch = ConnectionWatch(database)
            watch.start()
        result = hammer(base, session, [f"/api/episodes/{episode}", f"/episodes/{episode}/"], args.clients,
                        args.seconds)
        peak = watch.stop() if watch else None
        after = episode_state(base, http, episode)
        log = (data_dir / f"daphne-{shape}.log").read_text(errors="replace")
        worker_log = (data_dir / f"worker-{shape}.log").read_text(errors="replace")
        return {"result": result, "peak": peak, "before": before, "after": after,
                "server_tracebacks": log.count("Traceback"), "worker_tracebacks": worker_log.count("Traceback"),
                "locked": (log + worker_log).count("database is locked"),
                "first_traceback": first_traceback(log + worker_log)}
    finally:
        if watch is not None and watch.is_alive():
            watch.stop()
        for proc in procs:
            stop(proc)
        if database is not None:
            database.drop()
        if tag:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for key in list(client.scan_iter(match=f"*{tag}*", count=500)):
                client.delete(key)


def first_traceback(log: str) -> str:
    start = log.find("Traceback")
    if start < 0:
        return ""
    lines = log[start:].splitlines()
    end = next((i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), len(lines) - 1)
    return "\n".join(lines[: end + 1])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--shapes", default="sqlite,postgres")
    parser.add_argument("--role-limit", type=int, default=60,
                        help="connection limit of the bench database's role (keeps the shared server usable)")
    parser.add_argument("--redis-url", default=os.environ.get("TOWER_REDIS_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    print(f"clients: {args.clients}")
    print(f"seconds: {args.seconds:g}")
    print(f"cpus: {os.cpu_count()}")
    print(f"load_average_start: {load_average()}")
    errors: dict[str, int] = {}
    for shape in shapes:
        data_dir = Path(tempfile.mkdtemp(prefix=f"tower-api-load-{shape}-"))
        try:
            out = run_shape(shape, args, data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        result = out["result"]
        errors[shape] = result.errors
        print(f"requests_{shape}: {result.requests}")
        print(f"requests_per_s_{shape}: {result.requests / args.seconds:.1f}")
        print(f"p50_ms_{shape}: {result.percentile_ms(0.5):.0f}")
        print(f"p95_ms_{shape}: {result.percentile_ms(0.95):.0f}")
        print(f"statuses_{shape}: {dict(sorted(result.statuses.items()))}")
        print(f"render_{shape}: {out['before'].get('stage')!r} ({out['before'].get('progress')}) -> "
              f"{out['after'].get('status')} {out['after'].get('stage')!r} ({out['after'].get('progress')})")
        print(f"server_tracebacks_{shape}: {out['server_tracebacks']}")
        print(f"worker_tracebacks_{shape}: {out['worker_tracebacks']}")
        print(f"database_locked_{shape}: {out['locked']}")
        if out["peak"] is not None:
            print(f"peak_db_connections_{shape}: {out['peak']}")
        if out["first_traceback"]:
            print(f"first_traceback_{shape}:\n{out['first_traceback']}")
    print(f"load_average_end: {load_average()}")
    for shape in ("postgres", "sqlite"):
        if shape in errors:
            print(f"errors_{shape}: {errors[shape]}")
    return 0 if not any(errors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
