"""Event fan-out against a real (embedded Valkey) server: delivery, bounds, reconnects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from realtime.broadcast import (
    BoundedBroadcast,
    BoundedSubscriber,
    Gap,
    RedisPubSubBackend,
    Resync,
    SlowConsumer,
    Unsubscribed,
)

TIMEOUT = 5.0


def _server(data_dir: Path) -> EmbeddedRedis:
    """A server, started when its `with` block begins."""
    return EmbeddedRedis(data_dir, free_port(), appendfsync="no")


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with _server(tmp_path_factory.mktemp("valkey")) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A server of the test's own, for killing it."""
    with _server(tmp_path / "valkey") as server:
        yield server


def make_backend(url: str, **kwargs: object) -> RedisPubSubBackend:
    options: dict[str, object] = {"reconnect_delay": 0.05, "max_reconnect_delay": 0.5}
    options.update(kwargs)
    return RedisPubSubBackend(url, **options)  # type: ignore[arg-type]


@pytest.fixture
async def broadcast(shared_redis: EmbeddedRedis) -> AsyncIterator[BoundedBroadcast]:
    bus = BoundedBroadcast(backend=make_backend(shared_redis.url))
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.disconnect()


async def get(subscriber: BoundedSubscriber, within: float = TIMEOUT) -> str:
    event = await asyncio.wait_for(subscriber.get(), within)
    return event.message


