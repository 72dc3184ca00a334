"""Settlement's tables (SPEC section 7, docs/settlement.md): sales being settled, their
ledger entries, disputes, feedback and the webhook events already applied. Money is
BIGINT minor units next to a currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from storage.columns import CURRENCY
from storage.columns import fk as _fk
from storage.columns import money as _money
from storage.columns import opt_ts as _opt_ts
from storage.columns import ts as _ts

TRANSACTION_STEPS = (
    "pending_step IS NULL OR pending_step IN "
    "('authorize','capture','release','refund','partial_refund','cancel')"
)


class Transaction(SQLModel, table=True):
    """One sale being settled (SPEC section 7, docs/settlement.md).

    `price` is the auction's final price (or the runner-up's bid for a second-chance
    sale), `amount` what the buyer pays: price plus `buyer_premium`. `pending_step` is a
    gateway call begun and not yet recorded: set and committed before the call, cleared
    with the call's result, so a crash in between is resumed with the same idempotency
    key (`txn:{id}:{step}`) by the settlement worker.
    """

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING','AUTHORIZED','CAPTURED','RELEASED','REFUNDED','FAILED')",
            name="ck_transactions_status",
        ),
        CheckConstraint("amount > 0", name="ck_transactions_amount"),
        CheckConstraint("platform_fee >= 0 AND platform_fee <= amount", name="ck_transactions_fee"),
        CheckConstraint(CURRENCY, name="ck_transactions_currency"),
        CheckConstraint(
            "price > 0 AND buyer_premium >= 0 AND amount = price + buyer_premium",
            name="ck_transactions_parts",
        ),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount", name="ck_transactions_refunded"
        ),
        CheckConstraint(TRANSACTION_STEPS, name="ck_transactions_step"),
        # At most one live sale per auction; FAILED ones stay as history, and a
        # second-chance offer is a new row (SPEC section 7).
        Index(
            "uq_transactions_live_auction",
            "auction_id",
            unique=True,
            postgresql_where=text("status <> 'FAILED'"),
        ),
        Index("ix_transactions_status", "status"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    auction_id: uuid.UUID = _fk("auctions.id")
    buyer_id: uuid.UUID = _fk("users.id")
    seller_id: uuid.UUID = _fk("users.id")
    amount: int = _money()
    price: int = _money()
    buyer_premium: int = _money(default=0)
    platform_fee: int = _money(default=0)
    refunded_amount: int = _money(default=0)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16, default="PENDING")
    second_chance: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    # The FAILED sale a second-chance offer replaces.
    replaces_id: uuid.UUID | None = _fk("transactions.id", nullable=True, index=False)
    stripe_payment_intent_id: str | None = Field(default=None, max_length=64, unique=True)
    payment_method_id: str | None = Field(default=None, max_length=64)
    # Authorization attempts made (a new intent per attempt: txn:{id}:authorize:{n}).
    payment_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    payout_id: str | None = Field(default=None, max_length=64)
    payout_status: str | None = Field(default=None, max_length=16)
    idempotency_key: str = Field(max_length=100, unique=True)
    failure_reason: str | None = Field(default=None, max_length=200)
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=100)
    pending_step: str | None = Field(default=None, max_length=16)
    step_started_at: datetime | None = _opt_ts()
    pay_by: datetime | None = _opt_ts()
    authorized_at: datetime | None = _opt_ts()
    capture_before: datetime | None = _opt_ts()
    captured_at: datetime | None = _opt_ts()
    shipped_at: datetime | None = _opt_ts()
    release_after: datetime | None = _opt_ts()
    received_at: datetime | None = _opt_ts()
    released_at: datetime | None = _opt_ts()
    refunded_at: datetime | None = _opt_ts()
    failed_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class LedgerEntry(SQLModel, table=True):
    """One leg of a balanced double-entry posting; a transaction's legs sum to zero.

    `posting_key` names the step that posted it (authorize, release, ...): a step posts
    once, which the unique index enforces even if a resumed step tried again.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="ck_ledger_nonzero"),
        CheckConstraint(CURRENCY, name="ck_ledger_currency"),
        UniqueConstraint(
            "transaction_id", "posting_key", "account", name="uq_ledger_posting_account"
        ),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    transaction_id: uuid.UUID = _fk("transactions.id")
    posting_id: uuid.UUID = Field(index=True)
    posting_key: str = Field(max_length=64)
    account: str = Field(max_length=64)
    amount: int = _money()
    currency: str = Field(max_length=3)
    memo: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()


class Dispute(SQLModel, table=True):
    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(
            "status IN ('OPEN','SELLER_RESPONDED','RESOLVED_REFUND','RESOLVED_RELEASE')",
            name="ck_disputes_status",
        ),
        CheckConstraint("refund_amount IS NULL OR refund_amount >= 0", name="ck_disputes_refund"),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('REFUND_FULL','REFUND_PARTIAL','RELEASE')",
            name="ck_disputes_resolution",
        ),
        # One dispute per sale: its resolution settles the sale for good.
        UniqueConstraint("transaction_id", name="uq_disputes_transaction"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    transaction_id: uuid.UUID = _fk("transactions.id")
    opened_by_id: uuid.UUID = _fk("users.id")
    status: str = Field(max_length=20, default="OPEN")
    reason: str = Field(max_length=100)
    message: str = Field(sa_type=Text)
    evidence: list[Any] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    seller_response: str | None = Field(default=None, sa_type=Text)
    responded_at: datetime | None = _opt_ts()
    resolution: str | None = Field(default=None, max_length=16)
    refund_amount: int | None = _money(nullable=True)
    resolved_by_id: uuid.UUID | None = _fk("users.id", nullable=True)
    created_at: datetime = _ts()
    resolved_at: datetime | None = _opt_ts()


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        CheckConstraint("author_id <> subject_id", name="ck_feedback_not_self"),
        UniqueConstraint("transaction_id", "author_id", name="uq_feedback_once"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    transaction_id: uuid.UUID = _fk("transactions.id")
    author_id: uuid.UUID = _fk("users.id")
    subject_id: uuid.UUID = _fk("users.id")
    rating: int
    comment: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _ts()


class ProcessedWebhookEvent(SQLModel, table=True):
    __tablename__ = "processed_webhook_events"
    event_id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100)
    processed_at: datetime = _ts()
