"""The admins' money reads: sales, a sale's ledger and history, the dispute queue and a
dispute's case file, the ledger's balance check, and the reconciliation report on demand
(SPEC §7 and §9; docs/admin-app.md "Fraud, disputes and money").

Admins only: every function raises FORBIDDEN for anyone else (the admin app calls them
directly, so they check it themselves). Nothing here writes. Lists are paged by
offset (`offset` >= 0, `limit` 1-100: INVALID_PAGE_SIZE otherwise) and sorted on the
server by a named column (an unknown one: INVALID_INPUT, field `sort`). Unknown or
malformed ids are NOT_FOUND. Money is integer minor units with its currency.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, case, func, or_
from sqlalchemy import select as wide_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from domain.enums import DisputeStatus, TransactionStatus
from domain.errors import NotFound, ValidationFailed
from domain.ledger import Account
from domain.money import to_decimal
from domain.text import check_text
from services.deps import Deps
from services.moderation import require_admin
from services.settlement.reconciliation import ReconciliationReport, reconcile
from storage.tables import Auction, AuditLog, Dispute, Item, LedgerEntry, Transaction, User
from storage.uow import UnitOfWork

T = TypeVar("T")

MAX_PAGE = 100
MAX_QUERY_CHARS = 254
# No admin list reaches a million rows: a larger offset is a forged page number.
MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class Rows(Generic[T]):
    """One page of a list: `rows` from position `offset`, of `total` matching."""

    rows: list[T]
    total: int
    offset: int
    limit: int


def check_window(offset: int, limit: int) -> None:
    """INVALID_PAGE_SIZE unless 0 <= offset <= MAX_OFFSET and 1 <= limit <= 100."""
    if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"pages hold 1 to {MAX_PAGE} rows from position 0 on",
            code="INVALID_PAGE_SIZE",
            field="limit",
        )


async def _rows(uow: UnitOfWork, statement: Any) -> list[Any]:
    """The rows of a select of more columns than sqlmodel's `select` overloads type."""
    result = await uow.session.exec(statement)
    return list(result.all())


def _as_id(value: uuid.UUID | str, what: str, field_name: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"no such {what}", field=field_name) from None


# -- sales ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaleRow:
    """A sale as the transactions table shows it."""

    id: uuid.UUID
    auction_id: uuid.UUID
    title: str
    buyer_id: uuid.UUID
    buyer: str  # username
    seller_id: uuid.UUID
    seller: str
    amount: int  # what the buyer pays, minor units
    refunded: int
    currency: str
    status: str
    pending_step: str | None
    created_at: datetime
    updated_at: datetime


SaleSort = Literal["created_at", "updated_at", "amount", "status"]
_SALE_SORTS: dict[str, Any] = {
    "created_at": col(Transaction.created_at),
    "updated_at": col(Transaction.updated_at),
    "amount": col(Transaction.amount),
    "status": col(Transaction.status),
}


async def list_sales(
    deps: Deps,
    viewer: User,
    *,
    status: str | None = None,
    query: str | None = None,
    sort: str = "created_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 20,
) -> Rows[SaleRow]:
    """Every sale, filtered by `status` (a TransactionStatus; INVALID_INPUT field
    `status` otherwise) and `query`: an id (of the sale, its auction, its buyer or its
    seller) or text (the buyer's or seller's username or email starting with it, or
    the item's title containing it; case-insensitive). Sorted by `sort` (created_at,
    updated_at, amount, status; ties by id)."""
    require_admin(viewer)
    check_window(offset, limit)
    order = _SALE_SORTS.get(sort)
    if order is None:
        raise ValidationFailed(f"sort by one of {', '.join(_SALE_SORTS)}", field="sort")
    buyer, seller = aliased(User), aliased(User)
    where: list[ColumnElement[bool]] = []
    if status:
        if status not in {s.value for s in TransactionStatus}:
            raise ValidationFailed(f"unknown sale status {status!r}", field="status")
        where.append(col(Transaction.status) == status)
    # NUL and control characters are refused in words: PostgreSQL cannot compare NUL.
    text = check_text((query or "").strip(), "query")
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"search is at most {MAX_QUERY_CHARS} characters", field="query")
    if text:
        where.append(_sale_matches(text, buyer, seller))
    base = (
        select(
            Transaction,
            col(Item.title),
            col(buyer.username),
            col(seller.username),
        )
        .join(Auction, col(Auction.id) == Transaction.auction_id)
        .join(Item, col(Item.id) == Auction.item_id)
        .join(buyer, col(buyer.id) == Transaction.buyer_id)
        .join(seller, col(seller.id) == Transaction.seller_id)
        .where(*where)
    )
    direction = order.desc() if descending else order.asc()
    tie = col(Transaction.id).desc() if descending else col(Transaction.id).asc()
    counted = (
        select(func.count())
        .select_from(Transaction)
        .join(Auction, col(Auction.id) == Transaction.auction_id)
        .join(Item, col(Item.id) == Auction.item_id)
        .join(buyer, col(buyer.id) == Transaction.buyer_id)
        .join(seller, col(seller.id) == Transaction.seller_id)
        .where(*where)
    )
    async with deps.uow() as uow:
        found = (
            await uow.session.exec(base.order_by(direction, tie).offset(offset).limit(limit))
        ).all()
        total = int((await uow.session.exec(counted)).one())
    rows = [
        SaleRow(
            id=txn.id,
            auction_id=txn.auction_id,
            title=title,
            buyer_id=txn.buyer_id,
            buyer=buyer_name,
            seller_id=txn.seller_id,
            seller=seller_name,
            amount=txn.amount,
            refunded=txn.refunded_amount,
            currency=txn.currency,
            status=txn.status,
            pending_step=txn.pending_step,
            created_at=txn.created_at,
            updated_at=txn.updated_at,
        )
        for txn, title, buyer_name, seller_name in found
    ]
    return Rows(rows, total, offset, limit)


