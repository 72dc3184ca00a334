"""The signed-in user's own view: private details and their lists."""

from __future__ import annotations

import strawberry

from schema.auction_types import (
    AuctionConnection,
    BidConnection,
    auction_connection,
    bid_connection,
)
from schema.context import Ctx
from schema.notification_types import (
    NotificationConnection,
    NotificationPreference,
    notification_connection,
    preference_list,
)
from schema.settlement_types import TransactionConnection, transaction_connection
from schema.user_types import User
from services import catalog, inbox, settlement
from services.notifications.preferences import email_preferences
from storage import tables


@strawberry.type
class Address:
    line1: str
    line2: str | None
    city: str
    postal_code: str
    country: str


@strawberry.type
class Viewer:
    row: strawberry.Private[tables.User]

    @strawberry.field
    def user(self) -> User:
        return User(row=self.row)

    @strawberry.field
    def email(self) -> str:
        return self.row.email

    @strawberry.field
    def address(self) -> Address | None:
        a = self.row.address
        if not a:
            return None
        return Address(
            line1=a["line1"],
            line2=a.get("line2"),
            city=a["city"],
            postal_code=a["postal_code"],
            country=a["country"],
        )

    @strawberry.field
    def email_verified(self) -> bool:
        return self.row.email_verified_at is not None

    @strawberry.field
    def mfa_enabled(self) -> bool:
        return self.row.mfa_enabled

    @strawberry.field
    async def watchlist(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> AuctionConnection:
        page = await catalog.watchlist(
            info.context.deps, self.row, first, after, info.context.max_page
        )
        return auction_connection(page)

    @strawberry.field
    async def notifications(
        self,
        info: Ctx,
        first: int | None = 20,
        after: str | None = None,
        unread_only: bool | None = False,
    ) -> NotificationConnection:
        page = await catalog.notifications(
            info.context.deps, self.row, first, after, unread_only, info.context.max_page
        )
        return notification_connection(page)

    # Notifications part (issue 15): unread count and email preferences.
    @strawberry.field(description="How many of the viewer's notifications are unread.")
    async def unread_notification_count(self, info: Ctx) -> int:
        return await inbox.unread_count(info.context.deps, self.row.id)

    @strawberry.field(description="Every notification kind, and whether it is also emailed.")
    async def notification_preferences(self, info: Ctx) -> list[NotificationPreference]:
        choices = await email_preferences(info.context.deps, self.row.id)
        return preference_list(choices)

    @strawberry.field
    async def bids(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> BidConnection:
        page = await catalog.bids_of_user(
            info.context.deps, self.row, first, after, info.context.max_page
        )
        return bid_connection(page)

    @strawberry.field(description="What the viewer bought, newest first.")
    async def purchases(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> TransactionConnection:
        page = await settlement.list_purchases(info.context.deps, self.row, first, after)
        return transaction_connection(page)

    @strawberry.field(description="What the viewer sold, newest first.")
    async def sales(
        self, info: Ctx, first: int | None = 20, after: str | None = None
    ) -> TransactionConnection:
        page = await settlement.list_sales(info.context.deps, self.row, first, after)
        return transaction_connection(page)

    @strawberry.field(
        description="True once a card is saved (savePaymentMethod): payTransaction uses it."
    )
    async def payment_method_saved(self, info: Ctx) -> bool:
        # Read fresh: the signed-in row may come from the short-lived user cache.
        row = await info.context.loaders.users.load(self.row.id)
        return row is not None and row.stripe_payment_method_id is not None
