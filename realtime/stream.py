"""An auction's events as anyone may see them, read back from where they are kept.

`backlog` reads the events after a sequence from the auction's Redis stream, and from the
PostgreSQL copy (`auction_events`) for the older part Redis no longer has; `View` turns
raw events into `PublicEvent` dicts, stripped of private fields and, for sealed auctions,
of every amount and leader while the auction is open. `realtime.feed` builds the live,
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
from datetime import datetime
from typing import Any, Protocol, TypedDict

from sqlmodel import col, select

from domain.enums import AuctionType
from domain.errors import DomainError
from domain.outcome import FinalState, SealedBid, decide
from realtime.slots import AuctionSlots, from_ms
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


class PublicEvent(TypedDict):
    auction_id: str
    sequence: int
    kind: str  # BID_ACCEPTED PRICE_STEP EXTENDED ENDED CANCELLED
    price: int | None  # minor units; None when unknown or hidden (sealed, still open)
    bid_count: int
    ends_at: datetime
    leader_id: str | None  # None when nobody leads or hidden (sealed, still open)
    status: str
    at: datetime


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


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


class View:
    """Turns raw stream events of one auction into what anyone may see."""

    def __init__(self, auction: Auction) -> None:
        self.auction = auction
        self.type = AuctionType(auction.type)

    def present(self, e: dict[str, Any]) -> PublicEvent:
        kind = str(e["kind"])
        price = _int(e.get("price"))
        leader = _str(e.get("leader"))
        if kind == "PRICE_STEP" and e.get("dutch_price") not in (None, ""):
            price = _int(e.get("dutch_price"))  # a Dutch step: the price on offer now
        if self.type.sealed:
            # Amounts and the leader stay secret until the end; the end reveals the
            # outcome when the raw event (with its private sealed bids) was read.
            price, leader = None, None
            if kind == "ENDED":
                price, leader = self._sealed_outcome(e)
        ends = from_ms(e.get("ends")) or self.auction.ends_at
        at = from_ms(e.get("at"))
        return PublicEvent(
            auction_id=str(self.auction.id),
            sequence=int(e["seq"]),
            kind=kind,
            price=price,
            bid_count=int(e.get("bids") or 0),
            ends_at=ends,
            leader_id=leader,
            status=str(e.get("status") or ""),
            at=at or ends,
        )

    def _sealed_outcome(self, e: dict[str, Any]) -> tuple[int | None, str | None]:
        sealed = e.get("sealed")
        if not isinstance(sealed, list):
            return None, None  # the public (bus) form: the bids are not in it
        # The end carries the slot's terms; a row read before the start may be stale.
        start, reserve = e.get("start"), e.get("reserve")
        outcome = decide(
            FinalState(
                type=self.type,
                starting_price=_int(start) or self.auction.starting_price,
                reserve_price=self.auction.reserve_price if reserve is None else _int(reserve),
                price=None,
                leader=None,
                sealed_bids=tuple(
                    SealedBid(str(b["bidder"]), int(b["amount"]), int(b["seq"])) for b in sealed
                ),
            )
        )
        return outcome.price, outcome.winner


async def current_sequence(source: EventSource, auction: Auction) -> int:
    """The auction's latest sequence: its Redis slot's, else PostgreSQL's."""
    live = (await source.slots.live([auction.id]))[0]
    return live.sequence if live is not None else auction.last_sequence


async def backlog(
    source: EventSource, auction_id: uuid.UUID, after: int
) -> AsyncGenerator[dict[str, Any]]:
    """Raw events with sequence > `after`, in order: PostgreSQL for the part that is no
    longer in the Redis stream (trimmed, or the stream is gone), then the stream."""
    redis_page = await source.slots.events_since(auction_id, after, count=PAGE)
    first_in_redis = int(redis_page[0]["seq"]) if redis_page else None
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
                yield {**row.payload, "seq": row.sequence, "kind": row.kind}
            if len(rows) < PAGE:
                break
            cursor = rows[-1].sequence
    while redis_page:
        for event in redis_page:
            yield event
        if len(redis_page) < PAGE:
            break
        redis_page = await source.slots.events_since(
            auction_id, int(redis_page[-1]["seq"]), count=PAGE
        )