def _sale_matches(text: str, buyer: Any, seller: Any) -> ColumnElement[bool]:
    try:
        key = uuid.UUID(text)
    except ValueError:
        key = None
    if key is not None:
        return or_(
            col(Transaction.id) == key,
            col(Transaction.auction_id) == key,
            col(Transaction.buyer_id) == key,
            col(Transaction.seller_id) == key,
        )
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    prefix = escaped + "%"
    return or_(
        func.lower(buyer.username).like(prefix, escape="\\"),
        func.lower(seller.username).like(prefix, escape="\\"),
        buyer.email.like(prefix, escape="\\"),
        seller.email.like(prefix, escape="\\"),
        func.lower(col(Item.title)).like("%" + escaped + "%", escape="\\"),
    )


# -- one sale: its ledger and history ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One audit row as the admin app shows it: `action` as stored, `actor` a username
    (None: the system), `details` the row's before/after/reason/facts."""

    at: datetime
    action: str
    entity_type: str
    actor: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SaleFile:
    """A sale with everything an admin reads about it: the auction's item title, both
    parties, the ledger legs in posting order, the audit history (oldest first) of the
    sale and of its dispute, and the dispute if there is one."""

    sale: Transaction
    title: str
    buyer: User
    seller: User
    ledger: list[LedgerEntry]
    history: list[HistoryEntry]
    dispute: Dispute | None


async def sale_file(deps: Deps, viewer: User, transaction_id: uuid.UUID | str) -> SaleFile:
    """One sale's file (see `SaleFile`). NOT_FOUND (field transactionId) when none."""
    require_admin(viewer)
    key = _as_id(transaction_id, "sale", "transactionId")
    async with deps.uow() as uow:
        txn = await uow.session.get(Transaction, key)
        if txn is None:
            raise NotFound("no such sale", field="transactionId")
        auction = await uow.session.get(Auction, txn.auction_id)
        assert auction is not None
        item = await uow.session.get(Item, auction.item_id)
        buyer = await uow.session.get(User, txn.buyer_id)
        seller = await uow.session.get(User, txn.seller_id)
        assert item is not None and buyer is not None and seller is not None
        ledger = list(
            (
                await uow.session.exec(
                    select(LedgerEntry)
                    .where(col(LedgerEntry.transaction_id) == key)
                    .order_by(col(LedgerEntry.id))
                )
            ).all()
        )
        dispute = (
            await uow.session.exec(select(Dispute).where(col(Dispute.transaction_id) == key))
        ).first()
        subjects = [("transaction", str(key))]
        if dispute is not None:
            subjects.append(("dispute", str(dispute.id)))
        audit = (
            await uow.session.exec(
                select(AuditLog, col(User.username))
                .outerjoin(User, col(User.id) == AuditLog.actor_id)
                .where(
                    or_(
                        *(
                            (col(AuditLog.entity_type) == kind) & (col(AuditLog.entity_id) == ident)
                            for kind, ident in subjects
                        )
                    )
                )
                .order_by(col(AuditLog.id))
            )
        ).all()
    history = [
        HistoryEntry(row.at, row.action, row.entity_type, actor, dict(row.details))
        for row, actor in audit
    ]
    return SaleFile(txn, item.title, buyer, seller, ledger, history, dispute)


