"""Settlement: the transaction an auction's sale creates, and disputes about it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.auction_types import Auction
from schema.connection import Connection, connection
from schema.context import Ctx
from schema.enums import DisputeStatus, TransactionStatus
from schema.money import Money
from schema.user_types import User, require_user
from services.paging import Page
from storage import tables


@strawberry.type
class Transaction:
    row: strawberry.Private[tables.Transaction]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def auction(self, info: Ctx) -> Auction:
        row = await info.context.loaders.auctions.load(self.row.auction_id)
        assert row is not None
        return Auction(row=row)

    @strawberry.field
    async def buyer(self, info: Ctx) -> User:
        return await require_user(info, self.row.buyer_id)

    @strawberry.field
    async def seller(self, info: Ctx) -> User:
        return await require_user(info, self.row.seller_id)

    @strawberry.field
    def amount(self) -> Money:
        money = Money.of(self.row.amount, self.row.currency)
        assert money is not None
        return money

    @strawberry.field
    def status(self) -> TransactionStatus:
        return TransactionStatus(self.row.status)

    @strawberry.field(description="For the buyer's payment form; null once settled.")
    def payment_client_secret(self) -> str | None:
        return None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


TransactionConnection = Connection[Transaction]


def transaction_connection(page: Page[tables.Transaction]) -> TransactionConnection:
    return connection(page, lambda row: Transaction(row=row))


@strawberry.type
class Dispute:
    id: strawberry.ID
    transaction: Transaction
    status: DisputeStatus
    reason: str
    created_at: datetime
