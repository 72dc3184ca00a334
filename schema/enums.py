"""The domain's enums, registered with strawberry under the contract's names."""

from enum import StrEnum

import strawberry

from domain.enums import (
    AuctionOutcome,
    AuctionSort,
    AuctionStatus,
    AuctionType,
    DisputeStatus,
    ItemCondition,
    Role,
    TransactionStatus,
)

for _enum in (
    Role,
    AuctionType,
    AuctionStatus,
    AuctionOutcome,
    ItemCondition,
    AuctionSort,
    TransactionStatus,
    DisputeStatus,
):
    strawberry.enum(_enum)


@strawberry.enum
class BidRejection(StrEnum):
    AUCTION_NOT_ACTIVE = "AUCTION_NOT_ACTIVE"
    AUCTION_ENDED = "AUCTION_ENDED"
    BID_TOO_LOW = "BID_TOO_LOW"
    SELF_BIDDING = "SELF_BIDDING"
    NOT_VERIFIED = "NOT_VERIFIED"
    RATE_LIMITED = "RATE_LIMITED"
    FRAUD_HOLD = "FRAUD_HOLD"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_AMOUNT = "INVALID_AMOUNT"


__all__ = [
    "AuctionOutcome",
    "AuctionSort",
    "AuctionStatus",
    "AuctionType",
    "BidRejection",
    "DisputeStatus",
    "ItemCondition",
    "Role",
    "TransactionStatus",
]
