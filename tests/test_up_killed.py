"""`manage.py up` killed outright (SIGKILL, the OOM killer): its children do not live on as orphans holding the
port; they are told to stop (the kernel's parent-death signal) and do."""

import os
import signal

import pytest

from tests.fake_comfyui import free_port
from tests.worker import UpProcess, port_free, process_alive, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_children_of_a_killed_up_stop(tmp_path):
    up = UpProcess(tmp_path / "up.log").start(free_port())
    children = {}
    try:
        wait_for(up.answers, 120, "the dashboard")
        wait_for(lambda: len(up.children()) == 2, 30, "both children")
        children = up.children()
        os.kill(up.pid, signal.SIGKILL)  # `up` alone
        up.proc.wait(timeout=10)
        wait_for(lambda: not any(process_alive(pid) for pid in children.values()), 40, "the children to stop")
        assert port_free(up.port)
    finally:
        for pid in children.values():  # only if the test failed: leave nothing behind
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
