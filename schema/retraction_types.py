"""What voiding and retracting bids answer: the auction's state before and after the
recompute (services/bid_voiding.py), and the retractBid payload."""

from __future__ import annotations

import strawberry

from schema.auction_types import Auction
from schema.errors import UserError
from schema.money import Money
from services import bid_voiding


@strawberry.type
class RecomputedState:
    """An auction's public state around a recompute; price and leader are null before
    the first bid and, on sealed auctions, always."""

    price: Money | None
    leader_id: strawberry.ID | None
    bid_count: int

    @classmethod
    def of(cls, state: bid_voiding.AuctionState, currency: str) -> RecomputedState:
        leader = None if state.leader_id is None else strawberry.ID(str(state.leader_id))
        return cls(
            price=Money.of(state.price, currency), leader_id=leader, bid_count=state.bid_count
        )


@strawberry.type
class RecomputedAuction:
    """One auction recomputed after bids were voided or retracted."""

    auction_id: strawberry.ID
    voided_sequences: list[int] = strawberry.field(
        description="The sequence numbers of the bids voided or retracted."
    )
    ignored_sequences: list[int] = strawberry.field(
        description="Remaining bids the rules now refuse: recorded, but they do not count."
    )
    sequence: int | None = strawberry.field(
        description="The BIDS_VOIDED event's sequence; null when nothing changed."
    )
    before: RecomputedState
    after: RecomputedState

    @classmethod
    def of(cls, result: bid_voiding.RecomputedAuction) -> RecomputedAuction:
        return cls(
            auction_id=strawberry.ID(str(result.auction_id)),
            voided_sequences=result.voided,
            ignored_sequences=result.ignored,
            sequence=result.sequence,
            before=RecomputedState.of(result.before, result.currency),
            after=RecomputedState.of(result.after, result.currency),
        )


@strawberry.type
class RetractBidPayload:
    """retractBid's answer: the recomputed auction, or `errors` (RETRACTION_NOT_ALLOWED,
    AUCTION_ENDED, AUCTION_NOT_ACTIVE, NOT_FOUND, AUCTION_BUSY) and nothing changed."""

    result: RecomputedAuction | None = None
    auction: Auction | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
