"""Concurrent signed-in clients against a live Tower server, and a watch on its PostgreSQL connections.

Shared by tests/test_db_connections_bounded.py and bench/api_load.py. `python tests/load.py prepare` (with the
server's environment) migrates the database and makes a producer, a project, a small episode and a session;
it prints them as JSON on its last line.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("TOWER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- A throwaway PostgreSQL database, owned by a role with a connection limit of its own --------------------

@dataclass
class ScratchDatabase:
    """A database and its owner role. The role's CONNECTION LIMIT makes running out of connections happen here,
    not on the shared server (superusers ignore it, so the role is an ordinary one)."""

    role_limit: int
    name: str = field(default_factory=lambda: f"tower_load_{uuid.uuid4().hex[:8]}")

    @property
    def url(self) -> str:
        return f"postgres://{self.name}@127.0.0.1:5432/{self.name}"

    def create(self) -> ScratchDatabase:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{self.name}" LOGIN CONNECTION LIMIT {int(self.role_limit)}')
            conn.execute(f'CREATE DATABASE "{self.name}" OWNER "{self.name}"')
        return self

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{self.name}"')

    def connections(self, conn) -> int:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.name]).fetchone()[0]


class ConnectionWatch(threading.Thread):
    """Samples how many server connections a database has (pg_stat_activity) until stopped; keeps the peak.
    It watches from the `postgres` database, so its own connection is not counted."""

    def __init__(self, database: ScratchDatabase, interval_s: float = 0.05):
        super().__init__(name="connection-watch", daemon=True)
        self.database = database
        self.interval_s = interval_s
        self.peak = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            while not self.stopping.is_set():
                self.peak = max(self.peak, self.database.connections(conn))
                self.samples += 1
                self.stopping.wait(self.interval_s)

    def stop(self) -> int:
        self.stopping.set()
        self.join(10)
        return self.peak


# --- The site: a producer, a project, an episode, a session --------------------------------------------------

def prepare_site(env: dict[str, str], **episode: object) -> dict:
    """Migrate the database that `env` points at and make what the clients need; returns {"episode": id,
    "session": key}. Runs in a process of its own (the caller may be on another database)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "prepare", json.dumps(episode)],
                         env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _prepare(episode_fields: dict) -> dict:
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from productions.models import Episode, Membership, Project

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"load-{uuid.uuid4().hex[:6]}", password=uuid.uuid4().hex)
    project = Project.objects.create(name=f"Load {uuid.uuid4().hex[:6]}")
    Membership.objects.create(project=project, user=user, role=Membership.PRODUCER)
    fields = dict(title="Load", synopsis="A fox runs through snow. It finds a lantern.", seed=7, width=320,
                  height=180, duration_s=2.0, min_bitrate_bps=200_000, segment_count=2)
    fields.update(episode_fields)
    episode = Episode.objects.create(project=project, **fields)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {"episode": episode.pk, "session": session.session_key}


# --- The load ---------------------------------------------------------------------------------------------

@dataclass
class LoadResult:
    statuses: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # connection errors and the first bodies of 5xx answers

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        """Answers of 500 and above, and requests that got no answer at all."""
        return sum(n for status, n in self.statuses.items() if status == 0 or status >= 500)

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def signed_in(base_url: str, session_key: str) -> requests.Session:
    http = requests.Session()
    http.cookies.set("sessionid", session_key, domain="127.0.0.1")
    return http


def hammer(base_url: str, session_key: str, paths: list[str], clients: int, seconds: float,
           timeout_s: float = 60) -> LoadResult:
    """`clients` threads, each a signed-in session of its own, GET `paths` in turn as fast as answers come,
    for `seconds`. Every answer's status and latency is recorded."""
    result = LoadResult()
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def client(number: int) -> None:
        http = signed_in(base_url, session_key)
        start.wait()
        turn = number
        while time.monotonic() < deadline[0]:
            path = paths[turn % len(paths)]
            turn += 1
            began = time.monotonic()
            try:
                response = http.get(base_url + path, timeout=timeout_s, allow_redirects=False)
                status, body = response.status_code, response.text if response.status_code >= 500 else ""
            except requests.RequestException as exc:
                status, body = 0, f"{type(exc).__name__}: {exc}"
            took = time.monotonic() - began
            with lock:
                result.statuses[status] += 1
                result.latencies_s.append(took)
                if (status == 0 or status >= 500) and len(result.failures) < 5:
                    result.failures.append(f"{path} -> {status}: {body[:300]}")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline.append(time.monotonic() + seconds)
    start.wait()
    for thread in threads:
        thread.join(seconds + timeout_s + 10)
    return result


def wait_until_serving(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tower.settings")
        print(json.dumps(_prepare(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})))
    else:
        sys.exit(__doc__)