async def numsub(url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


class SlowUplinkProxy:
    """TCP proxy to the server that delays every client-to-server chunk by `delay`.

    The subscription's SUBSCRIBE then reaches the server well after a PUBLISH sent
    directly, unless `subscribe()` waited for the server's confirmation.
    """

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port, self.delay = upstream_port, delay
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        for task in (
            asyncio.create_task(self._pump(reader, up_writer, self.delay)),
            asyncio.create_task(self._pump(up_reader, writer, 0.0)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
        try:
            while data := await src.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()


@pytest.mark.parametrize("sharded", [False, True], ids=["pubsub", "sharded"])
async def test_message_published_right_after_subscribe_is_delivered(
    shared_redis: EmbeddedRedis, sharded: bool
) -> None:
    proxy = SlowUplinkProxy(shared_redis.port, delay=0.05)
    bus = BoundedBroadcast(backend=make_backend(await proxy.start(), sharded=sharded))
    direct = aioredis.Redis.from_url(shared_redis.url)
    await bus.connect()
    try:
        for i in range(5):  # a fresh channel each round
            channel = f"first-{sharded}-{i}"
            async with bus.subscribe(channel) as subscriber:
                receivers = await direct.execute_command(
                    "SPUBLISH" if sharded else "PUBLISH", channel, f"hello {i}"
                )
                assert receivers == 1
                assert await get(subscriber, 2.0) == f"hello {i}"
            async with bus.subscribe(channel) as subscriber:  # again, via the bus
                await bus.publish(channel, f"again {i}")
                assert await get(subscriber, 2.0) == f"again {i}"
    finally:
        await bus.disconnect()
        await direct.aclose()
        await proxy.close()


async def test_idle_reader_with_no_channels_does_not_spin(shared_redis: EmbeddedRedis) -> None:
    backend = make_backend(shared_redis.url)
    await backend.connect()
    try:
        assert backend.connected and not backend.channels
        cpu = time.process_time()
        await asyncio.sleep(0.5)
        assert time.process_time() - cpu < 0.15
        await backend.subscribe("idle")
        await backend.publish("idle", "wake")
        event = await asyncio.wait_for(backend.next_published(), TIMEOUT)
        assert (event.channel, event.message) == ("idle", "wake")
    finally:
        await backend.disconnect()


async def test_fan_out_many_channels_in_order(broadcast: BoundedBroadcast) -> None:
    channels = [f"fan-{i}" for i in range(12)]
    per_channel = 40
    async with AsyncExitStack() as stack:
        subscribers = [
            await stack.enter_async_context(broadcast.subscribe(channel))
            for channel in channels
            for _ in range(3)
        ]
        for channel in channels:
            assert broadcast.subscriber_count(channel) == 3
        for n in range(per_channel):
            for channel in channels:
                await broadcast.publish(channel, f"{channel}:{n}")

        async def drain(subscriber: BoundedSubscriber) -> list[str]:
            return [await get(subscriber) for _ in range(per_channel)]

        received = await asyncio.gather(*(drain(s) for s in subscribers))
        for subscriber, messages in zip(subscribers, received, strict=True):
            assert messages == [f"{subscriber.channel}:{n}" for n in range(per_channel)]
            assert subscriber.qsize() == 0
    for channel in channels:
        assert broadcast.subscriber_count(channel) == 0


async def test_unsubscribe_stops_delivery(
    broadcast: BoundedBroadcast, shared_redis: EmbeddedRedis
) -> None:
    async with broadcast.subscribe("unsub") as staying:
        async with broadcast.subscribe("unsub") as leaving:
            await broadcast.publish("unsub", "both")
            assert await get(leaving) == "both"
            assert await get(staying) == "both"
        assert broadcast.subscriber_count("unsub") == 1
        with pytest.raises(Unsubscribed):
            await get(leaving)
        await broadcast.publish("unsub", "one")
        assert await get(staying) == "one"
        assert await numsub(shared_redis.url, "unsub") == 1
    assert broadcast.subscriber_count("unsub") == 0
    assert await numsub(shared_redis.url, "unsub") == 0
    assert "unsub" not in broadcast.backend.channels  # type: ignore[attr-defined]

    # At the backend: nothing published after unsubscribe() comes out, even in flight.
    backend = make_backend(shared_redis.url)
    await backend.connect()
    try:
        await backend.subscribe("gone")
        await backend.subscribe("sentinel")
        await backend.unsubscribe("gone")
        await backend.publish("gone", "late")
        await backend.publish("sentinel", "done")
        event = await asyncio.wait_for(backend.next_published(), TIMEOUT)
        assert (event.channel, event.message) == ("sentinel", "done")
        assert backend.qsize() == 0
    finally:
        await backend.disconnect()


async def test_slow_subscriber_is_cut_off_fast_one_gets_everything(
    shared_redis: EmbeddedRedis,
) -> None:
    bus = BoundedBroadcast(backend=make_backend(shared_redis.url), subscriber_queue_size=50)
    await bus.connect()
    total = 300
    try:
        async with bus.subscribe("slow") as slow, bus.subscribe("slow") as fast:

            async def read_all() -> list[str]:
                return [await get(fast) for _ in range(total)]

            reader = asyncio.create_task(read_all())
            for n in range(total):
                await bus.publish("slow", str(n))
            assert await asyncio.wait_for(reader, TIMEOUT) == [str(n) for n in range(total)]
            with pytest.raises(SlowConsumer):
                await get(slow)
            with pytest.raises(SlowConsumer):  # cut off for good
                await get(slow)
            assert slow.cut_off and not fast.cut_off
            assert bus.slow_consumers == 1
    finally:
        await bus.disconnect()


async def test_listener_survives_dispatch_errors(
    broadcast: BoundedBroadcast, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = broadcast._dispatch
    failures: list[object] = []

    def flaky(event: object) -> None:
        if not failures:
            failures.append(event)
            raise RuntimeError("boom")
        original(event)  # type: ignore[arg-type]

    monkeypatch.setattr(broadcast, "_dispatch", flaky)
    async with broadcast.subscribe("flaky") as subscriber:
        await broadcast.publish("flaky", "lost")
        await broadcast.publish("flaky", "kept")
        assert await get(subscriber) == "kept"
    assert len(failures) == 1


async def test_kill_and_restart_resyncs_and_redelivers(own_redis: EmbeddedRedis) -> None:
    backend = make_backend(own_redis.url)
    bus = BoundedBroadcast(backend=backend)
    callbacks: list[int] = []
    backend.add_reconnect_callback(lambda: callbacks.append(backend.reconnects))
    await bus.connect()
    try:
        async with (
            bus.subscribe("a") as a1,
            bus.subscribe("a") as a2,
            bus.subscribe("b") as b1,
        ):
            await bus.publish("a", "before")
            await bus.publish("b", "before")
            for subscriber in (a1, a2, b1):
                assert await get(subscriber) == "before"

            reconnected = backend.reconnected
            own_redis.kill()
            with pytest.raises(RedisConnectionError):
                await bus.publish("a", "during")
            own_redis.start()
            await asyncio.wait_for(reconnected.wait(), 10.0)
            assert backend.reconnects == 1 and callbacks == [1]
            assert backend.reconnected is not reconnected and not backend.reconnected.is_set()

            # Resubscription is confirmed before the reconnect is announced: the first
            # publish after it is delivered, after exactly one Resync per subscriber.
            await bus.publish("a", "after")
            await bus.publish("b", "after")
            for subscriber in (a1, a2, b1):
                with pytest.raises(Resync):
                    await get(subscriber)
                assert await get(subscriber) == "after"
            await bus.publish("a", "again")
            assert await get(a1) == "again" and await get(a2) == "again"
            assert await numsub(own_redis.url, "a") == 1
    finally:
        await bus.disconnect()


async def test_kill_and_restart_delivery_by_polling(own_redis: EmbeddedRedis) -> None:
    """Without waiting for the reconnect signal: keep publishing until one gets through."""
    bus = BoundedBroadcast(backend=make_backend(own_redis.url))
    await bus.connect()
    try:
        async with bus.subscribe("poll") as subscriber:
            own_redis.kill()
            own_redis.start()
            resyncs = 0
            received: str | None = None
            deadline = asyncio.get_running_loop().time() + 10.0
            n = 0
            while received is None:
                assert asyncio.get_running_loop().time() < deadline, "nothing delivered"
                with suppress(RedisConnectionError):
                    await bus.publish("poll", f"p{n}")
                n += 1
                try:
                    received = await get(subscriber, 0.1)
                except Resync:
                    resyncs += 1
                except TimeoutError:
                    pass
            assert resyncs == 1
            assert received.startswith("p")
    finally:
        await bus.disconnect()


async def test_backend_queue_is_bounded_and_drops_oldest(shared_redis: EmbeddedRedis) -> None:
    backend = make_backend(shared_redis.url, queue_size=5)
    await backend.connect()
    try:
        await backend.subscribe("bounded")
        for n in range(20):
            await backend.publish("bounded", str(n))
        deadline = time.monotonic() + TIMEOUT
        while backend.dropped < 15:
            assert time.monotonic() < deadline, f"dropped={backend.dropped}"
            await asyncio.sleep(0.01)
        assert backend.dropped == 15 and backend.qsize() == 5
        events = [await asyncio.wait_for(backend.next_published(), 1.0) for _ in range(6)]
        assert isinstance(events[0], Gap) and events[0].message == "overflow"
        assert [e.message for e in events[1:]] == ["15", "16", "17", "18", "19"]
        assert backend.qsize() == 0
    finally:
        await backend.disconnect()


async def test_a_lost_node_is_replaced_by_a_fallback(tmp_path: Path) -> None:
    """On Redis Cluster every node serves PUBLISH/SUBSCRIBE for every channel: when the
    node in use is lost, the reader resubscribes on the next and publishing moves on too.
    (Two independent servers play two cluster nodes: each sees only its own traffic.)"""
    with (
        _server(tmp_path / "first") as first,
        _server(tmp_path / "second") as second,
    ):
        backend = make_backend(first.url)
        backend.add_fallbacks([second.url, first.url])  # known nodes are not added twice
        assert backend.urls == [first.url, second.url]
        bus = BoundedBroadcast(backend=backend)
        await bus.connect()
        try:
            async with bus.subscribe("lot") as subscriber:
                await bus.publish("lot", "on the first node")
                assert await get(subscriber) == "on the first node"
                reconnected = backend.reconnected
                first.kill()
                await asyncio.wait_for(reconnected.wait(), 10.0)
                assert await numsub(second.url, "lot") == 1
                await bus.publish("lot", "on the second node")  # the first is down
                with pytest.raises(Resync):
                    await get(subscriber)
                assert await get(subscriber) == "on the second node"
        finally:
            await bus.disconnect()
