"""The delivery package in a browser (Playwright, Debian's Chromium, a live daphne): the producer clicks
"Delivery package" on a rendered episode's page, sees it being prepared, and gets a ZIP that opens and holds the
OpenTimelineIO edit. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import zipfile

import pytest

from productions.models import Episode
from tests.conftest import render_now, small_episode
from tests.test_browser import browser, page_for, shot, web  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_producer_downloads_the_delivery_package(browser, web, project, users, tmp_path):  # noqa: F811
    import opentimelineio as otio

    episode = small_episode(project, title="Lantern")
    assert render_now(episode) == Episode.Status.REVIEW
    page = page_for(browser, web, users["producer"])
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    link = page.locator("#package-download")
    assert link.inner_text() == "Delivery package (ZIP)"
    with page.expect_download(timeout=60_000) as info:
        link.click()
        page.wait_for_selector("#package-preparing")  # the build runs in the background; the page reloads
        shot(page, "package-preparing")
    download = info.value
    assert download.suggested_filename == "Lantern-package.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        assert {"final.mp4", "edit.otio", "manifest.json", "reports/index.html"} <= set(archive.namelist())
        timeline = otio.adapters.read_from_string(archive.read("edit.otio").decode(), "otio_json")
    assert len(list(timeline.find_clips())) == episode.segments.count() == 2
