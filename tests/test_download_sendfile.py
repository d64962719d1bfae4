"""TOWER_SENDFILE hands downloads to the front web server: the app checks access and answers the headers that
name the file (X-Accel-Redirect for nginx, X-Sendfile for Apache/lighttpd) without reading it. A wrong value
stops start-up naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import client_for
from tests.downloads import episode_with_final
from tests.live import DaphneServer, session_cookie
from tests.worker import ROOT

DATA = b"not read by the app" * 100


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_x_accel_redirect_names_the_file_under_the_internal_location(settings, project, users, method):
    settings.TOWER_SENDFILE, settings.TOWER_SENDFILE_PREFIX = "x-accel-redirect", "/protected-media/"
    episode = episode_with_final(project, DATA, title="Fox\r\n\"One\"")
    client = client_for(users["producer"])
    call = client.head if method == "HEAD" else client.get
    for url in (f"/api/episodes/{episode.pk}/video", f"/episodes/{episode.pk}/video/"):
        # A Range is for nginx to answer: the app hands over the whole file either way.
        response = call(url, headers={"Range": "bytes=0-9"})
        assert response.status_code == 200 and not response.streaming and response.content == b""
        assert response["X-Accel-Redirect"] == f"/protected-media/episodes/{episode.pk}/final.mp4"
        assert response["Content-Type"] == "video/mp4"
        assert response["Content-Disposition"] == 'inline; filename="Fox \\"One\\".mp4"'
        assert "Content-Range" not in response and "X-Sendfile" not in response
    # Access is still the app's: an outsider gets no header naming the file.
    outsider = client_for(users["outsider"]).get(f"/api/episodes/{episode.pk}/video")
    assert outsider.status_code == 404 and "X-Accel-Redirect" not in outsider


@pytest.mark.django_db
def test_x_sendfile_names_the_absolute_path(settings, project, users):
    settings.TOWER_SENDFILE = "x-sendfile"
    episode = episode_with_final(project, DATA)
    response = client_for(users["producer"]).get(f"/api/episodes/{episode.pk}/video")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Sendfile"] == str(Path(settings.MEDIA_ROOT) / episode.final_path)
    assert "X-Accel-Redirect" not in response


def bytes_read(pid: int) -> int:
    """Bytes the process has read through read() and friends (/proc/PID/io rchar)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc io")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_daphne_hands_a_200_mb_file_over_without_reading_it(tmp_path, settings, project, users):
    episode = episode_with_final(project, b"")
    with (Path(settings.MEDIA_ROOT) / episode.final_path).open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse
    web = DaphneServer(tmp_path / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT),
                       TOWER_SENDFILE="x-accel-redirect", TOWER_SENDFILE_PREFIX="/protected-media")
    http = requests.Session()
    http.cookies.set("sessionid", session_cookie(users["producer"]), domain="127.0.0.1")
    try:
        web.start()
        url = f"{web.url}/api/episodes/{episode.pk}/video"
        assert http.get(url, timeout=30).status_code == 200  # warm-up: imports are read before the count
        before = bytes_read(web.pid)
        response = http.get(url, timeout=30)
        read = bytes_read(web.pid) - before
    finally:
        web.stop()
    assert response.status_code == 200 and response.content == b""
    assert response.headers["X-Accel-Redirect"] == f"/protected-media/episodes/{episode.pk}/final.mp4"
    assert read < 5 * 1024 * 1024, f"daphne read {read} bytes to hand a file over"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TOWER_SENDFILE": "nginx"}, "TOWER_SENDFILE='nginx'"),
        ({"TOWER_SENDFILE": "x-accel-redirect"}, "TOWER_SENDFILE_PREFIX=''"),
        ({"TOWER_SENDFILE": "X-Accel-Redirect", "TOWER_SENDFILE_PREFIX": "protected"}, "TOWER_SENDFILE_PREFIX="),
    ],
)
def test_a_wrong_setting_stops_start_up_naming_the_variable(tmp_path, env, named):
    proc = subprocess.run([sys.executable, "-c", "import tower.settings"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "TOWER_DATA_DIR": str(tmp_path), **env})
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and named in proc.stderr, proc.stderr[-2000:]


def test_the_accepted_settings_start(tmp_path):
    for env in ({"TOWER_SENDFILE": ""}, {"TOWER_SENDFILE": "x-sendfile"},
                {"TOWER_SENDFILE": "x-accel-redirect", "TOWER_SENDFILE_PREFIX": "/protected-media/"}):
        proc = subprocess.run([sys.executable, "-c", "import tower.settings"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "TOWER_DATA_DIR": str(tmp_path), **env})
        assert proc.returncode == 0, proc.stderr[-2000:]
