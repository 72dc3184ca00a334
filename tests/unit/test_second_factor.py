"""services/second_factor.py on a fixed clock: the TOTP window, the replay guard, and the
recovery codes' form and hashing (no servers needed)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pyotp

from services.second_factor import (
    accept_totp,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    recovery_code_hash,
)
from storage.tables import User

NOW = datetime(2026, 11, 30, 12, 0, 10, tzinfo=UTC)


def user() -> User:
    return User(username="ada", email="ada@example.com", password_hash="x")


def code_at(secret: str, steps: int) -> str:
    return pyotp.TOTP(secret).at(NOW + timedelta(seconds=30 * steps))


def test_one_step_either_side_is_accepted_and_nothing_further():
    secret = new_secret()
    for steps in (-1, 0, 1):
        assert accept_totp(user(), secret, code_at(secret, steps), NOW), steps
    near = {code_at(secret, s) for s in (-1, 0, 1)}
    for steps in (-3, -2, 2, 3):
        code = code_at(secret, steps)
        if code not in near:
            assert not accept_totp(user(), secret, code, NOW), steps


def test_a_step_is_accepted_once_and_never_an_older_one_after_it():
    secret, account = new_secret(), user()
    assert accept_totp(account, secret, code_at(secret, 0), NOW)
    step = account.mfa_last_step
    assert step == pyotp.TOTP(secret).timecode(NOW)
    assert not accept_totp(account, secret, code_at(secret, 0), NOW)  # replay
    assert not accept_totp(account, secret, code_at(secret, -1), NOW)  # older
    assert accept_totp(account, secret, code_at(secret, 1), NOW)
    assert account.mfa_last_step == step + 1


def test_malformed_codes_are_refused_without_error():
    secret = new_secret()
    for code in ("", "12345", "1234567", "12345x", "١٢٣٤٥٦", "\ud800" * 6, "x" * 10_000):
        assert not accept_totp(user(), secret, code, NOW)
    assert not accept_totp(user(), None, code_at(secret, 0), NOW)


def test_recovery_codes_are_random_grouped_and_hash_per_account():
    codes = new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", c) for c in codes)
    owner, other = uuid.uuid4(), uuid.uuid4()
    code = codes[0]
    digest = recovery_code_hash(owner, code)
    assert len(digest) == 64 and code not in digest
    assert recovery_code_hash(owner, f" {code.lower().replace('-', '')} ") == digest
    assert recovery_code_hash(other, code) != digest


def test_provisioning_uri_names_gavel_and_the_account():
    secret = new_secret()
    assert len(secret) == 32
    uri = provisioning_uri(secret, "ada@example.com")
    assert uri.startswith("otpauth://totp/Gavel:ada%40example.com?")
    assert f"secret={secret}" in uri and "issuer=Gavel" in uri
