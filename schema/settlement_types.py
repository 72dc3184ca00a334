"""Settlement: the sale an auction's SOLD outcome starts, its dispute, feedback and
ledger (SPEC section 7; docs/settlement.md "Using it from the API").

Who sees what: a `Transaction` object is only ever made from a sale the viewer may see
(its buyer, its seller, or an admin: services/settlement `get_transaction`,
`list_purchases`, `list_sales` and the use cases' results), so the fields hanging off
it need no check of their own, with two exceptions handled below: the payment client
secret goes to the buyer alone, and a second-chance sale (another buyer's) only to
those who may see that sale. A `Dispute` is reached through its sale, or by admins
through `Query.disputes`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from domain.enums import TransactionStatus as Status
from schema.auction_types import Auction
from schema.connection import Connection, connection
from schema.context import Ctx
from schema.enums import DisputeStatus, TransactionStatus
from schema.money import Money
from schema.settlement_loaders import SecretKey
from schema.user_types import User, require_user
from services.paging import Page
from services.settlement.common import can_see
from storage import tables


def _money(minor: int, currency: str) -> Money:
    money = Money.of(minor, currency)
    assert money is not None
    return money


@strawberry.type(description="The seller's shipment of a paid item.")
class Shipment:
    carrier: str
    tracking_number: str
    shipped_at: datetime


@strawberry.type(description="One leg of a balanced ledger posting; a sale's legs sum to zero.")
class LedgerEntry:
    row: strawberry.Private[tables.LedgerEntry]

    @strawberry.field(description="BUYER_FUNDS, ESCROW, SELLER_PAYABLE, PLATFORM_REVENUE, …")
    def account(self) -> str:
        return self.row.account

    @strawberry.field(description="Positive debits, negative credits.")
    def amount(self) -> Money:
        return _money(self.row.amount, self.row.currency)

    @strawberry.field(description="The step that posted it: authorize, capture, release, …")
    def step(self) -> str:
        return self.row.posting_key

    @strawberry.field
    def memo(self) -> str | None:
        return self.row.memo

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(description="A party's rating of the other party after a completed sale.")
class Feedback:
    row: strawberry.Private[tables.Feedback]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def author(self, info: Ctx) -> User:
        return await require_user(info, self.row.author_id)

    @strawberry.field
    async def subject(self, info: Ctx) -> User:
        return await require_user(info, self.row.subject_id)

    @strawberry.field(description="1 to 5.")
    def rating(self) -> int:
        return self.row.rating

    @strawberry.field
    def comment(self) -> str | None:
        return self.row.comment

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


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

    @strawberry.field(description="What the buyer pays: the price plus the buyer's premium.")
    def amount(self) -> Money:
        return _money(self.row.amount, self.row.currency)

    @strawberry.field(description="The auction's final price (or the runner-up's bid).")
    def price(self) -> Money:
        return _money(self.row.price, self.row.currency)

    @strawberry.field(description="The buyer's premium on top of the price.")
    def premium(self) -> Money:
        return _money(self.row.buyer_premium, self.row.currency)

    @strawberry.field(description="The platform's fee out of the price, set at release.")
    def platform_fee(self) -> Money:
        return _money(self.row.platform_fee, self.row.currency)

    @strawberry.field(description="What has been refunded to the buyer so far.")
    def refunded_amount(self) -> Money:
        return _money(self.row.refunded_amount, self.row.currency)

    @strawberry.field
    def status(self) -> TransactionStatus:
        return TransactionStatus(self.row.status)

    @strawberry.field(
        description="The buyer's alone, while the sale awaits payment and once "
        "`payTransaction` without a saved card made an intent: its client secret for "
        "Stripe.js `confirmCardPayment`. Null for anyone else. Read from the gateway at "
        "most once per sale and request, counted against the buyer's payment rate limit "
        "(RATE_LIMITED when spent)."
    )
    async def payment_client_secret(self, info: Ctx) -> str | None:
        viewer, row = info.context.viewer, self.row
        if viewer is None or viewer.id != row.buyer_id:
            return None
        if row.status != Status.PENDING.value or row.stripe_payment_intent_id is None:
            return None  # nothing to confirm: no read, no gateway call
        key = SecretKey(row.id, row.stripe_payment_intent_id, viewer.id, viewer)
        return await info.context.loaders.settlement.client_secrets.load(key)

    @strawberry.field(description="Pay before this, or the sale lapses (PENDING only).")
    def pay_by(self) -> datetime | None:
        return self.row.pay_by

    @strawberry.field(
        description="When the card authorization expires; the platform captures before it."
    )
    def capture_before(self) -> datetime | None:
        return self.row.capture_before

    @strawberry.field(
        description="Ship before this, or the buyer is refunded in full (paid, unshipped only)."
    )
    def ship_by(self, info: Ctx) -> datetime | None:
        row = self.row
        paid = row.status in (Status.AUTHORIZED.value, Status.CAPTURED.value)
        if not paid or row.shipped_at is not None or row.authorized_at is None:
            return None
        return info.context.deps.settlement_policy.ship_by(row.authorized_at)

    @strawberry.field
    def shipment(self) -> Shipment | None:
        row = self.row
        if row.shipped_at is None or row.carrier is None or row.tracking_number is None:
            return None
        return Shipment(
            carrier=row.carrier, tracking_number=row.tracking_number, shipped_at=row.shipped_at
        )

    @strawberry.field(description="Escrow is released then unless the buyer confirms or disputes.")
    def release_after(self) -> datetime | None:
        return self.row.release_after

    @strawberry.field(description="When the buyer confirmed receipt.")
    def received_at(self) -> datetime | None:
        return self.row.received_at

    @strawberry.field
    def released_at(self) -> datetime | None:
        return self.row.released_at

    @strawberry.field(description="Why the sale FAILED: declined, lapsed or cancelled.")
    def failure_reason(self) -> str | None:
        return self.row.failure_reason

    @strawberry.field(description="True for a second-chance offer to the runner-up.")
    def is_second_chance(self) -> bool:
        return self.row.second_chance

    @strawberry.field(
        description="The second-chance offer made in place of this failed sale, if the "
        "viewer may see it (its seller, its new buyer, an admin)."
    )
    async def second_chance(self, info: Ctx) -> Transaction | None:
        viewer = info.context.viewer
        if self.row.status != Status.FAILED.value or viewer is None:
            return None
        row = await info.context.loaders.settlement.second_chance_of.load(self.row.id)
        return Transaction(row=row) if row is not None and can_see(viewer, row) else None

    @strawberry.field
    async def dispute(self, info: Ctx) -> Dispute | None:
        row = await info.context.loaders.settlement.dispute_of.load(self.row.id)
        return Dispute(row=row) if row is not None else None

    @strawberry.field(description="Both parties' feedback on this sale.")
    async def feedback(self, info: Ctx) -> list[Feedback]:
        rows = await info.context.loaders.settlement.feedback_of.load(self.row.id)
        return [Feedback(row=r) for r in rows]

    @strawberry.field(description="The sale's ledger legs in posting order (they sum to zero).")
    async def ledger_entries(self, info: Ctx) -> list[LedgerEntry]:
        rows = await info.context.loaders.settlement.ledger_of.load(self.row.id)
        return [LedgerEntry(row=r) for r in rows]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


TransactionConnection = Connection[Transaction]


def transaction_connection(page: Page[tables.Transaction]) -> TransactionConnection:
    return connection(page, lambda row: Transaction(row=row))


@strawberry.type
class Dispute:
    row: strawberry.Private[tables.Dispute]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def transaction(self, info: Ctx) -> Transaction:
        row = await info.context.loaders.settlement.transactions.load(self.row.transaction_id)
        assert row is not None
        return Transaction(row=row)

    @strawberry.field
    def status(self) -> DisputeStatus:
        return DisputeStatus(self.row.status)

    @strawberry.field
    def reason(self) -> str:
        return self.row.reason

    @strawberry.field(description="The buyer's account of the problem.")
    def message(self) -> str:
        return self.row.message

    @strawberry.field(
        description="The listing's images (public URLs) and the pictures the buyer uploaded "
        "(URLs signed for GAVEL_EVIDENCE_URL_TTL_SECONDS: read them again for fresh ones)."
    )
    def evidence_image_urls(self, info: Ctx) -> list[str]:
        deps = info.context.deps
        keys = [item["key"] for item in self.row.evidence]
        private = deps.private_media
        return [private.url(k) if private.holds(k) else deps.images.url(k) for k in keys]

    @strawberry.field
    def seller_response(self) -> str | None:
        return self.row.seller_response

    @strawberry.field
    def responded_at(self) -> datetime | None:
        return self.row.responded_at

    @strawberry.field(description="REFUND_FULL, REFUND_PARTIAL or RELEASE once resolved.")
    def resolution(self) -> DisputeResolution | None:
        return DisputeResolution(self.row.resolution) if self.row.resolution else None

    @strawberry.field(description="What the resolution refunded to the buyer.")
    async def refund_amount(self, info: Ctx) -> Money | None:
        if self.row.refund_amount is None:
            return None
        txn = await info.context.loaders.settlement.transactions.load(self.row.transaction_id)
        assert txn is not None
        return Money.of(self.row.refund_amount, txn.currency)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.row.resolved_at


DisputeConnection = Connection[Dispute]


def dispute_connection(page: Page[tables.Dispute]) -> DisputeConnection:
    return connection(page, lambda row: Dispute(row=row))


@strawberry.enum(description="How an admin settles a dispute.")
class DisputeResolution(Enum):
    REFUND_FULL = "REFUND_FULL"
    REFUND_PARTIAL = "REFUND_PARTIAL"
    RELEASE = "RELEASE"
