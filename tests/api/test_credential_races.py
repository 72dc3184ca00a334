"""Credential changes against logins and refreshes running at the same moment
(services/accounts.py: one lock order, users row before refresh tokens; sessions bound
to the account's token version). Each race once deadlocked (INTERNAL) or left a
session alive after the change that should have ended it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pyotp
from sqlalchemy import text

from tests.api.admin_steps import BAN as BAN_DOC
from tests.api.admin_steps import UNBAN
from tests.api.mfa_steps import CONFIRM, REFRESH, enroll
from tests.api.settlement_steps import make_admin
from tests.api.test_password_change import CHANGE, NEW_PASSWORD
from tests.helpers import LOGIN, PASSWORD, register


async def test_a_login_racing_a_password_change_does_not_outlive_it(gql, app, monkeypatch):
    """An attacker who knows the old password logs in while the owner changes it. The
    login read the account before the change and issues its refresh token after the
    change revoked every session: that token must not keep working. The delay stands for
    argon2's cost (the tests use a fast hash)."""
    victim = await register(gql)
    hasher = app.state.deps.hasher
    real_verify = hasher.verify
    calls = {"n": 0}

    async def slow_first(stored: str, password: str) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(0.8)  # the attacker's login, mid-argon2
        return bool(await real_verify(stored, password))

    monkeypatch.setattr(hasher, "verify", slow_first)
    attacker = asyncio.create_task(gql(LOGIN, {"email": victim.email, "password": PASSWORD}))
    await asyncio.sleep(0.2)
    changed = await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=victim.token)
    assert changed["data"]["changePassword"]["errors"] == [], changed
    stolen = (await attacker)["data"]["login"]
    monkeypatch.setattr(hasher, "verify", real_verify)
    if stolen["errors"]:
        return  # refused: fine
    renewed = (await gql(REFRESH, {"t": stolen["refreshToken"]}))["data"]["refreshToken"]
    assert renewed["errors"], f"the attacker's session outlived the password change: {renewed}"


async def test_a_login_racing_mfa_enrolment_does_not_outlive_it(gql, app, monkeypatch):
    """The same race as above with confirmMfa: a password-only login that read the
    account just before MFA was turned on keeps a session that never saw a code."""
    victim = await register(gql)
    secret = await enroll(gql, victim)
    hasher = app.state.deps.hasher
    real_verify = hasher.verify
    calls = {"n": 0}

    async def slow_first(stored: str, password: str) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(0.8)
        return bool(await real_verify(stored, password))

    monkeypatch.setattr(hasher, "verify", slow_first)
    attacker = asyncio.create_task(gql(LOGIN, {"email": victim.email, "password": PASSWORD}))
    await asyncio.sleep(0.2)
    code = pyotp.TOTP(secret).now()
    on = (await gql(CONFIRM, {"code": code}, token=victim.token))["data"]["confirmMfa"]
    assert on["errors"] == [], on
    stolen = (await attacker)["data"]["login"]
    monkeypatch.setattr(hasher, "verify", real_verify)
    if stolen["errors"]:
        return
    renewed = (await gql(REFRESH, {"t": stolen["refreshToken"]}))["data"]["refreshToken"]
    assert renewed["errors"], f"a session without a second factor outlived enabling MFA: {renewed}"


async def test_a_refresh_racing_a_password_change_does_not_outlive_it(gql, app, monkeypatch):
    """The refresh path: a thief's refresh (holding its token's row) commits its new
    refresh token after the password change's revoking UPDATE took its snapshot; that new
    token must not keep the session alive. The delay stands for a slow Redis write."""
    victim = await register(gql)
    states = app.state.deps.account_states
    real_put = states.put
    calls = {"n": 0}

    async def slow_first(user: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(0.8)
        return bool(await real_put(user))

    monkeypatch.setattr(states, "put", slow_first)
    thief = asyncio.create_task(gql(REFRESH, {"t": victim.refresh}))
    await asyncio.sleep(0.2)
    changed = await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=victim.token)
    stolen = (await thief)["data"]["refreshToken"]
    monkeypatch.setattr(states, "put", real_put)
    assert changed.get("data") and changed["data"]["changePassword"]["errors"] == [], (
        f"the owner's password change failed (a deadlock with the refresh): {changed}"
    )
    if stolen["errors"]:
        return
    renewed = (await gql(REFRESH, {"t": stolen["refreshToken"]}))["data"]["refreshToken"]
    assert renewed["errors"], (
        f"the thief's refreshed session outlived the password change: {renewed}"
    )


