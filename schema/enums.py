"""The domain's enums, registered with strawberry under the contract's names."""

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
from domain.rejections import BidRejection

for _enum in (
    Role,
    AuctionType,
    AuctionStatus,
    AuctionOutcome,
    ItemCondition,
    AuctionSort,
    TransactionStatus,
    DisputeStatus,
    BidRejection,
):
    strawberry.enum(_enum)


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
