"""WebSockets: one per episode page, one for the staff monitor.

Every socket is authenticated (the session cookie, through AuthMiddlewareStack; AllowedHostsOriginValidator
refuses other sites' pages). A socket that is not allowed is accepted and closed at once with a code the page
understands (4401: sign in, 4403/4404: not yours), before anything is sent. On connect the consumer sends a full
snapshot from the database, so a page that reconnects after a drop shows the current state whatever it missed.
Membership is checked again every MEMBERSHIP_RECHECK_S while a socket stays open.
"""

from __future__ import annotations

import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from productions.events import MONITOR_GROUP, episode_group
from productions.models import Episode

MEMBERSHIP_RECHECK_S = 30.0
CLOSE_SIGN_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def can_view_episode(user, episode_id: int) -> bool:
    episode = Episode.objects.select_related("project").filter(pk=episode_id).first()
    return episode is not None and episode.project.can_view(user)


class PushConsumer(AsyncJsonWebsocketConsumer):
    """Channels (4.2+) runs close_old_connections() in a thread hop before every message it dispatches. For
    pushed events (one per socket per event, 50 sockets -> 50 hops through one shared thread) that hop was most
    of the cost; these handlers reach the database only through database_sync_to_async, which closes stale
    connections itself, so pushed events skip it."""

    push_types: frozenset[str] = frozenset()

    async def dispatch(self, message: dict) -> None:
        if message["type"] in self.push_types:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)


class EpisodeConsumer(PushConsumer):
    push_types = frozenset({"episode.event"})
    episode_id: int
    group: str | None = None
    checked_at = 0.0

    async def connect(self) -> None:
        self.episode_id = int(self.scope["url_route"]["kwargs"]["pk"])
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_SIGN_IN)
            return
        if not await database_sync_to_async(can_view_episode)(user, self.episode_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.checked_at = time.monotonic()
        # Join before reading the snapshot: nothing that happens after the read can be missed.
        self.group = episode_group(self.episode_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: dict, **kwargs) -> None:
        if content.get("type") == "snapshot":  # the page may ask again (e.g. after its tab slept)
            await self.send_snapshot()

    async def send_snapshot(self) -> None:
        from productions.live import episode_state_by_pk

        state = await database_sync_to_async(episode_state_by_pk)(self.episode_id)
        if state is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json({"type": "snapshot", "state": state})

    async def still_allowed(self) -> bool:
        if time.monotonic() - self.checked_at < MEMBERSHIP_RECHECK_S:
            return True
        self.checked_at = time.monotonic()
        return await database_sync_to_async(can_view_episode)(self.scope["user"], self.episode_id)

    async def episode_event(self, message: dict) -> None:
        """A published event, already serialised once for every socket (productions.events)."""
        if not await self.still_allowed():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.send(text_data=message["text"])


class MonitorConsumer(PushConsumer):
    push_types = frozenset({"monitor.event"})
    joined = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_SIGN_IN)
            return
        if not user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(MONITOR_GROUP, self.channel_name)
        self.joined = True
        from productions.monitor import monitor_state

        state = await database_sync_to_async(monitor_state)(with_history=True)
        await self.send_json({"type": "snapshot", "state": state})

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(MONITOR_GROUP, self.channel_name)

    async def monitor_event(self, message: dict) -> None:
        await self.send(text_data=message["text"])
