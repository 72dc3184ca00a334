"""Which of a bidder's bids they may retract (eBay's bid retraction rules; SPEC section 8).

Source: eBay's "Retracting a bid" help page. More than 12 hours before the auction ends, a
bidder may retract every bid they placed on it. Within the last 12 hours, only their
latest bid, and only within 1 hour of placing it. "Latest" is the latest bid they ever
placed on the auction, voided or not: retracting it never makes the bid before it the
latest, so a second retraction cannot walk back earlier bids. Anything else is refused
with `RETRACTION_NOT_ALLOWED` and a reason:

- `NO_BIDS`: the bidder has no live (non-voided) bid on the auction;
- `ALREADY_RETRACTED`: the auction ends within 12 hours and the bidder's latest bid was
  already retracted or voided;
- `TOO_LATE`: the auction ends within 12 hours and the latest bid is more than 1 hour old.

Pure: the caller supplies the bids and the clock. Retracting removes bids; the auction is
then recomputed from the remaining ones (services/bid_voiding.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import DomainError

FULL_RETRACTION_BEFORE_END = timedelta(hours=12)
LATEST_BID_GRACE = timedelta(hours=1)


class RetractionNotAllowed(DomainError):
    """eBay's rules forbid this retraction; `reason` is NO_BIDS, ALREADY_RETRACTED or
    TOO_LATE."""

    code = "RETRACTION_NOT_ALLOWED"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{message} ({reason})", field="auctionId")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OwnBid:
    """One of the bidder's bids: its event sequence, when the slot accepted it, and
    whether it was voided or retracted since."""

    sequence: int
    placed_at: datetime
    voided: bool = False


def retractable(bids: Sequence[OwnBid], ends_at: datetime, now: datetime) -> list[int]:
    """The sequences the bidder may retract now (ascending), by eBay's rules.

    `bids` are all the bidder's bids on one auction, voided ones included (they decide
    which bid is the latest), `ends_at` its current end. Raises RetractionNotAllowed
    (NO_BIDS, ALREADY_RETRACTED, TOO_LATE) when none may be retracted."""
    live = [b for b in bids if not b.voided]
    if not live:
        raise RetractionNotAllowed("NO_BIDS", "you have no bid to retract on this auction")
    if ends_at - now > FULL_RETRACTION_BEFORE_END:
        return sorted(b.sequence for b in live)
    latest = max(bids, key=lambda b: b.sequence)
    if latest.voided:
        raise RetractionNotAllowed(
            "ALREADY_RETRACTED",
            "within 12 hours of the end only your latest bid can be retracted, and it already was",
        )
    if now - latest.placed_at <= LATEST_BID_GRACE:
        return [latest.sequence]
    raise RetractionNotAllowed(
        "TOO_LATE",
        "within 12 hours of the end only your latest bid can be retracted, within 1 hour"
        " of placing it",
    )
