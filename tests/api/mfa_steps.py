"""GraphQL documents and steps shared by the MFA and password tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from tests.helpers import LOGIN, PASSWORD, Account

ENROLL = "mutation { enrollMfa { secret provisioningUri qrCode errors { code message } } }"
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
    secret: str
    recovery_codes: list[str]
    session: Account  # the fresh session confirmMfa returned

    def code(self, steps_from_now: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(time.time() + 30 * steps_from_now)

    def code_not_near_now(self, steps_from_now: int) -> str:
        """The code of a step outside the accepted window, unless it equals one inside."""
        near = {self.code(d) for d in (-1, 0, 1, 2)}
        code = self.code(steps_from_now)
        return code if code not in near else "000000" if "000000" not in near else "999999"


async def enroll(gql: Any, account: Account) -> str:
    data = (await gql(ENROLL, token=account.token))["data"]["enrollMfa"]
    assert data["errors"] == [], data
    uri = urlsplit(data["provisioningUri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["issuer"] == ["Gavel"]
    assert parse_qs(uri.query)["secret"] == [data["secret"]]
    return str(data["secret"])


async def enable_mfa(gql: Any, account: Account) -> Mfa:
    secret = await enroll(gql, account)
    code = pyotp.TOTP(secret).now()
    data = (await gql(CONFIRM, {"code": code}, token=account.token))["data"]["confirmMfa"]
    assert data["errors"] == [], data
    session = Account(
        id=account.id,
        username=account.username,
        email=account.email,
        token=data["accessToken"],
        refresh=data["refreshToken"],
    )
    return Mfa(secret=secret, recovery_codes=data["recoveryCodes"], session=session)


async def login(gql: Any, account: Account, otp: str | None = None, password: str = PASSWORD):
    variables = {"email": account.email, "password": password, "otp": otp}
    data: dict[str, Any] = (await gql(LOGIN, variables))["data"]["login"]
    return data


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]
