"""The source of record: every table Gavel stores, as SQLModel models.

Money is BIGINT minor units next to a currency; times are timestamptz; PostgreSQL itself
enforces what it can (FKs, CHECKs, UNIQUEs) as the last guard. Alembic migrations are
generated from `SQLModel.metadata` and reviewed; `tests/integration/test_migrations.py`
fails when these models and the migrations drift apart.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
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

from storage.columns import CURRENCY, ROLES
from storage.columns import fk as _fk
from storage.columns import money as _money
from storage.columns import opt_ts as _opt_ts
from storage.columns import ts as _ts


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
    # Bid retraction (services/bid_voiding.py): retractions made, counted once each (the
    # fraud rules read it; each retracted bid also keeps its bids.retracted_at).
    retraction_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts()
    # Notifications part (issue 15): per-kind email choices, {"OUTBID": false, ...};
    # kinds left out take the defaults (services/notifications/preferences.py).
    notification_prefs: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    updated_at: datetime = _ts()
    # Multi-factor login and credentials (services/mfa.py, services/password_reset.py):
    # the secret of an enrolment awaiting its first code; the TOTP time step last accepted
    # (a code is never accepted twice); the version every access token carries, raised
    # when the password or MFA changes so older access tokens die at once.
    mfa_pending_secret: str | None = Field(default=None, max_length=64)
    mfa_last_step: int | None = Field(default=None, sa_type=BigInteger)
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


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
    # Credential-change fix (issue 15, F1): the account's `token_version` when this token
    # was issued; a refresh refuses a token of an older version (services/accounts.py).
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


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
    # Admin surface (issue 17 B): when an admin featured it (services/featuring.py).
    featured_at: datetime | None = _opt_ts()
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
    # Bid retraction: set with voided_at when the bidder retracted it themselves.
    retracted_at: datetime | None = _opt_ts()


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


class Notification(SQLModel, table=True):
    """A user's notification. Created only through storage/notification_writer.py, which
    numbers them gaplessly per user (`seq`, the live stream's resume point)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        # Notifications part (issue 15): per-user sequence, dedupe, email dispatch.
        UniqueConstraint("user_id", "seq", name="uq_notifications_user_seq"),
        Index(
            "uq_notifications_user_dedupe",
            "user_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
        Index(
            "ix_notifications_unemailed",
            "created_at",
            postgresql_where=text("emailed_at IS NULL"),
        ),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id", ondelete="CASCADE", index=False)
    kind: str = Field(max_length=32)
    message: str = Field(max_length=500)
    auction_id: uuid.UUID | None = _fk("auctions.id", nullable=True, ondelete="SET NULL")
    read_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()
    # Notifications part (issue 15).
    seq: int = Field(sa_type=BigInteger, nullable=False)
    dedupe_key: str | None = Field(default=None, max_length=120)
    # When the email worker handled it (sent, or skipped by the user's preferences).
    emailed_at: datetime | None = _opt_ts()


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


class AuditLog(SQLModel, table=True):
    """Append-only (migration 0007's trigger refuses UPDATE and DELETE). `details` holds
    `before`/`after` (the changed fields) and `reason` where they apply (docs/admin-api.md)."""

    __tablename__ = "audit_log"
    # Admin surface (issue 15, C2): one entity's history for the admins' audit query.
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    actor_id: uuid.UUID | None = _fk("users.id", nullable=True, ondelete="SET NULL")
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}")
    )
    at: datetime = _ts()


# Account-security tables (MFA recovery codes, password reset tokens).
from storage import fraud_tables as fraud_tables  # noqa: E402  (fraud scoring's tables)
from storage import search_queue_tables as search_queue_tables  # noqa: E402  (search freshness)
from storage import search_tables as search_tables  # noqa: E402  (the search index's tables)
from storage.auth_tables import MfaRecoveryCode as MfaRecoveryCode  # noqa: E402
from storage.auth_tables import PasswordResetToken as PasswordResetToken  # noqa: E402

# Settlement's tables live in their own module; importing them here registers them in
# SQLModel.metadata (Alembic, tests) and keeps `tables.Transaction` working.
from storage.notification_tables import NotificationCounter as NotificationCounter  # noqa: E402
from storage.saved_search_tables import SavedSearchQueue as SavedSearchQueue  # noqa: E402
from storage.settlement_tables import (  # noqa: E402
    TRANSACTION_STEPS as TRANSACTION_STEPS,
)
from storage.settlement_tables import Dispute as Dispute  # noqa: E402
from storage.settlement_tables import Feedback as Feedback  # noqa: E402
from storage.settlement_tables import LedgerEntry as LedgerEntry  # noqa: E402
from storage.settlement_tables import (  # noqa: E402
    ProcessedWebhookEvent as ProcessedWebhookEvent,
)
from storage.settlement_tables import Transaction as Transaction  # noqa: E402
