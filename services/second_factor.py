"""Checking a second factor: a TOTP code (RFC 6238, pyotp) or a single-use recovery code.

Both checks run inside the caller's transaction on the account's row, locked
(`SELECT ... FOR UPDATE`), so two requests presenting the same code are serialized and
only the first can use it:

- TOTP: 30-second steps, six digits, the current step and one either side accepted (clock
  drift, RFC 6238 section 5.2). A step is accepted only if it is later than the last step
  the account accepted (`users.mfa_last_step`), so a code cannot be replayed within its
  window, nor an older code after a newer one.
- Recovery codes: ten per enrolment, 80 random bits each, shown once; stored as
  HMAC-SHA256 keyed with the account's id. A slow password hash (argon2) protects
  low-entropy secrets from guessing; 80 random bits cannot be guessed from a stolen hash
  in any case, so a fast hash costs no safety, and keying by the account ties each hash
  to its owner. Using one marks it used in the same transaction (`UPDATE ... WHERE
  used_at IS NULL`), so each works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Literal

import pyotp
from sqlalchemy import update
from sqlmodel import col

from storage.auth_tables import MfaRecoveryCode
from storage.tables import User
from storage.uow import UnitOfWork

RECOVERY_CODE_COUNT = 10
_RECOVERY_BYTES = 10  # 80 bits: 16 base32 characters, shown as four groups of four
_TOTP_DRIFT_STEPS = 1

Factor = Literal["totp", "recovery"]


def new_secret() -> str:
    """A TOTP secret: 160 random bits in base32 (RFC 4226 section 4 recommends 160)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    """The `otpauth://totp/Gavel:<email>?secret=...&issuer=Gavel` URI authenticator apps
    read (Google Authenticator's Key Uri Format)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Gavel")


def new_recovery_codes() -> list[str]:
    """Ten fresh codes, 'XXXX-XXXX-XXXX-XXXX' (base32: no 0/1/8/9, no case)."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(_RECOVERY_BYTES)).decode("ascii")
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_code_hash(user_id: uuid.UUID, code: str) -> str:
    """HMAC-SHA256 of the normalized code (no dashes or spaces, upper case), keyed by
    the account's id: 64 hex characters."""
    normalized = "".join(code.split()).replace("-", "").upper()
    return hmac.new(
        user_id.bytes, normalized.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()


def _looks_like_totp(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


def accept_totp(user: User, secret: str | None, code: str, now: datetime) -> bool:
    """Whether `code` is `secret`'s code for a step near `now` that `user` has not yet
    used; if so, that step becomes `user.mfa_last_step` (the caller commits). `user`'s
    row must be locked by the caller."""
    code = code.strip()
    if not secret or not _looks_like_totp(code):
        return False
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - _TOTP_DRIFT_STEPS, current + _TOTP_DRIFT_STEPS + 1):
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            user.mfa_last_step = step
            return True
    return False


async def use_recovery_code(uow: UnitOfWork, user_id: uuid.UUID, code: str, now: datetime) -> bool:
    """Marks one unused recovery code of the account matching `code` used; False when
    none matches (wrong, already used, or not a recovery code at all)."""
    if _looks_like_totp(code.strip()) or len(code) > 64:
        return False
    used = await uow.session.exec(
        update(MfaRecoveryCode)
        .where(
            col(MfaRecoveryCode.user_id) == user_id,
            col(MfaRecoveryCode.code_hash) == recovery_code_hash(user_id, code),
            col(MfaRecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
        .returning(col(MfaRecoveryCode.id))
    )
    return used.first() is not None


async def accept_code(uow: UnitOfWork, user: User, code: str, now: datetime) -> Factor | None:
    """Checks `code` against the enabled MFA of `user` (locked by the caller): a TOTP
    code, else a recovery code. Returns the factor used, or None (nothing changed)."""
    if accept_totp(user, user.mfa_secret, code, now):
        return "totp"
    if await use_recovery_code(uow, user.id, code, now):
        return "recovery"
    return None
