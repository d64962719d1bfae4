"""The studio shape for real: PostgreSQL, Huey on Redis, two worker processes sharing the work.

Needs the PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) that run on every dev and CI
machine; skipped with a clear reason where they are missing.
"""

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from productions.lib.conformance import check_conformance
from productions.lib.spec import DeliverySpec
from tests.worker import ROOT, ManagedProcess, wait_for

pytestmark = pytest.mark.slow


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def studio_env(tmp_path):
    if not (reachable(5432) and reachable(6379)):
        pytest.skip("PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 are needed for the studio shape")
    import psycopg
    import redis

    name = f"tower_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tower.settings",
        "TOWER_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "TOWER_REDIS_URL": "redis://127.0.0.1:6379/0",
        "TOWER_HUEY_NAME": name,
        "TOWER_CHANNELS_PREFIX": name,
        "TOWER_DATA_DIR": str(tmp_path / "data"),
        "TOWER_MEDIA_ROOT": str(tmp_path / "shared-media"),  # what an NFS mount would be across hosts
        "TOWER_BACKEND": "builtin",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    yield env
    client = redis.Redis.from_url(env["TOWER_REDIS_URL"])  # shared: remove only this test's own keys
    for key in list(client.scan_iter(match=f"*{name}*", count=500)):
        client.delete(key)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def driver(env, *args) -> object:
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "scale_out_driver.py"), *map(str, args)],
                         env=env, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_two_workers_share_episodes_on_postgres_and_redis(studio_env, tmp_path):
    workers = [ManagedProcess(tmp_path / f"worker{i}.log", **studio_env) for i in range(2)]
    for worker in workers:
        worker.spawn([sys.executable, str(ROOT / "manage.py"), "run_huey", "--workers", "1", "--delay", "0.1"])
    try:
        ids = driver(studio_env, "create", 4)
        def all_done():
            state = driver(studio_env, "status", *ids)
            return state if all(e["status"] in {"delivered", "review", "failed"} for e in state.values()) else None
        state = wait_for(all_done, 600, "four episodes on two workers", interval=1)
    finally:
        for worker in workers:
            worker.stop()
    logs = "".join(worker.log() for worker in workers)
    pids = set()
    for episode in state.values():
        assert episode["status"] != "failed", episode["error"] + logs[-3000:]
        assert episode["attempts"] == [1, 1, 1], "a segment was rendered twice"
        assert len(episode["workers"]) == 1, "an episode was picked up by two workers"
        pids.add(episode["workers"][0].split(":")[1])
        report = check_conformance(Path(episode["final"]), DeliverySpec(320, 180, 24, 3.0, 200_000))
        assert report.passed, report.summary()
    assert pids == {str(w.pid) for w in workers}, "both workers should have rendered episodes"
