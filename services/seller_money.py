"""A seller's sales, payouts and ledger lines (admin app `/sales`, docs/admin-app.md).

Reads only, scoped by `seller_id` here: a seller sees their own sales; an admin may read
any seller's (`seller_id`); a seller naming someone else gets NOT_FOUND. Shipping is the
settlement use case's (services/settlement/fulfilment.py `mark_shipped`), which checks
that the viewer is the sale's seller.

The ledger lines that concern the seller are the legs on the seller's accounts
(domain/ledger.py): `seller_payable` (what Gavel owes after release, less the platform
fee), `payouts` (transferred) and `payouts_pending` (a transfer the gateway could not
make, owed until paid by hand). Money is integer minor units, per currency, never summed
across currencies.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, func
from sqlmodel import col, select

from domain.enums import TransactionStatus as Status
from domain.errors import ValidationFailed
from domain.ledger import Account
from services import catalog
from services.deps import Deps
from services.seller_analytics import seller_scope
from services.settlement_reads import disputes_by_transaction, ledger_by_transaction
from storage.tables import Auction, Item, LedgerEntry, Transaction, User

MAX_PAGE = 100
MAX_OFFSET = 100_000
SELLER_ACCOUNTS = (Account.SELLER_PAYABLE, Account.PAYOUTS, Account.PAYOUTS_PENDING)

SaleSort = Literal["newest", "oldest", "price_high", "price_low"]
SaleFilter = Literal[
    "all", "awaiting_payment", "to_ship", "shipped", "released", "refunded", "failed"
]
_PAID = (Status.AUTHORIZED.value, Status.CAPTURED.value)
_FILTERS: dict[str, Any] = {
    "all": None,
    "awaiting_payment": col(Transaction.status) == Status.PENDING.value,
    "to_ship": and_(col(Transaction.status).in_(_PAID), col(Transaction.shipped_at).is_(None)),
    "shipped": and_(col(Transaction.status).in_(_PAID), col(Transaction.shipped_at).isnot(None)),
    "released": col(Transaction.status) == Status.RELEASED.value,
    "refunded": col(Transaction.status) == Status.REFUNDED.value,
    "failed": col(Transaction.status) == Status.FAILED.value,
}
_SORTS: dict[str, tuple[Any, ...]] = {
    "newest": (col(Transaction.created_at).desc(), col(Transaction.id).desc()),
    "oldest": (col(Transaction.created_at), col(Transaction.id)),
    "price_high": (col(Transaction.price).desc(), col(Transaction.created_at).desc()),
    "price_low": (col(Transaction.price), col(Transaction.created_at).desc()),
}


@dataclass(frozen=True, slots=True)
class Sale:
    """One sale as the seller sees it: the transaction, what was sold, to whom, the
    ledger legs on the seller's accounts (posting order) and its dispute's status."""

    transaction: Transaction
    title: str
    buyer: str  # the buyer's username
    ledger: list[LedgerEntry]
    dispute: str | None  # DisputeStatus value

    @property
    def payout_state(self) -> str:
        """Where the seller's money is, in words."""
        txn = self.transaction
        status = Status(txn.status)
        if txn.payout_status == "paid":
            return "paid out"
        if txn.payout_status == "pending":
            return "payout pending (to be transferred by hand)"
        if status is Status.PENDING:
            return "awaiting the buyer's payment"
        if status in (Status.AUTHORIZED, Status.CAPTURED):
            return "in escrow until the buyer confirms receipt"
        if status is Status.RELEASED:
            return "released, payout on its way"
        if status is Status.REFUNDED:
            return "refunded to the buyer"
        return "failed: no money moved"

    @property
    def can_ship(self) -> bool:
        """Whether shipping makes sense now (the use case has the last word)."""
        txn = self.transaction
        return txn.status in _PAID and txn.shipped_at is None and txn.pending_step is None


@dataclass
class Totals:
    """One currency's figures over all the seller's sales (minor units)."""

    currency: str
    paid_out: int = 0  # transferred to the seller
    owed: int = 0  # released and not transferred yet (payable, or a pending payout)
    in_escrow: int = 0  # the buyers' money held for the seller's paid sales
    awaiting_payment: int = 0  # prices of sales not paid yet
    refunded: int = 0  # given back to buyers


