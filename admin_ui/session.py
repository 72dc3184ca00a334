"""Signing in to the admin app with a Gavel account.

The app signs in through the API's own use cases (services/accounts.py): `login` (the
same password check, MFA codes, per-account and per-address rate limits and backoff),
`refresh` (rotation, reuse detection, credential versions) and `logout`. The browser
holds only NiceGUI's signed session cookie; the tokens live in that session's
server-side storage (`app.storage.user`, in Redis when REDIS_URL is set: admin_ui/mount.py).

Every page load and every action re-authenticates the stored access token with
`user_for_access_token`, so a ban, a password or MFA change, or a role change takes
effect at the next click, as in the API.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from nicegui import app

from admin_ui.context import admin_context
from domain.errors import DomainError, Forbidden
from services import accounts
from services.accounts import TokenRejected
from services.unavailable import Unavailable
from storage.tables import User

log = logging.getLogger("gavel.admin")

ACCESS = "gavel_access_token"
REFRESH = "gavel_refresh_token"

# One refresh at a time per browser session: two tabs refreshing the same token at once
# would present a rotated token, which revokes the whole family (TOKEN_REUSED).
_refreshing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def sign_in(email: str, password: str, otp: str | None, ip: str | None) -> User:
    """Log in and keep the tokens in this browser's session storage.

    Raises what `services.accounts.login` raises (AuthFailed INVALID_CREDENTIALS,
    MFA_REQUIRED, INVALID_OTP; RateLimited; Forbidden ACCOUNT_BANNED; Unavailable)."""
    result = await accounts.login(
        admin_context().deps, email=email, password=password, otp=otp or None, ip=ip
    )
    app.storage.user[ACCESS] = result.access_token
    app.storage.user[REFRESH] = result.refresh_token
    return result.user


async def signed_in_user() -> User | None:
    """The account this browser is signed in as, or None (never signed in, signed out,
    token revoked, account banned). An expired access token is refreshed once."""
    access = app.storage.user.get(ACCESS)
    if not isinstance(access, str):
        return None
    deps = admin_context().deps
    try:
        return await accounts.user_for_access_token(deps, access)
    except TokenRejected as err:
        if err.code != "TOKEN_EXPIRED":
            _forget()
            return None
    except Forbidden:
        _forget()
        return None
    return await _refreshed(access)


async def _refreshed(expired: str) -> User | None:
    session = str(app.storage.user.get("id") or id(app.storage.user))
    async with _refreshing[session]:
        current = app.storage.user.get(ACCESS)
        deps = admin_context().deps
        if isinstance(current, str) and current != expired:  # another tab refreshed first
            try:
                return await accounts.user_for_access_token(deps, current)
            except DomainError:
                _forget()
                return None
        token = app.storage.user.get(REFRESH)
        if not isinstance(token, str):
            _forget()
            return None
        try:
            result = await accounts.refresh(deps, token)
        except DomainError:
            _forget()
            return None
        app.storage.user[ACCESS] = result.access_token
        app.storage.user[REFRESH] = result.refresh_token
        return result.user


async def sign_out() -> None:
    """Revoke this browser's session (its refresh token family) and forget the tokens."""
    token = app.storage.user.get(REFRESH)
    _forget()
    if isinstance(token, str):
        try:
            await accounts.logout(admin_context().deps, token)
        except (DomainError, Unavailable) as err:  # already revoked, or a store is down
            log.info("admin sign-out: the session was not revoked: %r", err)


def _forget() -> None:
    app.storage.user.pop(ACCESS, None)
    app.storage.user.pop(REFRESH, None)


def is_admin(user: User) -> bool:
    return "ADMIN" in user.roles


def is_seller(user: User) -> bool:
    return "SELLER" in user.roles
