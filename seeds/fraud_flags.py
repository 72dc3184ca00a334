"""The demo's OPEN fraud flags (docs/admin-api.md): exactly what the fraud rules raise on
the seeded bidding, built by running them (domain/fraud/assess.py, default policy) the
way the scorer does, and stored in the scorer's shape (domain/fraud/flags.py). When the
app's scorer first runs over the demo data it finds these same flags and updates them
in place (one OPEN flag per user, rule and auction) instead of adding others.

Deterministic, no random draws (the other rows' random sequence stays as it was). The
demo has no sightings (no IP addresses or fingerprints) and no retractions.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from domain.enums import AuctionStatus, FraudFlagStatus
from domain.fraud.assess import BidderCase, assess
from domain.fraud.facts import AuctionFact, BidFact, Market
from domain.fraud.flags import flags_of
from domain.fraud.rules import FraudPolicy
from seeds.base import SeedRows, seed_id
from storage.tables import Auction, FraudFlag


def _status(auction: Auction) -> str:
    return str(getattr(auction.status, "value", auction.status))


def _scored(rows: SeedRows, now: datetime, policy: FraudPolicy) -> list[Auction]:
    """The auctions the scorer reads: ACTIVE, or ENDED within the look-back window."""
    since = now - policy.lookback
    return [
        a
        for a in rows.auctions
        if _status(a) == AuctionStatus.ACTIVE.value
        or (_status(a) == AuctionStatus.ENDED.value and a.ended_at and a.ended_at >= since)
    ]


def demo_flags(rows: SeedRows, now: datetime, policy: FraudPolicy | None = None) -> list[FraudFlag]:
    """The OPEN flags the rules raise on `rows` as of `now` (services/fraud/facts.py reads
    the same facts from the database)."""
    policy = policy or FraudPolicy()
    scored = _scored(rows, now, policy)
    if not scored:
        return []
    bids: dict[uuid.UUID, list[BidFact]] = defaultdict(list)
    for bid in sorted(rows.bids, key=lambda b: (str(b.auction_id), b.sequence)):
        if bid.voided_at is None:
            value = max(bid.amount, bid.max_amount or 0)
            bids[bid.auction_id].append(BidFact(bid.bidder_id, value, bid.placed_at, bid.sequence))
    facts = [
        AuctionFact(
            id=a.id,
            seller_id=a.seller_id,
            starting_price=a.starting_price,
            opened_at=a.activated_at or a.starts_at or a.published_at or a.created_at,
            ends_at=a.ends_at,
            ended=_status(a) == AuctionStatus.ENDED.value,
            winner_id=a.winner_id if _status(a) == AuctionStatus.ENDED.value else a.leader_id,
            bids=tuple(bids[a.id]),
        )
        for a in scored
    ]
    market = Market(
        average_bids=sum(a.bid_count for a in scored) / len(scored),
        average_starting_price=sum(a.starting_price for a in scored) / len(scored),
    )
    joined: dict[uuid.UUID, list[AuctionFact]] = defaultdict(list)
    for fact in facts:
        for bidder in fact.bidders():
            joined[bidder].append(fact)
    created = {u.id: u.created_at for u in rows.users}
    flags: list[FraudFlag] = []
    for bidder in sorted(joined, key=str):
        case = BidderCase(
            bidder, created[bidder], sorted(joined[bidder], key=lambda a: a.opened_at)
        )
        found = assess(case, market, policy, now)
        for signal, details in flags_of(found, policy, held=False, holds=found.hold):
            flags.append(
                FraudFlag(
                    id=seed_id("fraud_flag", f"{signal.rule}:{bidder}:{signal.auction_id}"),
                    user_id=bidder,
                    auction_id=signal.auction_id,
                    rule=signal.rule,
                    score=signal.score,
                    details=details,
                    status=FraudFlagStatus.OPEN.value,
                    created_at=now,
                )
            )
    return flags
