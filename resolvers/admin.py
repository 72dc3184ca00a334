"""The admins' queries and mutations (docs/admin-api.md): each parses its ids, calls one
use case (services/moderation.py, services/admin_queries.py, services/bid_voiding.py) and
maps a domain error to the payload. schema/root.py declares them admins-only; the use
cases check it again (FORBIDDEN)."""

from __future__ import annotations

import strawberry

from schema.admin_types import (
    AdminUser,
    AdminUserConnection,
    AdminUserPayload,
    AuditEntryConnection,
    FraudFlag,
    FraudFlagConnection,
    FraudFlagPayload,
    FraudFlagStatus,
    SkippedAuction,
    VoidBidsPayload,
    admin_user_connection,
    audit_connection,
    fraud_flag_connection,
)
from schema.context import Ctx
from schema.retraction_types import RecomputedAuction
from services import admin_queries, moderation
from storage.tables import User

from .common import as_payload, parse_id, viewer


async def fraud_flags(
    info: Ctx,
    status: FraudFlagStatus | None = None,
    user_id: strawberry.ID | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> FraudFlagConnection:
    """Admins: fraud flags newest first, of one status and/or one account if given."""
    user = parse_id(user_id, "userId") if user_id is not None else None
    page = await admin_queries.list_fraud_flags(
        info.context.deps, viewer(info), status, user, first, after
    )
    return fraud_flag_connection(page)


async def admin_users(
    info: Ctx, query: str | None = None, first: int | None = 20, after: str | None = None
) -> AdminUserConnection:
    """Admins: accounts whose username or email starts with `query`, newest first."""
    deps = info.context.deps
    page = await admin_queries.search_users(deps, viewer(info), query, first, after)
    counts = await admin_queries.open_flag_counts(deps, [row.id for row in page.rows])
    return admin_user_connection(page, counts)


async def audit_log(
    info: Ctx,
    action: str | None = None,
    actor_id: strawberry.ID | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> AuditEntryConnection:
    """Admins: audit rows newest first, matching every filter given (exact values)."""
    where = admin_queries.AuditFilter(
        action=action,
        actor_id=parse_id(actor_id, "actorId") if actor_id is not None else None,
        entity_type=entity_type,
        entity_id=entity_id,
    )
    page = await admin_queries.list_audit_log(info.context.deps, viewer(info), where, first, after)
    return audit_connection(page)


async def dismiss_fraud_flag(info: Ctx, flag_id: strawberry.ID, reason: str) -> FraudFlagPayload:
    async def act() -> FraudFlagPayload:
        flag = await moderation.dismiss_flag(
            info.context.deps, viewer(info), parse_id(flag_id, "flagId"), reason=reason
        )
        return FraudFlagPayload(flag=FraudFlag(row=flag))

    return await as_payload(FraudFlagPayload.failed, act)


async def set_fraud_hold(
    info: Ctx, user_id: strawberry.ID, held: bool, reason: str
) -> AdminUserPayload:
    async def act() -> AdminUserPayload:
        user = await moderation.set_hold(
            info.context.deps, viewer(info), parse_id(user_id, "userId"), held, reason=reason
        )
        return await _admin_user(info, user)

    return await as_payload(AdminUserPayload.failed, act)


async def ban_user(info: Ctx, user_id: strawberry.ID, reason: str) -> AdminUserPayload:
    async def act() -> AdminUserPayload:
        user = await moderation.ban_user(
            info.context.deps, viewer(info), parse_id(user_id, "userId"), reason=reason
        )
        return await _admin_user(info, user)

    return await as_payload(AdminUserPayload.failed, act)


async def unban_user(info: Ctx, user_id: strawberry.ID, reason: str) -> AdminUserPayload:
    async def act() -> AdminUserPayload:
        user = await moderation.unban_user(
            info.context.deps, viewer(info), parse_id(user_id, "userId"), reason=reason
        )
        return await _admin_user(info, user)

    return await as_payload(AdminUserPayload.failed, act)


async def void_bids(
    info: Ctx, user_id: strawberry.ID, reason: str, auction_id: strawberry.ID | None = None
) -> VoidBidsPayload:
    """Void a bidder's bids (on one auction, or every ACTIVE one they bid on: those that
    refuse are listed in `skipped`) and recompute those auctions by the same rules
    (docs/auction-rules.md "Voiding and retraction")."""

    async def act() -> VoidBidsPayload:
        deps = info.context.deps
        report = await moderation.void_bidder_bids(
            deps,
            viewer(info),
            parse_id(user_id, "userId"),
            parse_id(auction_id, "auctionId") if auction_id is not None else None,
            reason=reason,
        )
        return VoidBidsPayload(
            auctions=[RecomputedAuction.of(r) for r in report.auctions],
            skipped=[
                SkippedAuction(auction_id=strawberry.ID(str(s.auction_id)), code=s.code)
                for s in report.skipped
            ],
        )

    return await as_payload(VoidBidsPayload.failed, act)


async def _admin_user(info: Ctx, user: User) -> AdminUserPayload:
    counts = await admin_queries.open_flag_counts(info.context.deps, [user.id])
    return AdminUserPayload(user=AdminUser(row=user, open_flag_count=counts[0]))
