"""Voiding a bidder's bids (admin) and retracting one's own (eBay's rules), with the
auction recomputed exactly from the bids that remain.

Both go through `AuctionSlots.recompute` (realtime/lua/recompute.lua), which replays the
remaining bids through the very rules that decided them (realtime/lua/common.lua) and
appends one BIDS_VOIDED event; the persister records it (realtime/recompute_records.py:
bids marked void, the auction row, notifications). Only ACTIVE English and sealed
auctions can be recomputed (a Dutch auction ends on its one bid).

The bids replayed are PostgreSQL's live bids plus the slot's stream after the row's
`last_sequence` (the persister may lag), minus those voided; the script refuses with a
conflict when a bid arrived meanwhile (or another recompute ran), and the use case reads
again (a bounded number of times, then `AUCTION_BUSY`). The voided bids are read too:
eBay's "latest bid" for a retraction is the latest ever placed (domain/retraction.py).
A remaining bid of an account banned or on fraud hold is not replayed (the script
records it as ignored): the void at ban/hold time (`void_account_bids`) removes such
bids, and this closes the race of a bid accepted just before the account state reached
every app process. The event carries the actor and the note, so the audit row
(`void_bids`, `retract_bids`, with the state before and after) is written with the rows
it describes, exactly once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from datetime import datetime
from typing import NoReturn

from sqlmodel import col, or_, select

from domain.enums import AuctionStatus, AuctionType, Role
from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)
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
class SkippedAuction:
    """An auction a void on every auction left as it was, and why (the error code the
    auction alone would have answered: AUCTION_ENDED, AUCTION_NOT_ACTIVE, AUCTION_BUSY,
    NO_BIDS, NOT_FOUND)."""

    auction_id: uuid.UUID
    code: str


@dataclass(frozen=True, slots=True)
class VoidReport:
    """The auctions recomputed, and (a void on every auction only) those skipped."""

    auctions: list[RecomputedAuction]
    skipped: list[SkippedAuction] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Bid:
    sequence: int
    bidder_id: uuid.UUID
    amount: int
    ceiling: int | None
    placed_at: datetime
    voided: bool = False


# Picks the sequences to void from the auction's bids (voided ones included, flagged) and
# its current end; raises a DomainError when there is nothing it may void.
Chooser = Callable[[Sequence[_Bid], datetime], list[int]]


async def void_bids(
    deps: Deps,
    actor: User,
    bidder_id: uuid.UUID,
    auction_id: uuid.UUID | None = None,
    *,
    reason: str,
) -> VoidReport:
    """Void every live bid of `bidder_id` on `auction_id` and recompute the auction.
    Admins only (Forbidden). Raises NotFound (no such auction), InvalidState with code
    AUCTION_ENDED or AUCTION_NOT_ACTIVE (only ACTIVE English or sealed auctions) or
    NO_BIDS (the bidder has no live bid there: nothing changes), ValidationFailed (an
    empty `reason` or one over 500 characters), Conflict with code AUCTION_BUSY (bids
    kept arriving).

    `auction_id` None: every ACTIVE auction they have live bids on (as PostgreSQL records
    them). An auction refusing alone (one just ended, busy, nothing left) is skipped and
    listed in `skipped` with its code while the others are recomputed; the error is
    raised only when no auction was recomputed and every one refused with the same code
    (NO_BIDS when there is none)."""
    if Role.ADMIN.value not in actor.roles:
        raise Forbidden("only administrators can void bids")
    note = reason.strip()
    if not note or len(note) > MAX_REASON:
        raise ValidationFailed(f"give a reason of 1 to {MAX_REASON} characters", field="reason")
    if auction_id is not None:
        done = await _void_on(deps, actor.id, bidder_id, auction_id, note)
        return VoidReport(auctions=[done])
    report = await _void_everywhere(deps, actor.id, bidder_id, note)
    codes = {s.code for s in report.skipped}
    if not report.auctions and len(codes) <= 1:
        code = codes.pop() if codes else "NO_BIDS"
        raise InvalidState(_NOTHING_DONE.get(code, "no bid could be voided"), code=code)
    return report


_NOTHING_DONE = {
    "NO_BIDS": "the bidder has no live bid on an active auction",
    "AUCTION_ENDED": "every auction the bidder has live bids on has ended",
    "AUCTION_BUSY": "bids kept arriving on the bidder's auctions; try again",
}


async def void_account_bids(
    deps: Deps, bidder_id: uuid.UUID, *, actor_id: uuid.UUID | None, note: str
) -> VoidReport:
    """The system's void when an account is banned or put on fraud hold
    (services/moderation.py): every live bid of `bidder_id` on every ACTIVE auction,
    each auction recomputed, reason VOIDED with `note`, by `actor_id` (the admin, or None
    for the fraud scorer). Never raises for one auction: those that refuse are in
    `skipped`. Not an admin's request: the caller has decided already."""
    return await _void_everywhere(deps, actor_id, bidder_id, note)


