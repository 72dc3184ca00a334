"""Two admin mutations of the admin app's Users and Auctions pages (issue 17;
docs/admin-api.md): `setUserRoles` (services/roles.py) and `featureAuction`
(services/featuring.py). Each parses its ids, calls its use case and maps a domain error
to the payload; schema/admin_extra_types.py declares them admins-only and the use cases
check it again (FORBIDDEN)."""

from __future__ import annotations

import strawberry

from domain.enums import Role
from schema.admin_types import AdminUser, AdminUserPayload
from schema.auction_types import Auction
from schema.context import Ctx
from schema.errors import UserError
from schema.payloads import CreateAuctionPayload
from services import admin_queries, featuring
from services.roles import set_roles

from .common import as_payload, parse_id, viewer


async def set_user_roles(
    info: Ctx, user_id: strawberry.ID, roles: list[Role], reason: str
) -> AdminUserPayload:
    """Set an account's roles: `roles` plus BIDDER, which every account keeps."""

    async def act() -> AdminUserPayload:
        deps = info.context.deps
        user = await set_roles(deps, viewer(info), parse_id(user_id, "userId"), roles, reason)
        counts = await admin_queries.open_flag_counts(deps, [user.id])
        return AdminUserPayload(user=AdminUser(row=user, open_flag_count=counts[0]))

    return await as_payload(AdminUserPayload.failed, act)


async def feature_auction(
    info: Ctx, auction_id: strawberry.ID, featured: bool, reason: str
) -> CreateAuctionPayload:
    """Feature an open auction, or stop featuring one."""

    async def act() -> CreateAuctionPayload:
        row = await featuring.set_featured(
            info.context.deps, viewer(info), parse_id(auction_id, "auctionId"), featured, reason
        )
        return CreateAuctionPayload(auction=Auction(row=row))

    return await as_payload(_auction_failed, act)


def _auction_failed(error: UserError) -> CreateAuctionPayload:
    return CreateAuctionPayload(errors=[error])
