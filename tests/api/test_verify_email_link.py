"""The verification mail's link, `/verify-email?token=…`, followed as a person would: read
from the log, opened (which changes nothing), confirmed with the page's button."""

from __future__ import annotations

import html
import io
import json
import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from adapters.logging_setup import configure_logging
from adapters.tokens import TokenService
from tests.helpers import register

ME = "{ me { emailVerified } }"


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        yield stream
    finally:
        configure_logging()


def _link_in_log(stream: io.StringIO, email: str) -> str:
    for line in map(json.loads, stream.getvalue().splitlines()):
        if line.get("mail_to") == email:
            match = re.search(r"https?://\S+/verify-email\?token=\S+", line["event"])
            assert match, line
            return match.group(0)
    raise AssertionError(f"no mail to {email} in the log")


async def _verified(gql, token: str) -> bool:
    return bool((await gql(ME, token=token))["data"]["me"]["emailVerified"])


async def test_the_mailed_link_verifies_the_email(gql, client, log_stream):
    account = await register(gql)
    link = urlsplit(_link_in_log(log_stream, account.email))
    page = await client.get(f"{link.path}?{link.query}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert html.escape(account.email) in page.text
    # Opening the link (a mail scanner, a prefetcher) verified nothing.
    assert not await _verified(gql, account.token)
    form = re.search(r'<form method="post" action="([^"]+)">', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert form and token
    confirmed = await client.post(form.group(1), data={"token": html.unescape(token.group(1))})
    assert confirmed.status_code == 200 and "verified" in confirmed.text
    assert await _verified(gql, account.token)
    # Again: still fine, nothing changes.
    again = await client.post("/verify-email", json={"token": html.unescape(token.group(1))})
    assert again.status_code == 200 and again.json() == {"ok": True}


async def test_a_bad_link_is_refused_with_its_code(gql, client, log_stream):
    account = await register(gql)
    token = _link_in_log(log_stream, account.email).split("token=")[1]
    forged = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    page = await client.get("/verify-email", params={"token": forged})
    assert page.status_code == 400 and "INVALID_TOKEN" in page.text
    assert (await client.get("/verify-email")).status_code == 400
    refused = await client.post("/verify-email", json={"token": forged})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "INVALID_TOKEN"
    for body in ({}, {"token": 5}, {"token": "x" * 5000}):
        answer = await client.post("/verify-email", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["errors"][0]["code"] == "BAD_REQUEST"
    form = await client.post("/verify-email", data={"token": forged})
    assert form.status_code == 400 and "INVALID_TOKEN" in form.text
    assert not await _verified(gql, account.token)


async def test_an_expired_link_says_so(gql, client, settings):
    account = await register(gql)
    assert settings.jwt_secret is not None
    expired = TokenService(
        settings.jwt_secret.get_secret_value(),
        access_ttl=timedelta(minutes=15),
        email_ttl=timedelta(seconds=-60),  # issued already past its life
    ).issue_email_verification(uuid.UUID(account.id), account.email)
    page = await client.get("/verify-email", params={"token": expired})
    assert page.status_code == 400 and "TOKEN_EXPIRED" in page.text
    answer = await client.post("/verify-email", json={"token": expired})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "TOKEN_EXPIRED"
    assert not await _verified(gql, account.token)
