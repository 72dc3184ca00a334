"""The source of record: every table Gavel stores, as SQLModel models.

Money is BIGINT minor units next to a currency; times are timestamptz; PostgreSQL itself
enforces what it can (FKs, CHECKs, UNIQUEs) as the last guard. Alembic migrations are
generated from `SQLModel.metadata` and reviewed; `tests/integration/test_migrations.py`
fails when these models and the migrations drift apart.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=DateTime(timezone=True),
        nullable=nullable,
        **kw,
    )


def _opt_ts(**kw: Any) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True, **kw)


def _money(nullable: bool = False, default: int | None = None) -> Any:
    return Field(default=default, sa_type=BigInteger, nullable=nullable)


def _fk(
    target: str, *, nullable: bool = False, ondelete: str = "RESTRICT", index: bool = True
) -> Any:
    return Field(
        default=None,
        sa_column_args=[ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


CURRENCY = r"currency ~ '^[A-Z]{3}$'"
ROLES = "roles <@ ARRAY['BIDDER','SELLER','ADMIN']::varchar[] AND cardinality(roles) > 0"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(ROLES, name="ck_users_roles"),
        CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        CheckConstraint("reputation_score >= 0 AND reputation_score <= 5", name="ck_users_rep"),
        Index("uq_users_username_lower", text("lower(username)"), unique=True),
        # A saved card belongs to one account (services/settlement/cards.py).
        Index(
            "uq_users_payment_method",
            "stripe_payment_method_id",
            unique=True,
            postgresql_where=text("stripe_payment_method_id IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=32)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=200)
    display_name: str | None = Field(default=None, max_length=80)
    roles: list[str] = Field(
        default_factory=lambda: ["BIDDER"],
        sa_column=Column(ARRAY(String(16)), nullable=False, server_default="{BIDDER}"),
    )
    address: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    email_verified_at: datetime | None = _opt_ts()
    mfa_secret: str | None = Field(default=None, max_length=64)
    mfa_enabled: bool = False
    reputation_score: float = 0.0
    stripe_customer_id: str | None = Field(default=None, max_length=64)
    stripe_payment_method_id: str | None = Field(default=None, max_length=64)
    payout_account_id: str | None = Field(default=None, max_length=64)
    # Settlement record (services/settlement): ratings received, sales lapsed unpaid,
    # disputes resolved against the user (as buyer or seller); admins see them.
    reputation_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    unpaid_strikes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    disputes_lost: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    fraud_hold: bool = False
    banned_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class RefreshToken(SQLModel, table=True):
    """One link of a rotating refresh-token chain; only the SHA-256 of the token is kept."""

    __tablename__ = "refresh_tokens"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id", ondelete="CASCADE")
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    rotated_at: datetime | None = _opt_ts()
    revoked_at: datetime | None = _opt_ts()


class Category(SQLModel, table=True):
    __tablename__ = "categories"
    slug: str = Field(primary_key=True, max_length=64)
    parent_slug: str | None = _fk("categories.slug", nullable=True)
    name: str = Field(max_length=64)


class Item(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint(
            "condition IN ('NEW','LIKE_NEW','USED','REFURBISHED','FOR_PARTS')",
            name="ck_items_condition",
        ),
        CheckConstraint("char_length(title) BETWEEN 3 AND 140", name="ck_items_title"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    seller_id: uuid.UUID = _fk("users.id")
    title: str = Field(max_length=140)
    description: str = Field(sa_type=Text)
    category: str = _fk("categories.slug")
    condition: str = Field(max_length=16)
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    created_at: datetime = _ts()


class ItemImage(SQLModel, table=True):
    __tablename__ = "item_images"
    __table_args__ = (UniqueConstraint("item_id", "position", name="uq_item_images_position"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    item_id: uuid.UUID = _fk("items.id", ondelete="CASCADE")
    position: int
    storage_key: str = Field(max_length=300)
    content_type: str = Field(max_length=64)
    size_bytes: int
    created_at: datetime = _ts()


class Auction(SQLModel, table=True):
    __tablename__ = "auctions"
    __table_args__ = (
        CheckConstraint(
            "type IN ('ENGLISH','DUTCH','SEALED_FIRST_PRICE','SEALED_SECOND_PRICE')",
            name="ck_auctions_type",
        ),
        CheckConstraint(
            "status IN ('DRAFT','SCHEDULED','ACTIVE','ENDED','CANCELLED')",
            name="ck_auctions_status",
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('SOLD','UNSOLD')", name="ck_auctions_outcome"
        ),
        CheckConstraint(CURRENCY, name="ck_auctions_currency"),
        CheckConstraint("starting_price > 0", name="ck_auctions_starting_price"),
        CheckConstraint(
            "reserve_price IS NULL OR reserve_price >= starting_price", name="ck_auctions_reserve"
        ),
        CheckConstraint("buy_now_price IS NULL OR buy_now_price > 0", name="ck_auctions_buy_now"),
        CheckConstraint("current_price IS NULL OR current_price >= 0", name="ck_auctions_current"),
        CheckConstraint("final_price IS NULL OR final_price >= 0", name="ck_auctions_final"),
        CheckConstraint("dutch_floor IS NULL OR dutch_floor >= 0", name="ck_auctions_dutch_floor"),
        CheckConstraint("dutch_step IS NULL OR dutch_step > 0", name="ck_auctions_dutch_step"),
        CheckConstraint("starts_at IS NULL OR ends_at > starts_at", name="ck_auctions_schedule"),
        CheckConstraint(
            "hard_close_at IS NULL OR hard_close_at >= ends_at", name="ck_auctions_hard_close"
        ),
        CheckConstraint("bid_count >= 0 AND last_sequence >= 0", name="ck_auctions_counters"),
        CheckConstraint("(status = 'ENDED') = (outcome IS NOT NULL)", name="ck_auctions_ended"),
        Index("ix_auctions_status_ends_at", "status", "ends_at"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    item_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("items.id", ondelete="RESTRICT")], unique=True
    )
    seller_id: uuid.UUID = _fk("users.id")
    type: str = Field(max_length=24)
    status: str = Field(max_length=16, default="DRAFT")
    outcome: str | None = Field(default=None, max_length=8)
    currency: str = Field(max_length=3)
    starting_price: int = _money()
    reserve_price: int | None = _money(nullable=True)
    buy_now_price: int | None = _money(nullable=True)
    starts_at: datetime | None = _opt_ts()
    ends_at: datetime = _ts()
    hard_close_at: datetime | None = _opt_ts()
    dutch_step: int | None = _money(nullable=True)
    dutch_step_seconds: int | None = None
    dutch_floor: int | None = _money(nullable=True)
    soft_close_window_seconds: int | None = None
    soft_close_extension_seconds: int | None = None
    current_price: int | None = _money(nullable=True)
    leader_id: uuid.UUID | None = _fk("users.id", nullable=True)
    bid_count: int = Field(default=0, sa_type=Integer)
    last_sequence: int = 0
    winner_id: uuid.UUID | None = _fk("users.id", nullable=True)
    final_price: int | None = _money(nullable=True)
    featured: bool = False
    published_at: datetime | None = _opt_ts()
    activated_at: datetime | None = _opt_ts()
    ended_at: datetime | None = _opt_ts()
    cancelled_at: datetime | None = _opt_ts()
    cancel_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Bid(SQLModel, table=True):
    __tablename__ = "bids"
    __table_args__ = (
        UniqueConstraint("auction_id", "sequence", name="uq_bids_auction_sequence"),
        UniqueConstraint("auction_id", "bidder_id", "idempotency_key", name="uq_bids_idempotency"),
        CheckConstraint("amount > 0", name="ck_bids_amount"),
        CheckConstraint("max_amount IS NULL OR max_amount >= amount", name="ck_bids_max_amount"),
        CheckConstraint("sequence > 0", name="ck_bids_sequence"),
        CheckConstraint(CURRENCY, name="ck_bids_currency"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    auction_id: uuid.UUID = _fk("auctions.id")
    bidder_id: uuid.UUID = _fk("users.id")
    sequence: int
    amount: int = _money()
    max_amount: int | None = _money(nullable=True)
    currency: str = Field(max_length=3)
    placed_at: datetime = _ts()
    idempotency_key: str | None = Field(default=None, max_length=100)
    voided_at: datetime | None = _opt_ts()


class AuctionEvent(SQLModel, table=True):
    """Every change of an auction's state, numbered gaplessly per auction (replay source)."""

    __tablename__ = "auction_events"
    __table_args__ = (CheckConstraint("sequence > 0", name="ck_auction_events_sequence"),)
    auction_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("auctions.id", ondelete="CASCADE")], primary_key=True
    )
    sequence: int = Field(primary_key=True)
    kind: str = Field(max_length=24)
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    at: datetime = _ts()


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


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id", ondelete="CASCADE", index=False)
    kind: str = Field(max_length=32)
    message: str = Field(max_length=500)
    auction_id: uuid.UUID | None = _fk("auctions.id", nullable=True, ondelete="SET NULL")
    read_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class Watch(SQLModel, table=True):
    __tablename__ = "watchlist"
    user_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("users.id", ondelete="CASCADE")], primary_key=True
    )
    auction_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("auctions.id", ondelete="CASCADE")],
        primary_key=True,
        index=True,
    )
    created_at: datetime = _ts()


class SavedSearch(SQLModel, table=True):
    __tablename__ = "saved_searches"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    query: str | None = Field(default=None, max_length=200)
    filter: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    last_notified_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class FraudFlag(SQLModel, table=True):
    __tablename__ = "fraud_flags"
    __table_args__ = (
        CheckConstraint("status IN ('OPEN','DISMISSED','ACTIONED')", name="ck_fraud_flags_status"),
        CheckConstraint("score >= 0", name="ck_fraud_flags_score"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id")
    auction_id: uuid.UUID | None = _fk("auctions.id", nullable=True)
    rule: str = Field(max_length=64)
    score: int
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    status: str = Field(max_length=16, default="OPEN")
    resolved_by_id: uuid.UUID | None = _fk("users.id", nullable=True)
    created_at: datetime = _ts()
    resolved_at: datetime | None = _opt_ts()


class ProcessedWebhookEvent(SQLModel, table=True):
    __tablename__ = "processed_webhook_events"
    event_id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=100)
    processed_at: datetime = _ts()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    actor_id: uuid.UUID | None = _fk("users.id", nullable=True, ondelete="SET NULL")
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    at: datetime = _ts()
