"""`manage.py render_episode` checks its text like the forms do: bytes that are not UTF-8 in an argument (Python
turns them into lone surrogates) or control characters are refused naming the option, and nothing is created."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from productions.models import Episode, Project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--title", "Fox\udcff", "title:"), ("--synopsis", "A fox\x1b runs.", "synopsis:"),
    ("--project", "Pilot\x00", "project name"), ("--project", "Pilot\udcff", "project name"),
])
def test_hostile_text_on_the_command_line_is_refused(option, value, named):
    args = {"--project": "Pilot", "--title": "Fox", "--synopsis": "A fox runs.", option: value}
    with pytest.raises(CommandError, match=named):
        call_command("render_episode", *[part for item in args.items() for part in item], "--model", "builtin")
    assert not Episode.objects.exists() and not Project.objects.exists()
