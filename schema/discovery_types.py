"""Search results with their facets (services/search/query.py; docs/search.md)."""

from __future__ import annotations

import strawberry

from schema.auction_types import Auction
from schema.connection import Edge, PageInfo
from services.search import query


@strawberry.type(description="How many matching auctions have this value.")
class FacetCount:
    value: str
    count: int


def _listed(counts: list[query.FacetCount]) -> list[FacetCount]:
    return [FacetCount(value=c.value, count=c.count) for c in counts]


@strawberry.type(
    description=(
        "One page of a search. totalCount counts every match; only the first 1,000 in "
        "order can be paged to. Facets count matches per value under every filter but "
        "the facet's own; categories count under every ancestor too."
    )
)
class SearchResult:
    edges: list[Edge[Auction]]
    page_info: PageInfo
    total_count: int
    category_facets: list[FacetCount]
    type_facets: list[FacetCount]
    condition_facets: list[FacetCount]

    @classmethod
    def of(cls, page: query.SearchPage) -> SearchResult:
        facets = page.facets
        return cls(
            edges=[
                Edge(node=Auction(row=row), cursor=cursor)
                for row, cursor in zip(page.rows, page.cursors, strict=True)
            ],
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=page.total,
            category_facets=_listed(facets.category),
            type_facets=_listed(facets.type),
            condition_facets=_listed(facets.condition),
        )
