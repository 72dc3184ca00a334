"""Closing races between app processes (SPEC section 4: "closing is atomic and idempotent
even with several app processes running"; section 5: no subscriber is left hanging).

- One process runs the close script and dies before it publishes the end; another
  process's scheduler then finds the auction already ended. The end must still reach live
  subscribers, or those of the surviving process would wait forever: no later event comes
  to reveal the gap.
- Another process read the auction as ACTIVE from PostgreSQL just before its end was
  stored and puts it back on the agendas (reconcile -> ensure_slot). The persister must
  take it off again, or every sweep and Dutch tick visits it forever.

The other process is played by calling its steps directly; the app's own scheduler and
persister run one pass at a time. Redis and the database are private to this module so
no other process takes part.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import httpx
import orjson
import pytest
from fastapi import FastAPI

from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from devservers.stack import StackUrls
from domain.slot_results import CloseApplied, ClosePending
from gavel_app import create_app
from realtime.events import channel
from realtime.slot_seeding import seed_for
from realtime.slots import DUTCH_SET, ENDS_ZSET, LIVE_SET
from settings import Settings
from storage.tables import Auction
from tests.conftest import GQL, create_database, migrate
from tests.helpers import BID, PUBLISH, create_auction, iso, register

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(
        tmp_path_factory.mktemp("closing-redis"), free_port(), appendfsync="no"
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def survivor(
    stack: StackUrls, private_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    database = await create_database(stack.database_url, f"gavel_closing_{uuid.uuid4().hex[:8]}")
    await migrate(database)
    settings = Settings(
        DATABASE_URL=database,
        REDIS_URL=private_redis.url,
        GAVEL_JWT_SECRET=secrets.token_urlsafe(48),
        GAVEL_DATA_DIR=tmp_path_factory.mktemp("closing-data"),
        GAVEL_MIN_AUCTION_SECONDS=2,
        GAVEL_RUN_SCHEDULER=False,  # the test runs its passes
    )
    application = create_app(settings, fast_hash=True)
    async with application.router.lifespan_context(application):
        yield application


async def test_an_end_whose_closer_died_before_publishing_is_still_announced(
    survivor: FastAPI,
):
    transport = httpx.ASGITransport(app=survivor)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        gql = GQL(client)
        seller, bidder = await register(gql, seller=True), await register(gql)
        created = await create_auction(
            gql,
            seller,
            startingPrice="10",
            endsAt=iso(timedelta(seconds=2.5)),
            softCloseWindowSeconds=0,
            softCloseExtensionSeconds=0,
        )
        auction_id = str(created["id"])
        published = await gql(PUBLISH, {"id": auction_id}, token=seller.token)
        ends_at = datetime.fromisoformat(published["data"]["publishAuction"]["auction"]["endsAt"])
        body = await gql(BID, {"id": auction_id, "amount": "10"}, token=bidder.token)
        assert body["data"]["placeBid"]["bid"]["sequence"] == 1, body

    state = survivor.state
    async with state.bus.subscribe(channel(auction_id)) as subscription:
        await asyncio.sleep(max(0.0, (ends_at - datetime.now(ends_at.tzinfo)).total_seconds()))
        # The other process: its close script ran, then it died before publishing.
        closed = await state.slots.close(auction_id)
        if isinstance(closed, ClosePending):  # our clock ran a little ahead of Redis's
            await asyncio.sleep(0.2)
            closed = await state.slots.close(auction_id)
        assert isinstance(closed, CloseApplied), closed

        assert await state.scheduler.close_due() == 0  # already ended: not by this process
        message = await asyncio.wait_for(subscription.get(), 5)
    event = orjson.loads(message.message)
    assert (event["kind"], event["seq"], event["auction"]) == ("ENDED", 2, auction_id)

    # And the record: any process's persister stores the end (here the survivor's sweep).
    deadline = time.monotonic() + 10
    while True:
        async with state.deps.uow() as uow:
            stored = await uow.session.get(Auction, uuid.UUID(auction_id))
            assert stored is not None
            if stored.status == "ENDED":
                break
        assert time.monotonic() < deadline, "the end never reached PostgreSQL"
        await asyncio.sleep(0.1)
    assert (stored.outcome, str(stored.winner_id), stored.final_price) == (
        "SOLD",
        bidder.id,
        1000,
    )


async def test_a_finished_auction_put_back_on_the_agendas_is_taken_off_again(
    survivor: FastAPI,
):
    transport = httpx.ASGITransport(app=survivor)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        gql = GQL(client)
        seller = await register(gql, seller=True)
        created = await create_auction(
            gql,
            seller,
            type="DUTCH",
            startingPrice="100",
            dutchStep="10",
            dutchStepSeconds=60,
            dutchFloor="50",
            endsAt=iso(timedelta(seconds=2.5)),
        )
        auction_id = str(created["id"])
        published = await gql(PUBLISH, {"id": auction_id}, token=seller.token)
        ends_at = datetime.fromisoformat(published["data"]["publishAuction"]["auction"]["endsAt"])

    state = survivor.state
    redis = state.redis
    # The other process's read of the row, taken while the auction is still ACTIVE.
    async with state.deps.uow() as uow:
        row = await uow.session.get(Auction, uuid.UUID(auction_id))
        assert row is not None and row.status == "ACTIVE"
        stale = await seed_for(uow, row)

    await asyncio.sleep(max(0.0, (ends_at - datetime.now(ends_at.tzinfo)).total_seconds()))
    deadline = time.monotonic() + 5
    while await state.scheduler.close_due() == 0:  # closes, publishes, persists
        assert time.monotonic() < deadline, "the auction never closed"
        await asyncio.sleep(0.1)
    async with state.deps.uow() as uow:
        stored = await uow.session.get(Auction, uuid.UUID(auction_id))
        assert stored is not None and (stored.status, stored.outcome) == ("ENDED", "UNSOLD")
    assert not await redis.sismember(LIVE_SET, auction_id)

    await state.slots.create(stale)  # the other process's late ensure_slot
    assert await redis.sismember(LIVE_SET, auction_id)
    assert await redis.sismember(DUTCH_SET, auction_id)

    await state.persister.drain(reclaim=True)
    assert not await redis.sismember(LIVE_SET, auction_id)
    assert not await redis.sismember(DUTCH_SET, auction_id)
    assert await redis.zscore(ENDS_ZSET, auction_id) is None
