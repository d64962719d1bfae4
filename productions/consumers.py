"""WebSockets: one per episode page, one for the staff monitor.

Every socket is authenticated (the session cookie, through AuthMiddlewareStack; AllowedHostsOriginValidator
refuses other sites' pages). A socket that is not allowed is accepted and closed at once with a code the page
understands (4401: sign in, 4403/4404: not yours), before anything is sent. On connect the consumer sends a full
snapshot from the database, so a page that reconnects after a drop shows the current state whatever it missed.

Access (productions.access) is read from the database again:
* on every message the browser sends (a snapshot request), and before every snapshot pushed to it, together
  with the session (signed out elsewhere: 4401);
* at once when the user's access changes: every socket joins its user's group, and a logout, a removal from a
  project, a change of role or a deactivated account sends that group an "access.changed" message from
  whichever process made the change (productions.access.connect_signals, through the channel layer);
* at least every ACCESS_RECHECK_S for progress events (numbers and a preview address, which is itself checked
  when fetched), a backstop for changes made without signals (raw SQL, QuerySet.update).
"""

from __future__ import annotations

import time
from importlib import import_module

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import SESSION_KEY

from productions.access import episode_access, monitor_access
from productions.events import MONITOR_GROUP, episode_group, user_group

ACCESS_RECHECK_S = 30.0
CLOSE_SIGN_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def session_alive(user, session_key: str | None) -> bool:
    """The socket's session still exists and still belongs to `user` (a logout deletes it)."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    return str(data.get(SESSION_KEY)) == str(user.pk)


class PushConsumer(AsyncJsonWebsocketConsumer):
    """Channels (4.2+) runs close_old_connections() in a thread hop before every message it dispatches. For
    pushed events (one per socket per event, 50 sockets -> 50 hops through one shared thread) that hop was most
    of the cost; these handlers reach the database only through database_sync_to_async, which closes stale
    connections itself, so pushed events skip it.

    Also what both sockets share about access: the user's group, the re-check (`verdict`, in a worker thread)
    and the close when it fails."""

    push_types: frozenset[str] = frozenset()
    user_joined: str | None = None
    checked_at = 0.0
    closed = False

    async def dispatch(self, message: dict) -> None:
        if message["type"] in self.push_types:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)

    @property
    def session_key(self) -> str | None:
        session = self.scope.get("session")
        return session.session_key if session is not None else None

    def verdict(self, connecting: bool = False) -> int | None:
        """None while the user may keep this socket, else the close code. Runs in a thread (database)."""
        raise NotImplementedError

    def checked_verdict(self) -> int | None:
        """`verdict`, and the session must still exist (a socket opened without one, in tests, skips that)."""
        if "session" in self.scope and not session_alive(self.scope["user"], self.session_key):
            return CLOSE_SIGN_IN
        return self.verdict()

    async def start(self) -> bool:
        """Accept; refuse anonymous users; join the user's group (before the check, so that no change after it
        is missed); check access. True when the socket may go on."""
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_SIGN_IN)
            return False
        self.user_joined = user_group(user.pk)
        await self.channel_layer.group_add(self.user_joined, self.channel_name)
        self.checked_at = time.monotonic()
        code = await database_sync_to_async(self.verdict)(True)
        if code is not None:
            await self.close(code=code)
            return False
        return True

    async def recheck(self) -> bool:
        self.checked_at = time.monotonic()
        code = await database_sync_to_async(self.checked_verdict)()
        if code is not None:
            await self.close(code=code)
            return False
        return True

    async def close(self, code=None, reason=None) -> None:
        if not self.closed:
            self.closed = True
            await super().close(code=code, reason=reason)

    async def disconnect(self, code: int) -> None:
        if self.user_joined:
            await self.channel_layer.group_discard(self.user_joined, self.channel_name)

    async def access_changed(self, message: dict) -> None:
        """Something about this user's access changed (productions.access.connect_signals): look again."""
        if self.closed:
            return
        if message.get("logout") and message.get("session") and message["session"] == self.session_key:
            await self.close(code=CLOSE_SIGN_IN)
            return
        await self.recheck()


class EpisodeConsumer(PushConsumer):
    push_types = frozenset({"episode.event"})
    episode_id: int
    group: str | None = None

    def verdict(self, connecting: bool = False) -> int | None:
        episode, access = episode_access(self.scope["user"], self.episode_id)
        if not access.signed_in:
            return CLOSE_SIGN_IN
        if episode is None or not access.can_view:
            return CLOSE_NOT_FOUND if connecting else CLOSE_FORBIDDEN
        return None

    async def connect(self) -> None:
        self.episode_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await self.start():
            return
        # Join before reading the snapshot: nothing that happens after the read can be missed.
        self.group = episode_group(self.episode_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_snapshot(checked=True)

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: dict, **kwargs) -> None:
        if self.closed:
            return
        if content.get("type") == "snapshot":  # the page may ask again (e.g. after its tab slept)
            await self.send_snapshot()
        else:
            await self.recheck()

    def checked_snapshot(self, checked: bool) -> tuple[int | None, dict | None]:
        """(close code, None) when access is gone, else (None, the episode's state): one thread hop."""
        from productions.live import episode_state_by_pk

        if not checked:
            self.checked_at = time.monotonic()
            code = self.checked_verdict()
            if code is not None:
                return code, None
        state = episode_state_by_pk(self.episode_id)
        return (CLOSE_NOT_FOUND, None) if state is None else (None, state)

    async def send_snapshot(self, checked: bool = False) -> None:
        code, state = await database_sync_to_async(self.checked_snapshot)(checked)
        if code is not None:
            await self.close(code=code)
            return
        await self.send_json({"type": "snapshot", "state": state})

    async def episode_event(self, message: dict) -> None:
        """A published event, already serialised once for every socket (productions.events). A snapshot (the
        episode's state) is sent only after access is checked again; progress events at least every
        ACCESS_RECHECK_S."""
        if self.closed:
            return
        due = message.get("snapshot", True) or time.monotonic() - self.checked_at >= ACCESS_RECHECK_S
        if due and not await self.recheck():
            return
        await self.send(text_data=message["text"])


class MonitorConsumer(PushConsumer):
    push_types = frozenset({"monitor.event"})
    joined = False

    def verdict(self, connecting: bool = False) -> int | None:
        return None if monitor_access(self.scope["user"]) else CLOSE_FORBIDDEN

    async def connect(self) -> None:
        if not await self.start():
            return
        await self.channel_layer.group_add(MONITOR_GROUP, self.channel_name)
        self.joined = True
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        from productions.monitor import monitor_state

        state = await database_sync_to_async(monitor_state)(with_history=True)
        await self.send_json({"type": "snapshot", "state": state})

    async def receive_json(self, content: dict, **kwargs) -> None:
        if self.closed or not await self.recheck():
            return
        if content.get("type") == "snapshot":
            await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.joined:
            await self.channel_layer.group_discard(MONITOR_GROUP, self.channel_name)

    async def monitor_event(self, message: dict) -> None:
        if self.closed:
            return
        if time.monotonic() - self.checked_at >= ACCESS_RECHECK_S and not await self.recheck():
            return
        await self.send(text_data=message["text"])
