"""Settings for the test suite: the real settings, on a data folder of its own.

pytest-django imports settings before any conftest runs, so the isolation happens here: every test run gets
a fresh TOWER_DATA_DIR (database, Huey queue, media), never a developer's running instance's.
Worker processes started by tests inherit it through the environment (see tests/worker.py).
"""

import os
import tempfile

os.environ.setdefault("TOWER_DATA_DIR", tempfile.mkdtemp(prefix="tower-tests-"))
# Any preset conforms (encoding.py keeps High profile); ultrafast keeps full-length renders quick in CI.
os.environ.setdefault("TOWER_X264_PRESET", "ultrafast")
os.environ.setdefault("TOWER_BACKEND", "builtin")

from tower.settings import *  # noqa: E402,F403
