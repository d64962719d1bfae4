"""A temporary file's name says which process on which host writes it (pure; no Django)."""

import os

from productions.lib.files import temporary_path, temporary_writer


def test_a_temporary_name_says_who_writes_it(tmp_path):
    path = temporary_path(tmp_path / "final.mp4")
    assert path.name.startswith(".final.tmp-") and path.suffix == ".mp4"
    writer = temporary_writer(path)
    assert writer is not None and writer.pid == os.getpid() and writer.is_this_host()
    assert temporary_writer(tmp_path / ".final.tmp-0123abcd.mp4") is None  # named by an older version
