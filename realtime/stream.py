"""An auction's events as anyone may see them, read back from where they are kept.

`backlog` reads the events after a sequence from the auction's Redis stream, and from the
PostgreSQL copy (`auction_events`) for the older part Redis no longer has; `View` turns
events into `PublicEvent`s (domain/events.py), stripped of private fields and, for sealed
auctions, of every amount and leader while the auction is open. `realtime.feed` builds the live,
gapless subscription on these. Events are published only after the script that appended
them to the stream committed, so whatever arrives live after subscribing to the bus is
either in a replay read afterwards or after it.

This module knows nothing about GraphQL.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import col, select

from domain.enums import AuctionType
from domain.errors import DomainError
from domain.events import AnyEvent, Ended, Event, PriceStep, PublicEvent, parse_stored
from domain.outcome import FinalState, decide
from realtime.slots import AuctionSlots
from storage.tables import Auction, AuctionEvent
from storage.uow import UnitOfWorkFactory

log = logging.getLogger("gavel.stream")

PAGE = 500  # events read per Redis XRANGE / PostgreSQL query while replaying


class SubscriberTooSlow(DomainError):
    """The bus cut this subscriber off; resume with `sinceSequence` = last sequence seen."""

    code = "SLOW_CONSUMER"


class ServerShuttingDown(DomainError):
    """This app process is shutting down (SIGTERM); subscribe again, to another process or
    after the restart, with `sinceSequence` = last sequence seen: nothing is missed."""

    code = "SHUTTING_DOWN"


class _Message(Protocol):
    message: Any


class Subscription(Protocol):
    async def get(self) -> _Message: ...


class Hub(Protocol):
    """The part of `BoundedBroadcast` used here."""

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]: ...


@dataclass(frozen=True, slots=True)
class EventSource:
    slots: AuctionSlots
    uow: UnitOfWorkFactory
    bus: Hub


class View:
    """Turns raw stream events of one auction into what anyone may see."""

    def __init__(self, auction: Auction) -> None:
        self.auction = auction
        self.type = AuctionType(auction.type)

    def present(self, e: Event) -> PublicEvent:
        price, leader = e.price, e.leader
        if isinstance(e, PriceStep):
            price = e.dutch_price  # a Dutch step: the price on offer now
        if self.type.sealed:
            # Amounts and the leader stay secret until the end; the end reveals the
            # outcome when the raw event (with its private sealed bids) was read.
            price, leader = None, None
            if isinstance(e, Ended):
                price, leader = self._sealed_outcome(e)
        ends = e.ends_at or self.auction.ends_at
        return PublicEvent(
            auction_id=str(self.auction.id),
            sequence=e.sequence,
            kind=e.kind.value,
            price=price,
            bid_count=e.bid_count,
            ends_at=ends,
            leader_id=leader,
            status=e.status,
            at=e.at,
        )

    def _sealed_outcome(self, e: Ended) -> tuple[int | None, str | None]:
        if e.sealed_bids is None:
            return None, None  # the public (bus) form: the bids are not in it
        # The end carries the slot's terms; a row read before the start may be stale.
        starting, reserve = self.auction.starting_price, self.auction.reserve_price
        if e.terms is not None:
            starting, reserve = e.terms.starting_price, e.terms.reserve_price
        outcome = decide(
            FinalState(
                type=self.type,
                starting_price=starting,
                reserve_price=reserve,
                price=None,
                leader=None,
                sealed_bids=e.sealed_bids,
            )
        )
        return outcome.price, outcome.winner


async def current_sequence(source: EventSource, auction: Auction) -> int:
    """The auction's latest sequence: its Redis slot's, else PostgreSQL's."""
    live = (await source.slots.live([auction.id]))[0]
    return live.sequence if live is not None else auction.last_sequence


async def backlog(
    source: EventSource, auction_id: uuid.UUID, after: int
) -> AsyncGenerator[AnyEvent]:
    """Raw events with sequence > `after`, in order: PostgreSQL for the part that is no
    longer in the Redis stream (trimmed, or the stream is gone), then the stream."""
    redis_page = await source.slots.events_since(auction_id, after, count=PAGE)
    first_in_redis = redis_page[0].sequence if redis_page else None
    if first_in_redis is None or first_in_redis > after + 1:
        cursor = after
        while True:
            query = select(AuctionEvent).where(
                col(AuctionEvent.auction_id) == auction_id, col(AuctionEvent.sequence) > cursor
            )
            if first_in_redis is not None:
                query = query.where(col(AuctionEvent.sequence) < first_in_redis)
            async with source.uow() as uow:
                rows = (
                    await uow.session.exec(query.order_by(col(AuctionEvent.sequence)).limit(PAGE))
                ).all()
            for row in rows:
                yield parse_stored(row.payload, row.sequence, row.kind)
            if len(rows) < PAGE:
                break
            cursor = rows[-1].sequence
    while redis_page:
        for event in redis_page:
            yield event
        if len(redis_page) < PAGE:
            break
        redis_page = await source.slots.events_since(
            auction_id, redis_page[-1].sequence, count=PAGE
        )
