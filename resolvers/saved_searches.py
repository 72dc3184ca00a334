"""Saved searches: save, list and delete the viewer's own (services/search/saved_searches.py)."""

from __future__ import annotations

import strawberry

from schema.context import Ctx
from schema.payloads import SimplePayload
from schema.saved_search_types import SavedSearch, SaveSearchInput, SaveSearchPayload
from services.search import saved_searches

from .auctions import to_filter
from .common import as_payload, parse_id, viewer


async def save_search(info: Ctx, input: SaveSearchInput) -> SaveSearchPayload:
    async def act() -> SaveSearchPayload:
        deps = info.context.deps
        row = await saved_searches.save_search(
            deps,
            viewer(info),
            input.name,
            input.query,
            to_filter(input.filter),
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
