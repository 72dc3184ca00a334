"""Mutation payloads: the result, or `errors` describing why nothing changed."""

from __future__ import annotations

import strawberry

from schema.auction_types import Auction
from schema.errors import UserError
from schema.user_types import User


@strawberry.type
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateAuctionPayload:
    auction: Auction | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SimplePayload:
    ok: bool = True
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> SimplePayload:
        return cls(ok=False, errors=[error])
