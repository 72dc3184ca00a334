"""Password reset by email (SPEC section 8; OWASP Forgot Password Cheat Sheet).

`request_reset(email)` answers the same whether or not an account has the address (no
enumeration): it is rate-limited per email asked for and per client address before
anything is looked up, and only when an account exists does it store a token and mail
it through the mailer port. The token is 256 random bits, stored as its SHA-256 (like
refresh tokens: too random to guess from a stolen hash), expires after
GAVEL_PASSWORD_RESET_TTL (30 min) and works once; a successful reset spends every
outstanding token of the account.

`reset_password(token, new_password)` sets the password, revokes every session (refresh
and access tokens), and writes the audit row `reset_password`. It signs nobody in, and
MFA still applies at the next login: a mailbox alone does not get past a second factor.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import update
from sqlmodel import col, select

from domain.accounts import normalize_email
from services.accounts import TokenRejected, commit_account, lock_account, revoke_all_sessions
from services.credentials import audit, check_new_password, notify
from services.deps import Deps
from storage.auth_tables import PasswordResetToken
from storage.tables import User


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def request_reset(deps: Deps, email: str, ip: str | None = None) -> None:
    """Mail a reset token to `email` if an account has it; the same answer either way.
    Raises ValidationFailed INVALID_EMAIL (not an address at all: says nothing about
    accounts) or RateLimited (per email asked for and per address, known or not)."""
    address = normalize_email(email)
    await deps.throttle.password_reset(address, ip)
    token = secrets.token_urlsafe(32)
    now = deps.clock()
    async with deps.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.email == address))).first()
        if user is None:
            return
        uow.session.add(
            PasswordResetToken(
                user_id=user.id,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=now + deps.password_reset_ttl,
            )
        )
        await uow.commit()
    minutes = int(deps.password_reset_ttl.total_seconds() // 60)
    await deps.mailer.send(
        user.email,
        "Reset your Gavel password",
        f"Hello {user.username},\n\nsomeone asked to reset your password. If it was you,"
        f" set a new one within {minutes} minutes with the GraphQL mutation\n"
        f'  mutation {{ resetPassword(token: "{token}", newPassword: "...") {{ ok }} }}\n'
        "The token works once. If it was not you, ignore this mail: nothing changes.\n",
    )


async def reset_password(deps: Deps, token: str, new_password: str) -> None:
    """Set a new password with a mailed token. Raises ValidationFailed (WEAK_PASSWORD,
    field newPassword; checked first, so a weak password spends no token) or
    TokenRejected (INVALID_TOKEN: unknown or used; TOKEN_EXPIRED)."""
    check_new_password(new_password)
    now = deps.clock()
    hashed = token_hash(token)
    async with deps.uow() as uow:
        # The account's row first, then the token's (services/accounts.py: one lock
        # order): two of an account's tokens used at once, or a reset racing a refresh or
        # a password change, then wait for each other instead of deadlocking.
        owner = (
            await uow.session.exec(
                select(PasswordResetToken.user_id).where(PasswordResetToken.token_hash == hashed)
            )
        ).first()
        user = await lock_account(uow, owner) if owner is not None else None
        if user is None:
            raise TokenRejected("the reset token is unknown or was used", field="token")
        row = (
            await uow.session.exec(
                select(PasswordResetToken)
                .where(PasswordResetToken.token_hash == hashed)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None or row.used_at is not None:
            raise TokenRejected("the reset token is unknown or was used", field="token")
        if row.expires_at <= now:
            raise TokenRejected("the reset token has expired", code="TOKEN_EXPIRED", field="token")
        await uow.session.exec(
            update(PasswordResetToken)
            .where(
                col(PasswordResetToken.user_id) == user.id,
                col(PasswordResetToken.used_at).is_(None),
            )
            .values(used_at=now)
        )
        user.password_hash = await deps.hasher.hash(new_password)
        await revoke_all_sessions(deps, uow, user)
        audit(uow, user, "reset_password", reason="reset with a mailed token")
        await commit_account(deps, uow, user)
    await notify(deps, user, "Your Gavel password was reset", "Your password was reset.")
