"""The item an auction sells."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.context import Ctx
from schema.enums import ItemCondition
from schema.user_types import User, require_user
from storage import tables


@strawberry.type
class Item:
    row: strawberry.Private[tables.Item]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def seller(self, info: Ctx) -> User:
        return await require_user(info, self.row.seller_id)

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field
    def category(self) -> str:
        return self.row.category

    @strawberry.field
    def condition(self) -> ItemCondition:
        return ItemCondition(self.row.condition)

    @strawberry.field
    async def image_urls(self, info: Ctx) -> list[str]:
        images = await info.context.loaders.images.load(self.row.id)
        return [info.context.deps.images.url(i.storage_key) for i in images]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at
