"""Users as anyone may see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from domain.enums import Role as RoleValue
from schema.context import Ctx
from schema.enums import Role
from schema.permissions import IsAdmin
from storage import tables


@strawberry.type
class User:
    row: strawberry.Private[tables.User]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def username(self) -> str:
        return self.row.username

    @strawberry.field
    def display_name(self) -> str | None:
        return self.row.display_name

    @strawberry.field
    def roles(self) -> list[Role]:
        return [RoleValue(r) for r in self.row.roles]

    @strawberry.field(
        description="Bayesian average of the 1-5 ratings received (docs/settlement.md): "
        "a new user shows the prior, GAVEL_REPUTATION_PRIOR_MEAN."
    )
    async def reputation_score(self, info: Ctx) -> float:
        return (await info.context.loaders.settlement.reputations.load(self.row.id)).score

    @strawberry.field(description="How many ratings `reputationScore` is made of.")
    async def reputation_count(self, info: Ctx) -> int:
        return (await info.context.loaders.settlement.reputations.load(self.row.id)).count

    @strawberry.field(
        description="Admins only: sales this user won and let lapse unpaid.",
        permission_classes=[IsAdmin],
    )
    def unpaid_strikes(self) -> int | None:
        return self.row.unpaid_strikes

    @strawberry.field(
        description="Admins only: disputes resolved against this user.",
        permission_classes=[IsAdmin],
    )
    def disputes_lost(self) -> int | None:
        return self.row.disputes_lost

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


async def load_user(info: Ctx, user_id: Any) -> User | None:
    """The user with `user_id` (batched per request), or None for no id or no such user."""
    if user_id is None:
        return None
    row = await info.context.loaders.users.load(user_id)
    return User(row=row) if row is not None else None


async def require_user(info: Ctx, user_id: Any) -> User:
    """The user a stored row points at (a foreign key: always there)."""
    user = await load_user(info, user_id)
    assert user is not None
    return user
