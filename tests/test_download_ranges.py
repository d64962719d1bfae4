"""Downloads answer Range, If-Range and HEAD correctly, byte for byte: through a real daphne process (the
asynchronous path every deployment uses) and through Django's test client (the synchronous path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.downloads import WAYS, episode_with_final, fetcher

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 3 * 256 * 1024 + 12_345  # several read chunks, the last one partial


@pytest.fixture(scope="module")
def content() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def episode(project, content):
    return episode_with_final(project, content, title="Range test")


@pytest.fixture(params=WAYS)
def fetch(request, tmp_path, users):
    yield from fetcher(request.param, tmp_path, users["producer"])


def urls(episode) -> list[str]:
    return [f"/api/episodes/{episode.pk}/video", f"/episodes/{episode.pk}/video/"]


def test_whole_file_and_single_ranges_are_byte_exact(fetch, episode, content):
    for url in urls(episode):
        whole = fetch(url)
        assert whole.status == 200 and whole.body == content
        assert whole.headers["content-length"] == str(SIZE) and whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == "video/mp4"
        assert "etag" in whole.headers and "last-modified" in whole.headers

        cases = {
            "bytes=0-0": (0, 0),
            "bytes=100-199": (100, 199),
            f"bytes={SIZE - 1000}-": (SIZE - 1000, SIZE - 1),
            "bytes=-500": (SIZE - 500, SIZE - 1),
            f"bytes=-{SIZE + 10}": (0, SIZE - 1),  # a suffix longer than the file: all of it
            f"bytes=262000-{SIZE + 1000}": (262000, SIZE - 1),  # the end is clamped
            f"bytes={SIZE - 1}-{SIZE - 1}": (SIZE - 1, SIZE - 1),
        }
        for header, (start, end) in cases.items():
            part = fetch(url, Range=header)
            assert part.status == 206, (url, header, part.status)
            assert part.headers["content-range"] == f"bytes {start}-{end}/{SIZE}", header
            assert part.headers["content-length"] == str(end - start + 1), header
            assert part.body == content[start:end + 1], header


def test_unsatisfiable_ranges_are_416_and_unusable_ones_get_the_whole_file(fetch, episode, content):
    url = f"/api/episodes/{episode.pk}/video"
    for header in (f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0"):
        refused = fetch(url, Range=header)
        assert refused.status == 416, header
        assert refused.headers["content-range"] == f"bytes */{SIZE}" and refused.body == b""
    # Several ranges, a malformed range, another unit: ignored (RFC 9110 lets a server ignore Range).
    for header in ("bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=5-3", "bytes=-", "bytes=1" + "0" * 40 + "-"):
        whole = fetch(url, Range=header)
        assert whole.status == 200 and whole.body == content, header


def test_if_range_resumes_only_the_same_version_of_the_file(fetch, episode, content, settings):
    url = f"/api/episodes/{episode.pk}/video"
    first = fetch(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert fetch(url, Range="bytes=10-19", If_Range=etag).body == content[10:20]
    assert fetch(url, Range="bytes=10-19", If_Range=modified).body == content[10:20]

    # The episode is stitched again: a new file at the same path. A client resuming the old one gets it all.
    replaced = os.urandom(SIZE - 7)
    path = Path(settings.MEDIA_ROOT) / episode.final_path
    path.write_bytes(replaced)
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    for validator in (etag, modified, "W/" + etag):
        again = fetch(url, Range="bytes=10-19", If_Range=validator)
        assert again.status == 200 and again.body == replaced, validator


def test_head_answers_the_headers_without_a_body(fetch, episode, content):
    for url in urls(episode):
        head = fetch(url, method="HEAD")
        assert head.status == 200 and head.body == b""
        assert head.headers["content-length"] == str(SIZE) and head.headers["accept-ranges"] == "bytes"
        part = fetch(url, method="HEAD", Range="bytes=-10")
        assert part.status == 206 and part.body == b""
        assert part.headers["content-range"] == f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}"
        assert part.headers["content-length"] == "10"


def test_an_empty_file_downloads_and_refuses_every_range(fetch, episode, settings):
    (Path(settings.MEDIA_ROOT) / episode.final_path).write_bytes(b"")
    url = f"/api/episodes/{episode.pk}/video"
    empty = fetch(url)
    assert empty.status == 200 and empty.body == b"" and empty.headers["content-length"] == "0"
    for header in ("bytes=0-", "bytes=-1"):
        assert fetch(url, Range=header).status == 416
