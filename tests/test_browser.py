"""Browser tests: Playwright drives Debian's Chromium against a live daphne process and a real Huey worker
process on the test database. Screenshots go to test-artifacts/browser/ (gitignored)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from productions.models import Episode
from tests.conftest import render_now, small_episode
from tests.live import DaphneServer, session_cookie
from tests.worker import HueyWorker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
TIMEOUT_MS = 120_000

# Test-only instrumentation: record what the page's socket receives and which preview frames loaded.
RECORDER = """
window.__events = [];
window.__previewLoads = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new NativeWebSocket(...args);
  socket.addEventListener("message", (m) => { try { window.__events.push(JSON.parse(m.data)); } catch (e) {} });
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, { OPEN: 1, CLOSED: 3, CONNECTING: 0, CLOSING: 2 });
document.addEventListener("load", (e) => {
  if (e.target.matches && e.target.matches("img.preview")) {
    window.__previewLoads.push([e.target.getAttribute("src"), e.target.naturalWidth]);
  }
}, true);
"""


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; Django's async-safety check would refuse the
    # test's own ORM calls. Tests only: the server processes keep the check (worker_env() drops it).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.close()
    playwright.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def web(tmp_path, settings):
    server = DaphneServer(tmp_path / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker(tmp_path, settings):
    worker = HueyWorker(tmp_path / "worker.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))
    worker.start()
    yield worker
    worker.stop()


def page_for(browser, web: DaphneServer, user=None):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    if user is not None:
        context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": web.url}])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.add_init_script(RECORDER)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return page


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_anonymous_visitor_is_sent_to_login_and_can_sign_in(browser, web, project, users):
    episode = small_episode(project)
    page = page_for(browser, web)
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    assert "/login/" in page.url and f"next=/episodes/{episode.pk}/" in page.url
    shot(page, "login")
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", "pat-secret-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    page.wait_for_function("document.getElementById('live-indicator').dataset.state === 'live'")
    page.context.close()


def test_a_producer_watches_a_render_rejects_a_segment_and_delivers(browser, web, worker, project, users):
    page = page_for(browser, web, users["producer"])

    # The New episode form starts from the delivery spec; a <script> in the prompt is shown as text.
    page.goto(f"{web.url}/projects/{project.pk}/episodes/new/")
    assert page.input_value("input[name=width]") == "1920" and page.input_value("input[name=duration_s]") == "30.0"
    page.fill("input[name=title]", "Script test")
    page.fill("textarea[name=synopsis]", "<script>window.__xss = 1; alert('xss')</script> A fox runs.")
    page.click("text=Create as draft")
    page.wait_for_selector("#storyboard")  # a new episode opens on its storyboard
    assert "<script>window.__xss = 1" in page.input_value("#storyboard article.shot textarea[name=action]")
    assert "<script>window.__xss = 1" in page.inner_text("#storyboard .shot-prompt")
    assert page.evaluate("window.__xss") is None and not page.dialogs
    assert Episode.objects.get(title="Script test").width == 1920

    # A small episode (the form's minimums would make a full 30 s render): start it and watch.
    episode = small_episode(project, title="Fox and lantern", duration_s=10.0)  # outlasts a web restart
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    page.click("#start-render")
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    page.evaluate("window.__noReload = true")
    page.wait_for_function("window.__previewLoads.some(([src, w]) => src.includes('/preview/?v=') && w > 0)")
    shot(page, "rendering")
    page.wait_for_function("window.__events.some(e => e.type === 'progress' && e.eta_s !== null)")
    assert page.evaluate("window.__noReload") is True

    # The web server restarts mid-render: the page reconnects by itself and catches up from a snapshot.
    web.kill()
    page.wait_for_function("document.getElementById('live-indicator').dataset.state === 'reconnecting'")
    web.start()
    page.wait_for_function("document.getElementById('live-indicator').dataset.state === 'live'")
    page.wait_for_function("document.getElementById('episode-status').textContent === 'Awaiting review'")
    page.wait_for_selector("#final-video")
    page.wait_for_function("document.querySelectorAll('#segments .segment.done').length === 2")
    assert page.evaluate("window.__noReload") is True, "the page reloaded instead of updating itself"
    events = page.evaluate("window.__events")
    assert sum(e["type"] == "progress" for e in events) >= 2 and events[0]["type"] == "snapshot"
    assert page.locator("#segment-0 .badge.qa").count() == 1 and page.is_visible("#conformance")
    shot(page, "review")
    first_final = page.get_attribute("#final-video", "src")

    # Reject segment 1 with a reason and an edited prompt; it is made again and the final re-stitched.
    card = page.locator("#segment-1")
    card.locator("summary", has_text="Reject").click()
    card.locator("textarea[name=reason]").fill("Two foxes <b>merged</b> into one")
    card.locator("textarea[name=prompt]").fill("A single fox holds a paper lantern.")
    card.locator("button.reject-button").click()
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    page.click("#render-changes")  # decisions are collected: one render makes the changes
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    page.evaluate("window.__noReload = true")
    page.wait_for_function("document.getElementById('episode-status').textContent === 'Awaiting review'"
                           " && document.querySelector('#segment-1 .hint').textContent.includes('2 attempts')"
                           " && document.querySelector('#segment-1').dataset.status === 'done'")
    page.wait_for_function(f"document.getElementById('final-video').getAttribute('src') !== {first_final!r}")
    assert page.evaluate("window.__noReload") is True
    page.locator("#segment-1 details.attempts summary").click()
    history = page.inner_text("#segment-1 details.attempts")
    assert "Two foxes <b>merged</b> into one" in history and "Rejected by pat" in history
    assert page.locator("#segment-1 details.attempts img").count() == 1  # the rejected attempt's preview
    shot(page, "regenerated")

    # Approving both segments delivers the episode.
    page.locator("#segment-0 button.approve").click()
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    page.locator("#segment-1 button.approve").click()
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    assert page.inner_text("#episode-status") == "Delivered"
    assert Episode.objects.get(pk=episode.pk).status == "delivered"
    shot(page, "delivered")
    assert not page.dialogs
    page.context.close()


def test_a_viewer_sees_no_review_buttons_and_the_api_refuses(browser, web, project, users):
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.REVIEW
    page = page_for(browser, web, users["viewer"])
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    page.wait_for_function("document.getElementById('live-indicator').dataset.state === 'live'")
    assert page.locator("button.approve").count() == 0 and page.locator("button.reject-button").count() == 0
    assert page.locator("#start-render").count() == 0
    statuses = page.evaluate("""async (pk) => {
        await fetch('/login/');  // the csrftoken cookie
        const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const post = (url, body) => fetch(url, {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body: JSON.stringify(body)});
        return [(await post(`/api/episodes/${pk}/segments/0/reject`, {reason: 'no'})).status,
                (await post(`/api/episodes/${pk}/segments/0/approve`, {})).status,
                (await post(`/api/episodes/${pk}/render`, {})).status];
    }""", episode.pk)
    assert statuses == [403, 403, 403]
    shot(page, "viewer")
    assert Episode.objects.get(pk=episode.pk).status == "review"  # unchanged
    page.context.close()


def test_staff_watch_gpus_and_workers_on_the_monitor(browser, tmp_path, settings, users, project):
    from tests.fake_comfyui import FakeComfyUI

    with FakeComfyUI(name="gpu-a") as fake:
        worker = HueyWorker(tmp_path / "worker.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT),
                            TOWER_COMFYUI_URLS=fake.url, TOWER_HEARTBEAT_S="0.5")
        web = DaphneServer(tmp_path / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))
        try:
            worker.start()
            web.start()
            page = page_for(browser, web, users["staff"])
            page.goto(f"{web.url}/monitor/")
            page.wait_for_function("document.getElementById('live-indicator').dataset.state === 'live'")
            # Heartbeats arrive over the socket: the GPU row and the chart lines appear without a reload.
            page.wait_for_function("document.getElementById('gpus').textContent.includes('Fake GPU')")
            page.wait_for_function("document.querySelectorAll('#chart-vram polyline').length >= 1"
                                   " && document.querySelectorAll('#chart-queue polyline').length >= 1")
            gpus = page.inner_text("#gpus")
            assert fake.url in gpus and "4096 / 24576 MiB" in gpus and "not reported" in gpus
            assert "live" in page.inner_text("#workers")
            shot(page, "monitor")
            page.context.close()

            viewer = page_for(browser, web, users["producer"])
            response = viewer.goto(f"{web.url}/monitor/")
            assert response.status == 403
            viewer.context.close()
        finally:
            web.stop()
            worker.stop()
