"""The README's nginx configuration, run for real in front of daphne with TOWER_SENDFILE=x-accel-redirect:
nginx sends the file (whole or a Range) with the app's Content-Type and Content-Disposition, only after the
app's access check, and its internal location cannot be fetched directly. Skipped where nginx is absent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest
import requests

from tests.downloads import episode_with_final
from tests.live import DaphneServer, free_port, session_cookie
from tests.worker import ROOT

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.skipif(NGINX is None, reason="nginx is not installed")]


def readme_nginx_config() -> str:
    match = re.search(r"```nginx\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert match, "README.md has no nginx snippet"
    return match.group(1)


@pytest.fixture
def nginx_front(tmp_path, settings):
    """daphne with TOWER_SENDFILE=x-accel-redirect behind nginx configured as the README says."""
    web = DaphneServer(tmp_path / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT),
                       TOWER_SENDFILE="x-accel-redirect", TOWER_SENDFILE_PREFIX="/protected-media/")
    port = free_port()
    snippet = (readme_nginx_config()
               .replace("/mnt/tower-media/", f"{settings.MEDIA_ROOT}/")
               .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{web.port}")
               .replace("server {", f"server {{\n    listen 127.0.0.1:{port};", 1))
    (tmp_path / "temp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/temp/body;
    proxy_temp_path {tmp_path}/temp/proxy;
    {snippet}
}}
""")
    nginx = None
    try:
        web.start()
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            if nginx.poll() is not None:
                raise AssertionError((tmp_path / "nginx-error.log").read_text(errors="replace"))
            try:
                if requests.get(url + "/login/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "nginx did not answer"
            time.sleep(0.2)
        yield url
    finally:
        if nginx and nginx.poll() is None:
            nginx.terminate()
            nginx.wait(timeout=10)
        web.stop()


def test_nginx_sends_the_file_after_the_apps_access_check(nginx_front, project, users):
    content = os.urandom(2 * 1024 * 1024 + 77)
    episode = episode_with_final(project, content, title="Fox \"Day\"\r\nOne — é")
    http = requests.Session()
    http.cookies.set("sessionid", session_cookie(users["producer"]), domain="127.0.0.1")
    url = f"{nginx_front}/api/episodes/{episode.pk}/video"

    whole = http.get(url, timeout=30)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["Content-Type"] == "video/mp4"
    assert whole.headers["Content-Disposition"] == (
        "inline; filename*=utf-8''Fox%20%22Day%22%20One%20%E2%80%94%20%C3%A9.mp4")
    assert "X-Accel-Redirect" not in whole.headers

    part = http.get(f"{nginx_front}/episodes/{episode.pk}/video/", headers={"Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206 and part.content == content[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(content)}"

    outsider = requests.Session()
    outsider.cookies.set("sessionid", session_cookie(users["outsider"]), domain="127.0.0.1")
    refused = outsider.get(url, timeout=30)
    assert refused.status_code == 404 and content[:64] not in refused.content
    direct = requests.get(f"{nginx_front}/protected-media/{episode.final_path}", timeout=30)
    assert direct.status_code == 404 and content[:64] not in direct.content
