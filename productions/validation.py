"""What text Tower accepts, in one place: the forms, the API schemas and the review loop all check through here.

Text a producer types is stored in the database, written into ffmpeg metadata and prompts, and shown on pages.
Some characters break one of those: a lone surrogate (JSON "\\ud800") cannot be encoded as UTF-8, so the
database refuses it; PostgreSQL refuses NUL; other control characters are invisible and CR/LF in a one-line
value (a title) ends up in headers and file names. They are refused at the boundary with a message naming the
field, before anything is written or moved. Every text field also has a maximum length.

Multi-line fields (synopsis, notes, reasons) accept newlines and tabs; a browser's CR LF becomes LF.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from django import forms
from pydantic import AfterValidator, Field

# Longest accepted values (characters). Model CharFields carry their own max_length; these are for the rest.
MAX_TITLE_CHARS = 200  # Episode.title, Project.name (the models' max_length)
MAX_DESCRIPTION_CHARS = 5000  # a project's description
MAX_PROMPT_CHARS = 4000  # a synopsis, or a segment's edited prompt
MAX_NOTES_CHARS = 2000  # style, characters, negative prompt
MAX_REASON_CHARS = 2000  # a review's reason
MAX_TRANSITIONS_CHARS = 500  # Episode.transitions
MAX_CHOICE_CHARS = 60  # names chosen from a list (models, backends, upscalers, interpolation)

MULTI_LINE_ALLOWED = {"\n", "\t"}
# Unicode line and paragraph separators end a line as surely as LF does.
LINE_BREAKS = {"\u2028", "\u2029", "\x85"}


def text_problem(value: str, *, multiline: bool = False, max_length: int | None = None) -> str | None:
    """Why `value` cannot be stored, in plain words, or None when it is fine."""
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return "Contains an invalid character (a lone UTF-16 surrogate): retype or paste the text again."
        if code == 0:
            return "Contains a NUL character, which cannot be stored: remove it."
        if multiline and char in MULTI_LINE_ALLOWED:
            continue
        if char in ("\r", "\n") or char in LINE_BREAKS:
            return "Must be a single line: remove the line break."
        if unicodedata.category(char) == "Cc":
            return f"Contains an invisible control character (U+{code:04X}): remove it."
    if max_length is not None and len(value) > max_length:
        return f"Too long: at most {max_length} characters (this has {len(value)})."
    return None


def normalise_newlines(value: str) -> str:
    """A browser sends a textarea's line breaks as CR LF; a lone CR (old Mac text) is a line break too."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def check_text(value: str, *, multiline: bool = False, max_length: int | None = None) -> str:
    """The value to store (newlines normalised in multi-line text), or ValueError saying what is wrong."""
    if multiline:
        value = normalise_newlines(value)
    problem = text_problem(value, multiline=multiline, max_length=max_length)
    if problem:
        raise ValueError(problem)
    return value


def line(max_length: int, min_length: int = 0):
    """An API schema type: one line of at most `max_length` characters (and at least `min_length`)."""
    return Annotated[str, Field(max_length=max_length, min_length=min_length or None),
                     AfterValidator(lambda v: check_text(v, max_length=max_length))]


def text(max_length: int, min_length: int = 0):
    """An API schema type: multi-line text (newlines and tabs allowed) of at most `max_length` characters."""
    return Annotated[str, Field(max_length=max_length, min_length=min_length or None),
                     AfterValidator(lambda v: check_text(v, multiline=True, max_length=max_length))]


class CheckedTextForm:
    """A form mixin: every submitted text value is checked before any field cleans it.

    A value that fails is replaced by an empty string in the form's data (so the page that shows the form again
    can always be encoded, and no other rule sees it) and the field gets the plain reason as its only error.
    Multi-line fields are those drawn as a textarea; their CR LF become LF. Lengths are each field's max_length.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.text_errors: dict[str, str] = {}
        if not self.is_bound:
            return
        data = self.data.copy()  # a QueryDict copy is mutable
        for name, field in self.fields.items():
            key = self.add_prefix(name)
            if key not in data:
                continue
            multiline = isinstance(field.widget, forms.Textarea)
            values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
            checked = []
            for value in values:
                if not isinstance(value, str):
                    checked.append(value)
                    continue
                if multiline:
                    value = normalise_newlines(value)
                problem = text_problem(value, multiline=multiline)
                if problem:
                    self.text_errors[name] = problem
                    value = ""
                checked.append(value)
            if hasattr(data, "setlist"):
                data.setlist(key, checked)
            else:
                data[key] = checked[0] if len(checked) == 1 else checked
        self.data = data

    def clean(self) -> dict:
        data = super().clean()
        for name, problem in self.text_errors.items():
            self._errors.pop(name, None)  # "required" and the like: the real reason is the character
            self.add_error(name, problem)
        return data
