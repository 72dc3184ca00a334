"""Voiding a bidder's bids (admin) and retracting one's own (eBay's rules), with the
auction recomputed exactly from the bids that remain.

Both go through `AuctionSlots.recompute` (realtime/lua/recompute.lua), which replays the
remaining bids through the very rules that decided them (realtime/lua/common.lua) and
appends one BIDS_VOIDED event; the persister records it (realtime/recompute_records.py:
bids marked void, the auction row, notifications). Only ACTIVE English and sealed
auctions can be recomputed (a Dutch auction ends on its one bid).

The bids replayed are PostgreSQL's live bids plus the slot's stream after the row's
`last_sequence` (the persister may lag), minus those voided; the script refuses with a
conflict when a bid arrived meanwhile, and the use case reads again (a bounded number of
times, then `AUCTION_BUSY`). The event carries the actor and the note, so the audit row
(`void_bids`, `retract_bids`, with the state before and after) is written with the rows
it describes, exactly once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from sqlmodel import col, select

from domain.enums import AuctionStatus, AuctionType, Role
from domain.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from domain.events import BidAccepted, BidsVoided, VoidReason
from domain.retraction import OwnBid, retractable
from domain.slot_results import (
    AlreadyOver,
    RecomputeApplied,
    RecomputeConflict,
    RecomputeRefused,
    SlotMissing,
)
from realtime.events import publish
from realtime.slot_seeding import ensure_slot
from realtime.slots import ReplayBid
from services.deps import Deps
from services.unavailable import unavailable
from storage.tables import Auction, Bid, User

log = logging.getLogger("gavel.bid_voiding")

# A bid arriving between reading the bids and the script makes it refuse; reading again
# is cheap, and a burst of bids long enough to exhaust this is the client's cue to retry.
RECOMPUTE_ATTEMPTS = 8
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class AuctionState:
    """An auction's public state around a recompute. Money in minor units; `price` and
    `leader_id` are None before the first bid and, on sealed auctions, always."""

    price: int | None
    leader_id: uuid.UUID | None
    bid_count: int


@dataclass(frozen=True, slots=True)
class RecomputedAuction:
    """One auction after a void or a retraction: `voided` holds the sequences voided,
    `ignored` the remaining bids the rules now refuse (recorded, not counted), `sequence`
    the BIDS_VOIDED event's (None when nothing was voided and no event was appended)."""

    auction_id: uuid.UUID
    voided: list[int]
    before: AuctionState
    after: AuctionState
    currency: str  # of the prices (ISO 4217)
    ignored: list[int] = field(default_factory=list)
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class VoidReport:
    auctions: list[RecomputedAuction]


@dataclass(frozen=True, slots=True)
class _LiveBid:
    sequence: int
    bidder_id: uuid.UUID
    amount: int
    ceiling: int | None
    placed_at: datetime


# Picks the sequences to void from the auction's live bids and its current end.
Chooser = Callable[[Sequence[_LiveBid], datetime], list[int]]


async def void_bids(
    deps: Deps,
    actor: User,
    bidder_id: uuid.UUID,
    auction_id: uuid.UUID | None = None,
    *,
    reason: str,
) -> VoidReport:
    """Void every live bid of `bidder_id` on `auction_id` (None: on every ACTIVE auction
    they have live bids on, as PostgreSQL records them) and recompute each auction.
    Admins only (Forbidden). Raises NotFound (no such auction), InvalidState with code
    AUCTION_ENDED or AUCTION_NOT_ACTIVE (only ACTIVE English or sealed auctions),
    ValidationFailed (an empty `reason` or one over 500 characters), Conflict with code
    AUCTION_BUSY (bids kept arriving). An auction where the bidder has no live bid is
    reported with nothing voided and is left as it is."""
    if Role.ADMIN.value not in actor.roles:
        raise Forbidden("only administrators can void bids")
    note = reason.strip()
    if not note or len(note) > MAX_REASON:
        raise ValidationFailed(f"give a reason of 1 to {MAX_REASON} characters", field="reason")
    if auction_id is not None:
        targets = [auction_id]
    else:
        async with deps.uow() as uow:
            rows = await uow.session.exec(
                select(Bid.auction_id)
                .join(Auction, col(Auction.id) == Bid.auction_id)
                .where(
                    col(Bid.bidder_id) == bidder_id,
                    col(Bid.voided_at).is_(None),
                    col(Auction.status) == AuctionStatus.ACTIVE.value,
                )
                .distinct()
            )
            targets = sorted(rows.all())

    def theirs(bids: Sequence[_LiveBid], _ends: datetime) -> list[int]:
        return [b.sequence for b in bids if b.bidder_id == bidder_id]

    report = []
    for target in targets:
        report.append(
            await _recompute(
                deps, actor, target, theirs, VoidReason.VOIDED, note, bidder_id=bidder_id
            )
        )
    return VoidReport(auctions=report)


async def retract_bids(deps: Deps, actor: User, auction_id: uuid.UUID) -> RecomputedAuction:
    """Retract the actor's own bids on `auction_id` by eBay's rules (domain/retraction.py)
    and recompute the auction: more than 12 h before the end all of them, within the last
    12 h only the latest and only within 1 h of placing it. Raises NotFound,
    RetractionNotAllowed (code RETRACTION_NOT_ALLOWED: NO_BIDS, TOO_LATE), InvalidState
    (AUCTION_ENDED, AUCTION_NOT_ACTIVE), Conflict (AUCTION_BUSY)."""

    def allowed(bids: Sequence[_LiveBid], ends: datetime) -> list[int]:
        own = [OwnBid(b.sequence, b.placed_at) for b in bids if b.bidder_id == actor.id]
        return retractable(own, ends, deps.clock())

    return await _recompute(
        deps, actor, auction_id, allowed, VoidReason.RETRACTED, None, bidder_id=actor.id
    )


