"""Enumerations shared by every layer; their values are stored and exposed as-is."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    BIDDER = "BIDDER"
    SELLER = "SELLER"
    ADMIN = "ADMIN"


class AuctionType(StrEnum):
    ENGLISH = "ENGLISH"
    DUTCH = "DUTCH"
    SEALED_FIRST_PRICE = "SEALED_FIRST_PRICE"
    SEALED_SECOND_PRICE = "SEALED_SECOND_PRICE"

    @property
    def sealed(self) -> bool:
        return self in (AuctionType.SEALED_FIRST_PRICE, AuctionType.SEALED_SECOND_PRICE)


class AuctionStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


class AuctionOutcome(StrEnum):
    SOLD = "SOLD"
    UNSOLD = "UNSOLD"


class ItemCondition(StrEnum):
    NEW = "NEW"
    LIKE_NEW = "LIKE_NEW"
    USED = "USED"
    REFURBISHED = "REFURBISHED"
    FOR_PARTS = "FOR_PARTS"


class AuctionSort(StrEnum):
    ENDING_SOON = "ENDING_SOON"
    NEWLY_LISTED = "NEWLY_LISTED"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"
    MOST_BIDS = "MOST_BIDS"
    RELEVANCE = "RELEVANCE"


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    RELEASED = "RELEASED"
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"


class DisputeStatus(StrEnum):
    OPEN = "OPEN"
    SELLER_RESPONDED = "SELLER_RESPONDED"
    RESOLVED_REFUND = "RESOLVED_REFUND"
    RESOLVED_RELEASE = "RESOLVED_RELEASE"


class FraudFlagStatus(StrEnum):
    OPEN = "OPEN"
    DISMISSED = "DISMISSED"
    ACTIONED = "ACTIONED"
