"""Account flows through the GraphQL API: register, verify, login, refresh rotation, logout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from tests.helpers import LOGIN, PASSWORD, REGISTER, register

ME = "{ me { email emailVerified user { username roles } } }"
REFRESH = """mutation($t: String!) { refreshToken(refreshToken: $t) {
  accessToken refreshToken errors { code message } } }"""
LOGOUT = "mutation($t: String!) { logout(refreshToken: $t) { ok errors { code } } }"


async def test_register_then_me(gql):
    account = await register(gql)
    body = await gql(ME, token=account.token)
    me = body["data"]["me"]
    assert me["email"] == account.email
    assert me["emailVerified"] is False
    assert me["user"] == {"username": account.username, "roles": ["BIDDER"]}


async def test_anonymous_me_is_null(gql):
    assert (await gql(ME))["data"]["me"] is None


async def test_register_rejects_duplicates_and_bad_input(gql):
    account = await register(gql)
    cases = [
        ({"username": account.username.upper(), "email": "x" + account.email}, "USERNAME_TAKEN"),
        ({"username": "fresh" + account.username, "email": account.email.upper()}, "EMAIL_TAKEN"),
        ({"username": "ab", "email": "ok@example.com"}, "INVALID_USERNAME"),
        ({"username": "has space", "email": "ok@example.com"}, "INVALID_USERNAME"),
        ({"username": "x" * 1_000_000, "email": "ok@example.com"}, "INVALID_USERNAME"),
        ({"username": "validname1", "email": "not-an-email"}, "INVALID_EMAIL"),
        (
            {"username": "validname1", "email": "ok@example.com", "password": "short"},
            "WEAK_PASSWORD",
        ),
    ]
    for fields, code in cases:
        payload = {"password": PASSWORD, **fields}
        data = (await gql(REGISTER, {"input": payload}))["data"]["register"]
        assert data["accessToken"] is None
        assert [e["code"] for e in data["errors"]] == [code], (fields, data)


async def test_verify_email_with_the_mailed_token(gql, app: FastAPI):
    account = await register(gql)
    mail = next(body for to, _, body in reversed(app.state.deps.mailer.sent) if to == account.email)
    token = mail.split('verifyEmail(token: "')[1].split('"')[0]
    verify = "mutation($t: String!) { verifyEmail(token: $t) { ok errors { code } } }"
    assert (await gql(verify, {"t": token}))["data"]["verifyEmail"] == {"ok": True, "errors": []}
    assert (await gql(ME, token=account.token))["data"]["me"]["emailVerified"] is True
    bad = (await gql(verify, {"t": token[:-2] + "xx"}))["data"]["verifyEmail"]
    assert bad["ok"] is False and bad["errors"][0]["code"] == "INVALID_TOKEN"


async def test_login_right_and_wrong(gql):
    account = await register(gql)
    ok = (await gql(LOGIN, {"email": account.email.upper(), "password": PASSWORD}))["data"]
    assert ok["login"]["errors"] == [] and ok["login"]["user"]["id"] == account.id
    for email, password in [(account.email, "wrong password!!"), ("nobody@example.com", PASSWORD)]:
        data = (await gql(LOGIN, {"email": email, "password": password}))["data"]["login"]
        assert data["accessToken"] is None
        assert data["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_refresh_rotates_and_reuse_revokes_the_family(gql):
    account = await register(gql)
    first = (await gql(REFRESH, {"t": account.refresh}))["data"]["refreshToken"]
    assert first["errors"] == [] and first["refreshToken"] != account.refresh
    second = (await gql(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshToken"]
    assert second["errors"] == []
    # Replaying the original (already rotated) token is theft or a bug: revoke everything.
    reuse = (await gql(REFRESH, {"t": account.refresh}))["data"]["refreshToken"]
    assert reuse["errors"][0]["code"] == "TOKEN_REUSED"
    after = (await gql(REFRESH, {"t": second["refreshToken"]}))["data"]["refreshToken"]
    assert after["errors"][0]["code"] == "INVALID_TOKEN"
    # A separate login is a separate family and still works.
    login = (await gql(LOGIN, {"email": account.email, "password": PASSWORD}))["data"]["login"]
    fresh = (await gql(REFRESH, {"t": login["refreshToken"]}))["data"]["refreshToken"]
    assert fresh["errors"] == []


async def test_logout_revokes_the_refresh_token(gql):
    account = await register(gql)
    assert (await gql(LOGOUT, {"t": account.refresh}))["data"]["logout"]["ok"] is True
    again = (await gql(REFRESH, {"t": account.refresh}))["data"]["refreshToken"]
    assert again["errors"][0]["code"] == "INVALID_TOKEN"
    unknown = (await gql(LOGOUT, {"t": "nonsense"}))["data"]["logout"]
    assert unknown == {"ok": False, "errors": [{"code": "INVALID_TOKEN"}]}


async def test_expired_and_malformed_access_tokens_get_clear_errors(gql, app: FastAPI):
    account = await register(gql)
    tokens = app.state.deps.tokens
    expired = tokens.issue_access(uuid.UUID(account.id), now=datetime.now(UTC) - timedelta(hours=1))
    body = await gql(ME, token=expired)
    assert body["data"] is None or body["data"]["me"] is None
    assert body["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
    for bad in ["garbage", account.token[:-3] + "abc", "a.b.c"]:
        body = await gql(ME, token=bad)
        assert body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN", body
    # A token for one purpose is useless for another.
    email_token = tokens.issue_email_verification(uuid.UUID(account.id), account.email)
    body = await gql(ME, token=email_token)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


async def test_protected_mutation_needs_login(gql):
    body = await gql("mutation { becomeSeller { ok } }")
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_update_profile(gql):
    account = await register(gql)
    update = """mutation($n: String, $a: AddressInput) { updateProfile(displayName: $n, address: $a)
      { ok errors { code field } } }"""
    address = {"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "us"}
    ok = (await gql(update, {"n": "Ada", "a": address}, token=account.token))["data"]
    assert ok["updateProfile"] == {"ok": True, "errors": []}
    me = (
        await gql("{ me { user { displayName } address { city country } } }", token=account.token)
    )["data"]["me"]
    assert me == {
        "user": {"displayName": "Ada"},
        "address": {"city": "Springfield", "country": "US"},
    }
    bad = (await gql(update, {"n": "x" * 500}, token=account.token))["data"]["updateProfile"]
    assert bad["errors"] == [{"code": "TOO_LONG", "field": "displayName"}]
    bad = (await gql(update, {"a": {**address, "country": "USA"}}, token=account.token))["data"]
    assert bad["updateProfile"]["errors"][0]["field"] == "address.country"


async def test_become_seller_grants_the_role(gql):
    account = await register(gql, seller=True)
    me = (await gql(ME, token=account.token))["data"]["me"]
    assert me["user"]["roles"] == ["BIDDER", "SELLER"]


async def test_expired_refresh_token_is_refused(gql, app: FastAPI):
    from sqlalchemy import text

    from adapters.tokens import refresh_token_hash

    account = await register(gql)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"
                " WHERE token_hash = :h"
            ),
            {"h": refresh_token_hash(account.refresh)},
        )
    expired = (await gql(REFRESH, {"t": account.refresh}))["data"]["refreshToken"]
    assert expired["accessToken"] is None
    assert expired["errors"][0]["code"] == "TOKEN_EXPIRED"


async def test_mfa_is_required_once_enabled(gql, app: FastAPI):
    import pyotp
    from sqlalchemy import text

    account = await register(gql)
    secret = pyotp.random_base32()
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET mfa_enabled = true, mfa_secret = :s WHERE id = :u"),
            {"s": secret, "u": account.id},
        )
    variables = {"email": account.email, "password": PASSWORD}
    missing = (await gql(LOGIN, variables))["data"]["login"]
    assert missing["errors"][0]["code"] == "MFA_REQUIRED"
    import time

    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
    bad_code = next(c for c in ("000000", "111111", "222222") if c not in valid)
    wrong = (await gql(LOGIN, {**variables, "otp": bad_code}))["data"]["login"]
    assert wrong["errors"][0]["code"] == "INVALID_OTP"
    ok = (await gql(LOGIN, {**variables, "otp": pyotp.TOTP(secret).now()}))["data"]["login"]
    assert ok["errors"] == [] and ok["accessToken"]
