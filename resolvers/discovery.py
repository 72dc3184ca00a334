"""Discovery: search, trending, recommendations, the category feed. Trending and
recommendations work (services/search/trending.py, services/search/recommendations.py);
the others answer NOT_AVAILABLE_YET until their part of the search issue lands."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from domain.errors import NotAvailableYet
from schema.auction_types import Auction
from schema.context import Ctx
from schema.discovery_types import SearchResult
from schema.enums import AuctionSort
from schema.inputs import AuctionFilter
from schema.recommendation_types import Recommendation
from services.search import recommendations, trending


async def search_auctions(
    info: Ctx,
    query: str | None = None,
    filter: AuctionFilter | None = None,
    sort: AuctionSort | None = AuctionSort.RELEVANCE,
    first: int | None = 20,
    after: str | None = None,
) -> SearchResult:
    raise NotAvailableYet("searchAuctions")


async def trending_auctions(
    info: Ctx,
    first: int | None = 10,
    category: Annotated[
        str | None,
        strawberry.argument(
            description="Only this category's subtree (a path of the `categories` query)."
        ),
    ] = None,
) -> list[Auction]:
    rows = await trending.trending_auctions(
        info.context.deps, category, first, info.context.max_page
    )
    return [Auction(row=row) for row in rows]


async def recommended_auctions(info: Ctx, first: int | None = 10) -> list[Auction]:
    picks = await recommendations.recommend(
        info.context.deps, info.context.viewer, first, info.context.max_page
    )
    return [Auction(row=pick.auction) for pick in picks]


async def recommendations_for_viewer(info: Ctx, first: int | None = 10) -> list[Recommendation]:
    picks = await recommendations.recommend(
        info.context.deps, info.context.viewer, first, info.context.max_page
    )
    return [
        Recommendation(auction=Auction(row=p.auction), reason=p.reason, explanation=p.explanation)
        for p in picks
    ]


async def auction_feed(info: Ctx, category: str | None = None) -> AsyncGenerator[Auction]:
    raise NotAvailableYet("auctionFeed")
    yield  # pragma: no cover