# -- disputes ------------------------------------------------------------------------


OPEN_STATES = (DisputeStatus.OPEN.value, DisputeStatus.SELLER_RESPONDED.value)


@dataclass(frozen=True, slots=True)
class DisputeRow:
    """A dispute as the queue shows it."""

    id: uuid.UUID
    transaction_id: uuid.UUID
    status: str
    reason: str
    title: str
    buyer: str
    seller: str
    amount: int
    currency: str
    evidence: int  # how many images
    created_at: datetime
    resolved_at: datetime | None


DisputeView = Literal["open", "resolved", "all"]


async def dispute_queue(
    deps: Deps,
    viewer: User,
    *,
    view: DisputeView = "open",
    offset: int = 0,
    limit: int = 20,
) -> Rows[DisputeRow]:
    """Disputes to decide first: `view` "open" (OPEN or SELLER_RESPONDED, the one
    waiting longest first), "resolved" (newest resolution first) or "all" (open ones
    first, as "open", then the resolved as "resolved")."""
    require_admin(viewer)
    check_window(offset, limit)
    if view not in ("open", "resolved", "all"):
        raise ValidationFailed("view is open, resolved or all", field="view")
    buyer, seller = aliased(User), aliased(User)
    is_open = col(Dispute.status).in_(OPEN_STATES)
    where: list[ColumnElement[bool]] = []
    if view == "open":
        where.append(is_open)
    elif view == "resolved":
        where.append(~is_open)
    order = (
        case((is_open, 0), else_=1),
        case((is_open, col(Dispute.created_at))).asc(),
        func.coalesce(col(Dispute.resolved_at), col(Dispute.created_at)).desc(),
        col(Dispute.id),
    )
    query = (
        wide_select(
            Dispute, Transaction, col(Item.title), col(buyer.username), col(seller.username)
        )
        .join(Transaction, col(Transaction.id) == Dispute.transaction_id)
        .join(Auction, col(Auction.id) == Transaction.auction_id)
        .join(Item, col(Item.id) == Auction.item_id)
        .join(buyer, col(buyer.id) == Transaction.buyer_id)
        .join(seller, col(seller.id) == Transaction.seller_id)
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    async with deps.uow() as uow:
        found = await _rows(uow, query)
        total = int(
            (await uow.session.exec(select(func.count()).select_from(Dispute).where(*where))).one()
        )
    rows = [
        DisputeRow(
            id=dispute.id,
            transaction_id=txn.id,
            status=dispute.status,
            reason=dispute.reason,
            title=title,
            buyer=buyer_name,
            seller=seller_name,
            amount=txn.amount,
            currency=txn.currency,
            evidence=len(dispute.evidence),
            created_at=dispute.created_at,
            resolved_at=dispute.resolved_at,
        )
        for dispute, txn, title, buyer_name, seller_name in found
    ]
    return Rows(rows, total, offset, limit)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One moment of a dispute's story, in words: `kind` is "dispute", "audit" or
    "ledger" (an icon's choice), `actor` a username or None."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class DisputeFile:
    """A dispute, its sale's file, its story oldest first, and its evidence images'
    URLs (uploads: signed, short-lived; the listing's own images: public)."""

    dispute: Dispute
    sale: SaleFile
    timeline: list[TimelineEvent]
    evidence_urls: list[str]


async def dispute_file(deps: Deps, viewer: User, dispute_id: uuid.UUID | str) -> DisputeFile:
    """One dispute's case file. NOT_FOUND (field disputeId) when there is none."""
    require_admin(viewer)
    key = _as_id(dispute_id, "dispute", "disputeId")
    async with deps.uow() as uow:
        dispute = await uow.session.get(Dispute, key)
    if dispute is None:
        raise NotFound("no such dispute", field="disputeId")
    sale = await sale_file(deps, viewer, dispute.transaction_id)
    private = deps.private_media
    keys = [str(item.get("key", "")) for item in dispute.evidence if isinstance(item, dict)]
    urls = [private.url(k) if private.holds(k) else deps.images.url(k) for k in keys if k]
    return DisputeFile(dispute, sale, timeline_of(dispute, sale), urls)


ACCOUNT_WORDS = {
    Account.BUYER_FUNDS.value: "buyer's card",
    Account.ESCROW.value: "escrow",
    Account.SELLER_PAYABLE.value: "owed to the seller",
    Account.PLATFORM_REVENUE.value: "platform revenue",
    Account.REFUNDS.value: "refunded to the buyer",
    Account.PAYOUTS.value: "paid out to the seller",
    Account.PAYOUTS_PENDING.value: "payout owed (not yet transferred)",
}

ACTION_WORDS = {
    "dispute.opened": "Dispute opened",
    "dispute.responded": "Seller responded",
    "dispute.resolving": "Resolution started",
    "dispute.resolved": "Dispute resolved",
    "dispute.resolution_refused": "The payment gateway refused the resolution",
    "dispute.voided": "Dispute closed: the sale failed",
    "transaction.start": "Sale opened",
    "transaction.pay": "Buyer paid",
    "transaction.authorized": "Payment authorized",
    "transaction.captured": "Payment captured",
    "transaction.failed": "Sale failed",
    "transaction.intent_cancelled": "Card authorization cancelled",
    "transaction.lapsed": "Sale lapsed unpaid",
    "transaction.not_shipped": "Refunded: never shipped",
    "transaction.payout_refused": "Payout refused by the gateway",
    "transaction.received": "Buyer confirmed receipt",
    "transaction.refunded": "Refunded",
    "transaction.released": "Released to the seller",
    "transaction.second_chance": "Second-chance offer",
    "transaction.shipped": "Shipped",
    "transaction.step_refused": "A payment step was refused",
}


def action_words(action: str) -> str:
    """An audit action for people ("transaction.shipped" is "Shipped")."""
    return ACTION_WORDS.get(action) or action.replace(".", ": ").replace("_", " ").capitalize()


# A buyer's reason is free text (1-100 characters, docs/settlement.md); API clients often
# send a code instead ("NOT_AS_DESCRIBED"), which people read as words.
_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,}")


def reason_words(reason: str) -> str:
    """A dispute's reason for people: a code in capitals is words ("NOT_AS_DESCRIBED" is
    "Not as described"); anything the buyer typed otherwise is kept as typed."""
    text = reason.strip()
    if not _CODE.fullmatch(text):
        return reason
    spoken = text.replace("_", " ").lower()
    return spoken[:1].upper() + spoken[1:]


def account_words(account: str) -> str:
    return ACCOUNT_WORDS.get(account, account.replace("_", " "))


def timeline_of(dispute: Dispute, sale: SaleFile) -> list[TimelineEvent]:
    """The dispute's story from its row, its sale's audit history (the admin's reason
    where one was given) and the sale's ledger postings (each leg with its amount and
    currency), oldest first."""
    events: list[TimelineEvent] = [
        TimelineEvent(
            dispute.created_at,
            "dispute",
            f"Buyer {sale.buyer.username} opened a dispute: {reason_words(dispute.reason)}",
            dispute.message,
            sale.buyer.username,
        )
    ]
    if dispute.responded_at is not None:
        events.append(
            TimelineEvent(
                dispute.responded_at,
                "dispute",
                f"Seller {sale.seller.username} responded",
                dispute.seller_response or "",
                sale.seller.username,
            )
        )
    for entry in sale.history:
        if entry.action in ("dispute.opened", "dispute.responded"):
            continue  # told above, with the words themselves
        reason = entry.details.get("reason")
        events.append(
            TimelineEvent(
                entry.at,
                "audit",
                action_words(entry.action),
                str(reason) if reason else "",
                entry.actor,
            )
        )
    postings: dict[uuid.UUID, list[LedgerEntry]] = defaultdict(list)
    for leg in sale.ledger:
        postings[leg.posting_id].append(leg)
    for legs in postings.values():
        first = legs[0]
        events.append(
            TimelineEvent(
                first.created_at,
                "ledger",
                f"Ledger: {first.posting_key.replace('_', ' ')}",
                "; ".join(f"{account_words(leg.account)} {_signed(leg)}" for leg in legs),
            )
        )
    return sorted(events, key=lambda e: e.at)


def _signed(leg: LedgerEntry) -> str:
    sign = "+" if leg.amount > 0 else "-"
    return f"{sign}{to_decimal(abs(leg.amount), leg.currency)} {leg.currency}"


# -- the ledger's balance ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Imbalance:
    """One thing the balance check found wrong. `where`: "posting", "sale", "ledger"
    (a whole currency) or "escrow"; `amount` the sum that should have been
    `expected` (minor units of `currency`)."""

    where: str
    currency: str
    amount: int
    expected: int
    transaction_id: uuid.UUID | None = None
    posting: str | None = None


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """The ledger checked: `postings` and `sales` counted, each currency's volume
    (the sum of its positive legs), and what is wrong (empty: balanced)."""

    postings: int
    sales: int
    volume: dict[str, int] = field(default_factory=dict)
    problems: list[Imbalance] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.problems


HELD = (TransactionStatus.AUTHORIZED.value, TransactionStatus.CAPTURED.value)
SETTLED = (
    TransactionStatus.RELEASED.value,
    TransactionStatus.REFUNDED.value,
    TransactionStatus.FAILED.value,
    TransactionStatus.PENDING.value,
)


async def check_balances(deps: Deps, viewer: User) -> BalanceCheck:
    """Double entry holds (domain/ledger.py): every posting's legs sum to zero in one
    currency; every sale's legs sum to zero per currency, in the sale's currency only;
    each currency's whole ledger sums to zero; and escrow holds what the sale's state
    says: the amount while AUTHORIZED or CAPTURED, nothing once PENDING, RELEASED,
    REFUNDED or FAILED (sales with a gateway step in flight are left out of this one)."""
    require_admin(viewer)
    leg_sum = func.sum(LedgerEntry.amount)
    async with deps.uow() as uow:
        postings = await _rows(
            uow,
            wide_select(
                col(LedgerEntry.posting_id),
                col(LedgerEntry.transaction_id),
                func.min(col(LedgerEntry.currency)),
                func.count(func.distinct(col(LedgerEntry.currency))),
                leg_sum,
                func.min(col(LedgerEntry.posting_key)),
            ).group_by(col(LedgerEntry.posting_id), col(LedgerEntry.transaction_id)),
        )
        per_sale = (
            await uow.session.exec(
                select(
                    col(LedgerEntry.transaction_id),
                    col(LedgerEntry.currency),
                    leg_sum,
                    col(Transaction.currency),
                )
                .join(Transaction, col(Transaction.id) == LedgerEntry.transaction_id)
                .group_by(
                    col(LedgerEntry.transaction_id),
                    col(LedgerEntry.currency),
                    col(Transaction.currency),
                )
            )
        ).all()
        per_currency = (
            await uow.session.exec(
                select(
                    col(LedgerEntry.currency),
                    leg_sum,
                    func.coalesce(
                        func.sum(case((col(LedgerEntry.amount) > 0, col(LedgerEntry.amount)))), 0
                    ),
                ).group_by(col(LedgerEntry.currency))
            )
        ).all()
        escrow_sum = func.coalesce(
            func.sum(
                case((col(LedgerEntry.account) == Account.ESCROW.value, col(LedgerEntry.amount)))
            ),
            0,
        )
        escrow = await _rows(
            uow,
            wide_select(
                col(Transaction.id),
                col(Transaction.status),
                col(Transaction.amount),
                col(Transaction.currency),
                escrow_sum,
            )
            .outerjoin(LedgerEntry, col(LedgerEntry.transaction_id) == Transaction.id)
            .where(col(Transaction.pending_step).is_(None))
            .group_by(col(Transaction.id)),
        )
    problems: list[Imbalance] = []
    for posting_id, txn_id, currency, currencies, total, posting_key in postings:
        if int(total) != 0 or int(currencies) != 1:
            label = f"{posting_key} ({posting_id})"
            problems.append(
                Imbalance("posting", currency, int(total), 0, txn_id, label)
                if int(currencies) == 1
                else Imbalance("posting", "mixed", int(total), 0, txn_id, label)
            )
    for txn_id, currency, total, sale_currency in per_sale:
        if int(total) != 0 or currency != sale_currency:
            problems.append(Imbalance("sale", currency, int(total), 0, txn_id))
    volume: dict[str, int] = {}
    for currency, total, positive in per_currency:
        volume[currency] = int(positive)
        if int(total) != 0:
            problems.append(Imbalance("ledger", currency, int(total), 0))
    for txn_id, status, amount, currency, held in escrow:
        expected = amount if status in HELD else 0
        if int(held) != expected:
            problems.append(Imbalance("escrow", currency, int(held), expected, txn_id))
    sales = len({txn_id for txn_id, *_ in per_sale})
    return BalanceCheck(len(postings), sales, volume, problems)


async def run_reconciliation(deps: Deps, viewer: User) -> ReconciliationReport:
    """The reconciliation report (services/settlement/reconciliation.py) now, for an
    admin: the ledger and the sales checked against the payment gateway's intents.
    PAYMENT_GATEWAY_UNAVAILABLE when the gateway does not answer."""
    require_admin(viewer)
    return await reconcile(deps)
