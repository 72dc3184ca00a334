"""`searchAuctions`: arguments in, one use case (services/search/query.py), a page out."""

from __future__ import annotations

from domain.enums import AuctionSort as Sort
from schema.context import Ctx
from schema.discovery_types import SearchResult
from schema.enums import AuctionSort
from schema.inputs import AuctionFilter
from services.search import query as search

from .auctions import to_filter
from .common import client_ip


async def search_auctions(
    info: Ctx,
    query: str | None = None,
    filter: AuctionFilter | None = None,
    sort: AuctionSort | None = Sort.RELEVANCE,
    first: int | None = 20,
    after: str | None = None,
) -> SearchResult:
    page = await search.search_auctions(
        info.context.deps,
        query,
        to_filter(filter),
        Sort(sort or Sort.RELEVANCE),
        first,
        after,
        info.context.max_page,
        client_ip(info),
    )
    return SearchResult.of(page)
