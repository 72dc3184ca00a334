"""Credential use cases shared by MFA and passwords: checks that count as login
attempts, the audit row of a credential change, the change of a signed-in user's
password, and the security notice mailed after each change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from domain.accounts import check_password
from domain.errors import NotFound, ValidationFailed
from services.accounts import (
    AuthFailed,
    AuthResult,
    commit_account,
    lock_account,
    revoke_all_sessions,
    start_session,
)
from services.audit import audit_row
from services.deps import Deps
from services.limits import LoginOutcome
from storage.tables import User
from storage.uow import UnitOfWork

T = TypeVar("T")


async def as_login_attempt(
    deps: Deps, email: str, ip: str | None, check: Callable[[], Awaitable[T]]
) -> T:
    """Run `check` (which proves a secret: a password or a one-time code) as one login
    attempt of `email` from `ip` (services/limits.py): RateLimited before anything when
    the login limits are spent, and an AuthFailed costs what a failed login costs, so a
    stolen access token cannot guess a password or code faster than a login could."""
    attempt = await deps.throttle.login(email, ip)
    outcome: LoginOutcome = "neutral"
    try:
        result = await check()
        outcome = "succeeded"
        return result
    except AuthFailed:
        outcome = "failed"
        raise
    finally:
        await deps.throttle.login_settled(attempt, outcome)


def audit(uow: UnitOfWork, user: User, action: str, **details: Any) -> None:
    """The audit row of a credential change the user made themselves (actor = the user).
    Details never hold a secret: only what changed, e.g. {"before": {"mfa_enabled":
    False}, "after": {"mfa_enabled": True}}."""
    uow.session.add(audit_row(user.id, action, "user", user.id, **details))


async def locked_user(uow: UnitOfWork, actor: User) -> User:
    """The actor's row, locked first (services/accounts.py `lock_account`: the users row
    before its refresh tokens), re-read so the checks see the committed state."""
    user = await lock_account(uow, actor.id)
    if user is None:
        raise NotFound("no such user")
    return user


async def notify(deps: Deps, user: User, subject: str, what: str) -> None:
    """Mail the owner that a credential changed, so a change they did not make is seen."""
    await deps.mailer.send(
        user.email,
        subject,
        f"Hello {user.username},\n\n{what}\n\nIf this was not you, reset your password now"
        f" and contact support.\n",
    )


def check_new_password(password: str) -> None:
    """`check_password`, its errors naming the argument `newPassword`."""
    try:
        check_password(password)
    except ValidationFailed as err:
        err.field = "newPassword"
        raise


async def check_current_password(deps: Deps, user: User, password: str) -> None:
    """Raises AuthFailed INVALID_CREDENTIALS (field currentPassword) unless `password` is
    `user`'s (a locked row: the hash checked is the one the change replaces)."""
    if not await deps.hasher.verify(user.password_hash, password):
        raise AuthFailed("the current password is wrong", field="currentPassword")


async def change_password(
    deps: Deps, actor: User, *, current_password: str, new_password: str, ip: str | None = None
) -> AuthResult:
    """Replace the signed-in user's password (same strength rules as registering,
    domain/accounts.py `check_password`). Every session is revoked (refresh tokens and,
    through the token version, access tokens); the caller gets a fresh session.

    Raises ValidationFailed (WEAK_PASSWORD, field newPassword), RateLimited (the login
    limits: the current password is a login attempt), AuthFailed INVALID_CREDENTIALS
    (field currentPassword). Audit: `change_password`. Mails a notice.
    """
    check_new_password(new_password)

    async def act() -> tuple[AuthResult, User]:
        async with deps.uow() as uow:
            user = await locked_user(uow, actor)
            await check_current_password(deps, user, current_password)
            user.password_hash = await deps.hasher.hash(new_password)
            await revoke_all_sessions(deps, uow, user)
            audit(uow, user, "change_password", reason="changed by the user")
            result = await start_session(deps, uow, user)
            await commit_account(deps, uow, user)
            return result, user

    result, user = await as_login_attempt(deps, actor.email, ip, act)
    await notify(deps, user, "Your Gavel password was changed", "Your password was changed.")
    return result
