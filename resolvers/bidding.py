"""placeBid and buyNow: one use case each, the result mapped to the PlaceBidResult union."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.auction_types import Auction, Bid
from schema.bid_result_types import BidAccepted, BidRejected
from schema.context import Ctx
from schema.enums import BidRejection
from schema.money import Money
from services import bidding

from .common import client_ip, parse_id, viewer


def _result(outcome: bidding.Accepted | bidding.Rejected) -> BidAccepted | BidRejected:
    if isinstance(outcome, bidding.Rejected):
        return BidRejected(
            reason=BidRejection(outcome.reason),
            message=outcome.message,
            minimum_next_bid=Money.of(outcome.minimum_next_bid, outcome.currency),
        )
    auction = outcome.auction  # built on each read: once
    return BidAccepted(
        bid=Bid(row=outcome.bid, auction_row=auction),
        auction=Auction(row=auction),
        leading=outcome.leading,
    )


async def place_bid(
    info: Ctx,
    auction_id: strawberry.ID,
    amount: Decimal,
    max_amount: Decimal | None = None,
    idempotency_key: str | None = None,
) -> BidAccepted | BidRejected:
    return _result(
        await bidding.place_bid(
            info.context.deps,
            viewer(info),
            parse_id(auction_id, "auctionId"),
            amount,
            max_amount,
            idempotency_key,
            ip=client_ip(info),
        )
    )


async def buy_now(
    info: Ctx, auction_id: strawberry.ID, idempotency_key: str | None = None
) -> BidAccepted | BidRejected:
    return _result(
        await bidding.place_bid(
            info.context.deps,
            viewer(info),
            parse_id(auction_id, "auctionId"),
            None,
            None,
            idempotency_key,
            buy_now=True,
            ip=client_ip(info),
        )
    )
