"""Starts and ends auctions on time with no request arriving, and steps Dutch prices.

Every app process runs one; all of its moves are safe to race. Activation locks the due
SCHEDULED rows (`FOR UPDATE SKIP LOCKED`) and seeds each slot inside that transaction:
a row that `updateAuction`, `publishAuction` or `cancelAuction` holds is skipped and
picked up on a later pass with its final terms and status, and an edit that waited for
the lock finds the row ACTIVE and is refused. The slot is created after the commit; a
cancel in between finds no slot, creates it from the record and cancels it, so this
late create changes nothing. Closing is an idempotent script in the slot (only one call
ends an auction, and a cancel that came first wins), and ticks publish each step once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from structlog.contextvars import bind_contextvars, clear_contextvars

from domain.enums import AuctionStatus
from domain.slot_results import AlreadyOver, CloseApplied, ClosePending, SlotMissing
from realtime.background import StopSignal, cancelling
from realtime.events import Bus, publish
from realtime.persister import Persister
from realtime.slot_seeding import ensure_slot, seed_for
from realtime.slots import DUTCH_SET, ENDS_ZSET, AuctionSlots
from storage.tables import Auction
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel.scheduler")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        slots: AuctionSlots,
        persister: Persister,
        bus: Bus | None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.slots = slots
        self.redis: Any = slots.redis
        self.persister = persister
        self.bus = bus
        self.stopping = StopSignal()

    async def run(self, *, interval: float = 0.1, reconcile_every: float = 5.0) -> None:
        next_reconcile = 0.0
        while not self.stopping.is_set:
            # A failing pass's line names the auction it was at (bound below), no older one.
            clear_contextvars()
            try:
                await self.activate_due()
                await self.close_due()
                await self.tick_dutch()
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + reconcile_every
                    await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelling():
                    raise  # a driver turned our cancellation into another error
                log.exception("scheduler pass failed; retrying")
                await self.stopping.sleep(1.0)
            await self.stopping.sleep(interval)

    async def activate_due(self) -> int:
        now = self.clock()
        async with self.uow() as uow:
            # SKIP LOCKED: another process activating the same rows just moves on.
            due = (
                await uow.session.exec(
                    select(Auction)
                    .where(
                        col(Auction.status) == AuctionStatus.SCHEDULED.value,
                        col(Auction.starts_at) <= now,
                    )
                    .with_for_update(skip_locked=True)
                    .limit(200)
                )
            ).all()
            for auction in due:
                auction.status = AuctionStatus.ACTIVE.value
                auction.activated_at = now
                auction.updated_at = now
            seeds = [await seed_for(uow, auction) for auction in due]
            await uow.commit()
        for seed in seeds:
            await self.slots.create(seed)
        return len(seeds)

    async def close_due(self) -> int:
        now_ms = int(time.time() * 1000)
        due = await self.redis.zrangebyscore(ENDS_ZSET, "-inf", now_ms, start=0, num=200)
        ended = 0
        for member in due:
            bind_contextvars(auction_id=member)
            result = await self.slots.close(member)
            if isinstance(result, ClosePending):
                await self.redis.zadd(ENDS_ZSET, {member: result.ends_ms})
            elif isinstance(result, CloseApplied):
                ended += 1
                await publish(self.bus, member, [result.event])
                await self.persister.drain([member])
            elif isinstance(result, SlotMissing):
                stored = await ensure_slot(self.uow, self.slots, uuid.UUID(member))
                if stored is None or stored.status != AuctionStatus.ACTIVE.value:
                    await self.slots.forget([member])
            elif isinstance(result, AlreadyOver):  # by another process, or by a bid
                await self.redis.zrem(ENDS_ZSET, member)
                await self._announce_end(member, result.sequence or 0)
        return ended

    async def _announce_end(self, member: str, sequence: int) -> None:
        """Publish the auction's final event again.

        The process that ended the auction may have died between its script and its
        publish; nothing later would tell live subscribers that the auction is over (only
        a later event makes them fill a gap, and there is none after the end). Subscribers
        drop the copy they already have by its sequence number.
        """
        events = await self.slots.events_since(member, sequence - 1, count=1)
        if events and events[0].final:
            await publish(self.bus, member, events)

    async def tick_dutch(self) -> None:
        for member in await self.redis.smembers(DUTCH_SET):
            bind_contextvars(auction_id=member)
            step = await self.slots.tick(member)
            if step is not None:
                self.persister.mark(member)
                await publish(self.bus, member, [step])

    async def reconcile(self) -> None:
        """Put back on the agenda any active auction whose slot or end entry was lost."""
        async with self.uow() as uow:
            active = (
                await uow.session.exec(
                    select(Auction.id).where(col(Auction.status) == AuctionStatus.ACTIVE.value)
                )
            ).all()
        if not active:
            return
        scores = await self.redis.zmscore(ENDS_ZSET, [str(a) for a in active])
        for auction_id, score in zip(active, scores, strict=True):
            if score is None:
                await ensure_slot(self.uow, self.slots, auction_id)