async def _void_everywhere(
    deps: Deps, actor_id: uuid.UUID | None, bidder_id: uuid.UUID, note: str
) -> VoidReport:
    if deps.outbox is not None:
        # The account's bids are read from PostgreSQL: first record every acknowledged
        # bid still in an outbox (milliseconds behind), or a bid placed just before the
        # ban or hold would stay live until the next sweep. One pass over the live
        # auctions; a ban or hold is rare.
        await deps.outbox.drain()
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
    done: list[RecomputedAuction] = []
    skipped: list[SkippedAuction] = []
    for target in targets:
        try:
            done.append(await _void_on(deps, actor_id, bidder_id, target, note))
        except DomainError as refused:
            skipped.append(SkippedAuction(target, refused.code))
    return VoidReport(auctions=done, skipped=skipped)


async def _void_on(
    deps: Deps,
    actor_id: uuid.UUID | None,
    bidder_id: uuid.UUID,
    auction_id: uuid.UUID,
    note: str,
) -> RecomputedAuction:
    def theirs(bids: Sequence[_Bid], _ends: datetime) -> list[int]:
        chosen = [b.sequence for b in bids if b.bidder_id == bidder_id and not b.voided]
        if not chosen:
            raise InvalidState(
                "the bidder has no live bid on this auction", code="NO_BIDS", field="userId"
            )
        return chosen

    return await _recompute(deps, actor_id, auction_id, theirs, VoidReason.VOIDED, note)


async def retract_bids(deps: Deps, actor: User, auction_id: uuid.UUID) -> RecomputedAuction:
    """Retract the actor's own bids on `auction_id` by eBay's rules (domain/retraction.py)
    and recompute the auction: more than 12 h before the end all of them, within the last
    12 h only the latest ever placed (not one already retracted) and only within 1 h of
    placing it. Raises NotFound, RetractionNotAllowed (code RETRACTION_NOT_ALLOWED:
    NO_BIDS, ALREADY_RETRACTED, TOO_LATE), InvalidState
    (AUCTION_ENDED, AUCTION_NOT_ACTIVE), Conflict (AUCTION_BUSY)."""

    def allowed(bids: Sequence[_Bid], ends: datetime) -> list[int]:
        own = [OwnBid(b.sequence, b.placed_at, b.voided) for b in bids if b.bidder_id == actor.id]
        return retractable(own, ends, deps.clock())

    return await _recompute(deps, actor.id, auction_id, allowed, VoidReason.RETRACTED, None)


async def _recompute(
    deps: Deps,
    actor_id: uuid.UUID | None,
    auction_id: uuid.UUID,
    choose: Chooser,
    reason: VoidReason,
    note: str | None,
) -> RecomputedAuction:
    for _ in range(RECOMPUTE_ATTEMPTS):
        auction, expected, ends, bids, barred = await _read(deps, auction_id)
        gone = set(choose(bids, ends))
        remaining = [
            ReplayBid(b.sequence, str(b.bidder_id), b.amount, b.ceiling)
            for b in bids
            if not b.voided and b.sequence not in gone
        ]
        result = await deps.slots.recompute(
            auction_id,
            expected_sequence=expected,
            reason=reason.value,
            voided=sorted(gone),
            remaining=remaining,
            actor=actor_id,
            note=note,
            skip=[b.sequence for b in remaining if uuid.UUID(b.bidder) in barred],
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


async def _read(
    deps: Deps, auction_id: uuid.UUID
) -> tuple[Auction, int, datetime, list[_Bid], set[uuid.UUID]]:
    """The auction's bids now (voided ones flagged), with the slot's sequence and end
    they go with, and the bidders among them now banned or on fraud hold."""
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
            select(Bid).where(col(Bid.auction_id) == auction_id).order_by(col(Bid.sequence))
        )
        bids = {
            b.sequence: _Bid(
                b.sequence,
                b.bidder_id,
                b.amount,
                b.max_amount,
                b.placed_at,
                voided=b.voided_at is not None,
            )
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
                    _Bid(e.sequence, uuid.UUID(e.bidder), e.amount, e.max_amount, e.at),
                )
            elif isinstance(e, BidsVoided):
                voided.update(e.voided)
        after = events[-1].sequence
    ordered = [
        bids[s] if s not in voided else _replace(bids[s], voided=True)
        for s in sorted(bids)
        if s <= live.sequence
    ]
    barred = await _barred_bidders(deps, {b.bidder_id for b in ordered if not b.voided})
    return recorded, live.sequence, live.ends_at, ordered, barred


async def _barred_bidders(deps: Deps, bidders: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `bidders` now banned or on fraud hold: their bids are not replayed."""
    if not bidders:
        return set()
    async with deps.uow() as uow:
        rows = await uow.session.exec(
            select(User.id).where(
                col(User.id).in_(bidders),
                or_(col(User.banned_at).is_not(None), col(User.fraud_hold).is_(True)),
            )
        )
        return set(rows.all())


def _refuse(status: str) -> NoReturn:
    if status == AuctionStatus.ENDED.value:
        raise InvalidState("the auction has ended", code="AUCTION_ENDED", field="auctionId")
    raise InvalidState("the auction is not active", code="AUCTION_NOT_ACTIVE", field="auctionId")


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