async def sales(
    deps: Deps,
    viewer: User,
    *,
    limit: int = 10,
    offset: int = 0,
    sort: SaleSort = "newest",
    show: SaleFilter = "all",
    seller_id: uuid.UUID | str | None = None,
) -> tuple[list[Sale], int]:
    """One page of the seller's sales, filtered and sorted on the server, and how many
    match. Errors: NOT_FOUND (another seller's, unless admin), INVALID_INPUT (an unknown
    sort or filter)."""
    seller = seller_scope(viewer, seller_id)
    if sort not in _SORTS:
        raise ValidationFailed(f"unknown sort {sort!r}", field="sort")
    if show not in _FILTERS:
        raise ValidationFailed(f"unknown filter {show!r}", field="show")
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, min(offset, MAX_OFFSET))  # past it, PostgreSQL's bigint overflows
    where = [col(Transaction.seller_id) == seller]
    if _FILTERS[show] is not None:
        where.append(_FILTERS[show])
    async with deps.uow() as uow:
        total = (
            await uow.session.exec(select(func.count()).select_from(Transaction).where(*where))
        ).one()
        rows = (
            await uow.session.exec(
                select(Transaction, Item.title)
                .join(Auction, col(Auction.id) == Transaction.auction_id)
                .join(Item, col(Item.id) == Auction.item_id)
                .where(*where)
                .order_by(*_SORTS[sort])
                .limit(limit)
                .offset(max(0, offset))
            )
        ).all()
    ids = [txn.id for txn, _ in rows]
    ledgers = await ledger_by_transaction(deps, ids) if ids else []
    disputes = await disputes_by_transaction(deps, ids) if ids else []
    buyers = await catalog.users_by_id(deps, [txn.buyer_id for txn, _ in rows]) if ids else []
    out = []
    for (txn, title), legs, dispute, buyer in zip(rows, ledgers, disputes, buyers, strict=True):
        mine = [leg for leg in legs if leg.account in SELLER_ACCOUNTS]
        out.append(
            Sale(
                transaction=txn,
                title=title,
                buyer=buyer.username if buyer is not None else "—",
                ledger=mine,
                dispute=dispute.status if dispute is not None else None,
            )
        )
    return out, int(total)


async def totals(
    deps: Deps, viewer: User, *, seller_id: uuid.UUID | str | None = None
) -> list[Totals]:
    """Per currency (sorted), what was paid out, is owed, is held in escrow, awaits the
    buyer's payment and was refunded, over all the seller's sales. NOT_FOUND as `sales`."""
    seller = seller_scope(viewer, seller_id)
    accounts = (
        Account.PAYOUTS,
        Account.PAYOUTS_PENDING,
        Account.SELLER_PAYABLE,
        Account.ESCROW,
        Account.REFUNDS,
    )
    async with deps.uow() as uow:
        legs = (
            await uow.session.exec(
                select(LedgerEntry.currency, LedgerEntry.account, func.sum(LedgerEntry.amount))
                .join(Transaction, col(Transaction.id) == LedgerEntry.transaction_id)
                .where(
                    col(Transaction.seller_id) == seller,
                    col(LedgerEntry.account).in_([a.value for a in accounts]),
                )
                .group_by(col(LedgerEntry.currency), col(LedgerEntry.account))
            )
        ).all()
        unpaid = (
            await uow.session.exec(
                select(Transaction.currency, func.sum(Transaction.price))
                .where(
                    col(Transaction.seller_id) == seller,
                    col(Transaction.status) == Status.PENDING.value,
                )
                .group_by(col(Transaction.currency))
            )
        ).all()
    per: dict[str, Totals] = {}

    def of(currency: str) -> Totals:
        return per.setdefault(currency, Totals(currency))

    sums: dict[tuple[str, str], int] = defaultdict(int)
    for currency, account, amount in legs:
        sums[(currency, account)] += int(amount or 0)
        of(currency)
    for currency, amount in unpaid:
        of(currency).awaiting_payment = int(amount or 0)
    for currency, t in per.items():
        t.paid_out = sums[(currency, Account.PAYOUTS.value)]
        t.owed = (
            sums[(currency, Account.PAYOUTS_PENDING.value)]
            + sums[(currency, Account.SELLER_PAYABLE.value)]
        )
        t.in_escrow = sums[(currency, Account.ESCROW.value)]
        t.refunded = sums[(currency, Account.REFUNDS.value)]
    return [per[c] for c in sorted(per)]
