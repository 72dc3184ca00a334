"""The catalogue of bid rejections: every reason a bid can be refused with, its message,
and the finer details some refusals carry. The one place these codes live: the Lua
scripts return them (realtime/lua/bid.lua), the use case words them
(services/bidding.py), the schema exposes `BidRejection` (schema/enums.py), and a test
checks that every code the scripts can return is here. The rules behind each code are
in docs/auction-rules.md ("Rejection codes").
"""

from __future__ import annotations

from enum import StrEnum


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


# What a client reads in `BidRejected.message` for each reason.
MESSAGES: dict[str, str] = {
    BidRejection.AUCTION_NOT_ACTIVE: "the auction is not taking bids",
    BidRejection.AUCTION_ENDED: "the auction has ended",
    BidRejection.BID_TOO_LOW: "the bid is below the minimum next bid",
    BidRejection.SELF_BIDDING: "sellers cannot bid on their own auctions",
    BidRejection.NOT_VERIFIED: "verify your email address before bidding",
    BidRejection.FRAUD_HOLD: "your account is on hold; contact support",
    BidRejection.INVALID_AMOUNT: "the amount is not valid",
    BidRejection.CURRENCY_MISMATCH: "the amount's currency differs from the auction's",
    BidRejection.RATE_LIMITED: "too many bids; slow down",
}

# Details a script adds to a reason (its third value), with the message that replaces the
# reason's own.
DETAILS: dict[str, str] = {
    "CEILING_NOT_RAISED": "you lead already; a new bid must raise your maximum",
    "NOT_ABOVE_OWN_BID": "a replacement sealed bid must be higher than your current one",
    "NO_BUY_NOW": "this auction has no buy-now price",
    "BUY_NOW_CLOSED": "buy-now closed with the first bid at or above the reserve",
}
