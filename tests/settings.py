"""Settings for the test suite: the real settings, on a data folder of its own.

pytest-django imports settings before any conftest runs, so the isolation happens here: every test run gets
a fresh TOWER_DATA_DIR (database, Huey queue, media), never a developer's running instance's.
Worker processes started by tests inherit it through the environment (see tests/worker.py).
"""

import os
import tempfile

# Under pytest-xdist (the README's test command runs two processes) each worker gets a folder of its own: the
# controller's, which the workers inherit through the environment, would give them one Huey queue and one
# channel layer, and a worker process started by one test would take tasks queued by a test in the other.
# (pytest-django already gives each its own test database.) Processes a test starts inherit the worker's folder.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker and os.environ.get("TOWER_TESTS_DATA_DIR_OF") != _xdist_worker:
    os.environ["TOWER_DATA_DIR"] = tempfile.mkdtemp(prefix=f"tower-tests-{_xdist_worker}-")
    os.environ["TOWER_TESTS_DATA_DIR_OF"] = _xdist_worker
os.environ.setdefault("TOWER_DATA_DIR", tempfile.mkdtemp(prefix="tower-tests-"))
# Any preset conforms (encoding.py keeps High profile); ultrafast keeps full-length renders quick in CI.
os.environ.setdefault("TOWER_X264_PRESET", "ultrafast")
os.environ.setdefault("TOWER_BACKEND", "builtin")

from tower.settings import *  # noqa: E402,F403
