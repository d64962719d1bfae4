"""A shot's prompt, composed from the storyboard: its action, the characters in it (from the project's character
bible) and the styles. One place, so the storyboard shows the producer exactly what the generator is given.

Rules:
- Only the shot's own characters appear, each always the same way: trigger words, then "name, description".
  Their LoRAs (file, strength) travel beside the prompt, not in it, the same in every shot.
- Order: action, characters, project style, episode style. Each part's trailing punctuation is dropped and the
  parts are joined with ", ", so there is never ".," or ",," in a prompt.
- No repetition: a phrase (a comma-separated piece) that already appears, compared without case and spacing,
  is left out (the episode style repeating the project style, a trigger word in a description...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CharacterSpec:
    """A character as the generators see it (from the project's bible)."""

    name: str
    description: str = ""
    trigger_words: str = ""
    lora: str = ""  # a LoRA file as the ComfyUI servers list it; "" none
    lora_strength: float = 0.8
    reference_image: str = ""  # an absolute path to the reference picture; "" none


@dataclass(frozen=True)
class LoraUse:
    name: str
    strength: float


@dataclass(frozen=True)
class ComposedPrompt:
    positive: str
    negative: str
    loras: tuple[LoraUse, ...] = ()


_SPACES = re.compile(r"\s+")
_TRIM = " \t\r\n.,;:!?"


def _clean(text: str) -> str:
    """One line, single spaces, no leading or trailing punctuation."""
    return _SPACES.sub(" ", text or "").strip(_TRIM)


def _phrases(text: str) -> list[str]:
    """Comma-separated pieces of `text`, cleaned; sentences inside a piece keep their full stops."""
    return [p for p in (_clean(piece) for piece in re.split(r"[,;\n]+", text or "")) if p]


def _key(phrase: str) -> str:
    return _SPACES.sub(" ", phrase.lower()).strip(_TRIM)


def join_phrases(parts: Iterable[str]) -> str:
    """Join pieces of prompt with ", ", each piece once (compared without case, spacing or end punctuation)."""
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        for phrase in _phrases(part):
            key = _key(phrase)
            if key and key not in seen:
                seen.add(key)
                out.append(phrase)
    return ", ".join(out)


def character_text(character: CharacterSpec) -> str:
    """How a character is written into a prompt: trigger words, name, description."""
    return join_phrases([character.trigger_words, character.name, character.description])


def compose(action: str, characters: Sequence[CharacterSpec] = (), *, style: str = "", episode_style: str = "",
            negative: str = "", episode_negative: str = "") -> ComposedPrompt:
    """The prompt a shot is generated from. `characters`: the shot's own, in the bible's order."""
    positive = join_phrases([_action(action), *(character_text(c) for c in characters), style, episode_style])
    loras: list[LoraUse] = []
    for c in characters:
        if c.lora and all(use.name != c.lora for use in loras):
            loras.append(LoraUse(c.lora, float(c.lora_strength)))
    return ComposedPrompt(positive, join_phrases([negative, episode_negative]), tuple(loras))


def _action(text: str) -> str:
    """The action keeps its sentences (full stops inside), loses its final punctuation, and its commas stay
    phrase boundaries for the repetition rule."""
    return _SPACES.sub(" ", text or "").strip(_TRIM)
