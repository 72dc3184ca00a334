"""What anyone may see of an auction at a moment: one pure function, `public_state`.

The rules are docs/auction-rules.md's (SPEC §3-4): the current price and the minimum next
bid per auction type, the Dutch clock, `reserveMet` (the reserve itself stays the
seller's), and what a sealed auction hides until it ends (its price, its leader, the
amounts of its bids). The API's `Auction` fields and the demo data read this, so the price
an auction shows is the price its rules give.

Money is integer minor units of the auction's currency; moments are aware datetimes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.enums import AuctionOutcome, AuctionStatus, AuctionType
from domain.outcome import FinalState, decide
from domain.pricing import dutch_price, english_minimum_next_bid


def dutch_clock_start(
    activated_at: datetime | None,
    starts_at: datetime | None,
    published_at: datetime | None,
    created_at: datetime,
) -> datetime:
    """When an auction's Dutch clock started: when it became active (docs/auction-rules.md,
    "Dutch"). Publishing and the scheduler record that as `activated_at`; a row without it
    (written by hand or by an older release) counts from the closest moment it has: its
    start time (publishing at once sets it to that moment), its publication, and last its
    creation. The slot (`SlotSeed.activated_at`) and the API take the same moment, so the
    price shown is the price a bid pays."""
    return activated_at or starts_at or published_at or created_at


@dataclass(frozen=True, slots=True)
class Terms:
    """The fixed terms public state is computed from (a listing's, or the slot's copy)."""

    type: AuctionType
    currency: str
    starting_price: int
    reserve_price: int | None  # the seller's secret: only `reserve_met` shows its effect
    dutch_step: int | None = None
    dutch_step_seconds: int | None = None
    dutch_floor: int | None = None
    clock_start: datetime | None = None  # Dutch: `dutch_clock_start` of the listing


@dataclass(frozen=True, slots=True)
class Standing:
    """The changing state of an auction: the stored record's, or its live slot's (which
    the record follows a few milliseconds behind)."""

    status: AuctionStatus
    price: int | None  # English/Dutch: the current price; None before the first bid
    leader: uuid.UUID | None
    bid_count: int
    sequence: int  # of its latest event
    ends_at: datetime  # including soft-close extensions
    outcome: AuctionOutcome | None = None  # set once the record knows it
    winner: uuid.UUID | None = None
    final_price: int | None = None


@dataclass(frozen=True, slots=True)
class PublicState:
    """An auction as the API shows it at a moment."""

    status: AuctionStatus
    current_price: int | None  # None: sealed until it ends, English before the first bid
    minimum_next_bid: int | None  # None once bidding is over (or cancelled)
    reserve_met: bool  # True without a reserve; sealed: only SOLD reveals it
    leader: uuid.UUID | None  # None on sealed and cancelled auctions
    bid_count: int
    sequence: int
    ends_at: datetime
    outcome: AuctionOutcome | None
    winner: uuid.UUID | None
    final_price: int | None
    bid_amounts_hidden: bool  # sealed and not ended: only each bid's bidder sees its amount


class AuctionRecord(Protocol):
    """The fields of a stored auction public state reads (`storage.tables.Auction`)."""

    @property
    def type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def starting_price(self) -> int: ...
    @property
    def reserve_price(self) -> int | None: ...
    @property
    def dutch_step(self) -> int | None: ...
    @property
    def dutch_step_seconds(self) -> int | None: ...
    @property
    def dutch_floor(self) -> int | None: ...
    @property
    def activated_at(self) -> datetime | None: ...
    @property
    def starts_at(self) -> datetime | None: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def current_price(self) -> int | None: ...
    @property
    def leader_id(self) -> uuid.UUID | None: ...
    @property
    def bid_count(self) -> int: ...
    @property
    def last_sequence(self) -> int: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def winner_id(self) -> uuid.UUID | None: ...
    @property
    def final_price(self) -> int | None: ...


def terms_of(record: AuctionRecord) -> Terms:
    """A stored auction's terms."""
    kind = AuctionType(record.type)
    return Terms(
        type=kind,
        currency=record.currency,
        starting_price=record.starting_price,
        reserve_price=record.reserve_price,
        dutch_step=record.dutch_step,
        dutch_step_seconds=record.dutch_step_seconds,
        dutch_floor=record.dutch_floor,
        clock_start=dutch_clock_start(
            record.activated_at, record.starts_at, record.published_at, record.created_at
        ),
    )


