"""retractBid: a bidder retracts their own bids by eBay's rules (services/bid_voiding.py)."""

from __future__ import annotations

import strawberry

from schema.auction_types import Auction
from schema.context import Ctx
from schema.retraction_types import RecomputedAuction, RetractBidPayload
from services import bid_voiding, catalog

from .common import as_payload, parse_id, viewer


def _failed(error: object) -> RetractBidPayload:
    return RetractBidPayload(errors=[error])  # type: ignore[list-item]


async def retract_bid(info: Ctx, auction_id: strawberry.ID) -> RetractBidPayload:
    async def act() -> RetractBidPayload:
        deps, actor = info.context.deps, viewer(info)
        result = await bid_voiding.retract_bids(deps, actor, parse_id(auction_id, "auctionId"))
        row = await catalog.get_auction(deps, actor, result.auction_id)
        return RetractBidPayload(
            result=RecomputedAuction.of(result), auction=None if row is None else Auction(row=row)
        )

    return await as_payload(_failed, act)
