"""`manage.py up` (the README's first command, after the install) on an empty data folder: it migrates, makes
an admin whose password works, serves the dashboard with daphne, runs a Huey worker, and Ctrl-C stops both."""

import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.fake_comfyui import free_port
from tests.worker import ROOT, wait_for

pytestmark = pytest.mark.slow


def test_up_starts_the_dashboard_and_the_worker_on_a_fresh_data_folder(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env.update(DJANGO_SETTINGS_MODULE="tower.settings", TOWER_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "up", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def login_page():
            try:
                return requests.get(f"{base}/login/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(login_page, 120, "the dashboard to answer")
        username, password = (tmp_path / "data" / "admin-password.txt").read_text().split()
        session = requests.Session()
        session.get(f"{base}/login/", timeout=5)
        response = session.post(f"{base}/login/", timeout=5, allow_redirects=False, data={
            "username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": f"{base}/login/"})
        assert response.status_code == 302, "the printed admin password must work"
        assert session.get(f"{base}/", timeout=5).status_code == 200
        children = subprocess.run(["pgrep", "-P", str(proc.pid), "-a"], capture_output=True, text=True).stdout
        assert "run_huey" in children and "daphne" in children, children
        assert "Created the admin account" in (tmp_path / "up.log").read_text()
    finally:
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0, (tmp_path / "up.log").read_text()[-3000:]
    leftovers = subprocess.run(["pgrep", "-f", f"-p {port} "], capture_output=True, text=True).stdout
    assert not leftovers.strip(), "daphne outlived Ctrl-C"
