"""The review room in a browser (Playwright, Debian's Chromium, a live daphne) on a really rendered episode: a
viewer draws on a paused frame and notes a frame range of the final video, sees it on the timeline, clicks it and
the player goes to that frame with the drawing; frame keys step by 1/fps; two attempts of a segment compared
play, pause and step in sync; a note on a segment's clip shows on the final's timeline."""

from __future__ import annotations

import pytest

from productions.models import Note
from productions.review import reject_segment
from tests.conftest import render_now, small_episode
from tests.test_browser import browser, page_for, shot, web  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FPS = 24


def time_of(page, selector: str) -> float:
    return page.eval_on_selector(selector, "v => v.currentTime")


def wait_time(page, selector: str, seconds: float) -> None:
    page.wait_for_function(f"Math.abs(document.querySelector({selector!r}).currentTime - {seconds}) < 1e-3")


def test_a_viewer_notes_a_frame_range_with_a_drawing_and_finds_it_again(browser, web, project, users):  # noqa: F811
    episode = small_episode(project)
    assert render_now(episode) == "review"
    starts = [0, episode.segments.get(index=0).delivered_frames]
    page = page_for(browser, web, users["viewer"])  # viewers may write notes too
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    page.wait_for_function("document.getElementById('final-video').readyState >= 2")
    video = "#final-video"

    # The timeline's second segment seeks to its first frame.
    page.click(".timeline .tl-seg[data-index='1']")
    wait_time(page, video, starts[1] / FPS)

    # Draw on the paused frame, note frames start..start+6.
    page.click(".room-draw")
    box = page.locator(".room-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.6, steps=5)
    page.mouse.up()
    page.fill(".note-form input[name=frame_end]", str(starts[1] + 6))
    page.fill(".note-form textarea[name=text]", "The lantern flickers out here")
    page.click(".note-form button[type=submit]")
    page.wait_for_selector(".tl-notes .tl-note")
    note = Note.objects.get()
    assert (note.segment_id, note.frame_start, note.frame_end) == (None, starts[1], starts[1] + 6)
    assert len(note.drawing) == 1 and len(note.drawing[0]["points"]) >= 2 and note.author == users["viewer"]
    assert all(0 <= v <= 1 for p in note.drawing[0]["points"] for v in p)
    shot(page, "notes-final")

    # Elsewhere, then a click on the note's marker: the player goes back to its frame, paused, drawing shown.
    page.click(".timeline .tl-seg[data-index='0']")
    wait_time(page, video, 0)
    assert page.evaluate("(() => { const c = document.querySelector('.room-canvas');"
                         " return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(a => a); })()") \
        is False
    page.click(".tl-notes .tl-note")
    wait_time(page, video, starts[1] / FPS)
    assert page.eval_on_selector(video, "v => v.paused")
    assert page.evaluate("(() => { const c = document.querySelector('.room-canvas');"
                         " return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(a => a); })()")

    # Frame keys: one frame on, one back (1/24 s each).
    page.keyboard.press("ArrowRight")
    wait_time(page, video, (starts[1] + 1) / FPS)
    page.keyboard.press(",")
    wait_time(page, video, starts[1] / FPS)
    page.keyboard.press(".")
    wait_time(page, video, (starts[1] + 1) / FPS)
    page.keyboard.press(" ")  # space plays, space pauses
    page.wait_for_function("!document.getElementById('final-video').paused")
    page.keyboard.press(" ")
    page.wait_for_function("document.getElementById('final-video').paused")
    page.click(".room-keys summary")  # the keys' help
    assert "Space" in page.inner_text(".room-keys")


def test_two_attempts_play_in_sync_side_by_side_and_by_wipe(browser, web, project, users):  # noqa: F811
    episode = small_episode(project)
    assert render_now(episode) == "review"
    reject_segment(episode.segments.get(index=0), users["producer"], "Too dark")
    assert render_now(episode) == "review"  # attempt 2 of segment 0; attempt 1's clip is kept
    page = page_for(browser, web, users["producer"])
    page.goto(f"{web.url}/episodes/{episode.pk}/segments/0/view/")
    page.fill(".note-form textarea[name=text]", "Better than attempt 1")  # a note on the current attempt's clip
    page.fill(".note-form input[name=frame_start]", "3")
    page.fill(".note-form input[name=frame_end]", "4")
    page.click(".note-form button[type=submit]")
    page.wait_for_selector(".tl-notes .tl-note")
    note = Note.objects.get()
    assert (note.segment.index, note.attempt_number, note.frame_start, note.frame_end) == (0, 2, 3, 4)
    shot(page, "notes-segment-view")
    page.click("#compare-link")
    page.wait_for_selector("#compare")
    assert "Attempt 1 (rejected)" in page.inner_text(".compare-a figcaption")
    assert "Attempt 2 (current)" in page.inner_text(".compare-b figcaption")
    page.wait_for_function("['compare-a', 'compare-b'].every(id => document.getElementById(id).readyState >= 3)")

    page.click(".compare-play")
    page.wait_for_function("document.getElementById('compare-a').currentTime > 0.3")
    state = page.evaluate("['compare-a', 'compare-b'].map(id => { const v = document.getElementById(id);"
                          " return [v.paused, v.currentTime]; })")
    assert not state[0][0] and not state[1][0], state  # both playing
    assert abs(state[0][1] - state[1][1]) < 0.1, state  # together
    page.click(".compare-play")  # one pause stops both, on the same frame
    page.wait_for_function("['compare-a', 'compare-b'].every(id => document.getElementById(id).paused)")
    page.wait_for_function("Math.abs(document.getElementById('compare-a').currentTime"
                           " - document.getElementById('compare-b').currentTime) < 1e-3")

    page.fill(".compare-seek", "5")  # the seek bar moves both
    wait_time(page, "#compare-a", 5 / FPS)
    wait_time(page, "#compare-b", 5 / FPS)
    page.keyboard.press(".")
    wait_time(page, "#compare-a", 6 / FPS)
    wait_time(page, "#compare-b", 6 / FPS)

    page.check("input[name=mode][value=wipe]")
    page.fill(".wipe-slider", "30")
    assert "inset" in page.eval_on_selector("#compare-b", "v => getComputedStyle(v).clipPath")
    assert "30%" in page.eval_on_selector("#compare-b", "v => getComputedStyle(v).clipPath")
    shot(page, "notes-compare-wipe")

    # The note on the segment's current clip is on the final video's timeline too, where the final shows it.
    page.goto(f"{web.url}/episodes/{episode.pk}/")
    page.wait_for_function("document.getElementById('final-video').readyState >= 2")
    assert "segment 0, attempt 2" in page.get_attribute(".tl-notes .tl-note", "title")
    page.click(".tl-notes .tl-note")
    wait_time(page, "#final-video", 3 / FPS)
