"""The plain facts the fraud rules read: bids, auctions, the market around them.

Money is integer minor units; times are aware datetimes. Retracted bids are left out by
whoever builds these (the retraction-abuse rule counts them instead); voided ones stay:
voiding changes the auction, not what the bidder did, and a hold or ban voids the
account's bids, which must not erase the evidence that caused it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BidFact:
    """One accepted, not retracted bid: who, how much (minor units), when, its sequence."""

    bidder_id: uuid.UUID
    amount: int
    placed_at: datetime
    sequence: int


@dataclass(frozen=True, slots=True)
class AuctionFact:
    """An auction as the shill features see it. `bids` are in sequence order. `opened_at`
    is when bidding opened (activation, else the scheduled start); `winner_id` is the
    winner of an ENDED auction, else the current leader (None: nobody)."""

    id: uuid.UUID
    seller_id: uuid.UUID
    starting_price: int
    opened_at: datetime
    ends_at: datetime
    ended: bool
    winner_id: uuid.UUID | None
    bids: tuple[BidFact, ...]

    def bidders(self) -> set[uuid.UUID]:
        return {b.bidder_id for b in self.bids}

    def bids_of(self, bidder_id: uuid.UUID) -> list[BidFact]:
        return [b for b in self.bids if b.bidder_id == bidder_id]


@dataclass(frozen=True, slots=True)
class Market:
    """Averages over the auctions concurrent with the ones scored (the UCI dataset's
    "Auction Bids" and "Starting Price Average" compare an auction with these)."""

    average_bids: float
    average_starting_price: float
