"""Fraud scoring's tables (docs/fraud.md): the scorer's per-auction cursors, the IP and
device sightings of accounts, and the guard that keeps one OPEN flag per
(user, rule, auction or none) in `fraud_flags` (storage/tables.py FraudFlag)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlmodel import Field, SQLModel

from storage.columns import ts as _ts
from storage.tables import FraudFlag

# Rescoring after a crash, or two scorers touching one bidder, update the OPEN flag
# instead of adding a second (NULLS NOT DISTINCT: one account-wide flag per rule).
OPEN_FLAG_INDEX = Index(
    "uq_fraud_flags_open",
    FraudFlag.__table__.c.user_id,  # type: ignore[attr-defined]
    FraudFlag.__table__.c.rule,  # type: ignore[attr-defined]
    FraudFlag.__table__.c.auction_id,  # type: ignore[attr-defined]
    unique=True,
    postgresql_where=text("status = 'OPEN'"),
    postgresql_nulls_not_distinct=True,
)


class FraudCursor(SQLModel, table=True):
    """How far the scorer has read an auction's persisted events (services/fraud)."""

    __tablename__ = "fraud_cursors"
    __table_args__ = (CheckConstraint("last_sequence >= 0", name="ck_fraud_cursors_sequence"),)
    auction_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("auctions.id", ondelete="CASCADE")], primary_key=True
    )
    last_sequence: int = 0
    scored_at: datetime = _ts()


class FraudSighting(SQLModel, table=True):
    """An account seen with an IP address or device fingerprint, as a keyed hash
    (HMAC-SHA256 with a settings secret): equal values compare equal, raw ones are
    never stored."""

    __tablename__ = "fraud_sightings"
    __table_args__ = (
        CheckConstraint("kind IN ('ip','device')", name="ck_fraud_sightings_kind"),
        Index("ix_fraud_sightings_value", "kind", "value_hash"),
    )
    user_id: uuid.UUID = Field(
        sa_column_args=[ForeignKey("users.id", ondelete="CASCADE")], primary_key=True
    )
    kind: str = Field(max_length=8, primary_key=True)
    value_hash: str = Field(max_length=64, primary_key=True)
    first_seen_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    times_seen: int = 1
