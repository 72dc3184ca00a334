"""The outbox persister: drains each live auction's event stream into PostgreSQL.

Every app process runs one. It reads the outboxes through their consumer group
(realtime/outbox_stream.py: each entry goes to one consumer; a crashed consumer's are
reclaimed), writes the events (realtime/event_records.py: idempotent, so a replay changes
nothing) and then acknowledges them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from adapters import metrics
from domain.events import AnyEvent
from realtime.background import StopSignal, cancelling
from realtime.event_records import record, record_ongoing
from realtime.outbox_stream import Entry, OutboxStreams, events_of
from realtime.slots import AuctionSlots
from storage.tables import Auction
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel.persister")
SWEEP_CHUNK = 50  # auctions read per pipeline
# Told what was just committed (each auction with its events written), after the commit
# and the acknowledgement; a listener's failure is logged and changes nothing here.
CommitListener = Callable[[list[tuple[uuid.UUID, list[AnyEvent]]]], Awaitable[None]]


class Persister:
    def __init__(
        self,
        redis: Any,
        slots: AuctionSlots,
        uow: UnitOfWorkFactory,
        *,
        consumer: str | None = None,
        batch: int = 500,
        stale_ms: int = 10_000,
    ) -> None:
        self.redis = redis
        self.slots = slots
        self.uow = uow
        self.consumer = consumer or f"c-{uuid.uuid4().hex[:8]}"
        self.streams = OutboxStreams(
            redis, slots, consumer=self.consumer, batch=batch, stale_ms=stale_ms
        )
        self._lock = asyncio.Lock()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.stopping = StopSignal()
        self.after_commit: list[CommitListener] = []

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def mark(self, auction_id: uuid.UUID | str) -> None:
        """This process just appended events for the auction: persist them soon."""
        self._dirty.add(str(auction_id))
        self._wake.set()

    async def run(self, *, sweep_every: float = 2.0, reclaim_every: float = 5.0) -> None:
        """Persist what this process marks at once; sweep every live auction now and then.

        The sweep is what makes a crash harmless: events appended by a process that died
        before persisting them are unread (or pending) in the consumer group, and any
        process's sweep picks them up. Sweeping is O(live auctions), so it is not the
        fast path.
        """
        loop = asyncio.get_running_loop()
        next_sweep = next_reclaim = loop.time()
        while not self.stopping.is_set:
            try:
                now = loop.time()
                if now >= next_sweep:
                    reclaim = now >= next_reclaim
                    if reclaim:
                        next_reclaim = now + reclaim_every
                    next_sweep = now + sweep_every
                    self._dirty.clear()
                    await self.drain(reclaim=reclaim)
                elif self._dirty:
                    dirty, self._dirty = sorted(self._dirty), set()
                    await self.drain(dirty)
                self._wake.clear()
                if not self._dirty and not self.stopping.is_set:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), max(0.0, next_sweep - loop.time())
                        )
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise  # a driver turned our cancellation into another error
                log.exception("persister pass failed; retrying")
                await self.stopping.sleep(1.0)

    async def flush(self) -> int:
        """The final drain, at shutdown, once `run` has ended: one pass over every live
        auction that writes what is still in its outbox, the entries this consumer read
        but did not acknowledge included (a pass cut short by a cancellation). Every bid
        this process acknowledged is then in PostgreSQL. Returns the events written."""
        self._dirty.clear()
        written = 0
        # A pass reads up to `batch` entries per auction: again until nothing is left.
        while passed := await self.drain(own_pending=True):
            written += passed
        return written

    async def drain(
        self,
        auction_ids: Sequence[str] | None = None,
        *,
        reclaim: bool = False,
        own_pending: bool = False,
    ) -> int:
        """One pass over the live auctions; returns how many events were written.
        `reclaim`: also entries other consumers left unacknowledged for `stale_ms`;
        `own_pending`: also those this consumer did."""
        async with self._lock:
            members = list(auction_ids) if auction_ids is not None else await self.streams.live()
            written = 0
            # Small chunks: building and parsing a pipeline holds the event loop, and a
            # sweep over every live auction must not stall requests for long.
            for start in range(0, len(members), SWEEP_CHUNK):
                chunk = members[start : start + SWEEP_CHUNK]
                batches = await self.streams.read(chunk, reclaim, own_pending=own_pending)
                batch = await self._persist_many([(m, e) for m, e in batches if e])
                if batch:
                    metrics.PERSISTER_BATCH.observe(batch)
                written += batch
                if reclaim:
                    await self.streams.retire([m for m, entries in batches if not entries])
            return written

    async def _persist_many(self, batches: list[tuple[str, list[Entry]]]) -> int:
        """Auctions whose new events are all in-flight ones (bids, price steps) are written
        together, in one transaction of a few multi-row statements; an auction whose
        events include its end or cancellation goes through `_persist` on its own."""
        ongoing: list[tuple[uuid.UUID, list[AnyEvent]]] = []
        committed: list[tuple[uuid.UUID, list[AnyEvent]]] = []
        written = 0
        for member, entries in batches:
            events = events_of(entries)
            if any(e.final for e in events):
                written += await self._persist(member, entries, events)
                committed.append((uuid.UUID(member), events))
            else:
                ongoing.append((uuid.UUID(member), events))
        if ongoing:
            async with self.uow() as uow:
                await record_ongoing(await uow.session.connection(), ongoing)
                await uow.commit()
            done = {str(a) for a, _ in ongoing}
            await self.streams.ack([(m, entries) for m, entries in batches if m in done])
            written += sum(len(events) for _, events in ongoing)
            committed.extend(ongoing)
        await self._tell(committed)
        return written

    async def _tell(self, committed: list[tuple[uuid.UUID, list[AnyEvent]]]) -> None:
        for listener in self.after_commit if committed else ():
            try:
                await listener(committed)
            except Exception:
                log.exception("a commit listener failed")

    async def _persist(self, member: str, entries: list[Entry], events: list[AnyEvent]) -> int:
        """Write one auction's `events` (read from `entries`) in a transaction of its own."""
        auction_id = uuid.UUID(member)
        finished = False
        async with self.uow() as uow:
            auction = await uow.session.get(Auction, auction_id, with_for_update=True)
            if auction is None:
                log.error("events for unknown auction %s dropped", auction_id)
            else:
                for event in events:
                    finished |= await record(uow.session, auction, event)
                await uow.commit()
        await self.streams.ack([(member, entries)])
        if finished:
            await self.streams.finished(member)
        return len(events)