async def _recompute(
    deps: Deps,
    actor: User,
    auction_id: uuid.UUID,
    choose: Chooser,
    reason: VoidReason,
    note: str | None,
    *,
    bidder_id: uuid.UUID,
) -> RecomputedAuction:
    for _ in range(RECOMPUTE_ATTEMPTS):
        auction, expected, ends, bids = await _read(deps, auction_id)
        voided = choose(bids, ends)
        if not voided:
            state = _state_of(auction, bids)
            return RecomputedAuction(auction_id, [], state, state, auction.currency)
        gone = set(voided)
        remaining = [
            ReplayBid(b.sequence, str(b.bidder_id), b.amount, b.ceiling)
            for b in bids
            if b.sequence not in gone
        ]
        result = await deps.slots.recompute(
            auction_id,
            expected_sequence=expected,
            reason=reason.value,
            voided=sorted(gone),
            remaining=remaining,
            actor=actor.id,
            note=note,
        )
        if isinstance(result, RecomputeConflict | SlotMissing):
            continue  # a bid arrived, or the slot was lost: read again
        if isinstance(result, AlreadyOver):
            _refuse(result.status)
        if isinstance(result, RecomputeRefused):  # a Dutch auction: no bids to keep
            raise InvalidState(
                "bids on this auction cannot be voided", code=result.reason, field="auctionId"
            )
        assert isinstance(result, RecomputeApplied)
        return await _applied(deps, auction, result.event)
    raise Conflict("bids kept arriving on this auction; try again", code="AUCTION_BUSY")


async def _read(deps: Deps, auction_id: uuid.UUID) -> tuple[Auction, int, datetime, list[_LiveBid]]:
    """The auction's live bids now, with the slot's sequence and end they go with."""
    auction = await ensure_slot(deps.uow, deps.slots, auction_id)
    if auction is None:
        raise NotFound("no such auction", field="auctionId")
    if auction.status != AuctionStatus.ACTIVE.value:
        _refuse(auction.status)
    live = (await deps.slots.live([auction_id]))[0]
    if live is None:
        raise Conflict("the auction is being rebuilt; try again", code="AUCTION_BUSY")
    if live.status != AuctionStatus.ACTIVE.value:
        _refuse(live.status)
    # The row's sequence first: whatever the persister wrote after it is in the stream.
    async with deps.uow() as uow:
        recorded = await uow.session.get(Auction, auction_id)
        assert recorded is not None
        after = recorded.last_sequence
        rows = await uow.session.exec(
            select(Bid)
            .where(col(Bid.auction_id) == auction_id, col(Bid.voided_at).is_(None))
            .order_by(col(Bid.sequence))
        )
        bids = {
            b.sequence: _LiveBid(b.sequence, b.bidder_id, b.amount, b.max_amount, b.placed_at)
            for b in rows.all()
        }
    voided: set[int] = set()
    while after < live.sequence:
        events = await deps.slots.events_since(auction_id, after)
        if not events:
            break
        for e in events:
            if isinstance(e, BidAccepted) and e.bidder and e.amount is not None:
                bids.setdefault(
                    e.sequence,
                    _LiveBid(e.sequence, uuid.UUID(e.bidder), e.amount, e.max_amount, e.at),
                )
            elif isinstance(e, BidsVoided):
                voided.update(e.voided)
        after = events[-1].sequence
    ordered = [bids[s] for s in sorted(bids) if s not in voided and s <= live.sequence]
    return recorded, live.sequence, live.ends_at, ordered


def _refuse(status: str) -> NoReturn:
    if status == AuctionStatus.ENDED.value:
        raise InvalidState("the auction has ended", code="AUCTION_ENDED", field="auctionId")
    raise InvalidState("the auction is not active", code="AUCTION_NOT_ACTIVE", field="auctionId")


def _state_of(auction: Auction, bids: Sequence[_LiveBid]) -> AuctionState:
    if AuctionType(auction.type).sealed:
        return AuctionState(None, None, len(bids))
    return AuctionState(auction.current_price, auction.leader_id, auction.bid_count)


def _opt_id(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


async def _applied(deps: Deps, auction: Auction, e: BidsVoided) -> RecomputedAuction:
    """Publish the recompute and record it now (bids void, the auction row,
    notifications, the audit row: realtime/recompute_records.py). The slot holds it
    already: if either fails on an outage, subscribers fill the gap from the stream and
    the persister records it on its next pass."""
    try:
        await publish(deps.bus, auction.id, [e], sealed=AuctionType(auction.type).sealed)
        if deps.outbox is not None:
            await deps.outbox.drain([str(auction.id)])
    except Exception as err:
        if unavailable(err) is None:
            raise
        log.warning("recompute of %s not yet published or recorded: %r", auction.id, err)
    prior = e.before
    before = (
        AuctionState(prior.price, _opt_id(prior.leader), prior.bid_count)
        if prior is not None
        else AuctionState(None, None, 0)
    )
    after = AuctionState(e.price, _opt_id(e.leader), e.bid_count)
    return RecomputedAuction(
        auction.id, list(e.voided), before, after, auction.currency, list(e.ignored), e.sequence
    )
