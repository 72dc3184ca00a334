"""GraphQL documents and steps shared by the MFA and password tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from tests.helpers import LOGIN, PASSWORD, Account

ENROLL = """mutation($p: String!) { enrollMfa(currentPassword: $p) {
  secret provisioningUri qrCode errors { code message field } } }"""
CONFIRM = """mutation($code: String!) { confirmMfa(code: $code) {
  recoveryCodes accessToken refreshToken user { id } errors { code message field } } }"""
DISABLE = """mutation($code: String!) { disableMfa(code: $code) {
  accessToken refreshToken errors { code message field } } }"""
REGENERATE = """mutation($code: String!) { regenerateRecoveryCodes(code: $code) {
  recoveryCodes errors { code message field } } }"""
ME_MFA = "{ me { mfaEnabled } }"
REFRESH = """mutation($t: String!) { refreshToken(refreshToken: $t) {
  accessToken refreshToken errors { code } } }"""


@dataclass
class Mfa:
    """An account with MFA on. Codes are counted in steps from the one confirmMfa used
    (`confirmed_at`), not from the clock, so a step boundary passing mid-test changes
    nothing: the server accepts one step either side, and a test lasts far less than 30 s."""

    secret: str
    recovery_codes: list[str]
    session: Account  # the fresh session confirmMfa returned
    confirmed_at: float

    def code(self, steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(self.confirmed_at + 30 * steps)

    def code_not_near_now(self, steps: int) -> str:
        """The code of a step outside the accepted window (or, should it equal a code
        inside it, a code that is none of those)."""
        near = {self.code(d) for d in (-1, 0, 1, 2)}
        code = self.code(steps)
        return (
            code
            if code not in near
            else next(c for c in ("000000", "999999", "123456") if c not in near)
        )


async def enroll(gql: Any, account: Account) -> str:
    data = (await gql(ENROLL, {"p": PASSWORD}, token=account.token))["data"]["enrollMfa"]
    assert data["errors"] == [], data
    uri = urlsplit(data["provisioningUri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["issuer"] == ["Gavel"]
    assert parse_qs(uri.query)["secret"] == [data["secret"]]
    return str(data["secret"])


async def enable_mfa(gql: Any, account: Account) -> Mfa:
    secret = await enroll(gql, account)
    confirmed_at = time.time()
    code = pyotp.TOTP(secret).at(confirmed_at)
    data = (await gql(CONFIRM, {"code": code}, token=account.token))["data"]["confirmMfa"]
    assert data["errors"] == [], data
    session = Account(
        id=account.id,
        username=account.username,
        email=account.email,
        token=data["accessToken"],
        refresh=data["refreshToken"],
    )
    return Mfa(
        secret=secret,
        recovery_codes=data["recoveryCodes"],
        session=session,
        confirmed_at=confirmed_at,
    )


async def login(gql: Any, account: Account, otp: str | None = None, password: str = PASSWORD):
    variables = {"email": account.email, "password": password, "otp": otp}
    data: dict[str, Any] = (await gql(LOGIN, variables))["data"]["login"]
    return data


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]
