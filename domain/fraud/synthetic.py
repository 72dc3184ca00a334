"""Synthetic auctions for measuring the fraud rules: honest crowds and shill rings.

Everything follows from `LabParameters` and its seed (random.Random), so a run is
reproducible. Model (docs/fraud.md "Method"):

- `sellers` sellers list `auctions_per_seller` auctions each, over `days` days, each
  open `duration_hours`. Honest sellers start at 50-150% of the typical price
  (`typical_price`, minor units); a ring's seller starts low, at 20-60%.
- Honest bidders (`honest_bidders` of them) value an item at 60-250% of the typical
  price. Each auction draws 2..`max_crowd` of them; `loyal_share` of honest bidders are
  fans who pick one favourite seller's auctions most of the time (honest, but with a high
  bidder tendency). An honest bidder bids 1..3 times, when it is not leading and the
  price is under its valuation, by one to three increments, at random times, with
  `sniper_share` of the bids in the last 10% of the auction.
- A shill ring of `ring_size` (2..3) accounts serves `ring_sellers` of the sellers: on
  each of its seller's auctions each shill joins with probability `shill_join`, bids
  early (first 25%) and often (3-8 times) by one minimum increment whenever it is not
  leading, and stops before 85% of the duration or at its cap (70-110% of the typical
  price): it pushes the price and rarely wins.

The increment is 5% of the price (at least 1 minor unit). A shill is the positive class.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.fraud.facts import AuctionFact, BidFact, Market


@dataclass(frozen=True, slots=True)
class LabParameters:
    seed: int = 20261130
    sellers: int = 40
    ring_sellers: int = 10
    ring_size: tuple[int, int] = (2, 3)
    auctions_per_seller: int = 6
    honest_bidders: int = 400
    max_crowd: int = 10
    loyal_share: float = 0.1
    sniper_share: float = 0.4
    shill_join: float = 0.8
    typical_price: int = 10_000
    days: int = 30
    duration_hours: int = 72
    # How a shill bids: first bids within this share of the duration, stops by
    # `shill_stop`, `shill_bids` early bids, raises by 1..`shill_steps` increments.
    shill_window: float = 0.25
    shill_stop: float = 0.85
    shill_bids: tuple[int, int] = (3, 8)
    shill_steps: int = 1
    # Honest bidders in a bidding war: this share of them raise by one increment only.
    small_steppers: float = 0.0
    # This share of every account (honest and shill) was opened during the lab's month
    # (new when it bids); the rest are 30 days to 5 years old.
    new_accounts: float = 0.1


# Cautious rings and honest crowds that look more like them (docs/fraud.md "hard lab"):
# shills start later, bid less, take bigger steps and stay longer; a third of the honest
# bidders are fans of one seller and a third raise by the minimum; prices are six times
# higher and a fifth of the accounts new, so new accounts' high-value bids are common.
HARD = LabParameters(
    typical_price=60_000,
    new_accounts=0.2,
    loyal_share=0.33,
    small_steppers=0.33,
    shill_window=0.5,
    shill_stop=0.95,
    shill_bids=(2, 5),
    shill_steps=2,
)


@dataclass(slots=True)
class LabData:
    auctions: list[AuctionFact]
    shills: set[uuid.UUID]
    honest: set[uuid.UUID]
    created_at: dict[uuid.UUID, datetime] = field(default_factory=dict)
    now: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def market(self) -> Market:
        n = max(1, len(self.auctions))
        return Market(
            average_bids=sum(len(a.bids) for a in self.auctions) / n,
            average_starting_price=sum(a.starting_price for a in self.auctions) / n,
        )

    def joined(self) -> dict[uuid.UUID, list[AuctionFact]]:
        """Each bidder's auctions."""
        found: dict[uuid.UUID, list[AuctionFact]] = {}
        for auction in self.auctions:
            for bidder in auction.bidders():
                found.setdefault(bidder, []).append(auction)
        return found


