"""Issue 13's whole producer flow in a browser (Playwright, Debian's Chromium, a live daphne and a real Huey
worker): two characters in the project's bible, a 6-shot storyboard written shot by shot, two shots reordered,
keyframes made, one made again, all approved, then rendered. The segments follow the storyboard's order and each
prompt as generated names only the characters of its own shot. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import pytest

from productions import storyboard
from productions.models import Character, Episode, KeyframeAttempt, SegmentAttempt
from tests.conftest import small_episode
from tests.test_browser import browser, page_for, shot, web, worker  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CAST = {
    "Aiko": ("a girl with red hair and a blue dress", "aiko_v1"),
    "Ren": ("a tall boy with silver hair and a green scarf", "ren_style"),
}
# (action, characters) per shot, as the producer writes them
SHOTS = [
    ("Aiko walks through a forest at sunset.", ["Aiko"]),
    ("Ren waits on a rooftop in the city at night.", ["Ren"]),
    ("Aiko and Ren meet at the harbour in the rain.", ["Aiko", "Ren"]),
    ("Snow falls over the empty field.", []),
    ("Aiko runs along the beach in the morning.", ["Aiko"]),
    ("Ren watches the sea from the cliffs.", ["Ren"]),
]


def shot_cards(page):
    return page.locator("#storyboard article.shot")


def test_a_producer_storyboards_keyframes_and_renders(browser, web, worker, project, users):  # noqa: F811
    # A small episode (320x180, 6 shots of half a second) so the render fits the suite; drafted as "New
    # episode" drafts it.
    episode = small_episode(project, title="Harbour", synopsis="Two friends meet.", duration_s=3.0,
                            segment_count=6)
    storyboard.draft(episode)
    page = page_for(browser, web, users["producer"])

    # The character bible: two characters.
    page.goto(f"{web.url}/projects/{project.pk}/characters/")
    for name, (description, triggers) in CAST.items():
        form = page.locator("form#character-form")
        form.locator("input[name=name]").fill(name)
        form.locator("textarea[name=description]").fill(description)
        form.locator("input[name=trigger_words]").fill(triggers)
        form.locator("button[type=submit]").click()
        page.wait_for_selector(f".character:has-text('{name}')")
    shot(page, "flow-bible")
    ids = {c.name: c.pk for c in Character.objects.filter(project=project)}
    assert set(ids) == set(CAST)

    # The storyboard: each shot's action and cast, saved one by one.
    page.goto(f"{web.url}/episodes/{episode.pk}/storyboard/")
    assert shot_cards(page).count() == 6
    for i, (action, cast) in enumerate(SHOTS):
        card = shot_cards(page).nth(i)
        card.locator("textarea[name=action]").fill(action)
        for name, pk in ids.items():
            box = card.locator(f"input[name=characters][value='{pk}']")
            box.set_checked(name in cast)
        card.locator("button.save-shot").click()
        page.wait_for_selector(f"text=Shot {i + 1} saved.")
    prompts = page.eval_on_selector_all("#storyboard .shot-prompt", "els => els.map(e => e.textContent)")
    assert "aiko_v1" in prompts[0] and "Ren" not in prompts[0] and "Aiko" not in prompts[3]
    shot(page, "flow-storyboard")

    # Shots 3 and 4 change places.
    shot_cards(page).nth(3).locator("button.move-up").click()
    page.wait_for_selector("text=Shot 4 moved to 3.")
    order = [SHOTS[0], SHOTS[1], SHOTS[3], SHOTS[2], SHOTS[4], SHOTS[5]]
    assert page.eval_on_selector_all("#storyboard textarea[name=action]", "els => els.map(e => e.value)") == \
        [action for action, _ in order]

    # Keyframes: made by the worker, they appear on the page by themselves.
    page.click("#make-keyframes")
    page.wait_for_function("document.querySelectorAll('.shot-keyframe[data-keyframe-status=made]').length === 6")
    assert page.locator("img.keyframe").count() == 6
    assert page.is_disabled("#render")  # not approved yet
    shot(page, "flow-keyframes")

    # Shot 2's keyframe is made again (a new seed); the first stays in its history.
    shot_cards(page).nth(1).locator("button.remake-keyframe").click()
    page.wait_for_function("document.querySelector('article.shot[data-shot=\"1\"] .shot-keyframe')"
                           ".dataset.keyframeNumber === '2' && document.querySelector("
                           "'article.shot[data-shot=\"1\"] .shot-keyframe').dataset.keyframeStatus === 'made'")
    assert shot_cards(page).nth(1).locator("details.keyframe-history li.keyframe-attempt").count() == 1
    second = Episode.objects.get(pk=episode.pk).segments.get(index=1)
    made = list(KeyframeAttempt.objects.filter(segment=second).order_by("number"))
    assert [a.decision for a in made] == ["replaced", ""] and made[0].seed != made[1].seed

    # Every keyframe approved, then Render.
    for i in range(6):
        shot_cards(page).nth(i).locator("button.approve-keyframe").click()
        page.wait_for_function(f"document.querySelector('article.shot[data-shot=\"{i}\"] .shot-keyframe')"
                               ".dataset.keyframeStatus === 'approved'")
    assert not page.is_disabled("#render")
    shot(page, "flow-approved")
    page.click("#render")
    page.wait_for_url(f"{web.url}/episodes/{episode.pk}/")
    page.wait_for_function("document.getElementById('episode-status').textContent === 'Awaiting review'")
    shot(page, "flow-rendered")

    # The segments follow the storyboard's order; each prompt as generated names only its shot's characters.
    segments = list(Episode.objects.get(pk=episode.pk).segments.order_by("index"))
    assert [s.action for s in segments] == [action for action, _ in order]
    for segment, (_, cast) in zip(segments, order, strict=True):
        used = SegmentAttempt.objects.filter(segment=segment).latest("number").prompt
        assert used == segment.prompt
        for name, (description, triggers) in CAST.items():
            assert (name in used) == (name in cast), (segment.index, name, used)
            assert (triggers in used) == (name in cast)
            assert (description in used) == (name in cast)
        keyframe = KeyframeAttempt.objects.filter(segment=segment).latest("number")
        assert keyframe.decision == "approved" and segment.keyframe_path == keyframe.path
    assert not page.dialogs
    page.context.close()
