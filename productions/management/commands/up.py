"""Start Tower on one machine: migrate, make sure an admin exists, run the Huey worker and daphne.

    python manage.py up [--host 127.0.0.1] [--port 8000]

Ctrl-C stops both. A render interrupted that way resumes by itself the next time the worker starts.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tower.datadir import write_private_file


class Command(BaseCommand):
    help = "Run the dashboard (daphne) and the render worker (Huey) together, after migrating."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("TOWER_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TOWER_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="web only (workers run elsewhere)")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.ensure_admin()
        manage = [sys.executable, os.fspath(settings.BASE_DIR / "manage.py")]
        children: list[subprocess.Popen] = []
        if not no_worker:
            children.append(subprocess.Popen([*manage, "run_huey"]))
        children.append(subprocess.Popen([sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
                                          "tower.asgi:application"], cwd=settings.BASE_DIR))
        self.stdout.write(self.style.SUCCESS(f"Tower is up: http://{host}:{port}/  (Ctrl-C stops it)"))
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed:
            sys.exit(1)

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
