"""Under daphne every request runs in a thread of its own. With persistent connections (CONN_MAX_AGE) each
thread kept a PostgreSQL connection: 50 clients held 98 of a server's 100 and got 500s ("too many clients").
With the pool, one daphne process never holds more than TOWER_DB_POOL_MAX connections, however many clients.

The database's owner role has a connection limit a little above the pool's size, so running out shows up here
as it did on the full server, without taking connections from anyone else on the shared one.
"""

from __future__ import annotations

import socket

import pytest

from tests.live import DaphneServer
from tests.load import ConnectionWatch, ScratchDatabase, hammer, prepare_site
from tests.worker import worker_env

POOL_MAX = 4
CLIENTS = 40


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def database():
    if not postgres_reachable():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is needed")
    database = ScratchDatabase(role_limit=POOL_MAX + 3).create()
    yield database
    database.drop()


def test_many_clients_never_exceed_the_pool(database, tmp_path):
    env = {"TOWER_DATABASE_URL": database.url, "TOWER_DB_POOL_MAX": str(POOL_MAX), "TOWER_REDIS_URL": ""}
    site = prepare_site(worker_env(**env))
    server = DaphneServer(tmp_path / "daphne.log", **env).start()
    watch = ConnectionWatch(database)
    watch.start()
    try:
        episode = site["episode"]
        result = hammer(server.url, site["session"], [f"/api/episodes/{episode}", f"/episodes/{episode}/"],
                        clients=CLIENTS, seconds=4)
    finally:
        peak = watch.stop()
        server.stop()
    assert result.requests > CLIENTS, f"too few requests to load the server: {result.statuses}"
    assert result.errors == 0, f"{result.errors} of {result.requests} failed: {result.failures}"
    assert set(result.statuses) == {200}, result.statuses
    assert watch.samples > 10
    assert 1 <= peak <= POOL_MAX, f"{peak} connections to the database, the pool allows {POOL_MAX}"