@dataclass(slots=True)
class _Plan:
    bidder: uuid.UUID
    at: float  # share of the duration, 0..1
    shill: bool
    value: int
    steps: int  # raises by 1..steps increments


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _step(price: int) -> int:
    return max(1, price * 5 // 100)


def generate(params: LabParameters | None = None) -> LabData:
    """Build the lab's auctions, labelled (see the module docstring)."""
    p = params or LabParameters()
    rng = random.Random(p.seed)
    epoch = datetime(2025, 12, 1, tzinfo=UTC)
    sellers = [_uuid(rng) for _ in range(p.sellers)]
    honest = [_uuid(rng) for _ in range(p.honest_bidders)]
    values = {h: int(p.typical_price * rng.uniform(0.6, 2.5)) for h in honest}
    fans = {h: rng.choice(sellers) for h in honest if rng.random() < p.loyal_share}
    steppers = {h for h in honest if rng.random() < p.small_steppers}
    rings = {
        s: [_uuid(rng) for _ in range(rng.randint(*p.ring_size))]
        for s in rng.sample(sellers, p.ring_sellers)
    }
    data = LabData(auctions=[], shills={m for r in rings.values() for m in r}, honest=set(honest))
    for account in [*sellers, *honest, *data.shills]:
        new = rng.random() < p.new_accounts
        age = timedelta(days=-rng.uniform(0, p.days) if new else rng.randint(30, 2000))
        data.created_at[account] = epoch - age
    duration = timedelta(hours=p.duration_hours)
    for seller in sellers:
        ring = rings.get(seller, [])
        for _ in range(p.auctions_per_seller):
            low = (0.2, 0.6) if ring else (0.5, 1.5)
            start = max(1, int(p.typical_price * rng.uniform(*low)))
            opened = epoch + timedelta(hours=rng.uniform(0, 24 * p.days))
            crowd = rng.sample(honest, rng.randint(2, p.max_crowd))
            crowd += [f for f, fav in fans.items() if fav == seller and rng.random() < 0.7]
            plans: list[_Plan] = []
            for bidder in dict.fromkeys(crowd):
                for _ in range(rng.randint(1, 3)):
                    late = rng.random() < p.sniper_share
                    at = rng.uniform(0.9, 1.0) if late else rng.uniform(0.0, 1.0)
                    steps = 1 if bidder in steppers else 3
                    plans.append(_Plan(bidder, at, False, values[bidder], steps))
            for shill in ring:
                if rng.random() < p.shill_join:
                    cap = int(p.typical_price * rng.uniform(0.7, 1.1))
                    for _ in range(rng.randint(*p.shill_bids)):
                        at = rng.uniform(0.0, p.shill_window)
                        plans.append(_Plan(shill, at, True, cap, p.shill_steps))
                    for _ in range(rng.randint(0, 3)):
                        at = rng.uniform(p.shill_window, p.shill_stop)
                        plans.append(_Plan(shill, at, True, cap, p.shill_steps))
            data.auctions.append(_run(rng, seller, start, opened, duration, plans))
    data.now = epoch + timedelta(days=p.days) + duration
    # An account exists before its first bid: a new account drawn to open after it did
    # opens an hour before it instead (no random draw, so the bids stay as they were).
    for auction in data.auctions:
        for bid in auction.bids:
            opened_at = bid.placed_at - timedelta(hours=1)
            if data.created_at[bid.bidder_id] > opened_at:
                data.created_at[bid.bidder_id] = opened_at
    return data


def _run(
    rng: random.Random,
    seller: uuid.UUID,
    start: int,
    opened: datetime,
    duration: timedelta,
    plans: list[_Plan],
) -> AuctionFact:
    price, leader = start, None
    bids: list[BidFact] = []
    for plan in sorted(plans, key=lambda x: x.at):
        if plan.bidder == leader:
            continue
        amount = (
            start
            if leader is None
            else price + _step(price) * (1 if plan.shill else rng.randint(1, 3))
        )
        if amount > plan.value:
            continue
        price, leader = amount, plan.bidder
        at = opened + duration * plan.at
        bids.append(BidFact(plan.bidder, amount, at, len(bids) + 1))
    return AuctionFact(
        id=_uuid(rng),
        seller_id=seller,
        starting_price=start,
        opened_at=opened,
        ends_at=opened + duration,
        ended=True,
        winner_id=leader,
        bids=tuple(bids),
    )
