"""One live feed per auction and process, shared by every subscriber of that auction.

A feed holds the auction's one bus subscription, reads each live event once, fills gaps
from the auction's event stream once, and presents each event once (`_View.present`);
then it hands the event to every member whose last sequence is below it. Before, each
subscriber did all of that itself: thousands of subscribers of one auction decoded,
checked and presented the same event thousands of times (docs/performance.md).

Joining without gap or duplicate (`follow`): a subscriber first replays from its `since`
up to the feed's last sequence from the stream (PostgreSQL for what Redis no longer
has); the feed may move on meanwhile, so it replays again until it has caught up, and
then becomes a member in the same step as the last check (no `await` in between). From
then on the feed delivers every event after the member's last sequence, and skips what
the member already replayed.

Members must not block the feed: `deliver` is synchronous. A member that cannot keep up
ends itself (bounded queue); `SubscriberTooSlow` tells its client to resume with the last
sequence it saw. A feed the bus cut off ends its members the same way. At shutdown
(`AuctionFeeds.close`) every member is ended with `ServerShuttingDown`, which says the
same, and no new one joins.

This module knows nothing about GraphQL; members decide what an event becomes.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager, suppress

import orjson

from adapters import metrics
from domain.events import Ended, PublicEvent, parse_event
from realtime.broadcast import Resync, SlowConsumer, Unsubscribed
from realtime.events import channel
from realtime.stream import (
    EventSource,
    ServerShuttingDown,
    SubscriberTooSlow,
    Subscription,
    View,
    backlog,
    current_sequence,
)
from storage.tables import Auction

log = logging.getLogger("gavel.feed")

QUEUE_LIMIT = 256  # events a queued member may fall behind before it is cut off


def too_slow(seen: int) -> SubscriberTooSlow:
    return SubscriberTooSlow(
        "this subscription fell too far behind and was ended; "
        f"resubscribe with sinceSequence: {seen}"
    )


def shutting_down(seen: int | None) -> ServerShuttingDown:
    resume = "the same sinceSequence" if seen is None else f"sinceSequence: {seen}"
    return ServerShuttingDown(f"the server is shutting down; subscribe again with {resume}")


class FeedMember:
    """A subscriber of a feed. `deliver` must not block: the feed calls it for every
    member in turn, in sequence order, each event once."""

    def __init__(self) -> None:
        self.last = 0  # the last sequence this member has (replayed or delivered)
        self.seen = 0  # the last sequence its client surely got: where it resumes
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def deliver(self, event: PublicEvent) -> None:
        raise NotImplementedError

    def end(self, error: BaseException | None = None) -> None:
        """Stop this member; `done` raises `error` (None: it ends normally)."""
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)
            self.done.exception()  # retrieved: an ended member nobody awaits stays quiet

    def cut_off(self) -> None:
        self.end(too_slow(self.seen))

    def shut_down(self) -> None:
        """The process is shutting down: end with where to resume."""
        self.end(shutting_down(self.seen))


class QueuedMember(FeedMember):
    """A member read by awaiting `next()`: a bounded queue between feed and reader."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self.queue: collections.deque[PublicEvent] = collections.deque()
        self.wakeup = asyncio.Event()

    def deliver(self, event: PublicEvent) -> None:
        if len(self.queue) >= self.limit:
            self.cut_off()
            return
        self.queue.append(event)
        self.wakeup.set()

    def end(self, error: BaseException | None = None) -> None:
        super().end(error)
        self.wakeup.set()

    async def next(self) -> PublicEvent | None:
        """The next event; None once the feed ended normally; raises its error."""
        while not self.queue:
            if self.done.done():
                self.queue.clear()
                await self.done  # raises the member's error
                return None
            self.wakeup.clear()
            await self.wakeup.wait()
        if self.done.done() and self.done.exception() is not None:
            await self.done  # cut off: what is queued is not delivered
        event = self.queue.popleft()
        self.seen = event.sequence
        return event


