"""Password change and reset by email through the GraphQL API (services/credentials.py,
services/password_reset.py): strength rules, sessions revoked, the mailed token works
once and expires, no account enumeration, per-email and per-address limits, MFA still
asked after a reset."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from adapters.mailer import LogMailer
from gavel_app import create_app
from settings import Settings
from tests.api.mfa_steps import ME_MFA, REFRESH, enable_mfa, error_codes, login
from tests.conftest import GQL
from tests.helpers import PASSWORD, register

CHANGE = """mutation($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) {
    accessToken refreshToken errors { code message field } } }"""
REQUEST = """mutation($email: String!) { requestPasswordReset(email: $email) {
  ok errors { code message field } } }"""
RESET = """mutation($token: String!, $new: String!) {
  resetPassword(token: $token, newPassword: $new) { ok errors { code message field } } }"""
NEW_PASSWORD = "a much better passphrase"


def mails_to(mailer: LogMailer, email: str) -> list[tuple[str, str]]:
    return [(subject, body) for to, subject, body in mailer.sent if to == email]


def reset_token(mailer: LogMailer, email: str) -> str:
    body = next(b for s, b in reversed(mails_to(mailer, email)) if s.startswith("Reset"))
    return body.split('resetPassword(token: "')[1].split('"')[0]


async def audit_actions(app: FastAPI, user_id: str) -> list[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_log WHERE entity_id = :u ORDER BY id"), {"u": user_id}
        )
        return [r[0] for r in rows]


async def assert_signed_out(gql: Any, access: str, refresh: str) -> None:
    body = await gql(ME_MFA, token=access)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_TOKEN", body
    refused = (await gql(REFRESH, {"t": refresh}))["data"]["refreshToken"]
    assert error_codes(refused) == ["INVALID_TOKEN"]


async def test_change_password(gql, app: FastAPI):
    account = await register(gql)
    other = await login(gql, account)  # another device's session
    wrong = await gql(
        CHANGE, {"current": "not my password", "new": NEW_PASSWORD}, token=account.token
    )
    assert wrong["data"]["changePassword"]["errors"] == [
        {
            "code": "INVALID_CREDENTIALS",
            "message": "the current password is wrong",
            "field": "currentPassword",
        }
    ]
    weak = await gql(CHANGE, {"current": PASSWORD, "new": "short"}, token=account.token)
    [error] = weak["data"]["changePassword"]["errors"]
    assert (error["code"], error["field"]) == ("WEAK_PASSWORD", "newPassword")
    assert (await login(gql, account))["errors"] == []  # nothing changed so far

    done = await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=account.token)
    changed = done["data"]["changePassword"]
    assert changed["errors"] == [] and changed["accessToken"]
    assert error_codes(await login(gql, account)) == ["INVALID_CREDENTIALS"]
    assert (await login(gql, account, password=NEW_PASSWORD))["errors"] == []
    await assert_signed_out(gql, account.token, account.refresh)
    await assert_signed_out(gql, other["accessToken"], other["refreshToken"])
    assert (await gql(ME_MFA, token=changed["accessToken"]))["data"]["me"] is not None
    assert "change_password" in await audit_actions(app, account.id)
    assert any("changed" in s for s, _ in mails_to(app.state.deps.mailer, account.email))
    anonymous = await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_reset_by_email_end_to_end(gql, app: FastAPI):
    account = await register(gql)
    mailer: LogMailer = app.state.deps.mailer
    asked = (await gql(REQUEST, {"email": account.email.upper()}))["data"]["requestPasswordReset"]
    assert asked == {"ok": True, "errors": []}
    token = reset_token(mailer, account.email)

    weak = (await gql(RESET, {"token": token, "new": "short"}))["data"]["resetPassword"]
    assert [(e["code"], e["field"]) for e in weak["errors"]] == [("WEAK_PASSWORD", "newPassword")]
    forged = (await gql(RESET, {"token": token[:-3] + "xyz", "new": NEW_PASSWORD}))["data"]
    assert error_codes(forged["resetPassword"]) == ["INVALID_TOKEN"]
    assert (await login(gql, account))["errors"] == []  # still the old password

    done = (await gql(RESET, {"token": token, "new": NEW_PASSWORD}))["data"]["resetPassword"]
    assert done == {"ok": True, "errors": []}
    again = (await gql(RESET, {"token": token, "new": "yet another passphrase"}))["data"]
    assert error_codes(again["resetPassword"]) == ["INVALID_TOKEN"]  # single use
    assert error_codes(await login(gql, account)) == ["INVALID_CREDENTIALS"]
    assert (await login(gql, account, password=NEW_PASSWORD))["errors"] == []
    await assert_signed_out(gql, account.token, account.refresh)
    assert "reset_password" in await audit_actions(app, account.id)
    async with app.state.engine.connect() as conn:
        stored = await conn.scalar(
            text("SELECT count(*) FROM password_reset_tokens WHERE token_hash = :t"), {"t": token}
        )
    assert stored == 0  # only its hash is kept


async def test_a_reset_spends_every_outstanding_token_and_expired_ones_fail(gql, app: FastAPI):
    account = await register(gql)
    mailer: LogMailer = app.state.deps.mailer
    await gql(REQUEST, {"email": account.email})
    first = reset_token(mailer, account.email)
    await gql(REQUEST, {"email": account.email})
    second = reset_token(mailer, account.email)
    assert first != second
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second'"
                " WHERE user_id = :u AND created_at = (SELECT min(created_at)"
                " FROM password_reset_tokens WHERE user_id = :u)"
            ),
            {"u": account.id},
        )
    expired = (await gql(RESET, {"token": first, "new": NEW_PASSWORD}))["data"]["resetPassword"]
    assert error_codes(expired) == ["TOKEN_EXPIRED"]
    assert (await gql(RESET, {"token": second, "new": NEW_PASSWORD}))["data"]["resetPassword"]["ok"]
    await gql(REQUEST, {"email": account.email})
    third = reset_token(mailer, account.email)
    await gql(RESET, {"token": third, "new": "third time lucky here"})
    assert (await login(gql, account, password="third time lucky here"))["errors"] == []


async def test_no_account_enumeration_through_reset(gql, app: FastAPI):
    account = await register(gql)
    mailer: LogMailer = app.state.deps.mailer
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    known = await gql(REQUEST, {"email": account.email})
    nobody = await gql(REQUEST, {"email": unknown})
    assert known == nobody == {"data": {"requestPasswordReset": {"ok": True, "errors": []}}}
    assert mails_to(mailer, unknown) == []
    assert len(mails_to(mailer, account.email)) == 2  # verification, then the reset
    bad = (await gql(REQUEST, {"email": "not-an-email"}))["data"]["requestPasswordReset"]
    assert error_codes(bad) == ["INVALID_EMAIL"]


async def test_a_reset_does_not_bypass_mfa(gql, app: FastAPI):
    account = await register(gql)
    mfa = await enable_mfa(gql, account)
    await gql(REQUEST, {"email": account.email})
    token = reset_token(app.state.deps.mailer, account.email)
    assert (await gql(RESET, {"token": token, "new": NEW_PASSWORD}))["data"]["resetPassword"]["ok"]
    assert error_codes(await login(gql, account, password=NEW_PASSWORD)) == ["MFA_REQUIRED"]
    assert (await login(gql, account, mfa.code(1), password=NEW_PASSWORD))["errors"] == []
    await assert_signed_out(gql, mfa.session.token, mfa.session.refresh)


# --- Limits ------------------------------------------------------------------------

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
async def limited(settings: Settings) -> AsyncIterator[FastAPI]:
    low = {
        "rate_password_reset_email": "2/3600",
        "rate_password_reset_ip": "5/3600",
        "rate_login_account": "3/60",
        "rate_login_account_all": "6/60",
        "rate_login_ip": "5/60",
        "run_scheduler": False,
        "run_settlement": False,
    }
    application = create_app(settings.model_copy(update=low), fast_hash=True)
    async with application.router.lifespan_context(application):
        yield application


def client_at(app: FastAPI) -> httpx.AsyncClient:
    ip = f"10.92.{next(_addresses)}.{uuid.uuid4().int % 250 + 1}"
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gavel.test")


async def test_reset_requests_are_limited_per_email_alike_known_or_not(limited: FastAPI, gql):
    account = await register(gql)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    mailer: LogMailer = limited.state.deps.mailer
    for email in (account.email, unknown):
        async with client_at(limited) as c1, client_at(limited) as c2:
            answers = [
                error_codes(
                    (await GQL(c)(REQUEST, {"email": email}))["data"]["requestPasswordReset"]
                )
                for c in (c1, c2, c1, c2)
            ]
        assert answers == [[], [], ["RATE_LIMITED"], ["RATE_LIMITED"]], (email, answers)
    assert len(mails_to(mailer, account.email)) == 2  # nothing mailed when limited


async def test_reset_requests_are_limited_per_address(limited: FastAPI):
    async with client_at(limited) as c:
        there = GQL(c)
        answers = [
            error_codes(
                (await there(REQUEST, {"email": f"n{i}-{uuid.uuid4().hex[:6]}@example.com"}))[
                    "data"
                ]["requestPasswordReset"]
            )
            for i in range(6)
        ]
    assert answers == [[]] * 5 + [["RATE_LIMITED"]]


async def test_wrong_current_passwords_use_up_the_login_limit(limited: FastAPI, gql):
    account = await register(gql)
    async with client_at(limited) as c:
        there = GQL(c)
        seen = []
        for _ in range(4):
            body = await there(
                CHANGE, {"current": "guess guess guess", "new": NEW_PASSWORD}, token=account.token
            )
            seen.extend(error_codes(body["data"]["changePassword"]))
        assert seen[0] == "INVALID_CREDENTIALS" and seen[-1] == "RATE_LIMITED", seen
        right = await there(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=account.token)
        assert error_codes(right["data"]["changePassword"]) == ["RATE_LIMITED"]
    assert (await login(gql, account))["errors"] == []  # the password did not change
