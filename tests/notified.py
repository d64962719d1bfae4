"""Helpers for the notification tests: run the notification tasks a render queued (here, in this process, as a
worker would), and a real local HTTP server that records what it is sent."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOTIFICATION_TASKS = {"send_notification_emails", "deliver_webhook"}


def run_notification_tasks() -> list[str]:
    """Execute the queued notification tasks (other tasks are dropped); returns their names in order."""
    from huey.contrib.djhuey import HUEY

    ran = []
    while (task := HUEY.dequeue()) is not None:
        if task.name in NOTIFICATION_TASKS:
            HUEY.execute(task)
            ran.append(task.name)
    return ran


class Receiver:
    """A webhook receiver on 127.0.0.1: records each POST (headers, raw body) and answers the next status of
    `answers` (the last one repeats)."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
