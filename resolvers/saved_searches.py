"""Saved searches: save, list and delete the viewer's own (services/search/saved_searches.py)."""

from __future__ import annotations

import strawberry

from domain.enums import AuctionStatus as Status
from domain.enums import AuctionType as Type
from domain.enums import ItemCondition as Condition
from schema.context import Ctx
from schema.inputs import AuctionFilter
from schema.payloads import SimplePayload
from schema.saved_search_types import SavedSearch, SaveSearchInput, SaveSearchPayload
from services.search import saved_searches
from services.search.saved_searches import SavedFilter

from .common import as_payload, parse_id, viewer


def saved_filter(f: AuctionFilter | None) -> SavedFilter:
    if f is None:
        return SavedFilter()
    return SavedFilter(
        category=f.category,
        types=tuple(Type(t) for t in f.types) if f.types else None,
        statuses=tuple(Status(s) for s in f.statuses) if f.statuses else None,
        conditions=tuple(Condition(c) for c in f.conditions) if f.conditions else None,
        min_price=f.min_price,
        max_price=f.max_price,
        seller_id=parse_id(f.seller_id, "sellerId") if f.seller_id else None,
        ending_within_seconds=f.ending_within_seconds,
        has_buy_now=getattr(f, "has_buy_now", None),
        reserve_met=getattr(f, "reserve_met", None),
    )


async def save_search(info: Ctx, input: SaveSearchInput) -> SaveSearchPayload:
    async def act() -> SaveSearchPayload:
        deps = info.context.deps
        row = await saved_searches.save_search(
            deps,
            viewer(info),
            input.name,
            input.query,
            saved_filter(input.filter),
            limit=deps.saved_search_limit,
        )
        return SaveSearchPayload(saved_search=SavedSearch.of(row))

    return await as_payload(SaveSearchPayload.failed, act)


async def delete_saved_search(info: Ctx, id: strawberry.ID) -> SimplePayload:
    async def act() -> SimplePayload:
        await saved_searches.delete_saved_search(
            info.context.deps, viewer(info), parse_id(id, "id")
        )
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def my_saved_searches(info: Ctx) -> list[SavedSearch]:
    rows = await saved_searches.saved_searches(info.context.deps, viewer(info))
    return [SavedSearch.of(row) for row in rows]
