"""The admin mutations of issue 17 (resolvers/admin_extra.py; docs/admin-api.md), merged
into the root Mutation by schema/root.py. Admins only, as every admin field."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from resolvers import admin_extra
from schema.admin_types import AdminUserPayload
from schema.payloads import CreateAuctionPayload
from schema.permissions import IsAdmin, IsAuthenticated

_admins: list[type[BasePermission]] = [IsAuthenticated, IsAdmin]


@strawberry.type
class AdminExtraMutations:
    set_user_roles: AdminUserPayload = strawberry.mutation(
        resolver=admin_extra.set_user_roles,
        permission_classes=_admins,
        description="Admins: set an account's roles (BIDDER is always kept). An admin never "
        "removes their own ADMIN role. Codes: FORBIDDEN, NOT_FOUND, ROLES_UNCHANGED, "
        "INVALID_ID, INVALID_INPUT.",
    )
    feature_auction: CreateAuctionPayload = strawberry.mutation(
        resolver=admin_extra.feature_auction,
        permission_classes=_admins,
        description="Admins: feature a scheduled or active auction, or stop featuring one. "
        "Codes: FORBIDDEN, NOT_FOUND, AUCTION_NOT_OPEN, ALREADY_FEATURED, NOT_FEATURED, "
        "INVALID_ID, INVALID_INPUT.",
    )