class AuctionFeed:
    def __init__(self, source: EventSource, auction: Auction) -> None:
        self.source = source
        self.auction = auction
        self.view = View(auction)
        self.last = 0
        # A dict as an ordered set: thousands of members leave one by one in O(1) each.
        self.members: dict[FeedMember, None] = {}
        self.users = 0  # joined and joining subscribers; the feed stops at zero
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run(), name=f"feed {auction.id}")

    @property
    def ended(self) -> bool:
        return self.task.done()

    def _publish(self, event: PublicEvent) -> None:
        seq = event.sequence
        delivered = 0
        for member in tuple(self.members):  # a member may end (and leave) while delivered
            if member.last < seq:
                member.last = seq
                member.deliver(event)
                delivered += 1
        if delivered:  # one add per event, not one per subscriber
            metrics.EVENTS_DELIVERED.inc(delivered)

    async def read_after(self, after: int) -> AsyncGenerator[PublicEvent]:
        """The stored events after sequence `after`, each once, in order, presented."""
        async with aclosing(backlog(self.source, self.auction.id, after)) as raws:
            async for raw in raws:
                if raw.sequence > after:
                    after = raw.sequence
                    yield self.view.present(raw)

    async def _fill(self) -> None:
        """Every event after `last` from the stream (gaps, resyncs, a sealed end)."""
        async with aclosing(self.read_after(self.last)) as events:
            async for event in events:
                self.last = event.sequence
                self._publish(event)

    async def _follow_bus(self, subscription: Subscription) -> None:
        while True:
            try:
                message = await subscription.get()
            except Resync:
                await self._fill()  # events may have been lost: read the stream
                continue
            live = parse_event(orjson.loads(message.message))
            seq = live.sequence
            if seq <= self.last:
                continue  # already delivered (filled in before it came live)
            # A gap, or a sealed auction's end (the bus form lacks the bids that decide
            # it): the stream has every event up to this one and beyond.
            if seq > self.last + 1 or (self.view.type.sealed and isinstance(live, Ended)):
                await self._fill()
                if seq <= self.last:
                    continue
                log.warning(
                    "auction %s: events %d..%d are neither in Redis nor in PostgreSQL",
                    self.auction.id,
                    self.last + 1,
                    seq - 1,
                )
            self.last = seq
            self._publish(self.view.present(live))

    async def _run(self) -> None:
        error: BaseException | None = None
        slow = False
        try:
            async with self.source.bus.subscribe(channel(self.auction.id)) as subscription:
                # Subscribed first: from here on nothing published can be missed.
                self.last = await current_sequence(self.source, self.auction)
                self.ready.set_result(None)
                await self._follow_bus(subscription)
        except Unsubscribed:
            pass  # the bus is shutting down
        except SlowConsumer:
            slow = True
        except Exception as err:  # each member's subscriber reports it to its client
            log.exception("the live feed of auction %s failed", self.auction.id)
            error = err
        finally:
            if not self.ready.done():
                self.ready.set_exception(error or RuntimeError("the live feed stopped"))
                self.ready.exception()  # retrieved: joiners still get it when they await
            for member in tuple(self.members):
                if slow:
                    member.cut_off()
                else:
                    member.end(error)
            self.members.clear()


class Joining:
    """A subscriber on its way into a feed: `replay` yields what it missed, then joins."""

    def __init__(self, feed: AuctionFeed, member: FeedMember) -> None:
        self.feed = feed
        self.member = member

    async def replay(self, since: int | None) -> AsyncGenerator[PublicEvent]:
        """Events after `since` (None: none, from now on) up to the feed's; then the
        member joins the feed, in the same step as the check that it caught up."""
        feed, member = self.feed, self.member
        last = feed.last if since is None else since
        while last < feed.last:  # the feed may move on while we replay: again until equal
            async with aclosing(feed.read_after(last)) as events:
                async for event in events:
                    if member.done.done():
                        return  # shut down while it replayed
                    last = member.seen = event.sequence
                    yield event
        member.last = member.seen = last
        if member.done.done():
            return
        if feed.ended:  # it stopped while we replayed: it would deliver nothing more
            member.cut_off()
            return
        feed.members[member] = None


class AuctionFeeds:
    """The live feeds of this process, one per auction with subscribers."""

    def __init__(self, source: EventSource) -> None:
        self.source = source
        self.feeds: dict[uuid.UUID, AuctionFeed] = {}
        self.closed = False
        self.members: set[FeedMember] = set()  # joined or joining, of every feed

    def close(self) -> None:
        """Shutdown: end every member (`FeedMember.shut_down`), joined or joining; refuse
        new ones (`ServerShuttingDown`). Each feed stops when its last member leaves."""
        self.closed = True
        for member in tuple(self.members):
            member.shut_down()

    @asynccontextmanager
    async def membership(self, auction: Auction, member: FeedMember) -> AsyncIterator[Joining]:
        """The auction's feed (started if needed) for `member`, which leaves it on exit.
        Raises ServerShuttingDown once the feeds are closed."""
        if self.closed:
            raise shutting_down(None)
        feed = self.feeds.get(auction.id)
        if feed is None or feed.ended:
            feed = self.feeds[auction.id] = AuctionFeed(self.source, auction)
        feed.users += 1
        metrics.SUBSCRIPTIONS_OPEN.inc()
        self.members.add(member)
        try:
            await asyncio.shield(feed.ready)
            yield Joining(feed, member)
        finally:
            metrics.SUBSCRIPTIONS_OPEN.dec()
            self.members.discard(member)
            feed.members.pop(member, None)
            member.end()  # whatever it still queued is for nobody now
            feed.users -= 1
            if feed.users == 0:
                if self.feeds.get(auction.id) is feed:
                    del self.feeds[auction.id]
                feed.task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await feed.task


async def auction_events(
    source: EventSource, auction: Auction, since: int | None, *, feeds: AuctionFeeds | None = None
) -> AsyncGenerator[PublicEvent]:
    """Events of `auction` after `since` (None: from now on), then live, until the feed
    ends; through `feeds` (shared) or a feed of its own."""
    member = QueuedMember()
    async with (feeds or AuctionFeeds(source)).membership(auction, member) as joining:
        async with aclosing(joining.replay(since)) as replayed:
            async for event in replayed:
                yield event
        while (live := await member.next()) is not None:
            yield live
