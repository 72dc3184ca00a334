"""Contract fields whose features land in later issues: a clear NOT_AVAILABLE_YET error."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from domain.errors import NotAvailableYet
from schema.enums import AuctionSort
from schema.inputs import AuctionFilter
from schema.types import Auction, Notification, SearchResult

from .common import Ctx


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


async def my_notifications(info: Ctx) -> AsyncGenerator[Notification]:
    raise NotAvailableYet("myNotifications")
    yield  # pragma: no cover


async def auction_feed(info: Ctx, category: str | None = None) -> AsyncGenerator[Auction]:
    raise NotAvailableYet("auctionFeed")
    yield  # pragma: no cover
