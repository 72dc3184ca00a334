"""Signing in to the admin app with a Gavel account.

The app signs in through the API's own use cases (services/accounts.py): `login` (the
same password check, MFA codes, per-account and per-address rate limits and backoff),
`refresh` (rotation, reuse detection, credential versions) and `logout`. The browser
holds only NiceGUI's signed session cookie; the tokens live in that session's
server-side storage (admin_ui/session_store.py: Redis, with the refresh token's TTL).

Signing in starts a NEW session (session fixation): the form's handler, which answers
over the page's socket and cannot set a cookie, puts the tokens under a one-time code in
Redis (`HANDOFF_SECONDS`) and sends the browser to `/session/start?code=...`; that HTTP
request takes the code once, gives the browser a new session id holding the tokens, and
redirects to the page asked for. A cookie obtained before signing in stays signed out.

Every page load and every action re-authenticates the stored access token with
`user_for_access_token`, so a ban, a password or MFA change, or a role change takes
effect at the next click, as in the API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import defaultdict
from urllib.parse import quote

from fastapi.responses import RedirectResponse
from starlette.requests import Request

from admin_ui.context import admin_context
from admin_ui.session_store import SessionStore, start_session, user_storage
from domain.errors import DomainError, Forbidden
from services import accounts
from services.accounts import TokenRejected
from services.unavailable import Unavailable
from storage.tables import User

log = logging.getLogger("gavel.admin")

ACCESS = "gavel_access_token"
REFRESH = "gavel_refresh_token"
HANDOFF_PREFIX = "gavel:admin:handoff:"
HANDOFF_SECONDS = 60

# One refresh at a time per browser session: two tabs refreshing the same token at once
# would present a rotated token, which revokes the whole family (TOKEN_REUSED). An entry
# lives while a refresh holds it.
_refreshing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def sign_in(email: str, password: str, otp: str | None, ip: str | None, then: str) -> str:
    """Log in; returns the path that starts the signed-in session and then opens `then`
    (a path of this app).

    Raises what `services.accounts.login` raises (AuthFailed INVALID_CREDENTIALS,
    MFA_REQUIRED, INVALID_OTP; RateLimited; Forbidden ACCOUNT_BANNED; Unavailable)."""
    context = admin_context()
    result = await accounts.login(context.deps, email=email, password=password, otp=otp, ip=ip)
    code = secrets.token_urlsafe(32)
    tokens = {ACCESS: result.access_token, REFRESH: result.refresh_token}
    try:
        await context.deps.slots.redis.set(
            HANDOFF_PREFIX + code, json.dumps(tokens), ex=HANDOFF_SECONDS
        )
    except Exception as err:
        raise Unavailable("redis") from err
    return f"/session/start?code={code}&next={quote(then, safe='')}"


async def session_start(request: Request) -> RedirectResponse:
    """GET /session/start?code=&next=: the one-time code's tokens in a new session."""
    from admin_ui.pages.sign_in import safe_next
    from admin_ui.shell import prefix

    code = request.query_params.get("code", "")
    raw = None
    if code and len(code) < 100:
        try:
            raw = await admin_context().deps.slots.redis.getdel(HANDOFF_PREFIX + code)
        except Exception as err:
            log.warning("admin sign-in hand-off failed: %r", err)
    if not raw:
        return RedirectResponse(prefix(request) + "/login")
    await start_session(request, json.loads(raw))
    return RedirectResponse(prefix(request) + safe_next(request.query_params.get("next")))


async def signed_in_user() -> User | None:
    """The account this browser is signed in as, or None (never signed in, signed out,
    token revoked, account banned). An expired access token is refreshed once."""
    store = await user_storage()
    if isinstance(store, SessionStore):
        await store.reload()
    access = store.get(ACCESS)
    if not isinstance(access, str):
        return None
    deps = admin_context().deps
    try:
        return await accounts.user_for_access_token(deps, access)
    except TokenRejected as err:
        if err.code != "TOKEN_EXPIRED":
            await _forget()
            return None
    except Forbidden:
        await _forget()
        return None
    return await _refreshed(access)


async def _refreshed(expired: str) -> User | None:
    store = await user_storage()
    token = store.get(REFRESH)
    if not isinstance(token, str):
        await _forget()
        return None
    lock = _refreshing[token]
    try:
        async with lock:
            current = store.get(ACCESS)
            deps = admin_context().deps
            if isinstance(current, str) and current != expired:  # another tab refreshed
                try:
                    return await accounts.user_for_access_token(deps, current)
                except DomainError:
                    await _forget()
                    return None
            try:
                result = await accounts.refresh(deps, token)
            except DomainError:
                await _forget()
                return None
            store[ACCESS] = result.access_token
            store[REFRESH] = result.refresh_token
            return result.user
    finally:
        if not lock.locked():
            _refreshing.pop(token, None)


async def sign_out() -> None:
    """Revoke this browser's session (its refresh token family) and forget the tokens."""
    store = await user_storage()
    token = store.get(REFRESH)
    await _forget()
    if isinstance(token, str):
        try:
            await accounts.logout(admin_context().deps, token)
        except (DomainError, Unavailable) as err:  # already revoked, or a store is down
            log.info("admin sign-out: the session was not revoked: %r", err)


async def _forget() -> None:
    store = await user_storage()
    store.pop(ACCESS, None)
    store.pop(REFRESH, None)


def is_admin(user: User) -> bool:
    return "ADMIN" in user.roles


def is_seller(user: User) -> bool:
    return "SELLER" in user.roles
