"""The built-in generator draws a shot's characters from the bible: the same colours and proportions in every
shot (whatever the seed, action, place), from the description's colour words; the shot's look comes from its
action text, not from the characters' descriptions; motion scales the camera and the walkers.

Run: .venv/bin/python -m pytest -q -p no:django tests/test_generator_characters.py
"""

from __future__ import annotations

import dataclasses

import numpy as np

from productions.lib.backend import KeyframeRequest, SegmentRequest, never_cancel, no_progress
from productions.lib.generator import BuiltinGenerator, character_look
from productions.lib.prompts import CharacterSpec
from tests.images import mean_abs_diff

W, H = 512, 288
AKI = CharacterSpec("Aki", "a tall girl with long silver hair, a blue dress and a red scarf", "aki_style")
REN = CharacterSpec("Ren", "a short boy in a green jacket with black hair and a yellow hat")


def scene(action: str, characters=(AKI,), seed: int = 3, motion: float = 0.5, width: int = W, height: int = H):
    request = KeyframeRequest(
        f"{action}, prompt words", seed, width, height, action=action, characters=tuple(characters), motion=motion
    )
    return BuiltinGenerator()._scene(request)


def figure_pixels(sc) -> np.ndarray:
    """The pixels the characters cover at t=0: the scene with and without them, without particles."""
    bare = dataclasses.replace(sc, walkers=[], particles=None).render(0.0, 0.0)
    full = dataclasses.replace(sc, particles=None).render(0.0, 0.0)
    changed = np.any(bare != full, axis=2)
    return full[changed]


def has_color(pixels: np.ndarray, rgb) -> bool:
    return bool(np.any(np.all(pixels == np.array(rgb, dtype=np.uint8), axis=1)))


def test_character_look_comes_from_the_description_only() -> None:
    look = character_look(AKI)
    assert look == character_look(dataclasses.replace(AKI, trigger_words="other", lora="x.safetensors"))
    assert look.hair == (195, 200, 212)  # silver hair
    assert look.cloth == (45, 85, 200)  # blue dress
    assert look.accent == (200, 40, 45)  # red scarf
    assert look.scarf
    assert look.height > character_look(REN).height  # tall vs short
    ren = character_look(REN)
    assert ren.cloth == (50, 150, 70) and ren.hair == (30, 28, 34) and ren.accent == (240, 210, 60) and ren.hat
    assert character_look(CharacterSpec("Mio")) != character_look(CharacterSpec("Sora"))  # unnamed: by name
    assert character_look(CharacterSpec("Mio")) == character_look(CharacterSpec("Mio"))


def test_same_character_same_colours_and_size_in_every_shot() -> None:
    a = scene("Aki walks through the forest at noon", seed=3)
    b = scene("Aki stands on a city rooftop at noon", seed=91)
    look = character_look(AKI)
    for sc in (a, b):
        assert [w.name for w in sc.walkers] == ["Aki"]  # the character and no anonymous re-dressed walker
        px = figure_pixels(sc)
        for rgb in (look.hair, look.cloth, look.accent):  # noon: no mood tint, the untinted palette
            assert has_color(px, rgb), rgb
    assert a.walkers[0].height == b.walkers[0].height
    assert a.walkers[0].height >= 0.25 * H  # large enough to see
    assert (a.walkers[0].hair, a.walkers[0].cloth) == (b.walkers[0].hair, b.walkers[0].cloth)


def test_two_characters_differ_and_keep_their_own_colours() -> None:
    sc = scene("Aki and Ren walk along the beach at noon", characters=(AKI, REN), seed=5)
    assert [w.name for w in sc.walkers] == ["Aki", "Ren"]
    aki, ren = sc.walkers
    assert aki.cloth != ren.cloth and aki.hair != ren.hair
    assert aki.height > ren.height
    px = figure_pixels(sc)
    assert has_color(px, character_look(REN).cloth) and has_color(px, character_look(AKI).cloth)


def test_action_words_choose_the_look_not_character_descriptions() -> None:
    night = scene("Aki waits at night in the rain", seed=4)
    morning = scene("Aki walks on a sunny morning at the beach", seed=4)
    assert night.look.mood == "night" and night.look.particles == "rain"
    assert "sea" in morning.look.keywords and morning.look.particles != "rain"
    frame_n = night.render(0.0, 0.0)
    frame_m = morning.render(0.0, 0.0)
    assert frame_n.mean() + 30 < frame_m.mean()
    dressed = CharacterSpec("Yui", "a girl in an autumn-red coat with snow-white hair at night in the rain")
    plain = scene("Yui walks across a meadow at noon", characters=(dressed,), seed=4)
    assert not ({"autumn", "snow", "night", "rain"} & plain.look.keywords)
    assert plain.look.mood == "day"
    assert character_look(dressed).cloth == (200, 40, 45)  # "red coat" (of "autumn-red coat")
    assert character_look(dressed).hair == (242, 242, 246)  # "white hair" (of "snow-white hair")


def test_action_sets_walking_direction_and_stillness() -> None:
    left = scene("Aki walks left along the river at noon").walkers[0]
    right = scene("Aki runs to the right at noon").walkers[0]
    sits = scene("Aki sits on a bench at noon").walkers[0]
    assert left.facing == -1 and left.drift < 0
    assert right.facing == 1 and right.drift > 0 and right.cadence > left.cadence
    assert sits.drift == 0 and sits.cadence == 0


def _steps(motion: float) -> list[float]:
    init = BuiltinGenerator().generate_keyframe(
        KeyframeRequest("hills at noon", 8, 256, 144, action="hills at noon", motion=motion),
        no_progress,
        never_cancel,
    )
    request = SegmentRequest("hills at noon", 8, init, 256, 144, 9, 8, action="hills at noon", motion=motion)
    frames = BuiltinGenerator().generate_segment(request, no_progress, never_cancel).frames
    return [mean_abs_diff(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]


def test_motion_scales_the_pan_and_zero_is_not_frozen() -> None:
    still, fast = _steps(0.0), _steps(1.0)
    assert np.mean(fast) > 2 * np.mean(still)
    assert min(still) > 0  # still moving a little: the freeze check must not fire


def test_a_shot_without_characters_shows_nobody() -> None:
    # a storyboard shot with no cast draws no anonymous walker that could be taken for a character, whatever
    # the seed; a bare prompt (no storyboard) keeps its walkers
    assert all(not scene("Snow falls over the empty field.", characters=(), seed=s).walkers for s in range(12))
    bare = [BuiltinGenerator()._scene(KeyframeRequest("Snow falls over the empty field.", s, W, H))
            for s in range(12)]
    assert any(sc.walkers for sc in bare)
