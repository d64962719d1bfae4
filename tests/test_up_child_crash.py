"""A child of `manage.py up` that dies is restarted (the worker killed by the OOM killer must not take the
dashboard down); one that keeps dying, or dies as it starts, stops `up` with a message naming it and how."""

import os
import signal

import pytest

from tests.fake_comfyui import free_port
from tests.worker import UpProcess, port_free, process_alive, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_killed_worker_is_restarted_and_the_dashboard_stays_up(tmp_path):
    up = UpProcess(tmp_path / "up.log").start(free_port())
    try:
        wait_for(up.answers, 120, "the dashboard")
        wait_for(lambda: len(up.children()) == 2, 30, "both children")
        before = up.children()
        os.kill(before["worker"], signal.SIGKILL)
        wait_for(lambda: up.children().get("worker", before["worker"]) != before["worker"], 30,
                 "a new worker", worker=up)
        assert up.proc.poll() is None and up.answers(), up.log()[-3000:]
        assert up.children()["web"] == before["web"]
        assert "the render worker (run_huey) was killed by SIGKILL; restarting it" in up.log()
    finally:
        up.stop()


def test_a_child_that_dies_as_it_starts_stops_up_with_a_message_naming_it(tmp_path):
    port = free_port()
    blocker = __import__("socket").socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    up = UpProcess(tmp_path / "up.log").start(port)
    try:
        assert up.proc.wait(timeout=120) == 1
        assert "Tower stopped: the dashboard (daphne) exited with status 1 as it started" in up.log(), up.log()
        children = up.children()
        assert not any(process_alive(pid) for pid in children.values())
    finally:
        blocker.close()
        up.stop()
    assert port_free(port)
