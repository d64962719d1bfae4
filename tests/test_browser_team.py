"""Browser test of the Team page and the bell (Playwright, Debian's Chromium, a live daphne): a producer adds
an existing user as a viewer, makes them a producer, removes them (confirming), and after a render finishes
the bell in the header of the open episode page counts it at once and opens the inbox. Screenshots go to
test-artifacts/browser/."""

from __future__ import annotations

import pytest

from productions.models import Episode, Membership
from tests.conftest import render_now, small_episode
from tests.live import session_cookie
from tests.test_browser import ARTIFACTS, TIMEOUT_MS, browser, web  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def role_of(project, username: str) -> str | None:
    return Membership.objects.filter(project=project, user__username=username).values_list("role", flat=True) \
        .first()


def test_a_producer_manages_the_team_and_the_bell_counts_a_finished_render(browser, web, project, users):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": session_cookie(users["producer"]), "url": web.url}])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    page.goto(f"{web.url}/projects/{project.pk}/")
    page.click("#project-team-link")
    page.fill("#team-add [name=user]", "olga")
    page.select_option("#team-add [name=role]", "viewer")
    page.click("#team-add button[type=submit]")
    row = page.locator("tr.member[data-username=olga]")
    row.wait_for()
    assert page.locator(".flash").inner_text() == "olga added as viewer."
    assert row.locator("select[name=role]").input_value() == "viewer"
    assert role_of(project, "olga") == "viewer"

    row.locator("select[name=role]").select_option("producer")
    row.locator(".member-role-form button").click()
    page.wait_for_selector(".flash:text('olga is now producer.')")
    assert page.locator("tr.member[data-username=olga] select[name=role]").input_value() == "producer"
    assert role_of(project, "olga") == "producer"
    page.screenshot(path=str(ARTIFACTS / "team.png"), full_page=True)

    page.locator("tr.member[data-username=olga] .member-remove button").click()
    page.wait_for_selector(".flash:text('olga removed from Pilot.')")
    assert dialogs and "Remove olga" in dialogs[0]
    assert page.locator("tr.member[data-username=olga]").count() == 0
    assert role_of(project, "olga") is None

    # The last producer cannot be demoted: the page says why.
    page.locator("tr.member[data-username=pat] select[name=role]").select_option("viewer")
    page.locator("tr.member[data-username=pat] .member-role-form button").click()
    assert "at least one producer" in page.locator("#team-error").inner_text()

    # The bell on an open episode page counts the render's end as it happens (no reload).
    episode = small_episode(project)
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    page.wait_for_selector("#live-indicator[data-state=live]")
    assert page.locator("#bell .bell-count").is_hidden()
    assert render_now(episode) == Episode.Status.REVIEW
    page.wait_for_selector("#bell .bell-count:text('1')")
    page.click("#bell")
    message = page.locator("tr.notification.unread .notification-message")
    assert "Pilot / Small is rendered and ready for review." in message.inner_text()
    page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
    page.click("tr.notification.unread button[name=open]")
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    assert page.locator("#bell .bell-count").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "bell.png"), full_page=True)
    context.close()
