"""On PostgreSQL (which refuses NUL in text) through a real daphne: hostile text is a 422 naming the field, and a
refused rejection leaves the segment's files where they were, so it can still be approved or rejected."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.live import DaphneServer
from tests.test_scale_out import reachable

ROOT = Path(__file__).resolve().parent.parent
SETUP = """
from django.contrib.auth import get_user_model
from productions.models import Membership, Project
from tests.reviewable import awaiting_review
user = get_user_model().objects.create_user("pat", password="pat-secret-123")
project = Project.objects.create(name="Pilot")
Membership.objects.create(project=project, user=user, role=Membership.PRODUCER)
print(json.dumps({"project": project.pk, "episode": awaiting_review(project).pk}))
"""
FILES = ("native.mkv", "proxy.mp4", "last.png", "preview.webp")


@pytest.fixture
def postgres_server(tmp_path):
    if not reachable(5432):
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is needed")
    import psycopg

    name = f"tower_text_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {"TOWER_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}", "TOWER_REDIS_URL": "",
           "TOWER_DATA_DIR": str(tmp_path / "data"), "TOWER_MEDIA_ROOT": str(tmp_path / "media")}
    server = DaphneServer(tmp_path / "daphne.log", **env)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=server.env, cwd=ROOT, check=True)
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", "import json\n" + SETUP], env=server.env,
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        ids = json.loads(out.strip().splitlines()[-1])
        server.start()
        yield server, ids, tmp_path / "media" / "episodes" / str(ids["episode"])
    finally:
        server.stop()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def signed_in(server: DaphneServer) -> requests.Session:
    http = requests.Session()
    http.get(server.url + "/login/", timeout=10)
    token = http.cookies["csrftoken"]
    response = http.post(server.url + "/login/", timeout=10, allow_redirects=False,
                         data={"username": "pat", "password": "pat-secret-123", "csrfmiddlewaretoken": token},
                         headers={"Origin": server.url, "Referer": server.url + "/login/"})
    assert response.status_code == 302, response.text[:500]
    http.headers.update({"X-CSRFToken": http.cookies["csrftoken"], "Origin": server.url})
    return http


def refused(response: requests.Response, field: str) -> None:
    assert response.status_code == 422, response.text[:2000]
    assert field in response.json()["errors"], response.json()


def files_of(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES if (folder / name).exists()}


def test_nul_and_surrogates_in_episode_and_project_fields_on_postgres(postgres_server):
    server, ids, media = postgres_server
    http = signed_in(server)
    api = server.url + "/api"
    refused(http.post(f"{api}/projects", json={"name": "Pilot\x00 2"}, timeout=30), "name")
    refused(http.post(f"{api}/projects", json={"name": "Pilot 2", "description": "a\x00b"}, timeout=30),
            "description")
    for field in ("title", "synopsis", "style", "transitions"):
        body = {"title": "Ep", "synopsis": "A fox runs.", field: "x\x00y"}
        refused(http.post(f"{api}/projects/{ids['project']}/episodes", json=body, timeout=30), field)
    surrogate = '{"title": "Ep \\ud800", "synopsis": "A fox runs."}'
    refused(http.post(f"{api}/projects/{ids['project']}/episodes", data=surrogate, timeout=30,
                      headers={"Content-Type": "application/json"}), "title")
    assert "Internal Server Error" not in server.log()


def test_a_rejection_with_a_nul_moves_nothing_on_postgres(postgres_server):
    server, ids, media = postgres_server
    http = signed_in(server)
    api = server.url + "/api"
    segment = f"{api}/episodes/{ids['episode']}/segments/1"
    before = files_of(media / "segment-01")
    assert len(before) == 4
    refused(http.post(f"{segment}/reject", json={"reason": "too\x00 dark"}, timeout=30), "reason")
    refused(http.post(f"{segment}/reject", json={"reason": "too dark", "prompt": "a\x00b"}, timeout=30), "prompt")
    refused(http.post(f"{segment}/approve", json={"reason": "fine\x00"}, timeout=30), "reason")
    assert files_of(media / "segment-01") == before
    assert http.get(f"{api}/episodes/{ids['episode']}", timeout=30).json()["segments"][1]["review"] == "unreviewed"
    response = http.post(f"{segment}/reject", json={"reason": "too dark", "render": False}, timeout=30)
    assert response.status_code == 202, response.text[:2000]
    assert files_of(media / "segment-01") == {}
    assert files_of(media / "segment-01" / "attempt-01") == before
    assert "Internal Server Error" not in server.log()