def standing_of(record: AuctionRecord) -> Standing:
    """A stored auction's standing, as the record has it."""
    return Standing(
        status=AuctionStatus(record.status),
        price=record.current_price,
        leader=record.leader_id,
        bid_count=record.bid_count,
        sequence=record.last_sequence,
        ends_at=record.ends_at,
        outcome=AuctionOutcome(record.outcome) if record.outcome else None,
        winner=record.winner_id,
        final_price=record.final_price,
    )


def bid_amounts_hidden(kind: AuctionType, status: AuctionStatus) -> bool:
    """Sealed bids stay secret until the end, except from their own bidder."""
    return kind.sealed and status is not AuctionStatus.ENDED


def bid_amount_visible(kind: AuctionType, status: AuctionStatus, *, own: bool) -> bool:
    """Whether a viewer sees a bid's amount: always their `own`, others' unless hidden."""
    return own or not bid_amounts_hidden(kind, status)


def dutch_price_at(terms: Terms, now: datetime) -> int:
    """The Dutch clock's price at `now`: max(floor, start - floor(elapsed / interval) * step),
    `elapsed` counted from `terms.clock_start` (no start: the starting price)."""
    assert terms.dutch_step is not None and terms.dutch_step_seconds is not None
    start = terms.clock_start
    elapsed = (now - start).total_seconds() if start is not None else 0.0
    return dutch_price(
        terms.starting_price,
        terms.dutch_step,
        terms.dutch_step_seconds,
        terms.dutch_floor or 0,
        elapsed,
    )


def _with_live(terms: Terms, stored: Standing, live: Standing) -> Standing:
    """The live slot's standing over the record's. An English or Dutch auction that
    ended in the slot is decided here (domain/outcome.py); a sealed one's outcome needs
    its hidden bids, so it shows once the record has it."""
    sealed = terms.type.sealed
    outcome, winner, final = stored.outcome, stored.winner, stored.final_price
    if live.status is AuctionStatus.ENDED and not sealed:
        decided = decide(
            FinalState(
                type=terms.type,
                starting_price=terms.starting_price,
                reserve_price=terms.reserve_price,
                price=live.price,
                leader=str(live.leader) if live.leader else None,
            )
        )
        outcome = decided.result
        winner = uuid.UUID(decided.winner) if decided.winner else None
        final = decided.price
    return Standing(
        status=live.status,
        price=None if sealed else live.price,
        leader=live.leader,
        bid_count=live.bid_count,
        sequence=live.sequence,
        ends_at=live.ends_at,
        outcome=outcome,
        winner=winner,
        final_price=final,
    )


def public_state_of(record: AuctionRecord, live: Standing | None, now: datetime) -> PublicState:
    """`public_state` of a stored auction."""
    return public_state(terms_of(record), standing_of(record), live, now)


def public_state(
    terms: Terms, stored: Standing, live: Standing | None, now: datetime
) -> PublicState:
    """The public state of an auction at `now`, from its terms, its record and, while it
    is live, its slot's state (`live`, which wins over the record's)."""
    s = stored if live is None else _with_live(terms, stored, live)
    kind, status = terms.type, s.status
    hidden = bid_amounts_hidden(kind, status)
    dutch_now = (
        dutch_price_at(terms, now)
        if kind is AuctionType.DUTCH and status is AuctionStatus.ACTIVE
        else None
    )

    current: int | None
    if status is AuctionStatus.ENDED:
        current = s.final_price if s.final_price is not None else s.price
    elif hidden:
        current = None
    elif dutch_now is not None:
        current = dutch_now
    elif kind is AuctionType.DUTCH:
        current = terms.starting_price
    else:
        current = s.price

    minimum: int | None
    if status not in (AuctionStatus.SCHEDULED, AuctionStatus.ACTIVE):
        minimum = None
    elif kind is AuctionType.ENGLISH:
        minimum = english_minimum_next_bid(terms.starting_price, s.price, terms.currency)
    elif dutch_now is not None:
        minimum = dutch_now
    else:
        minimum = terms.starting_price

    reserve = terms.reserve_price
    if reserve is None:
        reserve_met = True
    elif kind.sealed:
        reserve_met = s.outcome is AuctionOutcome.SOLD
    else:
        reserve_met = s.price is not None and s.price >= reserve

    return PublicState(
        status=status,
        current_price=current,
        minimum_next_bid=minimum,
        reserve_met=reserve_met,
        leader=None if kind.sealed or status is AuctionStatus.CANCELLED else s.leader,
        bid_count=s.bid_count,
        sequence=s.sequence,
        ends_at=s.ends_at,
        outcome=s.outcome,
        winner=s.winner,
        final_price=s.final_price,
        bid_amounts_hidden=hidden,
    )
