"""Account-security tables (multi-factor login and password reset; services/mfa.py,
services/password_reset.py). Only hashes of the secrets are stored."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.columns import fk as _fk
from storage.columns import opt_ts as _opt_ts
from storage.columns import ts as _ts


class MfaRecoveryCode(SQLModel, table=True):
    """One single-use MFA recovery code; `code_hash` is its keyed SHA-256 (services/mfa.py)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (
        UniqueConstraint("user_id", "code_hash", name="uq_mfa_recovery_codes_user_hash"),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id", ondelete="CASCADE", index=False)
    code_hash: str = Field(max_length=64)
    created_at: datetime = _ts()
    used_at: datetime | None = _opt_ts()


class PasswordResetToken(SQLModel, table=True):
    """A mailed password-reset token, single use; only its SHA-256 is kept."""

    __tablename__ = "password_reset_tokens"
    __table_args__ = (Index("ix_password_reset_tokens_user", "user_id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = _fk("users.id", ondelete="CASCADE", index=False)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _opt_ts()
