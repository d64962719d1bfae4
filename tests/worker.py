"""A real Huey consumer process for tests, on the test database and the test run's own queue file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # Child processes (workers, servers) keep Django's async-safety checks, even while a test (the browser
    # tests) turns them off in its own process.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="tower.settings",
        TOWER_DATA_DIR=str(settings.DATA_DIR),
        TOWER_DATABASE_URL=f"sqlite:///{connection.settings_dict['NAME']}",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class ManagedProcess:
    """A subprocess for tests: its own session (so signals reach its children), output in a log file."""

    def __init__(self, log_path: Path, **env: str):
        self.log_path = log_path
        self.env = worker_env(**env)
        self.proc: subprocess.Popen | None = None

    def spawn(self, command: list[str]) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (what a crash or an OOM kill does)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class HueyWorker(ManagedProcess):
    def start(self) -> HueyWorker:
        self.spawn([sys.executable, str(ROOT / "manage.py"), "run_huey", "--workers", "1", "--delay", "0.1",
                    "--max-delay", "0.5"])
        return self


def status_of(pk: int) -> str:
    """An episode's status, read fresh from the database."""
    from productions.models import Episode

    return Episode.objects.values_list("status", flat=True).get(pk=pk)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5, worker: HueyWorker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker and worker.proc and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited ({worker.proc.returncode}) while waiting for {what}:\n"
                                 f"{worker.log()[-4000:]}")
        time.sleep(interval)
    tail = worker.log()[-4000:] if worker else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


class UpProcess(ManagedProcess):
    """`manage.py up` on the test database, in a session of its own: os.killpg(up.pid, SIGINT) is what a
    terminal's Ctrl-C does (the whole foreground process group)."""

    def start(self, port: int, *flags: str) -> UpProcess:
        self.port = port
        self.spawn([sys.executable, str(ROOT / "manage.py"), "up", "--port", str(port), *flags])
        return self

    def children(self) -> dict[str, int]:
        """{"worker": pid, "web": pid} of the children running now."""
        found = {}
        listing = subprocess.run(["pgrep", "-P", str(self.pid), "-a"], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            pid, _, command = line.partition(" ")
            if "run_huey" in command:
                found["worker"] = int(pid)
            elif "daphne" in command:
                found["web"] = int(pid)
        return found

    def answers(self) -> bool:
        import requests

        try:
            return requests.get(f"http://127.0.0.1:{self.port}/login/", timeout=2).status_code == 200
        except requests.RequestException:
            return False


def process_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
