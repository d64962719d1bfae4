"""A real daphne process serves a 200 MB final video in bounded memory: whole, with a Range, and to a client
that stops reading for a while (daphne itself never waits for a slow client: without flow control the
server would buffer the rest of the file for it). Memory is the server's peak resident size (VmHWM)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.conftest import small_episode
from tests.live import DaphneServer, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIZE = 200 * 1024 * 1024
GROWTH_LIMIT = 40 * 1024 * 1024


def peak_rss(pid: int) -> int:
    """The process's peak resident set size in bytes, from /proc (VmHWM, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def served(tmp_path, settings, project, users):
    """An episode whose final video is a 200 MB file (sparse: instant to make, zeros to read), behind a
    daphne server on the test database, and a signed-in requests session for it."""
    episode = small_episode(project, title="Big one")
    relative = f"episodes/{episode.pk}/final.mp4"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(SIZE)  # sparse: only the size is set
    episode.final_path = relative
    episode.save(update_fields=["final_path"])
    web = DaphneServer(tmp_path / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))
    http = requests.Session()
    http.cookies.set("sessionid", session_cookie(users["producer"]), domain="127.0.0.1")
    try:
        web.start()
        # Warm up: every module a download needs is imported before the baseline is taken.
        warm = http.get(f"{web.url}/api/episodes/{episode.pk}/video", headers={"Range": "bytes=0-1048575"})
        assert warm.status_code == 206, warm.text[:500]
        yield web, http, episode
    finally:
        web.stop()


def read_all(response: requests.Response, pause_after: int | None = None, pause_s: float = 0) -> int:
    received = 0
    for chunk in response.iter_content(1 << 20):
        received += len(chunk)
        if pause_after is not None and received >= pause_after:
            time.sleep(pause_s)
            pause_after = None
    return received


def test_a_whole_download_and_a_range_stay_in_bounded_memory(served):
    web, http, episode = served
    baseline = peak_rss(web.pid)

    with http.get(f"{web.url}/api/episodes/{episode.pk}/video", stream=True, timeout=120) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == SIZE
        assert read_all(response) == SIZE
    with http.get(f"{web.url}/episodes/{episode.pk}/video/", stream=True, timeout=120,
                  headers={"Range": f"bytes={SIZE // 4}-"}) as response:
        assert response.status_code == 206
        assert response.headers["Content-Range"] == f"bytes {SIZE // 4}-{SIZE - 1}/{SIZE}"
        assert read_all(response) == SIZE - SIZE // 4

    growth = peak_rss(web.pid) - baseline
    assert growth < GROWTH_LIMIT, f"daphne's peak memory grew by {growth / 2**20:.0f} MB serving 200 MB"


def test_a_client_that_stops_reading_does_not_make_the_server_buffer_the_file(served):
    web, http, episode = served
    baseline = peak_rss(web.pid)

    with http.get(f"{web.url}/api/episodes/{episode.pk}/video", stream=True, timeout=120) as response:
        assert response.status_code == 200
        # Read a little, then nothing for 3 s: time enough for a server without flow control to load the
        # remaining 190 MB into its send buffer.
        assert read_all(response, pause_after=8 << 20, pause_s=3) == SIZE
    growth = peak_rss(web.pid) - baseline
    assert growth < GROWTH_LIMIT, f"daphne's peak memory grew by {growth / 2**20:.0f} MB for a paused client"


def open_files(pid: int, name: str) -> list[str]:
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.endswith(name):
            found.append(target)
    return found


def test_a_client_that_leaves_mid_download_leaves_nothing_open(served):
    web, http, episode = served
    for _ in range(3):  # paused (the server waiting on the full buffer) when the client leaves
        response = http.get(f"{web.url}/api/episodes/{episode.pk}/video", stream=True, timeout=60)
        assert response.status_code == 200
        next(response.iter_content(1 << 20))
        time.sleep(1)
        response.close()
    deadline = time.monotonic() + 15
    while open_files(web.pid, "final.mp4") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert open_files(web.pid, "final.mp4") == []
    answer = http.get(f"{web.url}/api/episodes/{episode.pk}/video", headers={"Range": "bytes=-3"}, timeout=30)
    assert answer.status_code == 206 and answer.content == b"\0\0\0"
    assert "Traceback" not in web.log(), web.log()[-3000:]
