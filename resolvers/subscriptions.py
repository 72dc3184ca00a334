"""Subscription resolvers: thin adapters from `realtime.stream` events to GraphQL types."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from functools import partial

import strawberry

from domain.enums import AuctionStatus
from domain.errors import NotFound, ValidationFailed
from domain.events import PublicEvent
from realtime.feed import auction_events
from schema.context import Ctx
from schema.event_types import AuctionEvent
from schema.live_delivery import SocketMember, live_target
from schema.money import Money
from schema.shared_events import intern_event
from services import catalog

from .common import parse_id


def to_type(event: PublicEvent, currency: str) -> AuctionEvent:
    return AuctionEvent(
        auction_id=strawberry.ID(event.auction_id),
        kind=event.kind,
        sequence=event.sequence,
        current_price=Money.of(event.price, currency),
        bid_count=event.bid_count,
        ends_at=event.ends_at,
        leader_id=strawberry.ID(event.leader_id) if event.leader_id else None,
        at=event.at,
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
    live = info.context.live
    if live is None:
        raise RuntimeError("live updates need the composition root's bus")
    currency = auction.currency

    def interned(event: PublicEvent) -> AuctionEvent:
        key = (event.auction_id, event.sequence, currency)
        return intern_event(key, partial(to_type, event, currency))

    on_socket = live_target()
    if on_socket is None:  # not on a WebSocket: every event through strawberry
        async with aclosing(
            auction_events(live.feeds.source, auction, since_sequence, feeds=live.feeds)
        ) as events:
            async for event in events:
                yield interned(event)
        return
    # Replay through strawberry; then the feed writes live events straight to the socket.
    target, executor = on_socket
    key, group = live.groups.join(executor)
    member = SocketMember(target, group, interned)
    try:
        async with live.feeds.membership(auction, member) as joining:
            async with aclosing(joining.replay(since_sequence)) as replayed:
                async for event in replayed:
                    yield interned(event)
            await member.done
    finally:
        live.groups.leave(key)
