"""Flow control for HTTP responses under daphne.

daphne hands every `http.response.body` message straight to Twisted, which buffers it until the client reads
it, and never makes the application wait (daphne 4.2): a client that reads slower than the disk, or stops
reading, makes the server hold the rest of a download in memory. Twisted has the mechanism for it: a streaming
producer registered on the request (twisted.internet.interfaces.IPushProducer) is paused when the
connection's send buffer is full and resumed when it drains. This ASGI wrapper registers one for each
response that has a body in several messages, and after each message waits while it is paused.

Under another server (or the test client) the application runs unwrapped: the wrapper recognises daphne's
`send` (a functools.partial of daphne.server.Server.handle_reply bound to the Twisted request) and nothing else.
"""

from __future__ import annotations

import asyncio
import functools


class _Pacer:
    """A Twisted push producer that is only a flag the application can wait on."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.ready.set()

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's interface)
        self.ready.clear()

    def resumeProducing(self) -> None:  # noqa: N802
        self.ready.set()

    def stopProducing(self) -> None:  # noqa: N802 (the connection is gone: stop waiting; daphne drops the rest)
        self.ready.set()


def _daphne_request(send):
    """The Twisted request behind daphne's `send`, or None when `send` is not daphne's."""
    if not isinstance(send, functools.partial) or len(send.args) != 1:
        return None
    owner = getattr(send.func, "__self__", None)
    if type(owner).__module__ != "daphne.server" or getattr(send.func, "__name__", "") != "handle_reply":
        return None
    request = send.args[0]
    return request if hasattr(request, "registerProducer") and hasattr(request, "unregisterProducer") else None


def daphne_backpressure(app):
    """Wrap an ASGI HTTP application so that its response bodies go out no faster than the client reads."""

    async def paced(scope, receive, send):
        request = _daphne_request(send) if scope["type"] == "http" else None
        if request is None:
            return await app(scope, receive, send)
        pacer: _Pacer | None = None

        def release() -> None:
            nonlocal pacer
            if pacer is not None and getattr(request, "channel", None) is not None:
                request.unregisterProducer()
            pacer = None

        async def paced_send(message):
            nonlocal pacer
            more = message["type"] == "http.response.body" and message.get("more_body", False)
            if (more and pacer is None and getattr(request, "channel", None) is not None
                    and getattr(request, "producer", None) is None):
                pacer = _Pacer()
                request.registerProducer(pacer, True)
            if not more:
                release()  # before the last message: Twisted finishes the request with it
            await send(message)
            if pacer is not None:
                await pacer.ready.wait()

        try:
            return await app(scope, receive, paced_send)
        finally:
            release()

    return paced
