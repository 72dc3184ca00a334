"""Discovery (search, trending, recommendations): not built yet; each
answers a clear NOT_AVAILABLE_YET error until the search issue lands."""

from __future__ import annotations

from domain.errors import NotAvailableYet
from schema.auction_types import Auction
from schema.context import Ctx
from schema.discovery_types import SearchResult
from schema.enums import AuctionSort
from schema.inputs import AuctionFilter


async def search_auctions(
    info: Ctx,
    query: str | None = None,
    filter: AuctionFilter | None = None,
    sort: AuctionSort | None = AuctionSort.RELEVANCE,
    first: int | None = 20,
    after: str | None = None,
) -> SearchResult:
    raise NotAvailableYet("searchAuctions")


async def trending_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    raise NotAvailableYet("trendingAuctions")


async def recommended_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    raise NotAvailableYet("recommendedAuctions")
