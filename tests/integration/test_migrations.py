"""Migrations: upgrade from empty, downgrade to base, and no drift from the models."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from domain.categories import CATEGORIES
from tests.conftest import alembic_config, create_database


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_upgrade_downgrade_round_trip(stack):
    url = await create_database(stack.database_url, f"gavel_mig_{uuid.uuid4().hex[:8]}")
    config = alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "head")
    expected = set(SQLModel.metadata.tables) | {"alembic_version"}
    assert await _tables(url) == expected
    conn = await asyncpg.connect(_dsn(url))
    try:
        assert await conn.fetchval("SELECT count(*) FROM categories") == len(CATEGORIES)
    finally:
        await conn.close()
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await _tables(url) == {"alembic_version"}
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _tables(url) == expected


async def test_models_and_migrations_do_not_drift(database_url):
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == [], f"models differ from migrations; write a migration: {diff}"


async def test_database_guards_money_and_ratings(database_url):
    """The last guard: PostgreSQL refuses what the domain should never send."""
    conn = await asyncpg.connect(_dsn(database_url))
    try:
        checks = {
            "ck_auctions_starting_price": "starting_price > 0",
            "ck_feedback_rating": "rating BETWEEN 1 AND 5",
            "ck_auctions_schedule": "ends_at > starts_at",
            "ck_transactions_amount": "amount > 0",
        }
        rows = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def "
            "FROM pg_constraint WHERE conname = ANY($1::text[])",
            list(checks),
        )
        assert {r["conname"] for r in rows} == set(checks)
        uniques = await conn.fetch("SELECT conname FROM pg_constraint WHERE contype = 'u'")
        names = {r["conname"] for r in uniques}
        assert {"uq_bids_auction_sequence", "uq_bids_idempotency"} <= names
        try:
            await conn.execute(
                "INSERT INTO processed_webhook_events (event_id, type, processed_at) "
                "VALUES ('evt_1', 't', now()), ('evt_1', 't', now())"
            )
        except asyncpg.UniqueViolationError:
            pass
        else:
            raise AssertionError("duplicate webhook event accepted")
    finally:
        await conn.close()
