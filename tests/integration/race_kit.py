"""Two app instances and small builders for the race tests (`test_races.py`,
`test_stale_facts.py`).

The two instances share one private PostgreSQL database and one private Redis (no other
process takes part); neither runs a scheduler, so each test decides when activation and
closing happen. Each has its own persister, as two app processes would.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from devservers.stack import StackUrls
from domain.enums import AuctionType, ItemCondition
from domain.errors import DomainError
from domain.listing import ListingInput
from gavel_app import create_app
from realtime.slots import keys
from services import bidding, listings
from services.deps import Deps
from settings import Settings
from storage.tables import Auction, User
from tests.conftest import create_database, migrate

TRIES = 20


@dataclass(frozen=True)
class Pair:
    one: FastAPI
    two: FastAPI

    @property
    def deps(self) -> Deps:
        deps: Deps = self.one.state.deps
        return deps

    @property
    def other(self) -> Deps:
        deps: Deps = self.two.state.deps
        return deps


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(
        tmp_path_factory.mktemp("races-redis"), free_port(), appendfsync="no"
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def pair(
    stack: StackUrls, own_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    database = await create_database(stack.database_url, f"gavel_races_{uuid.uuid4().hex[:8]}")
    await migrate(database)
    secret = secrets.token_urlsafe(48)

    def app() -> FastAPI:
        return create_app(
            Settings(
                DATABASE_URL=database,
                REDIS_URL=own_redis.url,
                GAVEL_JWT_SECRET=secret,
                GAVEL_DATA_DIR=tmp_path_factory.mktemp("races-data"),
                GAVEL_MIN_AUCTION_SECONDS=2,
                GAVEL_RUN_SCHEDULER=False,  # the tests run activation and closing passes
            ),
            fast_hash=True,
        )

    one, two = app(), app()
    async with one.router.lifespan_context(one), two.router.lifespan_context(two):
        yield Pair(one, two)


async def make_users(deps: Deps, count: int, *roles: str) -> list[User]:
    password = deps.hasher.hash_sync("not used here")
    users = [
        User(
            username=f"r{uuid.uuid4().hex[:12]}",
            email=f"{uuid.uuid4().hex}@example.com",
            password_hash=password,
            roles=["BIDDER", *roles],
        )
        for _ in range(count)
    ]
    async with deps.uow() as uow:
        uow.session.add_all(users)
        await uow.commit()
    return users


def listing_input(**overrides: Any) -> ListingInput:
    base: dict[str, Any] = {
        "title": "Racing pigeon clock",
        "description": "Two things at once.",
        "category": "collectibles",
        "condition": ItemCondition.USED,
        "type": AuctionType.ENGLISH,
        "currency": "USD",
        "starting_price": Decimal("10"),
        "ends_at": datetime.now(UTC) + timedelta(hours=3),
    }
    base.update(overrides)
    return ListingInput(**base)


async def new_draft(deps: Deps, seller: User, **overrides: Any) -> uuid.UUID:
    auction = await listings.create_auction(deps, seller, listing_input(**overrides))
    return auction.id


async def new_live(deps: Deps, seller: User, **overrides: Any) -> uuid.UUID:
    auction_id = await new_draft(deps, seller, **overrides)
    published = await listings.publish_auction(deps, seller, auction_id)
    assert published.status == "ACTIVE"
    return auction_id


async def new_due(deps: Deps, seller: User, **overrides: Any) -> uuid.UUID:
    """A SCHEDULED auction whose start has just passed: the scheduler's next pass starts it."""
    starts = datetime.now(UTC) + timedelta(hours=1)
    auction_id = await new_draft(deps, seller, starts_at=starts, **overrides)
    published = await listings.publish_auction(deps, seller, auction_id)
    assert published.status == "SCHEDULED"
    await make_due(deps, auction_id)
    return auction_id


async def run_sql(deps: Deps, sql: str, **params: Any) -> list[Any]:
    async with deps.uow() as uow:
        result = await (await uow.session.connection()).execute(text(sql), params)
        rows = list(result.all()) if result.returns_rows else []
        await uow.commit()
    return rows


async def make_due(deps: Deps, auction_id: uuid.UUID) -> None:
    await run_sql(
        deps,
        "UPDATE auctions SET starts_at = now() - interval '1 second' WHERE id = :a",
        a=auction_id,
    )


async def jitter() -> None:
    """A random head start of 0-3 ms, so both orders (and the overlaps) get their turn."""
    await asyncio.sleep(random.random() * 0.003)


async def outcome(step: Awaitable[Any]) -> Any:
    await jitter()
    try:
        return await step
    except DomainError as err:
        return err


async def stored_row(deps: Deps, auction_id: uuid.UUID) -> Auction:
    async with deps.uow() as uow:
        row = await uow.session.get(Auction, auction_id)
    assert row is not None
    return row


async def slot_state(deps: Deps, auction_id: uuid.UUID) -> dict[str, str]:
    state: dict[str, str] = await deps.slots.redis.hgetall(keys(auction_id)[0])
    return state


async def event_kinds(deps: Deps, auction_id: uuid.UUID) -> list[str]:
    return [e.kind.value for e in await deps.slots.events_since(auction_id, 0)]


async def settled(pair: Pair, auction_id: uuid.UUID, status: str) -> Auction:
    """The row once both persisters have recorded the slot's final event."""
    deadline = time.monotonic() + 10
    while True:
        for deps in (pair.deps, pair.other):
            assert deps.outbox is not None
            await deps.outbox.drain([str(auction_id)])
        row = await stored_row(pair.deps, auction_id)
        if row.status == status:
            return row
        assert time.monotonic() < deadline, f"the row stayed {row.status}, not {status}"
        await asyncio.sleep(0.05)


async def place(deps: Deps, bidder: User, auction_id: uuid.UUID, amount: str) -> Any:
    return await bidding.place_bid(deps, bidder, auction_id, Decimal(amount), None, None)
