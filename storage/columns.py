"""Column helpers shared by the table modules (storage/tables.py,
storage/settlement_tables.py): timestamptz times, BIGINT money, foreign keys, CHECKs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=DateTime(timezone=True),
        nullable=nullable,
        **kw,
    )


def opt_ts(**kw: Any) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True, **kw)


def money(nullable: bool = False, default: int | None = None) -> Any:
    return Field(default=default, sa_type=BigInteger, nullable=nullable)


def fk(
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
