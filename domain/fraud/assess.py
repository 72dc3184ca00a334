"""One account's assessment: every rule on its recent activity, the combined total,
and what follows from it (flags at `flag_threshold`, a hold at `hold_threshold`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.fraud.facts import AuctionFact, BidFact, Market
from domain.fraud.rules import (
    FraudPolicy,
    bid_velocity,
    new_account_high_value,
    retraction_abuse,
    shared_identity,
)
from domain.fraud.shill import shill_signal
from domain.fraud.signals import Signal, combine, strongest_per_rule

Sightings = frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class BidderCase:
    """What is known of one bidder: the account's age, the auctions it bid on in the
    look-back window (with all their bids), its sightings and its sellers' sightings
    (keyed by seller id), and its retractions (count) in the window."""

    bidder_id: uuid.UUID
    created_at: datetime
    auctions: Sequence[AuctionFact]
    sightings: Sightings = frozenset()
    seller_sightings: Mapping[uuid.UUID, Sightings] = field(default_factory=dict)
    retractions: int = 0


@dataclass(frozen=True, slots=True)
class Assessment:
    bidder_id: uuid.UUID
    signals: list[Signal]  # every signal that fired (per auction where it applies)
    total: int  # the combined score, 0..100
    hold: bool  # total at or above the hold threshold

    def flags(self, policy: FraudPolicy) -> list[Signal]:
        """The signals worth an admin's look: at or above the flag threshold."""
        return [s for s in self.signals if s.score >= policy.flag_threshold]


def assess(case: BidderCase, market: Market, policy: FraudPolicy, now: datetime) -> Assessment:
    """Run every rule on `case`. The total combines the strongest signal of each rule
    that reaches the flag threshold (domain/fraud/signals.py): weaker ones are noise, and
    adding them up held honest newcomers in the synthetic lab (docs/fraud.md).
    Self-bidding is not here: the bid script refuses it."""
    own: list[tuple[uuid.UUID, BidFact]] = [
        (a.id, b) for a in case.auctions for b in a.bids if b.bidder_id == case.bidder_id
    ]
    signals: list[Signal] = []
    for auction in case.auctions:
        shill = shill_signal(case.bidder_id, auction, case.auctions, market, now)
        if shill is not None and shill.score > 0:
            signals.append(shill)
        seller = case.seller_sightings.get(auction.seller_id, frozenset())
        shared = shared_identity(
            case.sightings, seller, seller_id=auction.seller_id, auction_id=auction.id
        )
        if shared is not None:
            signals.append(shared)
    for found in (
        new_account_high_value(case.created_at, own, policy),
        bid_velocity([b.placed_at for _, b in own], policy),
        retraction_abuse(case.retractions, len(own) + case.retractions, policy),
    ):
        if found is not None:
            signals.append(found)
    evidence = [s for s in strongest_per_rule(signals) if s.score >= policy.flag_threshold]
    total = combine(evidence)
    return Assessment(case.bidder_id, signals, total, total >= policy.hold_threshold)
