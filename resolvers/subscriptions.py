"""Subscription resolvers: thin adapters from `realtime.stream` dicts to GraphQL types."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial

import strawberry

from domain.enums import AuctionStatus
from domain.errors import NotFound, ValidationFailed
from realtime.broadcast import BoundedBroadcast
from realtime.stream import EventSource, PublicEvent, auction_events
from schema.money import Money
from schema.shared_events import intern_event
from schema.types import AuctionEvent
from services import catalog

from .common import Ctx, parse_id


def to_type(event: PublicEvent, currency: str) -> AuctionEvent:
    return AuctionEvent(
        auction_id=strawberry.ID(event["auction_id"]),
        kind=event["kind"],
        sequence=event["sequence"],
        current_price=Money.of(event["price"], currency),
        bid_count=event["bid_count"],
        ends_at=event["ends_at"],
        leader_id=strawberry.ID(event["leader_id"]) if event["leader_id"] else None,
        at=event["at"],
    )


async def auction_updated(
    info: Ctx, auction_id: strawberry.ID, since_sequence: int | None = None
) -> AsyncGenerator[AuctionEvent]:
    deps = info.context.deps
    auction = await catalog.get_auction(deps, None, parse_id(auction_id, "auctionId"))
    if auction is None or auction.status == AuctionStatus.DRAFT.value:
        raise NotFound("no such auction", field="auctionId")
    if since_sequence is not None and since_sequence < 0:
        raise ValidationFailed("sinceSequence cannot be negative", field="sinceSequence")
    if not isinstance(deps.bus, BoundedBroadcast):
        raise RuntimeError("live updates need the composition root's BoundedBroadcast bus")
    source = EventSource(slots=deps.slots, uow=deps.uow, bus=deps.bus)
    async with aclosing(auction_events(source, auction, since_sequence)) as events:
        async for event in events:
            key = (event["auction_id"], event["sequence"], auction.currency)
            yield intern_event(key, partial(to_type, event, auction.currency))
