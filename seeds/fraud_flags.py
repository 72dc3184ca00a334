"""A few OPEN fraud flags for the demo's admin queue (docs/admin-api.md), with their
signals in `details` as the fraud rules write them: deterministic, no random draws (the
other rows' random sequence stays as it was).

The flagged bidders are the most active bidders of the seeded live English auctions,
named against the auction's seller; the numbers are illustrative, not a rule's output.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta

from domain.enums import AuctionStatus, AuctionType, FraudFlagStatus
from seeds.base import SeedRows, seed_id
from storage.tables import FraudFlag

DEMO_FLAGS = 4

_SHAPES = [
    (
        "shill_bidding",
        82,
        [
            {
                "name": "bidder_tendency",
                "value": 0.86,
                "weight": 30,
                "explanation": "86% of this bidder's bids go to this seller",
            },
            {
                "name": "successive_outbidding",
                "value": 0.7,
                "weight": 22,
                "explanation": "outbids the same rival right after each of their bids",
            },
            {
                "name": "winning_ratio",
                "value": 0.04,
                "weight": 18,
                "explanation": "won 1 of 25 auctions bid on",
            },
        ],
    ),
    (
        "shared_device_with_seller",
        75,
        [
            {
                "name": "shared_ip",
                "value": 1,
                "weight": 40,
                "explanation": "logged in from the seller's IP address",
            },
            {
                "name": "shared_device",
                "value": 1,
                "weight": 35,
                "explanation": "the seller's device fingerprint",
            },
        ],
    ),
    (
        "new_account_high_value",
        64,
        [
            {
                "name": "account_age_hours",
                "value": 6,
                "weight": 30,
                "explanation": "account 6 hours old",
            },
            {
                "name": "bid_amount_percentile",
                "value": 0.97,
                "weight": 34,
                "explanation": "bid in the top 3% of the category",
            },
        ],
    ),
    (
        "bid_velocity",
        58,
        [
            {
                "name": "bids_per_minute",
                "value": 14,
                "weight": 58,
                "explanation": "14 bids in one minute across 6 auctions",
            },
        ],
    ),
]


def demo_flags(rows: SeedRows, now: datetime) -> list[FraudFlag]:
    """OPEN flags on the busiest bidders of live English auctions, one rule each."""
    live = {
        a.id: a
        for a in rows.auctions
        if a.status == AuctionStatus.ACTIVE and a.type == AuctionType.ENGLISH
    }
    counts = Counter((b.bidder_id, b.auction_id) for b in rows.bids if b.auction_id in live)
    picked: list[tuple[uuid.UUID, uuid.UUID]] = []
    for (bidder_id, auction_id), _ in counts.most_common():
        if bidder_id not in {b for b, _ in picked}:
            picked.append((bidder_id, auction_id))
        if len(picked) == DEMO_FLAGS:
            break
    flags = []
    for index, ((bidder_id, auction_id), (rule, score, signals)) in enumerate(
        zip(picked, _SHAPES, strict=False)
    ):
        flags.append(
            FraudFlag(
                id=seed_id("fraud_flag", f"{rule}:{bidder_id}"),
                user_id=bidder_id,
                auction_id=auction_id,
                rule=rule,
                score=score,
                details={"signals": signals, "seller_id": str(live[auction_id].seller_id)},
                status=FraudFlagStatus.OPEN.value,
                created_at=now - timedelta(hours=2 + 3 * index),
            )
        )
    return flags
