"""One account's assessment: every rule on its recent activity, the combined total,
and what follows from it (flags at `flag_threshold`, a hold at `hold_threshold`)."""

from __future__ import annotations

import uuid
from collections import defaultdict
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
from domain.fraud.shill import RULE as SHILL_RULE
from domain.fraud.shill import shill_signal
from domain.fraud.signals import Signal, combine, strongest_per_rule

SHARED_RULE = "shared_identity"
REPEATED_SHILL = "repeated_shill_bidding"

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

    Two exceptions, both from issue 15's attack review (docs/fraud.md):
    - a shared identity (client-chosen fingerprint, IP address) counts only beside a
      shill signal of at least `shill_corroboration` on an auction of the same seller,
      and then that shill signal counts too: sightings alone flag, never hold;
    - shill signals at the flag threshold on at least `repeat_auctions` auctions of one
      seller combine into one `repeated_shill_bidding` signal, which stands in for
      `shill_bidding` in the total.
    Self-bidding is not here: the bid script refuses it."""
    own: list[tuple[uuid.UUID, BidFact]] = [
        (a.id, b) for a in case.auctions for b in a.bids if b.bidder_id == case.bidder_id
    ]
    signals: list[Signal] = []
    shills: list[tuple[uuid.UUID, Signal]] = []  # (seller, signal)
    shared: list[tuple[uuid.UUID, Signal]] = []
    for auction in case.auctions:
        shill = shill_signal(case.bidder_id, auction, case.auctions, market, now)
        if shill is not None and shill.score > 0:
            signals.append(shill)
            shills.append((auction.seller_id, shill))
        seller = case.seller_sightings.get(auction.seller_id, frozenset())
        found = shared_identity(
            case.sightings, seller, seller_id=auction.seller_id, auction_id=auction.id
        )
        if found is not None:
            signals.append(found)
            shared.append((auction.seller_id, found))
    repeated = repeated_shill(shills, policy)
    if repeated is not None:
        signals.append(repeated)
    for rule_found in (
        new_account_high_value(case.created_at, own, policy),
        bid_velocity([b.placed_at for _, b in own], policy),
        retraction_abuse(case.retractions, len(own) + case.retractions, policy),
    ):
        if rule_found is not None:
            signals.append(rule_found)
    evidence = _evidence(signals, shills, shared, repeated, policy)
    total = combine(evidence)
    return Assessment(case.bidder_id, signals, total, total >= policy.hold_threshold)


def repeated_shill(
    shills: Sequence[tuple[uuid.UUID, Signal]], policy: FraudPolicy
) -> Signal | None:
    """The bidder's flag-level shill signals on the auctions of the seller with the most
    of them, combined (noisy-or), when there are at least `repeat_auctions`: one
    auction's pattern may be chance, the same pattern again and again for one seller is
    what a ring does. None below that."""
    by_seller: dict[uuid.UUID, list[Signal]] = defaultdict(list)
    for seller_id, signal in shills:
        if signal.score >= policy.flag_threshold:
            by_seller[seller_id].append(signal)
    best: tuple[uuid.UUID, list[Signal]] | None = None
    for seller_id, found in by_seller.items():
        if len(found) >= policy.repeat_auctions and (
            best is None or combine(found) > combine(best[1])
        ):
            best = (seller_id, found)
    if best is None:
        return None
    seller_id, found = best
    return Signal(
        rule=REPEATED_SHILL,
        score=combine(found),
        explanation=(
            f"shill-like bidding (score {policy.flag_threshold} or more) on {len(found)} "
            "auctions of one seller"
        ),
        evidence={
            "seller_id": str(seller_id),
            "auctions": [str(s.auction_id) for s in found],
            "scores": [s.score for s in found],
        },
    )


def _evidence(
    signals: Sequence[Signal],
    shills: Sequence[tuple[uuid.UUID, Signal]],
    shared: Sequence[tuple[uuid.UUID, Signal]],
    repeated: Signal | None,
    policy: FraudPolicy,
) -> list[Signal]:
    """The signals the total combines (see `assess`)."""
    behavioural = [
        s
        for s in signals
        if s.rule not in (SHARED_RULE, SHILL_RULE, REPEATED_SHILL)
        and s.score >= policy.flag_threshold
    ]
    if repeated is not None:
        behavioural.append(repeated)
    else:
        behavioural += [s for _, s in shills if s.score >= policy.flag_threshold]
    for seller_id, link in shared:
        backing = [
            s
            for seller, s in shills
            if seller == seller_id and s.score >= policy.shill_corroboration
        ]
        if backing:
            behavioural += [link, max(backing, key=lambda s: s.score)]
    return strongest_per_rule(behavioural)
