"""Any episode title downloads: line breaks, tabs, quotes, backslashes, slashes, non-ASCII letters, emoji and
bidi overrides give a correct Content-Disposition (Django's content_disposition_header), never a 500."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.downloads import WAYS, episode_with_final, fetcher

pytestmark = pytest.mark.django_db(transaction=True)

DATA = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture(params=WAYS)
def fetch(request, tmp_path, users):
    yield from fetcher(request.param, tmp_path, users["producer"])


def offered_name(header: str) -> str:
    """The file name a browser takes from a Content-Disposition header (RFC 6266; filename* first)."""
    assert header.startswith("inline; "), header
    if match := re.fullmatch(r"inline; filename\*=utf-8''([!#$&+\-.^_`|~0-9A-Za-z%]+)", header):
        return unquote(match.group(1), errors="strict")
    match = re.fullmatch(r'inline; filename="((?:[^"\\\r\n]|\\.)*)"', header)
    assert match, f"not a valid Content-Disposition: {header!r}"
    return re.sub(r"\\(.)", r"\1", match.group(1))


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ('Fox "Day" One\r\nPart 2', 'Fox "Day" One Part 2'),
        ("Café — 狐 🦊 \"snow\"\r\n\tcut\\two / three", 'Café — 狐 🦊 "snow" cut-two - three'),
        ("Family 👨\u200d👩\u200d👧 trip", "Family 👨\u200d👩\u200d👧 trip"),  # the joiners stay
        ("evil\u202egpj.exe\x00\x7f", "evil gpj.exe"),  # a bidi override would disguise the name
        ("\r\n\t", None),  # nothing printable: the episode's number
    ],
)
def test_any_title_downloads_with_a_correct_header(fetch, project, title, name):
    episode = episode_with_final(project, DATA, title=title)
    name = name or f"episode-{episode.pk}"
    for url in (f"/api/episodes/{episode.pk}/video", f"/episodes/{episode.pk}/video/"):
        answer = fetch(url)
        assert answer.status == 200, (url, answer.body[:300])
        assert answer.body == DATA
        assert offered_name(answer.headers["content-disposition"]) == f"{name}.mp4"


def test_segment_and_attempt_downloads_use_the_same_name(fetch, project, settings):
    from productions.models import SegmentAttempt
    from productions.render import ensure_segments

    episode = episode_with_final(project, DATA, title='Fox "1"\r\n')
    ensure_segments(episode)
    segment = episode.segments.get(index=0)
    segment.proxy_path = f"episodes/{episode.pk}/segment-00/proxy.mp4"
    segment.save(update_fields=["proxy_path"])
    (Path(settings.MEDIA_ROOT) / segment.proxy_path).parent.mkdir(parents=True)
    (Path(settings.MEDIA_ROOT) / segment.proxy_path).write_bytes(DATA)
    attempt = SegmentAttempt.objects.create(segment=segment, number=1, backend="builtin", seed=1, prompt="p",
                                            video_path=segment.proxy_path)
    for url, name in [
        (f"/api/episodes/{episode.pk}/segments/0/video", 'Fox "1"-segment-00.mp4'),
        (f"/episodes/{episode.pk}/segments/0/video/", 'Fox "1"-segment-00.mp4'),
        (f"/episodes/{episode.pk}/segments/0/attempts/{attempt.pk}/video/", 'Fox "1"-segment-00-attempt-1.mp4'),
    ]:
        answer = fetch(url)
        assert answer.status == 200 and answer.body == DATA, url
        assert offered_name(answer.headers["content-disposition"]) == name