async def test_a_refresh_and_a_password_change_at_once_never_answer_internal(gql):
    """No delay injected: a client's refresh timer firing while its user changes the
    password. Either may lose, with a stable code; neither may answer INTERNAL."""
    internal = []
    for i in range(10):
        victim = await register(gql)
        refreshed, changed = await asyncio.gather(
            gql(REFRESH, {"t": victim.refresh}),
            gql(
                CHANGE,
                {"current": PASSWORD, "new": f"another long passphrase {i}"},
                token=victim.token,
            ),
        )
        for name, body in (("refreshToken", refreshed), ("changePassword", changed)):
            if "INTERNAL" in str(body):
                internal.append(name)
    assert not internal, f"INTERNAL answers in 10 tries: {internal}"


async def test_a_refresh_and_a_ban_or_mfa_confirm_at_once_never_answer_internal(gql, app):
    """Same deadlock with banUser (admin) and confirmMfa: every use case that locks the
    user's row FOR UPDATE and then revokes its refresh tokens, against refreshToken
    (token row locked, then a new token inserted whose foreign key locks the user row)."""
    admin = await make_admin(gql, app)
    internal = []
    for _ in range(4):
        victim = await register(gql)
        bodies = await asyncio.gather(
            gql(REFRESH, {"t": victim.refresh}),
            gql(BAN_DOC, {"id": victim.id, "reason": "fraud"}, token=admin.token),
        )
        internal += [f"ban:{i}" for i, b in enumerate(bodies) if "INTERNAL" in str(b)]
        victim = await register(gql)
        secret = await enroll(gql, victim)
        bodies = await asyncio.gather(
            gql(REFRESH, {"t": victim.refresh}),
            gql(CONFIRM, {"code": pyotp.TOTP(secret).now()}, token=victim.token),
        )
        internal += [f"mfa:{i}" for i, b in enumerate(bodies) if "INTERNAL" in str(b)]
    assert not internal, f"INTERNAL answers: {internal}"


ME = "{ me { email } }"


async def test_an_access_token_from_before_a_ban_stays_dead_after_the_unban(gql, app):
    """docs/admin-api.md: sessions a ban revoked stay revoked. The ban raises the token
    version, so neither the old access token nor the old refresh token comes back."""
    admin = await make_admin(gql, app)
    victim = await register(gql)
    assert (await gql(ME, token=victim.token))["data"]["me"]["email"] == victim.email
    banned = await gql(BAN_DOC, {"id": victim.id, "reason": "fraud"}, token=admin.token)
    assert banned["data"]["banUser"]["errors"] == [], banned
    lifted = await gql(UNBAN, {"id": victim.id, "reason": "appeal upheld"}, token=admin.token)
    assert lifted["data"]["unbanUser"]["errors"] == [], lifted
    old = await gql(ME, token=victim.token)
    assert old["data"]["me"] is None and old["errors"], old
    assert old["errors"][0]["extensions"]["code"] == "INVALID_TOKEN", old
    renewed = (await gql(REFRESH, {"t": victim.refresh}))["data"]["refreshToken"]
    assert renewed["errors"] and renewed["accessToken"] is None, renewed
    fresh = (await gql(LOGIN, {"email": victim.email, "password": PASSWORD}))["data"]["login"]
    assert fresh["errors"] == [], fresh
    assert (await gql(ME, token=fresh["accessToken"]))["data"]["me"]["email"] == victim.email


async def test_a_refresh_token_of_an_older_credential_version_is_refused(gql, app):
    """The version check on its own (whatever the timing): a live token row whose
    version is not the account's is refused INVALID_TOKEN and issues nothing."""
    victim = await register(gql)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET token_version = token_version + 1 WHERE id = :u"),
            {"u": victim.id},
        )
    await app.state.deps.account_states.forget(uuid.UUID(victim.id))
    renewed = (await gql(REFRESH, {"t": victim.refresh}))["data"]["refreshToken"]
    assert [e["code"] for e in renewed["errors"]] == ["INVALID_TOKEN"], renewed
    assert renewed["refreshToken"] is None
