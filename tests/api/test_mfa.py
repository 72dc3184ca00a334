"""Multi-factor login through the GraphQL API (services/mfa.py, services/second_factor.py):
enrol, confirm with a real pyotp code, login with a code or a recovery code, replay and
old codes refused, disable and regenerate with a code, sessions revoked on each change,
no access to another user's MFA, failed codes counted by the login limits."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from gavel_app import create_app
from settings import Settings
from tests.api.mfa_steps import (
    CONFIRM,
    DISABLE,
    ENROLL,
    ME_MFA,
    REFRESH,
    REGENERATE,
    enable_mfa,
    enroll,
    error_codes,
    login,
)
from tests.conftest import GQL
from tests.helpers import PASSWORD, register


async def mfa_enabled(gql, token: str) -> bool:
    return bool((await gql(ME_MFA, token=token))["data"]["me"]["mfaEnabled"])


async def audit_actions(app: FastAPI, user_id: str) -> list[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_log WHERE entity_id = :u ORDER BY id"), {"u": user_id}
        )
        return [r[0] for r in rows]


async def test_enrol_confirm_then_login_needs_a_code(gql, app: FastAPI):
    account = await register(gql)
    early = (await gql(CONFIRM, {"code": "123456"}, token=account.token))["data"]["confirmMfa"]
    assert error_codes(early) == ["MFA_NOT_ENROLLED"]

    body = (await gql(ENROLL, {"p": PASSWORD}, token=account.token))["data"]["enrollMfa"]
    assert body["errors"] == []
    assert f"Gavel:{account.email}" in unquote(body["provisioningUri"])
    assert body["qrCode"].startswith("data:image/svg+xml")
    assert "<svg" in unquote(body["qrCode"])
    secret = body["secret"]
    assert not await mfa_enabled(gql, account.token)  # pending until confirmed

    wrong = next(
        c for c in ("000000", "111111") if not pyotp.TOTP(secret).verify(c, valid_window=2)
    )
    refused = (await gql(CONFIRM, {"code": wrong}, token=account.token))["data"]["confirmMfa"]
    assert error_codes(refused) == ["INVALID_OTP"] and refused["recoveryCodes"] is None
    assert not await mfa_enabled(gql, account.token)

    confirmed_at = time.time()
    ok = (await gql(CONFIRM, {"code": pyotp.TOTP(secret).at(confirmed_at)}, token=account.token))[
        "data"
    ]
    codes = ok["confirmMfa"]["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    new_token = ok["confirmMfa"]["accessToken"]
    assert await mfa_enabled(gql, new_token)
    again = (await gql(ENROLL, {"p": PASSWORD}, token=new_token))["data"]["enrollMfa"]
    assert error_codes(again) == ["MFA_ALREADY_ENABLED"]

    assert error_codes(await login(gql, account)) == ["MFA_REQUIRED"]
    assert error_codes(await login(gql, account, "12345x")) == ["INVALID_OTP"]
    good = await login(gql, account, pyotp.TOTP(secret).at(confirmed_at + 30))
    assert good["errors"] == [] and good["accessToken"]

    # Only hashes are stored: no recovery code appears in the table.
    async with app.state.engine.connect() as conn:
        stored = {
            r[0]
            for r in await conn.execute(
                text("SELECT code_hash FROM mfa_recovery_codes WHERE user_id = :u"),
                {"u": account.id},
            )
        }
    assert len(stored) == 10 and not stored & {c for c in codes}
    assert not {c.replace("-", "") for c in codes} & stored
    assert "enable_mfa" in await audit_actions(app, account.id)


async def test_replayed_and_old_codes_are_refused(gql):
    account = await register(gql)
    mfa = await enable_mfa(gql, account)  # used the current step's code
    assert error_codes(await login(gql, account, mfa.code(0))) == ["INVALID_OTP"]
    assert (await login(gql, account, mfa.code(1)))["errors"] == []
    assert error_codes(await login(gql, account, mfa.code(1))) == ["INVALID_OTP"]  # replay
    assert error_codes(await login(gql, account, mfa.code(0))) == ["INVALID_OTP"]  # older
    for old in (-3, -10, 5):
        assert error_codes(await login(gql, account, mfa.code_not_near_now(old))) == ["INVALID_OTP"]


async def test_a_recovery_code_works_once(gql, app: FastAPI):
    account = await register(gql)
    mfa = await enable_mfa(gql, account)
    first, second = mfa.recovery_codes[:2]
    assert (await login(gql, account, first))["errors"] == []
    assert error_codes(await login(gql, account, first)) == ["INVALID_OTP"]
    # Typed loosely (lower case, no dashes) it is the same code.
    assert (await login(gql, account, second.replace("-", "").lower()))["errors"] == []
    assert error_codes(await login(gql, account, second)) == ["INVALID_OTP"]
    assert error_codes(await login(gql, account, "AAAA-BBBB-CCCC-DDDD")) == ["INVALID_OTP"]
    assert (await audit_actions(app, account.id)).count("use_recovery_code") == 2


async def test_disable_needs_a_current_code(gql, app: FastAPI):
    account = await register(gql)
    mfa = await enable_mfa(gql, account)
    token = mfa.session.token
    for code in ("", mfa.code_not_near_now(-4), "ZZZZ-ZZZZ-ZZZZ-ZZZZ"):
        refused = (await gql(DISABLE, {"code": code}, token=token))["data"]["disableMfa"]
        assert error_codes(refused) == ["INVALID_OTP"], code
        assert await mfa_enabled(gql, token)
    done = (await gql(DISABLE, {"code": mfa.recovery_codes[0]}, token=token))["data"]
    assert done["disableMfa"]["errors"] == []
    fresh = done["disableMfa"]["accessToken"]
    assert not await mfa_enabled(gql, fresh)
    assert (await login(gql, account))["errors"] == []  # no code needed any more
    async with app.state.engine.connect() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM mfa_recovery_codes WHERE user_id = :u"), {"u": account.id}
        )
        secret = await conn.scalar(
            text("SELECT mfa_secret FROM users WHERE id = :u"), {"u": account.id}
        )
    assert left == 0 and secret is None
    again = (await gql(DISABLE, {"code": mfa.code(1)}, token=fresh))["data"]["disableMfa"]
    assert error_codes(again) == ["MFA_NOT_ENABLED"]
    assert "disable_mfa" in await audit_actions(app, account.id)


async def test_regenerating_recovery_codes_replaces_the_old_ones(gql, app: FastAPI):
    account = await register(gql)
    mfa = await enable_mfa(gql, account)
    token = mfa.session.token
    wrong = await gql(REGENERATE, {"code": mfa.code_not_near_now(-5)}, token=token)
    assert error_codes(wrong["data"]["regenerateRecoveryCodes"]) == ["INVALID_OTP"]
    data = (await gql(REGENERATE, {"code": mfa.code(1)}, token=token))["data"]
    new_codes = data["regenerateRecoveryCodes"]["recoveryCodes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(mfa.recovery_codes)
    assert error_codes(await login(gql, account, mfa.recovery_codes[3])) == ["INVALID_OTP"]
    assert (await login(gql, account, new_codes[0]))["errors"] == []
    assert "regenerate_recovery_codes" in await audit_actions(app, account.id)


async def test_sessions_are_revoked_when_mfa_is_turned_on_and_off(gql):
    account = await register(gql)
    other = await login(gql, account)  # a second session (another device)
    mfa = await enable_mfa(gql, account)
    for old_refresh in (account.refresh, other["refreshToken"]):
        refused = (await gql(REFRESH, {"t": old_refresh}))["data"]["refreshToken"]
        assert error_codes(refused) == ["INVALID_TOKEN"]
    for old_access in (account.token, other["accessToken"]):
        body = await gql(ME_MFA, token=old_access)
        assert body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN", body
    # The session confirmMfa gave works, and refreshes.
    assert await mfa_enabled(gql, mfa.session.token)
    rotated = (await gql(REFRESH, {"t": mfa.session.refresh}))["data"]["refreshToken"]
    assert rotated["errors"] == []

    device = await login(gql, account, mfa.code(1))
    off = await gql(DISABLE, {"code": mfa.recovery_codes[0]}, token=rotated["accessToken"])
    assert off["data"]["disableMfa"]["errors"] == []
    for old_refresh in (rotated["refreshToken"], device["refreshToken"]):
        refused = (await gql(REFRESH, {"t": old_refresh}))["data"]["refreshToken"]
        assert error_codes(refused) == ["INVALID_TOKEN"]
    body = await gql(ME_MFA, token=device["accessToken"])
    assert body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    assert not await mfa_enabled(gql, off["data"]["disableMfa"]["accessToken"])


async def test_nobody_else_can_confirm_disable_or_regenerate_your_mfa(gql):
    owner, stranger = await register(gql), await register(gql)
    secret = await enroll(gql, owner)
    code = pyotp.TOTP(secret).now()
    # The stranger presents the owner's valid code: it acts on the stranger's own account.
    taken = (await gql(CONFIRM, {"code": code}, token=stranger.token))["data"]["confirmMfa"]
    assert error_codes(taken) == ["MFA_NOT_ENROLLED"]
    assert not await mfa_enabled(gql, owner.token)
    for document in (CONFIRM, DISABLE, REGENERATE, ENROLL):
        anonymous = await gql(document, {"code": code, "p": PASSWORD})
        assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    mfa = await enable_mfa(gql, owner)
    for document, field in ((DISABLE, "disableMfa"), (REGENERATE, "regenerateRecoveryCodes")):
        for attempt in (mfa.code(1), mfa.recovery_codes[0]):
            body = (await gql(document, {"code": attempt}, token=stranger.token))["data"][field]
            assert error_codes(body) == ["MFA_NOT_ENABLED"]
    assert await mfa_enabled(gql, mfa.session.token)
    assert (await login(gql, owner, mfa.recovery_codes[0]))["errors"] == []  # still unused


async def test_a_stolen_access_token_alone_cannot_lock_the_owner_out_with_mfa(gql):
    """Turning MFA on revokes every other session and is then needed at login (a password
    reset keeps it): enrolling must prove the password, as changePassword does, or a
    thief holding only an access token owns the account."""
    victim = await register(gql)
    bare = await gql("mutation { enrollMfa { secret errors { code } } }", token=victim.token)
    assert bare["data"] is None and bare["errors"], bare  # the argument is required
    for guess in ("not the password", ""):
        wrong = (await gql(ENROLL, {"p": guess}, token=victim.token))["data"]["enrollMfa"]
        assert error_codes(wrong) == ["INVALID_CREDENTIALS"] and wrong["secret"] is None, wrong
        assert wrong["errors"][0]["field"] == "currentPassword"
    # Nothing was stored: confirming has no pending secret to confirm.
    early = (await gql(CONFIRM, {"code": "123456"}, token=victim.token))["data"]["confirmMfa"]
    assert error_codes(early) == ["MFA_NOT_ENROLLED"]
    owner = await login(gql, victim)
    assert owner["errors"] == [], f"the owner is locked out: {owner['errors']}"
    assert not await mfa_enabled(gql, victim.token)


async def test_signing_in_with_a_recovery_code_mails_the_owner(gql, app: FastAPI):
    """README "Accounts": using a recovery code mails the owner a notice (a code the
    owner did not use means the codes leaked); a TOTP login does not."""
    account = await register(gql)
    mfa = await enable_mfa(gql, account)
    mailer = app.state.deps.mailer

    def notices() -> list[str]:
        return [b for t, s, b in mailer.sent if t == account.email and "recovery code" in s]

    assert (await login(gql, account, mfa.code(1)))["errors"] == []
    assert notices() == []
    assert (await login(gql, account, mfa.recovery_codes[3]))["errors"] == []
    (notice,) = notices()
    assert "recovery code was used" in notice and mfa.recovery_codes[3] not in notice


# --- Failed codes count against the login limits ------------------------------------

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
async def limited(settings: Settings) -> AsyncIterator[FastAPI]:
    low: dict[str, Any] = {
        "rate_login_account": "3/60",
        "rate_login_account_all": "6/60",
        "rate_login_ip": "5/60",
        "run_scheduler": False,
        "run_settlement": False,
    }
    application = create_app(settings.model_copy(update=low), fast_hash=True)
    async with application.router.lifespan_context(application):
        yield application


async def test_wrong_codes_of_a_signed_in_user_use_up_the_login_limit(limited: FastAPI, gql):
    account = await register(gql)
    secret = await enroll(gql, account)
    ip = f"10.91.{next(_addresses)}.{uuid.uuid4().int % 250 + 1}"
    transport = httpx.ASGITransport(app=limited, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        there = GQL(client)
        near = {pyotp.TOTP(secret).at(time.time() + 30 * d) for d in (-1, 0, 1, 2)}
        wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
        seen = []
        for _ in range(5):
            body = (await there(CONFIRM, {"code": wrong}, token=account.token))["data"]
            seen.extend(error_codes(body["confirmMfa"]))
        assert seen[0] == "INVALID_OTP" and seen[-1] == "RATE_LIMITED", seen
        # Limited means refused before the code is even looked at: the right one too.
        right = await there(CONFIRM, {"code": pyotp.TOTP(secret).now()}, token=account.token)
        assert error_codes(right["data"]["confirmMfa"]) == ["RATE_LIMITED"]
    assert not await mfa_enabled(gql, account.token)
