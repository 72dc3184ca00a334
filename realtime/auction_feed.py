"""The category feed's live source (`auctionFeed`, issue 16 item 7): one LISTEN
connection per app process, fanned out to this process's subscribers.

PostgreSQL announces on `gavel_auction_feed`, with the payload
`<auction id>:<category>:<PUBLISHED|ENDING_SOON>`:
- PUBLISHED from the trigger of migration 0013, in the transaction that makes an auction
  public (a draft published, or a row inserted SCHEDULED or ACTIVE), whoever does it;
- ENDING_SOON from `announce_ending_soon`, which the ending-soon job runs
  (services/notifications/ending_soon.py): once per auction (`auction_feed_marks`),
  whichever process decides it.
NOTIFY is delivered on commit only, so a draft or a rolled-back publish never shows.

Live only: nothing is replayed, and a notification sent while the listener reconnects is
missed (docs/search.md). Each subscriber has a bounded queue; one that falls behind is
cut off with SLOW_CONSUMER rather than buffered. An auction is read once per event and
process however many subscribers want it (`load`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from realtime.background import StopSignal
from realtime.pg_listen import Listener

log = logging.getLogger("gavel.feed")

CHANNEL = "gavel_auction_feed"
KINDS = ("PUBLISHED", "ENDING_SOON")

# Active auctions entering the window, each announced once: the mark's primary key makes
# a second process's insert (or a later pass's) a no-op, and only new marks notify.
_ANNOUNCE = text(
    """
    WITH due AS (
        SELECT a.id, i.category FROM auctions a JOIN items i ON i.id = a.item_id
        WHERE a.status = 'ACTIVE' AND a.ends_at > :now AND a.ends_at <= :until
          AND NOT EXISTS (SELECT 1 FROM auction_feed_marks m WHERE m.auction_id = a.id)
        ORDER BY a.ends_at, a.id
        LIMIT :limit
    ),
    marked AS (
        INSERT INTO auction_feed_marks (auction_id, ending_soon_at)
        SELECT id, :now FROM due
        ON CONFLICT (auction_id) DO NOTHING
        RETURNING auction_id
    )
    SELECT pg_notify(:channel, d.id::text || ':' || d.category || ':' || :kind)
    FROM marked m JOIN due d ON d.id = m.auction_id
    """
)


async def announce_ending_soon(
    conn: Any, now: datetime, until: datetime, *, limit: int = 1000
) -> int:
    """In the caller's transaction (an SQLAlchemy connection): announce ENDING_SOON for the
    active auctions ending in (now, until] not announced before; returns how many."""
    found = await conn.execute(
        _ANNOUNCE,
        {"now": now, "until": until, "limit": limit, "channel": CHANNEL, "kind": "ENDING_SOON"},
    )
    return len(found.all())


@dataclass(frozen=True, slots=True)
class FeedEvent:
    auction_id: uuid.UUID
    category: str
    kind: str  # one of KINDS


def parse(payload: str) -> FeedEvent | None:
    auction, _, rest = payload.partition(":")
    category, _, kind = rest.rpartition(":")
    try:
        auction_id = uuid.UUID(auction)
    except ValueError:
        return None
    return FeedEvent(auction_id, category, kind) if kind in KINDS else None


class FeedClosed(Exception):
    """This subscriber's feed ended: `slow` when it fell behind, else the process stops."""

    def __init__(self, slow: bool) -> None:
        super().__init__("slow" if slow else "closed")
        self.slow = slow


class FeedSubscriber:
    """One subscription: events of `categories` (None: all), with the shared load of each
    event's auction. `next()` raises FeedClosed when cut off or shut down."""

    def __init__(self, categories: frozenset[str] | None, size: int) -> None:
        self.categories = categories
        self._queue: asyncio.Queue[tuple[FeedEvent, asyncio.Future[Any]] | None] = asyncio.Queue(
            size
        )
        self.slow = False

    def wants(self, event: FeedEvent) -> bool:
        return self.categories is None or event.category in self.categories

    def offer(self, event: FeedEvent, row: asyncio.Future[Any]) -> bool:
        """Queue an event; False (and the subscriber ends) when its queue is full."""
        try:
            self._queue.put_nowait((event, row))
            return True
        except asyncio.QueueFull:
            self.slow = True
            self.end()
            return False

    def end(self) -> None:
        while not self._queue.empty():  # room for the end mark, ahead of nothing stale
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self) -> tuple[FeedEvent, Any]:
        """The next event and its auction as loaded (None: gone, e.g. deleted)."""
        item = await self._queue.get()
        if item is None:
            raise FeedClosed(self.slow)
        event, row = item
        return event, await row


class AuctionFeed:
    """The process's category feed. `load(auction_id)` reads an auction for delivery (the
    composition root passes the catalog's public read)."""

    def __init__(
        self,
        dsn: str,
        load: Callable[[uuid.UUID], Awaitable[Any]],
        *,
        queue_size: int = 100,
        reconnect_seconds: float = 1.0,
        ping_seconds: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.load = load
        self.queue_size = queue_size
        self.reconnect_seconds = reconnect_seconds
        self.ping_seconds = ping_seconds
        self.stopping = StopSignal()
        self.closed = False
        self._subscribers: set[FeedSubscriber] = set()
        self._listener = Listener(
            dsn,
            CHANNEL,
            self._notified,
            stopping=self.stopping,
            application_name="gavel-auction-feed",
            log=log,
            ping_seconds=ping_seconds,
            reconnect_seconds=reconnect_seconds,
        )
        self.listening = self._listener.listening

    @contextlib.contextmanager
    def subscribe(self, categories: frozenset[str] | None) -> Iterator[FeedSubscriber]:
        subscriber = FeedSubscriber(categories, self.queue_size)
        if self.closed:
            subscriber.end()
        else:
            self._subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def deliver(self, event: FeedEvent) -> None:
        wanting = [s for s in self._subscribers if s.wants(event)]
        if not wanting:
            return
        row = asyncio.ensure_future(self._load(event.auction_id))
        for subscriber in wanting:
            if not subscriber.offer(event, row):
                self._subscribers.discard(subscriber)
                log.info("auction feed subscriber too slow: cut off")

    async def _load(self, auction_id: uuid.UUID) -> Any:
        try:
            return await self.load(auction_id)
        except Exception as err:  # a failed read skips the event for everyone; never raises
            log.warning("auction feed: reading %s failed: %r", auction_id, err)
            return None

    def _notified(self, payload: str) -> None:
        event = parse(payload)
        if event is None:
            log.warning("auction feed: malformed payload %r", payload)
            return
        self.deliver(event)

    def close(self) -> None:
        """Shutdown's stop step: every feed stream of this process ends (SHUTTING_DOWN)."""
        self.closed = True
        for subscriber in self._subscribers:
            subscriber.end()
        self._subscribers.clear()

    def stop(self) -> None:
        self.stopping.set()
        self._listener.interrupt()

    async def run(self) -> None:
        """Listen until stopped, reconnecting after a lost connection."""
        await self._listener.run()
