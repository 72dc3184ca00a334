"""Writes the demo rows: bulk `INSERT ... ON CONFLICT DO NOTHING`, one transaction."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from tqdm import tqdm

from adapters.passwords import PasswordHasher
from realtime import account_states
from seeds.builder import ADMIN_PASSWORD, DEMO_PASSWORD, build
from storage.db import make_engine

# asyncpg allows at most 32767 bind parameters per statement.
_MAX_PARAMS = 30_000


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def hash_passwords() -> dict[str, str]:
    """Each distinct password is hashed once (argon2 is slow on purpose) and reused."""
    hasher = PasswordHasher(fast=False)
    return {password: hasher.hash_sync(password) for password in (ADMIN_PASSWORD, DEMO_PASSWORD)}


async def _insert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], bar: tqdm[Any]
) -> int:
    inserted = 0
    chunk = max(1, _MAX_PARAMS // len(table.columns))
    key = next(iter(table.primary_key.columns))
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        stmt = insert(table).values(part).on_conflict_do_nothing().returning(key)
        inserted += len((await conn.execute(stmt)).all())
        bar.update(len(part))
    return inserted


async def load(
    database_url: str, *, progress: bool = True, redis_url: str | None = None
) -> dict[str, int]:
    """Insert the demo data if missing; returns how many rows each table gained.

    With `redis_url`, the seeded users' account states (realtime/account_states.py) are
    deleted: a state left from an earlier database must not outlive its rows; the next
    request rebuilds each from the rows written here."""
    hashes = await asyncio.to_thread(hash_passwords)
    rows = build(datetime.now(UTC), hashes)
    plan = [(name, [row.model_dump() for row in models]) for name, models in rows.tables()]
    inserted: dict[str, int] = {}
    engine = make_engine(database_url, pool_size=1)
    try:
        with tqdm(
            total=sum(len(r) for _, r in plan),
            unit="row",
            file=sys.stderr,
            disable=not progress,
        ) as bar:
            async with engine.begin() as conn:
                for name, table_rows in plan:
                    bar.set_description(name)
                    inserted[name] = await _insert(conn, _table(name), table_rows, bar)
    finally:
        await engine.dispose()
    if redis_url:
        await forget_account_states(redis_url, [user.id for user in rows.users])
    return inserted


async def forget_account_states(redis_url: str, user_ids: list[uuid.UUID]) -> None:
    client = aioredis.from_url(redis_url)
    try:
        # One key at a time: on a Redis Cluster the keys live in different slots.
        async with client.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.delete(account_states.key(user_id))
            await pipe.execute()
    finally:
        await client.aclose()


async def table_counts(database_url: str, names: list[str]) -> dict[str, int]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return {
                name: int(
                    (
                        await conn.execute(select(func.count()).select_from(_table(name)))
                    ).scalar_one()
                )
                for name in names
            }
    finally:
        await engine.dispose()


async def mark_emailed(database_url: str, *, since: datetime) -> int:
    """Mark the notifications created since `since` as mailed (demo history the seeds
    made through the use cases); returns how many."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                text(
                    "UPDATE notifications SET emailed_at = now()"
                    " WHERE emailed_at IS NULL AND created_at >= :since"
                ),
                {"since": since},
            )
            return int(result.rowcount or 0)
    finally:
        await engine.dispose()
