"""What `placeBid` and `buyNow` answer: the accepted bid, or why it was refused."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.auction_types import Auction, Bid
from schema.enums import BidRejection
from schema.money import Money


@strawberry.type
class BidAccepted:
    bid: Bid
    auction: Auction
    leading: bool


@strawberry.type
class BidRejected:
    reason: BidRejection
    message: str
    minimum_next_bid: Money | None


PlaceBidResult = Annotated[BidAccepted | BidRejected, strawberry.union("PlaceBidResult")]
