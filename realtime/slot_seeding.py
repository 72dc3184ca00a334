"""Slots made from the record: a slot for an auction going live, rebuilt if Redis lost it.

PostgreSQL holds what the persister wrote from the auction's outbox: the listing, the
price, the leader, the bids (with each bidder's proxy ceiling, and each sealed bidder's
live bid) and the events. `seed_for` turns that into a `SlotSeed`, including every
remembered idempotent answer, so a retry of an acknowledged bid still gets its first
result after a rebuild. Used by the scheduler (activation, reconciling, a missing slot at
close), the bid use case (a missing slot) and the cancel use case.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson
from sqlmodel import col, func, select

from domain.enums import AuctionStatus, AuctionType
from domain.events import AnyEvent, BidAccepted, parse_stored
from domain.public_state import dutch_clock_start
from domain.slot_results import BidApplied, BidTerms, raw_bid_result
from realtime.slots import AuctionSlots, SlotSeed, ms
from storage.tables import Auction, AuctionEvent, Bid
from storage.uow import UnitOfWork, UnitOfWorkFactory


async def seed_for(uow: UnitOfWork, auction: Auction) -> SlotSeed:
    """A slot seed from the record: the listing, plus the live state persisted so far."""
    ceiling = None
    sealed: dict[uuid.UUID, tuple[int, int]] = {}
    live_bids = [col(Bid.auction_id) == auction.id, col(Bid.voided_at).is_(None)]
    if AuctionType(auction.type).sealed:
        rows = await uow.session.exec(
            select(Bid.bidder_id, Bid.amount, Bid.sequence)
            .where(*live_bids)
            .order_by(col(Bid.sequence))
        )
        for bidder, amount, sequence in rows:
            sealed[bidder] = (amount, sequence)  # the latest bid of each bidder is its live one
    elif auction.leader_id is not None:
        ceiling = (
            await uow.session.exec(
                select(func.max(func.coalesce(Bid.max_amount, Bid.amount))).where(
                    *live_bids, col(Bid.bidder_id) == auction.leader_id
                )
            )
        ).one()
    # Retries of acknowledged bids must still get their first result after a rebuild.
    remembered = await uow.session.exec(
        select(Bid.bidder_id, Bid.idempotency_key, AuctionEvent)
        .join(
            AuctionEvent,
            (col(AuctionEvent.auction_id) == Bid.auction_id)
            & (col(AuctionEvent.sequence) == Bid.sequence),
        )
        .where(*live_bids, col(Bid.idempotency_key).is_not(None))
    )
    # The Dutch clock counts from the moment public state counts from (domain/public_state.py),
    # so the price the API shows is the price a bid pays.
    clock = dutch_clock_start(
        auction.activated_at, auction.starts_at, auction.published_at, auction.created_at
    )
    starts = auction.starts_at or clock
    idempotent = {
        f"{bidder}:{key}": replayed_result(
            parse_stored(row.payload, row.sequence, row.kind), auction, starts
        )
        for bidder, key, row in remembered
    }
    return SlotSeed(
        auction_id=auction.id,
        type=auction.type,
        currency=auction.currency,
        seller_id=auction.seller_id,
        starting_price=auction.starting_price,
        reserve_price=auction.reserve_price,
        buy_now_price=auction.buy_now_price,
        starts_at=starts,
        ends_at=auction.ends_at,
        hard_close_at=auction.hard_close_at,
        soft_close_window_seconds=auction.soft_close_window_seconds,
        soft_close_extension_seconds=auction.soft_close_extension_seconds,
        dutch_step=auction.dutch_step,
        dutch_step_seconds=auction.dutch_step_seconds,
        dutch_floor=auction.dutch_floor,
        activated_at=clock,
        price=auction.current_price,
        leader_id=auction.leader_id,
        ceiling=ceiling,
        bid_count=auction.bid_count,
        sequence=auction.last_sequence,
        sealed=sealed,
        idempotent=idempotent,
        item_id=auction.item_id,
    )


def replayed_result(event: AnyEvent, auction: Auction, starts: datetime) -> str:
    """The script's answer to an accepted bid, rebuilt from its stored BID_ACCEPTED event
    and the auction's terms (final: the auction is past its start, at `starts`, the
    slot's start time)."""
    assert isinstance(event, BidAccepted), event
    applied = BidApplied(
        sequence=event.sequence,
        leading=event.leading,
        price=event.price,
        leader=event.leader,
        bid_count=event.bid_count,
        ends_ms=event.ends_ms if event.ends_ms is not None else int(ms(auction.ends_at)),
        status=event.status,
        at_ms=event.at_ms,
        events=(event,),
        terms=BidTerms(
            auction.starting_price,
            auction.reserve_price,
            auction.buy_now_price,
            int(ms(starts)),
        ),
    )
    return orjson.dumps(raw_bid_result(applied)).decode()


async def ensure_slot(
    uow: UnitOfWorkFactory, slots: AuctionSlots, auction_id: uuid.UUID
) -> Auction | None:
    """Create (or rebuild) the slot of an active auction; returns the stored auction
    (None when there is no such auction)."""
    async with uow() as work:
        auction = await work.session.get(Auction, auction_id)
        if auction is None:
            return None
        if auction.status == AuctionStatus.ACTIVE.value:
            await slots.create(await seed_for(work, auction))
        return auction
