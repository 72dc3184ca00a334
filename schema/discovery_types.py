"""Search results with their facets (the search issue fills them in)."""

from __future__ import annotations

import strawberry

from schema.auction_types import Auction
from schema.connection import Edge, PageInfo


@strawberry.type
class FacetCount:
    value: str
    count: int


@strawberry.type
class SearchResult:
    edges: list[Edge[Auction]]
    page_info: PageInfo
    total_count: int
    category_facets: list[FacetCount]
    type_facets: list[FacetCount]
    condition_facets: list[FacetCount]
