"""What every settlement use case shares: finding and locking a sale the viewer may
see, the ledger writes, notifications and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from domain.enums import Role, TransactionStatus
from domain.errors import Forbidden, NotFound, ValidationFailed
from domain.ledger import Posting
from domain.payments import GatewayUnavailable, PaymentGateway
from services.audit import audit_row
from services.deps import Deps
from storage.notification_writer import NewNotification, add_notifications
from storage.tables import LedgerEntry, Transaction, User
from storage.uow import UnitOfWork


def is_admin(user: User) -> bool:
    return Role.ADMIN.value in user.roles


def as_uuid(value: uuid.UUID | str, field: str) -> uuid.UUID:
    """An id argument; a malformed one names nothing, so it is NOT_FOUND like a stranger's."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("no such transaction", field=field) from None


def status_of(txn: Transaction) -> TransactionStatus:
    return TransactionStatus(txn.status)


def can_see(viewer: User, txn: Transaction) -> bool:
    return viewer.id in (txn.buyer_id, txn.seller_id) or is_admin(viewer)


async def visible_transaction(
    uow: UnitOfWork, viewer: User, transaction_id: uuid.UUID | str, *, lock: bool
) -> Transaction:
    """The sale, locked FOR UPDATE when `lock`; NOT_FOUND unless the viewer is a party
    or an admin (never reveals that someone else's sale exists)."""
    txn_id = as_uuid(transaction_id, "transactionId")
    txn = await uow.session.get(Transaction, txn_id, with_for_update=lock or None)
    if txn is None or not can_see(viewer, txn):
        raise NotFound("no such transaction", field="transactionId")
    return txn


def require_party(viewer: User, party_id: uuid.UUID, what: str) -> None:
    """FORBIDDEN: the other party (or an admin) doing a party's step."""
    if viewer.id != party_id:
        raise Forbidden(f"only the {what} can do this", field="transactionId")


def gateway(deps: Deps) -> PaymentGateway:
    if deps.payments is None:
        raise GatewayUnavailable("no payment gateway is configured")
    return deps.payments


def step_key(txn: Transaction, step: str) -> str:
    """The idempotency key of one gateway call of a sale (docs/settlement.md)."""
    return f"txn:{txn.id}:{step}"


async def record(uow: UnitOfWork, txn: Transaction, entry: Posting, now: datetime) -> None:
    """Write a balanced posting's legs for the sale."""
    if entry.currency != txn.currency:
        raise ValidationFailed("a sale's postings are in its currency")
    posting_id = uuid.uuid4()
    for leg in entry.legs:
        uow.session.add(
            LedgerEntry(
                transaction_id=txn.id,
                posting_id=posting_id,
                posting_key=entry.key,
                account=leg.account.value,
                amount=leg.amount,
                currency=entry.currency,
                memo=entry.memo,
                created_at=now,
            )
        )


async def balance(uow: UnitOfWork, txn_id: uuid.UUID, account: str) -> int:
    total = (
        await uow.session.exec(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                col(LedgerEntry.transaction_id) == txn_id, col(LedgerEntry.account) == account
            )
        )
    ).one()
    return int(total)


async def has_posting(uow: UnitOfWork, txn_id: uuid.UUID, key: str) -> bool:
    found = (
        await uow.session.exec(
            select(LedgerEntry.id)
            .where(col(LedgerEntry.transaction_id) == txn_id, col(LedgerEntry.posting_key) == key)
            .limit(1)
        )
    ).first()
    return found is not None


async def notify(
    uow: UnitOfWork, txn: Transaction, kind: str, message: str, *, to: tuple[uuid.UUID, ...]
) -> None:
    await add_notifications(
        uow.session,
        [
            NewNotification(user_id=user_id, kind=kind, message=message, auction_id=txn.auction_id)
            for user_id in dict.fromkeys(to)
        ],
    )


async def notify_both(uow: UnitOfWork, txn: Transaction, kind: str, message: str) -> None:
    await notify(uow, txn, kind, message, to=(txn.buyer_id, txn.seller_id))


async def notify_each(
    uow: UnitOfWork, txn: Transaction, kind: str, messages: dict[uuid.UUID, str]
) -> None:
    """One notification of `kind` per user, each with its own message, in one call: the
    users' counters are locked together, in one order (storage/notification_writer.py)."""
    await add_notifications(
        uow.session,
        [
            NewNotification(user_id=user_id, kind=kind, message=message, auction_id=txn.auction_id)
            for user_id, message in messages.items()
        ],
    )


def audit(
    uow: UnitOfWork,
    actor_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    **details: Any,
) -> None:
    """One audit row in the shape services/audit.py describes (before/after/reason)."""
    uow.session.add(
        audit_row(
            actor_id,
            action,
            entity_type,
            entity_id,
            before=before,
            after=after,
            reason=reason,
            at=now,
            **details,
        )
    )
