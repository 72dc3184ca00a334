"""The demo sales (seeds/settlement.py): every settlement state, made through the use
cases against the Stripe emulator, every ledger balanced, and a second run changes
nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from devservers.stack import StackUrls
from seeds import load
from seeds.settlement import demo_sales, seed_sales
from settings import Settings
from storage.db import make_engine
from tests.conftest import create_database, migrate


@pytest.fixture
async def seeded(stack: StackUrls, settings: Settings) -> Settings:
    """A database of its own with the demo rows loaded, and settings pointing at it."""
    url = await create_database(stack.database_url, f"gavel_sales_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    await load(url, progress=False)
    return settings.model_copy(update={"database_url": url})


async def test_seeded_sales_cover_every_state_and_balance(seeded: Settings) -> None:
    total = await seed_sales(seeded)
    assert total >= 40  # every SOLD seeded auction has a sale, plus the second chance
    assert seeded.database_url
    engine = make_engine(seeded.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            # Demo history is never mailed when the app starts.
            unmailed = await conn.scalar(
                text("SELECT count(*) FROM notifications WHERE emailed_at IS NULL")
            )
            assert unmailed == 0
            statuses = {
                row.status: row.n
                for row in await conn.execute(
                    text("SELECT status, count(*) AS n FROM transactions GROUP BY status")
                )
            }
            assert set(statuses) == {
                "PENDING",
                "AUTHORIZED",
                "CAPTURED",
                "RELEASED",
                "REFUNDED",
                "FAILED",
            }, statuses
            assert statuses["FAILED"] >= 2  # one declined, one lapsed unpaid
            captured = (
                await conn.execute(
                    text(
                        "SELECT shipped_at, received_at FROM transactions WHERE status = 'CAPTURED'"
                    )
                )
            ).one()
            assert captured.shipped_at is not None and captured.received_at is None  # in transit
            disputes = {
                row.status for row in await conn.execute(text("SELECT status FROM disputes"))
            }
            assert disputes == {"OPEN", "RESOLVED_REFUND"}
            feedback = (await conn.execute(text("SELECT count(*) FROM feedback"))).scalar_one()
            assert feedback == 2
            second = (
                await conn.execute(
                    text(
                        "SELECT status FROM transactions"
                        " WHERE second_chance AND replaces_id IS NOT NULL"
                    )
                )
            ).scalar_one()
            assert second == "PENDING"
            strikes = (
                await conn.execute(text("SELECT sum(unpaid_strikes) FROM users"))
            ).scalar_one()
            unpaid = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM transactions"
                        " WHERE status = 'FAILED' AND NOT second_chance"
                    )
                )
            ).scalar_one()
            # Each sale lapsed unpaid or whose card declined is one strike on its buyer.
            assert unpaid >= 2 and strikes == unpaid
            unbalanced = (
                await conn.execute(
                    text(
                        "SELECT transaction_id FROM ledger_entries GROUP BY transaction_id"
                        " HAVING sum(amount) <> 0"
                    )
                )
            ).all()
            assert unbalanced == []
            intents = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM transactions WHERE status IN"
                        " ('AUTHORIZED','CAPTURED','RELEASED','REFUNDED')"
                        " AND stripe_payment_intent_id IS NULL"
                    )
                )
            ).scalar_one()
            assert intents == 0  # paid sales are real intents at the gateway
    finally:
        await engine.dispose()

    lines = await demo_sales(seeded)
    assert lines[0].startswith("buyer ") and "PENDING" in lines[0]
    assert sum(line.startswith("sale ") for line in lines) == 6

    assert await seed_sales(seeded) == total  # a second run adds nothing
