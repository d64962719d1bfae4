"""Browser test of the collected review flow and versions (issue 14): a producer approves two segments and
rejects one in a row, none refused; clicks Render changes; the "Render queued" banner goes when the render
ends (live push, no reload); approves the rest (confirm step), which delivers; reopens, and version 1 stays
playable. Playwright drives Debian's Chromium against a live daphne process and a real Huey worker."""

from __future__ import annotations

import pytest

from productions.models import Episode
from tests.conftest import render_now, small_episode
from tests.test_browser import browser, page_for, shot, web, worker  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_decisions_in_a_row_render_changes_and_reopen(browser, web, worker, project, users):  # noqa: F811
    # Two shots (a cut before the last segment): rejecting segment 2 makes only it again, so #3 stays open.
    episode = small_episode(project, title="Review flow", segment_count=4, transitions="4: cut")
    assert render_now(episode) == Episode.Status.REVIEW
    page = page_for(browser, web, users["producer"])
    url = f"{web.url}/episodes/{episode.pk}/"
    page.goto(url)

    # Approve, approve, reject: three page posts in a row, none refused, nothing rendering.
    for index in (0, 1):
        page.locator(f"#segment-{index} button.approve").click()
        page.wait_for_url(url)
        assert page.locator(".flash.error").count() == 0
        assert page.inner_text(".flash") == f"Segment {index} approved."
    card = page.locator("#segment-2")
    card.locator("summary", has_text="Reject").click()
    card.locator("textarea[name=reason]").fill("The lantern is missing")
    card.locator("button.reject-button").click()
    page.wait_for_url(url)
    assert page.locator(".flash.error").count() == 0
    assert page.inner_text("#episode-status") == "Awaiting review"
    assert "(#3)" in page.inner_text("#decisions-hint")  # the one still open (cards count from #0)
    assert page.is_visible("#final-out-of-date")

    # Render changes: the banner says it is queued, and goes by itself when the render ends.
    page.click("#render-changes")
    page.wait_for_url(url)
    assert "Render queued" in page.inner_text(".flash.render-state")
    page.evaluate("window.__noReload = true")
    page.wait_for_function("document.getElementById('live-indicator').dataset.state === 'live'")
    page.wait_for_function("document.getElementById('episode-status').textContent === 'Awaiting review'"
                           " && document.querySelector('#segment-2').dataset.status === 'done'", timeout=60_000)
    page.wait_for_function("!document.querySelector('.flash.render-state')")
    page.wait_for_function("!document.getElementById('final-out-of-date')")
    assert page.evaluate("window.__noReload") is True, "the page reloaded instead of updating itself"
    shot(page, "review-flow-rendered")

    # Approve all (a confirm step) delivers: every segment approved, the final conforms.
    page.locator("#approve-all summary").click()
    page.click("#approve-all-confirm")
    page.wait_for_url(url)
    assert page.inner_text("#episode-status") == "Delivered"
    assert "Approved 2 segments (2, 3)." in page.inner_text(".flash")

    # Reopen: version 2 is open; version 1's player plays the delivered file.
    page.click("#reopen")
    page.wait_for_url(url)
    assert page.inner_text("#episode-status") == "Awaiting review"
    assert "Version 2 is being made" in page.inner_text("#versions")
    played = page.evaluate("""() => new Promise((resolve) => {
        const video = document.querySelector('#version-1 video');
        video.muted = true;
        video.addEventListener('error', () => resolve({error: video.error && video.error.code}));
        video.addEventListener('loadeddata', () => video.play().then(
            () => resolve({width: video.videoWidth, state: video.readyState}),
            (err) => resolve({error: String(err)})));
        video.preload = 'auto';
        video.load();
    })""")
    assert played.get("width") == 320 and played["state"] >= 2, played
    shot(page, "review-flow-reopened")
    assert not page.dialogs
    page.context.close()
