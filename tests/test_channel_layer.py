"""The embedded shape's SQLite channel layer: groups, process channels, competing consumers, expiry, capacity,
and delivery from another OS process (what the render worker is)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path

import pytest
from channels.exceptions import ChannelFull

from productions.channel_layer import SQLiteChannelLayer

ROOT = Path(__file__).resolve().parent.parent


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


@pytest.fixture
def layers(tmp_path):
    made: list[SQLiteChannelLayer] = []

    def make(**config) -> SQLiteChannelLayer:
        layer = SQLiteChannelLayer(path=tmp_path / "channels.sqlite3", **config)
        made.append(layer)
        return layer

    yield make
    for layer in made:
        asyncio.run(layer.close())


def test_group_send_from_another_process_reaches_members_in_order(layers, tmp_path):
    layer = layers()

    async def scenario():
        member_a, member_b, other = [await layer.new_channel() for _ in range(3)]
        await layer.group_add("episode-1", member_a)
        await layer.group_add("episode-1", member_b)
        await layer.group_add("episode-2", other)
        script = textwrap.dedent(f"""
            import asyncio, sys
            sys.path.insert(0, {str(ROOT)!r})
            from productions.channel_layer import SQLiteChannelLayer
            layer = SQLiteChannelLayer(path={str(tmp_path / 'channels.sqlite3')!r})
            async def main():
                for i in range(5):
                    await layer.group_send("episode-1", {{"type": "episode.event", "n": i, "blob": b"\\x00\\xff"}})
            asyncio.run(main())
        """)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
        assert await proc.wait() == 0
        for channel in (member_a, member_b):
            got = [await layer.receive(channel) for _ in range(5)]
            assert [m["n"] for m in got] == [0, 1, 2, 3, 4]
            assert got[0]["blob"] == b"\x00\xff" and got[0]["type"] == "episode.event"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(other), 0.3)

    run(scenario())


def test_two_processes_each_fan_out_to_their_own_sockets(layers):
    web1, web2, worker = layers(), layers(), layers()

    async def scenario():
        one, two = await web1.new_channel(), await web2.new_channel()
        await web1.group_add("g", one)
        await web2.group_add("g", two)
        await worker.group_send("g", {"type": "x", "v": 1})
        assert (await web1.receive(one))["v"] == 1
        assert (await web2.receive(two))["v"] == 1
        # A process-specific channel of another process: direct send, and group_add through a control row.
        await worker.send(one, {"type": "direct"})
        assert (await web1.receive(one))["type"] == "direct"
        await worker.group_add("h", two)
        await asyncio.sleep(0.2)  # the owner applies the membership when it polls
        await worker.group_send("h", {"type": "via-h"})
        assert (await web2.receive(two))["type"] == "via-h"
        await web1.group_discard("g", one)
        await worker.group_send("g", {"type": "after-discard"})
        assert (await web2.receive(two))["type"] == "after-discard"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(web1.receive(one), 0.3)
        with pytest.raises(ValueError):
            await web1.receive(two)  # not ours to receive on

    run(scenario())


def test_normal_channels_are_competing_consumers_with_capacity(layers):
    a, b = layers(capacity=5), layers(capacity=5)

    async def scenario():
        for i in range(5):
            await a.send("tower.jobs", {"type": "job", "n": i})
        with pytest.raises(ChannelFull):
            await a.send("tower.jobs", {"type": "job", "n": 99})
        got = await asyncio.gather(*(layer.receive("tower.jobs") for layer in (a, b, a, b, a)))
        assert sorted(m["n"] for m in got) == [0, 1, 2, 3, 4]  # each exactly once
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(b.receive("tower.jobs"), 0.2)
        with pytest.raises(NotImplementedError):
            await a.group_add("g", "tower.jobs")

    run(scenario())


def test_a_full_socket_drops_group_messages_and_expired_rows_are_trimmed(layers):
    layer = layers(capacity=3, expiry=1)

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("g", channel)
        for i in range(6):
            await layer.group_send("g", {"type": "x", "n": i})
        await asyncio.sleep(0.3)
        assert [(await layer.receive(channel))["n"] for _ in range(3)] == [0, 1, 2]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.2)

        await layer.send("tower.jobs", {"type": "late"})
        await asyncio.sleep(1.2)
        with pytest.raises(TimeoutError):  # expired: nobody gets it
            await asyncio.wait_for(layer.receive("tower.jobs"), 0.2)
        layer._trim(layer._conn(), time.time())
        assert layer._conn().execute("SELECT COUNT(*) FROM message").fetchone()[0] == 0

        await layer.group_send("g", {"type": "x", "n": 7})
        await layer.flush()
        await layer.group_send("g", {"type": "x", "n": 8})
        with pytest.raises(TimeoutError):  # flush forgot the memberships too
            await asyncio.wait_for(layer.receive(channel), 0.3)

    run(scenario())


def test_delivery_is_quick(layers):
    web, worker = layers(), layers()

    async def scenario():
        channels = [await web.new_channel() for _ in range(50)]
        for channel in channels:
            await web.group_add("g", channel)
        delays = []
        for _ in range(10):
            sent = time.perf_counter()
            await worker.group_send("g", {"type": "x"})
            await asyncio.gather(*(web.receive(c) for c in channels))
            delays.append(time.perf_counter() - sent)
        assert sorted(delays)[8] < 0.25, delays

    run(scenario())
