"""Discovery: trending and recommendations (services/search/trending.py,
services/search/recommendations.py). Search is resolvers/search.py, the category feed
resolvers/feed.py."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.auction_types import Auction
from schema.context import Ctx
from schema.recommendation_types import Recommendation
from services.search import recommendations, trending


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
