"""The storyboard in a browser (Playwright, Debian's Chromium, a live daphne): a producer opens a new episode's
storyboard, edits a shot's action and duration (the total follows as they type, before saving), reorders two
shots with the move buttons and sees the order persist; a viewer sees no edit controls. Screenshots go to
test-artifacts/browser/."""

from __future__ import annotations

import pytest

from productions.models import Episode
from tests.test_browser import browser, page_for, shot, web  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SYNOPSIS = "Mika wakes at dawn. She runs to the harbour. A storm breaks over the sea."


def actions(page) -> list[str]:
    return page.eval_on_selector_all("#storyboard article.shot textarea[name=action]", "els => els.map(e => e.value)")


def test_a_producer_edits_and_reorders_the_storyboard(browser, web, project, users):  # noqa: F811
    page = page_for(browser, web, users["producer"])
    page.goto(f"{web.url}/projects/{project.pk}/episodes/new/")
    page.fill("input[name=title]", "Harbour")
    page.fill("textarea[name=synopsis]", SYNOPSIS)
    page.click("text=Create as draft")
    page.wait_for_selector("#storyboard")
    episode = Episode.objects.get(title="Harbour")
    assert page.url.endswith(f"/episodes/{episode.pk}/storyboard/")
    assert page.locator("#storyboard article.shot").count() == 6
    assert "30 s of 30 s" in page.inner_text("#storyboard-totals")
    shot(page, "storyboard-draft")

    # Shot 2: new words and a shorter duration; the total drops before anything is saved.
    second = page.locator("#storyboard article.shot").nth(1)
    second.locator("textarea[name=action]").fill("Mika sprints past the fish market.")
    second.locator("input[name=duration_s]").fill("3")
    page.wait_for_function("document.querySelector('#storyboard-totals .total-s').textContent === '28 s'")
    assert "missing" in page.inner_text("#storyboard-totals")
    assert Episode.objects.get(pk=episode.pk).segments.get(index=1).delivered_frames == 120  # not saved yet
    shot(page, "storyboard-typing")
    second.locator("button.save-shot").click()
    page.wait_for_selector("text=Shot 2 saved.")
    saved = Episode.objects.get(pk=episode.pk).segments.get(index=1)
    assert (saved.action, saved.delivered_frames) == ("Mika sprints past the fish market.", 72)
    assert "28 s" in page.inner_text("#storyboard-totals")
    assert actions(page)[1] == "Mika sprints past the fish market."
    assert "Mika sprints past the fish market" in page.inner_text("#storyboard article.shot >> nth=1 >> .shot-prompt")

    # Shot 3 moves up above shot 2; then shot 1 moves down: the order persists after a reload.
    before = actions(page)
    page.locator("#storyboard article.shot").nth(2).locator("button.move-up").click()
    page.wait_for_selector("text=Shot 3 moved to 2.")
    page.locator("#storyboard article.shot").nth(0).locator("button.move-down").click()
    page.wait_for_selector("text=Shot 1 moved to 2.")
    page.reload()
    after = actions(page)
    assert after[:3] == [before[2], before[0], before[1]] and after[3:] == before[3:]
    first = page.locator("#storyboard article.shot").nth(0)
    assert first.locator("select[name=join]").input_value() == "cut"  # the new opening shot
    shots = list(Episode.objects.get(pk=episode.pk).segments.order_by("index"))
    assert [s.action for s in shots] == after
    shot(page, "storyboard-reordered")
    page.context.close()


def test_a_viewer_sees_the_storyboard_without_controls(browser, web, project, users):  # noqa: F811
    from productions import storyboard

    episode = Episode.objects.create(project=project, title="Harbour", synopsis=SYNOPSIS, seed=2)
    storyboard.draft(episode)
    page = page_for(browser, web, users["viewer"])
    page.goto(f"{web.url}/episodes/{episode.pk}/storyboard/")
    page.wait_for_selector("#storyboard")
    assert page.locator("#storyboard article.shot").count() == 6
    assert "Mika wakes at dawn." in page.inner_text("#storyboard")
    for control in ("form", "textarea", "button.save-shot", "button.move-up", "button.add-shot",
                    "button.delete-shot"):
        assert page.locator(f"#storyboard {control}").count() == 0, control
    assert page.is_visible("#storyboard-readonly")
    shot(page, "storyboard-viewer")
    page.context.close()
