"""`python -m seeds` names demo logins that work: the admin, a few sellers, a few bidders."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from adapters.passwords import PasswordHasher
from devservers.stack import StackUrls
from seeds import load
from seeds.summary import SHOWN_PER_ROLE, demo_logins
from storage.db import make_engine
from tests.conftest import create_database, migrate

LINE = re.compile(r"^(admin|seller|bidder)\s+(\S+@gavel\.test) \(username [^)]+\) / (\S+)$")


@pytest.fixture
async def seeded(stack: StackUrls) -> str:
    url = await create_database(stack.database_url, f"gavel_logins_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    await load(url, progress=False)
    return url


async def test_summary_lists_sellers_and_bidders_whose_passwords_work(seeded):
    lines = await demo_logins(seeded)
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    roles = [m.group(1) for m in parsed if m]
    assert roles == ["admin"] + ["seller"] * SHOWN_PER_ROLE + ["bidder"] * SHOWN_PER_ROLE
    hasher = PasswordHasher(fast=True, threads=1)
    engine = make_engine(seeded, pool_size=1)
    try:
        async with engine.connect() as conn:
            for match in parsed:
                assert match
                role, email, password = match.groups()
                row = (
                    await conn.execute(
                        text("SELECT roles, password_hash FROM users WHERE email = :e"),
                        {"e": email},
                    )
                ).one()
                assert role.upper() in row.roles, (email, row.roles)
                assert await hasher.verify(row.password_hash, password), email
    finally:
        await engine.dispose()
        hasher.close()
