"""The admins' types: fraud flags, users as admins see them, audit rows, and the payloads
of the admin mutations (docs/admin-api.md). Every field that returns these is declared
admins-only in schema/root.py, and the use cases check it again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain.enums import FraudFlagStatus as FraudFlagStatus
from domain.enums import Role as RoleValue
from schema.auction_types import Auction
from schema.connection import Connection, connection
from schema.context import Ctx
from schema.enums import Role
from schema.errors import UserError
from schema.retraction_types import RecomputedAuction
from schema.user_types import User, load_user, require_user
from services.fraud.flag_signals import stored_signals
from services.paging import Page
from storage import tables

strawberry.enum(
    FraudFlagStatus,
    description="OPEN: to review; DISMISSED: reviewed, nothing wrong; ACTIONED: the "
    "account was held or banned.",
)


@strawberry.type(description="One signal that fired in a fraud rule (its explanation).")
class FraudSignal:
    name: str = strawberry.field(description="The signal (a UCI shill feature) or the rule.")
    value: float | None = None
    weight: float | None = strawberry.field(
        default=None, description="What it adds to the flag's score (0-100), if recorded."
    )
    explanation: str | None = None
    evidence: JSON | None = strawberry.field(
        default=None, description="The numbers and ids the rule based it on, as stored."
    )


def signals_of(details: dict[str, Any]) -> list[FraudSignal]:
    """The signals a fraud rule recorded in a flag's `details`
    (services/fraud/flag_signals.py)."""
    return [
        FraudSignal(
            name=signal.name,
            value=signal.value,
            weight=signal.weight,
            explanation=signal.explanation,
            evidence=None if signal.evidence is None else JSON(signal.evidence),
        )
        for signal in stored_signals(details)
    ]


@strawberry.type(description="A fraud rule's scored, explained flag on an account.")
class FraudFlag:
    row: strawberry.Private[tables.FraudFlag]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(description="The rule that raised it (docs/fraud.md).")
    def rule(self) -> str:
        return self.row.rule

    @strawberry.field(description="The rule's score (0 and up; the hold threshold is a setting).")
    def score(self) -> int:
        return self.row.score

    @strawberry.field(description="The signals that fired, from the flag's details.")
    def signals(self) -> list[FraudSignal]:
        return signals_of(self.row.details)

    @strawberry.field(description="Everything the rule recorded, as stored.")
    def details(self) -> JSON:
        return JSON(self.row.details)

    @strawberry.field
    async def user(self, info: Ctx) -> User:
        return await require_user(info, self.row.user_id)

    @strawberry.field
    async def auction(self, info: Ctx) -> Auction | None:
        if self.row.auction_id is None:
            return None
        row = await info.context.loaders.auctions.load(self.row.auction_id)
        return Auction(row=row) if row is not None else None

    @strawberry.field
    def status(self) -> FraudFlagStatus:
        return FraudFlagStatus(self.row.status)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.row.resolved_at

    @strawberry.field
    async def resolved_by(self, info: Ctx) -> User | None:
        return await load_user(info, self.row.resolved_by_id)


@strawberry.type(description="An account as admins see it.")
class AdminUser:
    row: strawberry.Private[tables.User]
    open_flag_count: int = strawberry.field(description="Its fraud flags still OPEN.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def user(self) -> User:
        return User(row=self.row)

    @strawberry.field
    def username(self) -> str:
        return self.row.username

    @strawberry.field
    def email(self) -> str:
        return self.row.email

    @strawberry.field
    def roles(self) -> list[Role]:
        return [RoleValue(r) for r in self.row.roles]

    @strawberry.field
    def banned(self) -> bool:
        return self.row.banned_at is not None

    @strawberry.field
    def banned_at(self) -> datetime | None:
        return self.row.banned_at

    @strawberry.field(description="Its bids are refused FRAUD_HOLD.")
    def fraud_hold(self) -> bool:
        return self.row.fraud_hold

    @strawberry.field
    def email_verified(self) -> bool:
        return self.row.email_verified_at is not None

    @strawberry.field(description="Bayesian average of the ratings received (0-5).")
    async def reputation_score(self, info: Ctx) -> float:
        return (await info.context.loaders.settlement.reputations.load(self.row.id)).score

    @strawberry.field
    def unpaid_strikes(self) -> int:
        return self.row.unpaid_strikes

    @strawberry.field
    def disputes_lost(self) -> int:
        return self.row.disputes_lost

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="One audit row: who did what to which entity, when, and why.")
class AuditEntry:
    row: strawberry.Private[tables.AuditLog]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(description="None: the system (a worker, a webhook, a fraud rule).")
    async def actor(self, info: Ctx) -> User | None:
        return await load_user(info, self.row.actor_id)

    @strawberry.field(description="A snake_case or dotted verb: ban_user, void_bids, ...")
    def action(self) -> str:
        return self.row.action

    @strawberry.field
    def entity_type(self) -> str:
        return self.row.entity_type

    @strawberry.field
    def entity_id(self) -> str:
        return self.row.entity_id

    @strawberry.field(description="The changed fields as they were (money in minor units).")
    def before(self) -> JSON | None:
        return JSON(self.row.details["before"]) if "before" in self.row.details else None

    @strawberry.field(description="The changed fields as they are after the action.")
    def after(self) -> JSON | None:
        return JSON(self.row.details["after"]) if "after" in self.row.details else None

    @strawberry.field
    def reason(self) -> str | None:
        reason = self.row.details.get("reason")
        return reason if isinstance(reason, str) else None

    @strawberry.field(description="The whole stored details (before, after, reason, facts).")
    def details(self) -> JSON:
        return JSON(self.row.details)

    @strawberry.field
    def at(self) -> datetime:
        return self.row.at


FraudFlagConnection = Connection[FraudFlag]
AdminUserConnection = Connection[AdminUser]
AuditEntryConnection = Connection[AuditEntry]


def fraud_flag_connection(page: Page[tables.FraudFlag]) -> FraudFlagConnection:
    return connection(page, lambda row: FraudFlag(row=row))


def audit_connection(page: Page[tables.AuditLog]) -> AuditEntryConnection:
    return connection(page, lambda row: AuditEntry(row=row))


def admin_user_connection(page: Page[tables.User], open_flags: list[int]) -> AdminUserConnection:
    counts = {row.id: n for row, n in zip(page.rows, open_flags, strict=True)}
    return connection(page, lambda row: AdminUser(row=row, open_flag_count=counts[row.id]))


# -- payloads -------------------------------------------------------------------------------


@strawberry.type
class FraudFlagPayload:
    flag: FraudFlag | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> FraudFlagPayload:
        return cls(errors=[error])


@strawberry.type
class AdminUserPayload:
    user: AdminUser | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> AdminUserPayload:
        return cls(errors=[error])


@strawberry.type(description="An auction a voidBids on every auction left as it was.")
class SkippedAuction:
    auction_id: strawberry.ID
    code: str = strawberry.field(
        description="Why, as the auction alone would answer: AUCTION_ENDED, "
        "AUCTION_NOT_ACTIVE, AUCTION_BUSY, NO_BIDS, NOT_FOUND."
    )


@strawberry.type
class VoidBidsPayload:
    """voidBids' answer: each auction recomputed (its state before and after) and, on
    every auction, those skipped with their code; or `errors` and nothing changed."""

    auctions: list[RecomputedAuction] = strawberry.field(default_factory=list)
    skipped: list[SkippedAuction] = strawberry.field(
        default_factory=list,
        description="Without auctionId: the auctions left as they were, and why.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def failed(cls, error: UserError) -> VoidBidsPayload:
        return cls(errors=[error])
