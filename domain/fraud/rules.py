"""The account rules besides shill bidding (SPEC section 8): shared identity with the
seller, a new account's high-value bids, bid velocity, retraction abuse.

Each is a pure function of plain facts returning a `Signal`, or None when it does not
fire. Their parameters come from `FraudPolicy` (settings: GAVEL_FRAUD_*).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.fraud.facts import BidFact
from domain.fraud.signals import Signal, clamp_score


@dataclass(frozen=True, slots=True)
class FraudPolicy:
    """Thresholds of the rules and of the actions (docs/fraud.md, settings.py).

    Scores 0..100; `high_value_bid` in minor units of the auction's currency;
    `velocity_per_minute` bids by one account in any 60 s; `retraction_ratio`
    retractions / bids, counted from `retraction_min` retractions on.

    Sightings (client-chosen fingerprints, IP addresses): an account keeps at most
    `device_limit` distinct fingerprints per look-back window, more is
    `fingerprint_spraying`; a value seen on more than `shared_value_accounts` accounts
    (a proxy's address, a common default fingerprint) links nobody; a shared identity
    counts towards the total only beside a shill signal of at least
    `shill_corroboration` on the same seller's auction; a bidder's flag-level shill
    signals on at least `repeat_auctions` auctions of one seller combine.
    """

    flag_threshold: int = 60
    hold_threshold: int = 70
    new_account_age: timedelta = timedelta(days=7)
    high_value_bid: int = 100_000
    velocity_per_minute: int = 30
    retraction_ratio: float = 0.2
    retraction_min: int = 2
    lookback: timedelta = timedelta(days=30)
    device_limit: int = 5
    shared_value_accounts: int = 8
    shill_corroboration: int = 60
    repeat_auctions: int = 3


# Both below the hold threshold: a fingerprint is whatever the client sends and an
# address may be a household's, an office's or a proxy's, so neither holds alone
# (domain/fraud/assess.py counts them only beside a shill signal).
SHARED_DEVICE = 65
SHARED_IP = 60
FINGERPRINT_SPRAYING = "fingerprint_spraying"


def shared_identity(
    bidder_sightings: Collection[tuple[str, str]],
    seller_sightings: Collection[tuple[str, str]],
    *,
    seller_id: uuid.UUID,
    auction_id: uuid.UUID,
) -> Signal | None:
    """Bidder and seller were seen with the same device fingerprint (score 65) or only
    the same IP address (60). Either flags; neither holds alone (see SHARED_DEVICE).
    Sightings are (kind, keyed hash), common values already left out by the caller."""
    shared = set(bidder_sightings) & set(seller_sightings)
    if not shared:
        return None
    kinds = sorted({kind for kind, _ in shared})
    score = SHARED_DEVICE if "device" in kinds else SHARED_IP
    return Signal(
        rule="shared_identity",
        score=score,
        explanation=f"shares {' and '.join(kinds)} with the seller of an auction it bids on",
        evidence={"shared": kinds, "count": len(shared), "seller_id": str(seller_id)},
        auction_id=auction_id,
    )


def new_account_high_value(
    account_created_at: datetime,
    bids: Sequence[tuple[uuid.UUID, BidFact]],
    policy: FraudPolicy,
) -> Signal | None:
    """An account younger than `new_account_age` bidding at least `high_value_bid`
    (amount or proxy maximum, minor units) at the time of the bid. `bids` are
    (auction id, bid); bids dated before the account's creation are skipped. Score 60,
    up to 75 at ten times the threshold."""
    worst: tuple[uuid.UUID, BidFact] | None = None
    for auction_id, bid in bids:
        # A bid older than its account only exists in imported or seeded data: the
        # account's age at that bid is unknown, so it is no evidence either way.
        age = bid.placed_at - account_created_at
        young = timedelta(0) <= age < policy.new_account_age
        big = bid.amount >= policy.high_value_bid
        if young and big and (worst is None or bid.amount > worst[1].amount):
            worst = (auction_id, bid)
    if worst is None:
        return None
    auction_id, bid = worst
    times = bid.amount / policy.high_value_bid
    age = bid.placed_at - account_created_at
    return Signal(
        rule="new_account_high_value",
        score=clamp_score(60 + 15 * min(1.0, (times - 1) / 9)),
        explanation=(
            f"account {_age_text(age)} old bid {bid.amount} minor units "
            f"(threshold {policy.high_value_bid})"
        ),
        evidence={
            "amount": bid.amount,
            "threshold": policy.high_value_bid,
            "account_age_seconds": int(age.total_seconds()),
        },
        auction_id=auction_id,
    )


def _age_text(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours} hours" if hours < 48 else f"{age.days} days"


def fingerprint_spraying(policy: FraudPolicy) -> Signal:
    """The account presented more than `device_limit` distinct device fingerprints in
    the look-back window: a flag (at the flag threshold), never a hold. The fingerprints
    beyond the limit are not stored, so they link it to nobody
    (services/fraud/sightings.py)."""
    return Signal(
        rule=FINGERPRINT_SPRAYING,
        score=policy.flag_threshold,
        explanation=(
            f"presented more than {policy.device_limit} distinct device fingerprints "
            f"within {policy.lookback.days} days; the extra ones were not recorded"
        ),
        evidence={"limit": policy.device_limit, "lookback_days": policy.lookback.days},
    )


def bid_velocity(placed: Sequence[datetime], policy: FraudPolicy) -> Signal | None:
    """The most bids the account placed within any 60 s, across auctions, at least
    `velocity_per_minute`: score 60 at the limit, +10 per further limit's worth, max 90."""
    times = sorted(placed)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= timedelta(seconds=60):
            start += 1
        most = max(most, end - start + 1)
    if most < policy.velocity_per_minute:
        return None
    return Signal(
        rule="bid_velocity",
        score=clamp_score(min(90.0, 60 + 10 * (most / policy.velocity_per_minute - 1))),
        explanation=f"{most} bids within one minute (limit {policy.velocity_per_minute})",
        evidence={"bids_in_a_minute": most, "limit": policy.velocity_per_minute},
    )


def retraction_abuse(retractions: int, bids: int, policy: FraudPolicy) -> Signal | None:
    """Retracting often: at least `retraction_min` retractions and retractions / bids at
    least `retraction_ratio`. Score 60 at the ratio, rising to 100 at three times it."""
    if retractions < policy.retraction_min or bids <= 0:
        return None
    ratio = retractions / bids
    if ratio < policy.retraction_ratio:
        return None
    return Signal(
        rule="retraction_abuse",
        score=clamp_score(60 + 20 * min(2.0, ratio / policy.retraction_ratio - 1)),
        explanation=f"{retractions} retractions for {bids} bids ({ratio:.0%})",
        evidence={"retractions": retractions, "bids": bids, "ratio": round(ratio, 3)},
    )
