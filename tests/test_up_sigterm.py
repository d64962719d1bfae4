"""SIGTERM to `manage.py up` (what systemd, docker stop or `kill` send) stops it like Ctrl-C: both children
stop and the port is free again; none is left orphaned."""

import os
import signal

import pytest

from tests.fake_comfyui import free_port
from tests.worker import UpProcess, port_free, process_alive, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_sigterm_stops_both_children_and_frees_the_port(tmp_path):
    up = UpProcess(tmp_path / "up.log").start(free_port())
    try:
        wait_for(up.answers, 120, "the dashboard")
        wait_for(lambda: len(up.children()) == 2, 30, "both children")
        children = up.children()
        os.kill(up.pid, signal.SIGTERM)  # to `up` alone, not its process group
        assert up.proc.wait(timeout=60) == 0, up.log()[-3000:]
        wait_for(lambda: not any(process_alive(pid) for pid in children.values()), 10, "the children to end")
        assert port_free(up.port), "daphne still holds the port"
    finally:
        for pid in up.children().values():  # only if the test failed: leave nothing behind
            os.kill(pid, signal.SIGKILL)
        up.stop()
