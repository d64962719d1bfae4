"""Start Tower on one machine: migrate, make sure an admin exists, run the Huey worker and daphne.

    python manage.py up [--host 127.0.0.1] [--port 8000]

Ctrl-C or SIGTERM stops both children: `up` asks each to stop (SIGTERM), waits up to STOP_TIMEOUT_S, then kills
what is left. The children run in process groups of their own, so a Ctrl-C at the terminal reaches only `up`,
never an ffmpeg in the middle of a render; the worker hands its render back (productions.stopping) and it
resumes the next time a worker starts. If `up` itself is killed, its children are told to stop (SIGTERM).

A child that dies while Tower runs is restarted after a pause (1 s, doubling up to 30 s), at most MAX_RESTARTS
times within RESTART_WINDOW_S; after that, or when a child exits with an error within STARTUP_S of being started
the first time (a port already in use, a bad setting: starting it again would fail again), `up` stops the other
child and exits with status 1, naming the child that died and how.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import deque

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tower.datadir import write_private_file

STOP_TIMEOUT_S = 30.0  # the worker's hand-back takes at most productions.stopping's SAFE_POINT_S + HAND_BACK_S
STARTUP_S = 30.0  # an error exit this soon after the first start is a start-up failure (a signal is a crash)
MAX_RESTARTS = 5
RESTART_WINDOW_S = 600.0
FIRST_PAUSE_S, LONGEST_PAUSE_S = 1.0, 30.0


def how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _stop_when_parent_dies():
    """For the children: on Linux, ask the kernel to send SIGTERM when `up` dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls into it
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_death_signal


class Child:
    """One of `up`'s children: how to start it, and its restarts."""

    def __init__(self, label: str, argv: list[str]) -> None:
        self.label, self.argv = label, argv
        self.proc: subprocess.Popen | None = None
        self.first_started = 0.0
        self.restarts: deque[float] = deque()
        self.restart_at: float | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=settings.BASE_DIR, process_group=0,
                                     preexec_fn=_stop_when_parent_dies())
        self.first_started = self.first_started or time.monotonic()
        self.restart_at = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Command(BaseCommand):
    help = "Run the dashboard (daphne) and the render worker (Huey) together, after migrating."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=settings.TOWER_HOST)
        parser.add_argument("--port", type=int, default=settings.TOWER_PORT)
        parser.add_argument("--no-worker", action="store_true", help="web only (workers run elsewhere)")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.ensure_admin()
        manage = [sys.executable, os.fspath(settings.BASE_DIR / "manage.py")]
        children: list[Child] = []
        if not no_worker:
            children.append(Child("the render worker (run_huey)", [*manage, "run_huey"]))
        children.append(Child("the dashboard (daphne)", [sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
                                                         "tower.asgi:application"]))
        stop_signal: list[int] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda signum, frame: stop_signal.append(signum))
        for child in children:
            child.start()
        self.stdout.write(self.style.SUCCESS(f"Tower is up: http://{host}:{port}/  (Ctrl-C stops it)"))
        fatal = ""
        while not stop_signal and not fatal:
            time.sleep(0.2)
            for child in children:
                fatal = fatal or self.look_after(child)
        self.stop(children)
        if fatal:
            self.stderr.write(fatal)
            sys.exit(1)
        self.stdout.write("Tower stopped.")

    def look_after(self, child: Child) -> str:
        """Restart a child that died (returns ""), or say why Tower must stop."""
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.start()
            return ""
        if child.running():
            return ""
        ended = how_it_ended(child.proc.returncode)
        if not child.restarts and child.proc.returncode > 0 and now - child.first_started < STARTUP_S:
            return f"Tower stopped: {child.label} {ended} as it started (see its messages above)."
        while child.restarts and now - child.restarts[0] > RESTART_WINDOW_S:
            child.restarts.popleft()
        if len(child.restarts) >= MAX_RESTARTS:
            return (f"Tower stopped: {child.label} {ended}, after {len(child.restarts)} restarts within "
                    f"{RESTART_WINDOW_S:.0f} s.")
        pause = min(LONGEST_PAUSE_S, FIRST_PAUSE_S * 2 ** len(child.restarts))
        child.restarts.append(now)
        child.restart_at = now + pause
        self.stderr.write(f"{child.label} {ended}; restarting it in {pause:.0f} s "
                          f"(restart {len(child.restarts)} of at most {MAX_RESTARTS} within {RESTART_WINDOW_S:.0f} s).")
        return ""

    def stop(self, children: list[Child]) -> None:
        """SIGTERM to each running child, then wait (together) up to STOP_TIMEOUT_S, then SIGKILL. A second
        Ctrl-C kills them at once (a render killed so is taken over from its last finished step)."""
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for child in children:
            if child.running():
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        try:
            for child in children:
                if child.proc is None:
                    continue
                try:
                    child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{child.label} did not stop within {STOP_TIMEOUT_S:.0f} s; killing it.")
                    child.proc.kill()
                    child.proc.wait()
        except KeyboardInterrupt:
            self.stderr.write("Second Ctrl-C: killing what is still running.")
            for child in children:
                if child.running():
                    child.proc.kill()
                    child.proc.wait()

    def ensure_admin(self) -> None:
        """The first admin account. A password supplied in TOWER_ADMIN_PASSWORD is never echoed; a generated one
        is shown once and kept in a file only its owner can read."""
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = settings.TOWER_ADMIN_USER
        supplied = settings.TOWER_ADMIN_PASSWORD
        password = supplied or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if supplied:
            self.stdout.write(self.style.WARNING(
                f"Created the admin account '{username}' with the password from TOWER_ADMIN_PASSWORD."))
            return
        note = settings.DATA_DIR / "admin-password.txt"
        note.unlink(missing_ok=True)  # a stale note from an earlier data folder: replaced, never appended to
        write_private_file(note, f"{username}\n{password}\n")
        self.stdout.write(self.style.WARNING(
            f"Created the admin account '{username}' with password '{password}' (also saved in {note}; change it "
            "in /admin/)."))
