"""Discovery (trending, recommendations, the category feed): not built yet; each answers
a clear NOT_AVAILABLE_YET error until its part lands. Search is resolvers/search.py."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from domain.errors import NotAvailableYet
from schema.auction_types import Auction
from schema.context import Ctx


async def trending_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    raise NotAvailableYet("trendingAuctions")


async def recommended_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    raise NotAvailableYet("recommendedAuctions")


async def auction_feed(info: Ctx, category: str | None = None) -> AsyncGenerator[Auction]:
    raise NotAvailableYet("auctionFeed")
    yield  # pragma: no cover
