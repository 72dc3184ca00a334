"""Discovery (trending, recommendations): not built yet; each answers a clear
NOT_AVAILABLE_YET error until its part lands. Search is resolvers/search.py, the category
feed resolvers/feed.py."""

from __future__ import annotations

from domain.errors import NotAvailableYet
from schema.auction_types import Auction
from schema.context import Ctx


async def trending_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    raise NotAvailableYet("trendingAuctions")


async def recommended_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    raise NotAvailableYet("recommendedAuctions")
