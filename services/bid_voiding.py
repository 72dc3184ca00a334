"""Voiding a bidder's bids (admin) and retracting one's own (eBay's rules), with the
auction recomputed exactly from the bids that remain.

Both go through `AuctionSlots.recompute` (realtime/lua/recompute.lua), which replays the
remaining bids through the very rules that decided them (realtime/lua/common.lua) and
appends one BIDS_VOIDED event; the persister records it (realtime/recompute_records.py:
bids marked void, the auction row, notifications). Only ACTIVE English and sealed
auctions can be recomputed (a Dutch auction ends on its one bid).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from services.deps import Deps
from storage.tables import User


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
    ignored: list[int] = field(default_factory=list)
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class VoidReport:
    auctions: list[RecomputedAuction]


async def void_bids(
    deps: Deps,
    actor: User,
    bidder_id: uuid.UUID,
    auction_id: uuid.UUID | None = None,
    *,
    reason: str,
) -> VoidReport:
    """Void every live bid of `bidder_id` on `auction_id` (None: on every ACTIVE auction
    they have live bids on) and recompute each auction. Admins only (Forbidden).
    Raises NotFound (no such auction), InvalidState with code AUCTION_ENDED or
    AUCTION_NOT_ACTIVE (only ACTIVE English or sealed auctions), ValidationFailed (an
    empty or over-long `reason`, at most 500 characters)."""
    raise NotImplementedError


async def retract_bids(deps: Deps, actor: User, auction_id: uuid.UUID) -> RecomputedAuction:
    """Retract the actor's own bids on `auction_id` by eBay's rules (domain/retraction.py)
    and recompute the auction. Raises NotFound, RetractionNotAllowed (code
    RETRACTION_NOT_ALLOWED: NO_BIDS, TOO_LATE), InvalidState (AUCTION_ENDED,
    AUCTION_NOT_ACTIVE)."""
    raise NotImplementedError
