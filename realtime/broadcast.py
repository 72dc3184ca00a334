"""Event fan-out: broadcaster's API with bounded subscriber queues.

`BoundedBroadcast` is `broadcaster.Broadcast` with bounded per-subscriber queues, over our
own Redis pub/sub backend (realtime/pubsub_backend.py: reconnects and resubscribes,
bounded, marks gaps). A subscriber whose queue overflows is cut off (`SlowConsumer` on
its next `get()`); a `Gap` from the backend makes every subscriber's `get()` raise
`Resync` once, in order, so the consumer reloads its state (e.g. replays an auction's
event stream by sequence number) and then keeps reading.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlparse

from broadcaster import Broadcast, BroadcastBackend, Event
from broadcaster._base import Subscriber, Unsubscribed

from realtime.pubsub_backend import Gap, RedisPubSubBackend

__all__ = [
    "BoundedBroadcast",
    "BoundedSubscriber",
    "Gap",
    "RedisPubSubBackend",
    "Resync",
    "SlowConsumer",
    "Unsubscribed",
]

log = logging.getLogger(__name__)


class SlowConsumer(Exception):
    """The subscriber fell `subscriber_queue_size` events behind and was cut off."""


class Resync(Exception):
    """Events may have been missed (Redis reconnect or overflow): reload state, read on."""


class _ResyncMarker:
    pass


_RESYNC = _ResyncMarker()


class BoundedSubscriber(Subscriber):
    """One subscription: `await get()` or `async for`; see `SlowConsumer` and `Resync`."""

    def __init__(self, channel: str, maxsize: int) -> None:
        # Subscriber's unbounded queue is not used.
        self.channel = channel
        self.maxsize = maxsize
        self._items: deque[Event | _ResyncMarker] = deque()
        self._events = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        self.cut_off = False

    def qsize(self) -> int:
        return self._events

    def _offer(self, event: Event) -> bool:
        """Queue without waiting; returns True if this event cut the subscriber off."""
        if self._closed or self.cut_off:
            return False
        if self._events >= self.maxsize:
            self.cut_off = True
            self._items.clear()
            self._events = 0
            self._wakeup.set()
            return True
        self._items.append(event)
        self._events += 1
        self._wakeup.set()
        return False

    def _resync(self) -> None:
        if self._closed or self.cut_off:
            return
        if self._items and isinstance(self._items[-1], _ResyncMarker):
            return  # back-to-back gaps: one Resync covers both
        self._items.append(_RESYNC)
        self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def get(self) -> Event:
        """Next event. Raises `SlowConsumer` (for good), `Resync` (once per gap, then
        continue reading) or `Unsubscribed` (after the subscription ended)."""
        while True:
            if self.cut_off:
                raise SlowConsumer(f"subscriber to {self.channel!r} fell {self.maxsize} behind")
            if self._items:
                item = self._items.popleft()
                if isinstance(item, _ResyncMarker):
                    raise Resync(self.channel)
                self._events -= 1
                return item
            if self._closed:
                raise Unsubscribed()
            self._wakeup.clear()
            await self._wakeup.wait()

    async def __aiter__(self) -> AsyncGenerator[Event, None]:
        """Yield events until unsubscribed; `Resync`/`SlowConsumer` propagate (a new
        `async for` after a `Resync` carries on where this one stopped)."""
        try:
            while True:
                yield await self.get()
        except Unsubscribed:
            return


class BoundedBroadcast(Broadcast):
    """`broadcaster.Broadcast` with bounded subscriber queues and resync markers.

    `redis://` / `rediss://` URLs use `RedisPubSubBackend`; other URLs go to broadcaster.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        backend: BroadcastBackend | None = None,
        subscriber_queue_size: int = 1_000,
    ) -> None:
        if subscriber_queue_size < 1:
            raise ValueError("subscriber_queue_size must be at least 1")
        super().__init__(url, backend=backend)
        self.subscriber_queue_size = subscriber_queue_size
        self.slow_consumers = 0
        self._channel_subscribers: dict[str, set[BoundedSubscriber]] = {}
        self._ready: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def backend(self) -> BroadcastBackend:
        return self._backend

    def _create_backend(self, url: str) -> BroadcastBackend:
        if urlparse(url).scheme in ("redis", "rediss"):
            return RedisPubSubBackend(url)
        return super()._create_backend(url)

    async def connect(self) -> None:
        await self._backend.connect()
        self._task = asyncio.create_task(self._listener(), name="broadcast-listener")

    async def disconnect(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        for subscribers in self._channel_subscribers.values():
            for subscriber in subscribers:
                subscriber._close()
        await self._backend.disconnect()

    def subscriber_count(self, channel: str) -> int:
        return len(self._channel_subscribers.get(channel, ()))

    async def _listener(self) -> None:
        while True:
            try:
                event = await self._backend.next_published()
            except Exception:
                log.exception("broadcast backend failed; retrying")
                await asyncio.sleep(0.1)
                continue
            try:
                self._dispatch(event)
            except Exception:
                log.exception("broadcast dispatch failed for %r", event)
            # A burst is already buffered, so next_published() would not suspend: let the
            # consumers run between events instead of filling their queues in one go.
            await asyncio.sleep(0)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Gap):
            for subscribers in self._channel_subscribers.values():
                for subscriber in subscribers:
                    subscriber._resync()
            return
        for subscriber in list(self._channel_subscribers.get(event.channel, ())):
            if subscriber._offer(event):
                self.slow_consumers += 1
                log.warning("slow subscriber to %r cut off", event.channel)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[BoundedSubscriber]:
        subscriber = BoundedSubscriber(channel, self.subscriber_queue_size)
        subscribers = self._channel_subscribers.get(channel)
        if subscribers is None:
            subscribers = self._channel_subscribers[channel] = set()
            # One backend subscription per channel; later subscribers wait for the same one.
            self._ready[channel] = asyncio.ensure_future(self._backend.subscribe(channel))
        ready = self._ready[channel]
        subscribers.add(subscriber)
        try:
            await asyncio.shield(ready)
            yield subscriber
        finally:
            subscribers.discard(subscriber)
            subscriber._close()
            if not subscribers and self._channel_subscribers.get(channel) is subscribers:
                del self._channel_subscribers[channel]
                del self._ready[channel]
                await self._backend.unsubscribe(channel)
