"""The bus's Redis pub/sub backend for broadcaster (realtime/broadcast.py uses it).

broadcaster 0.3.1's stock `redis://` backend cannot be used with redis-py 8.x: it
subscribes after its listener has started (so it never delivers), never reconnects and
buffers without bound. `RedisPubSubBackend` is one dedicated pub/sub connection read by
one task. Subscribing waits for the server's confirmation, so a message published after
`subscribe()` returned is delivered. On any connection error the reader reconnects with
exponential backoff and re-subscribes every tracked channel; once they are all confirmed
it counts the reconnect, wakes `reconnected` / the registered callbacks and puts a `Gap`
marker on its queue. Its queue is bounded: when full, the oldest event is dropped
(counted in `dropped`) and a `Gap` marker is queued too. `sharded=True` uses
SSUBSCRIBE/SPUBLISH.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis import asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

GAP_RECONNECTED = "reconnected"
GAP_OVERFLOW = "overflow"


class Gap(Event):
    """In-band marker from the backend: events may have been lost before this point.

    `message` is the reason (`"reconnected"` or `"overflow"`); `channel` is empty, so a plain
    `broadcaster.Broadcast` simply finds no subscriber for it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(channel="", message=reason)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class RedisPubSubBackend(BroadcastBackend):
    """broadcaster backend over `redis.asyncio`: reconnecting, bounded, sharded-ready."""

    def __init__(
        self,
        url: str,
        *,
        fallback_urls: Sequence[str] = (),
        queue_size: int = 10_000,
        reconnect_delay: float = 0.2,
        max_reconnect_delay: float = 5.0,
        sharded: bool = False,
        health_check_interval: float = 5.0,
        subscribe_timeout: float = 5.0,
        connect_timeout: float = 10.0,
    ) -> None:
        # BroadcastBackend.__init__ only raises NotImplementedError: not called.
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if reconnect_delay <= 0 or max_reconnect_delay < reconnect_delay:
            raise ValueError("need 0 < reconnect_delay <= max_reconnect_delay")
        self.url = url
        # Redis Cluster forwards every PUBLISH to all nodes, so any node serves the bus:
        # when one is lost the reader and the publisher move on to the next.
        self.urls = [url, *(u for u in fallback_urls if u != url)]
        self._node = 0  # index in `urls` of the node in use
        self.queue_size = queue_size
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.sharded = sharded
        self.health_check_interval = health_check_interval
        self.subscribe_timeout = subscribe_timeout
        self.connect_timeout = connect_timeout
        if sharded:
            self._subscribe_cmd, self._unsubscribe_cmd, self._publish_cmd = (
                "SSUBSCRIBE",
                "SUNSUBSCRIBE",
                "SPUBLISH",
            )
            self._message_kind, self._ack_kind = b"smessage", b"ssubscribe"
        else:
            self._subscribe_cmd, self._unsubscribe_cmd, self._publish_cmd = (
                "SUBSCRIBE",
                "UNSUBSCRIBE",
                "PUBLISH",
            )
            self._message_kind, self._ack_kind = b"message", b"subscribe"
        # Per node: a connection factory for the pub/sub connection (a fresh one per
        # attempt, never pooled) and a normal client for PUBLISH.
        self._pools: list[ConnectionPool] = []
        self._publishers: list[aioredis.Redis] = []
        for node in self.urls:
            self._add_node(node)
        self._channels: set[str] = set()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._buffer: deque[Event] = deque()
        self._gap: str | None = None
        self._wakeup = asyncio.Event()
        self._conn: AbstractConnection | None = None
        self._live = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._reconnected = asyncio.Event()
        self._callbacks: list[Callable[[], object]] = []
        self.reconnects = 0
        self.dropped = 0

    def _add_node(self, url: str) -> None:
        self._pools.append(
            ConnectionPool.from_url(
                url,
                socket_connect_timeout=2.0,
                socket_timeout=max(5.0, self.health_check_interval),
            )
        )
        self._publishers.append(
            aioredis.Redis.from_url(
                url,
                socket_connect_timeout=2.0,
                socket_timeout=5.0,
                retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), retries=2),
            )
        )

    def add_fallbacks(self, urls: Sequence[str]) -> None:
        """More nodes to move to when the one in use is lost (a Redis Cluster's others)."""
        for url in urls:
            if url not in self.urls:
                self.urls.append(url)
                self._add_node(url)

    # -- public state -------------------------------------------------------------------

    @property
    def channels(self) -> frozenset[str]:
        """Channels currently tracked (re-subscribed after every reconnect)."""
        return frozenset(self._channels)

    @property
    def connected(self) -> bool:
        """True while the pub/sub connection is up and every channel re-subscribed."""
        return self._live.is_set()

    @property
    def reconnected(self) -> asyncio.Event:
        """Set by the next successful reconnect; a fresh event replaces it after each one."""
        return self._reconnected

    def add_reconnect_callback(self, callback: Callable[[], object]) -> None:
        """Call `callback()` (synchronously, in the reader task) after each reconnect."""
        self._callbacks.append(callback)

    def remove_reconnect_callback(self, callback: Callable[[], object]) -> None:
        self._callbacks.remove(callback)

    def qsize(self) -> int:
        return len(self._buffer)

    # -- BroadcastBackend ---------------------------------------------------------------

    async def connect(self) -> None:
        """Start the reader; wait until the first connection is up (or raise)."""
        if self._reader is not None:
            return
        self._reader = asyncio.create_task(self._run(), name=f"redis-pubsub-reader {self.url}")
        try:
            await asyncio.wait_for(self._live.wait(), self.connect_timeout)
        except TimeoutError:
            await self.disconnect()
            raise ConnectionError(f"cannot reach Redis at {self.url}") from None

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        for publisher in self._publishers:
            await publisher.aclose()
        for pool in self._pools:
            await pool.disconnect()

    async def subscribe(self, channel: str) -> None:
        """Track `channel` and return once the server confirmed the subscription.

        While Redis is unreachable this waits up to `subscribe_timeout` and then returns
        anyway: the channel stays tracked, is subscribed on reconnect, and the reconnect's
        `Gap` tells consumers that they may have missed events.
        """
        self._channels.add(channel)
        future = self._pending.get(channel)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self._pending[channel] = future
        conn = self._conn
        if conn is not None:
            try:
                await conn.send_command(self._subscribe_cmd, channel, check_health=False)
            except Exception as exc:  # the reader reconnects and re-subscribes
                log.warning("SUBSCRIBE %s not sent (%s); waiting for reconnect", channel, exc)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.subscribe_timeout)
        except TimeoutError:
            log.warning("no confirmation for SUBSCRIBE %s yet; it is retried on reconnect", channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._pending.pop(channel, None)
        conn = self._conn
        if conn is not None:
            try:
                await conn.send_command(self._unsubscribe_cmd, channel, check_health=False)
            except Exception as exc:  # not re-subscribed after the reconnect anyway
                log.debug("UNSUBSCRIBE %s not sent: %s", channel, exc)

    async def publish(self, channel: str, message: Any) -> None:
        """PUBLISH through the node in use, or the next ones while nodes are unreachable."""
        start = self._node
        for step in range(len(self.urls)):
            publisher = self._publishers[(start + step) % len(self.urls)]
            execute: Callable[..., Awaitable[Any]] = publisher.execute_command  # untyped
            try:
                await execute(self._publish_cmd, channel, message)
                return
            except (ConnectionError, TimeoutError, RedisConnectionError, RedisTimeoutError):
                if step == len(self.urls) - 1:
                    raise

    async def next_published(self) -> Event:
        """The next event, or a `Gap` first if events may have been lost."""
        while True:
            if self._gap is not None:
                reason, self._gap = self._gap, None
                return Gap(reason)
            if self._buffer:
                return self._buffer.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()

    # -- reader -------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.reconnect_delay
        ever_connected = False
        while True:
            make: Callable[[], AbstractConnection] = self._pools[self._node].make_connection
            conn = make()
            open_connection: Callable[[], Awaitable[None]] = conn.connect  # untyped in redis-py
            try:
                await open_connection()
                await self._resubscribe(conn)
            except Exception as exc:  # refused, reset, timeout, protocol error ...
                self._conn = None
                await conn.disconnect(nowait=True)
                wait = delay * random.uniform(0.75, 1.0)
                log.warning(
                    "Redis pub/sub connect to %s failed (%s); retrying in %.2fs",
                    self.urls[self._node],
                    exc,
                    wait,
                )
                self._node = (self._node + 1) % len(self.urls)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.max_reconnect_delay)
                continue
            except asyncio.CancelledError:
                self._conn = None
                await conn.disconnect(nowait=True)
                raise
            delay = self.reconnect_delay
            if ever_connected:
                self._on_reconnected()
            ever_connected = True
            self._live.set()
            try:
                await self._read_loop(conn)
            except Exception as exc:
                log.warning("Redis pub/sub connection lost (%s); reconnecting", exc)
                self._node = (self._node + 1) % len(self.urls)
            finally:
                self._live.clear()
                self._conn = None
                await conn.disconnect(nowait=True)

    async def _resubscribe(self, conn: AbstractConnection) -> None:
        """Subscribe every tracked channel on `conn` and read until all are confirmed."""
        # No await between the snapshot and publishing `conn`: a channel added later is
        # sent by `subscribe()` itself on this connection.
        channels = sorted(self._channels)
        self._conn = conn
        if not channels:
            return
        await conn.send_command(self._subscribe_cmd, *channels, check_health=False)
        remaining = set(channels)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.subscribe_timeout
        while remaining:
            left = deadline - loop.time()
            response = None
            if left > 0:
                response = await conn.read_response(
                    timeout=left, disconnect_on_error=False, push_request=True
                )
            if response is None:
                raise RedisTimeoutError(f"{len(remaining)} subscriptions not confirmed")
            acked = self._handle(response)
            if acked is not None:
                remaining.discard(acked)

    async def _read_loop(self, conn: AbstractConnection) -> None:
        """Read until the connection fails; PING when idle to detect dead peers."""
        ping_outstanding = False
        while True:
            response = await conn.read_response(
                timeout=self.health_check_interval, disconnect_on_error=False, push_request=True
            )
            if response is None:
                if ping_outstanding:
                    raise RedisTimeoutError("no answer to PING")
                await conn.send_command("PING", check_health=False)
                ping_outstanding = True
                continue
            ping_outstanding = False
            self._handle(response)

    def _handle(self, response: Any) -> str | None:
        """Queue a message; resolve a subscribe confirmation (returns its channel)."""
        if not isinstance(response, list) or len(response) < 2:
            return None  # PONG outside subscribed mode
        kind = response[0]
        if kind == self._message_kind and len(response) >= 3:
            channel = _text(response[1])
            if channel in self._channels:  # late messages after unsubscribe are dropped
                self._push(Event(channel, _text(response[2])))
        elif kind == self._ack_kind:
            channel = _text(response[1])
            future = self._pending.get(channel)
            if future is not None:
                del self._pending[channel]
                if not future.done():
                    future.set_result(None)
            return channel
        return None

    def _push(self, event: Event) -> None:
        if len(self._buffer) >= self.queue_size:
            self._buffer.popleft()
            if self.dropped == 0 or self._gap is None:
                log.warning("broadcast queue full (%d); dropping oldest events", self.queue_size)
            self.dropped += 1
            self._gap = self._gap or GAP_OVERFLOW
        self._buffer.append(event)
        self._wakeup.set()

    def _on_reconnected(self) -> None:
        self.reconnects += 1
        log.info("Redis pub/sub reconnected (%d channels)", len(self._channels))
        self._gap = GAP_RECONNECTED
        self._wakeup.set()
        event, self._reconnected = self._reconnected, asyncio.Event()
        event.set()
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                log.exception("reconnect callback %r failed", callback)
