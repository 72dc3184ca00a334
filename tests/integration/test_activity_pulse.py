"""The activity pulse (realtime/activity_pulse.py): one bus message per persister commit,
published after the commit, heard by the admin overview of every process."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from domain.events import BidAccepted, Ended, PriceStep
from realtime.activity_pulse import ACTIVITY_CHANNEL, ActivityPulse, Pulse, parse_pulse, pulse_of
from realtime.broadcast import BoundedBroadcast, BoundedSubscriber
from tests.conftest import GQL
from tests.helpers import BID, BUY_NOW, PUBLISH, create_auction, register


async def next_bid_pulse(subscriber: BoundedSubscriber, *, seconds: float = 5.0) -> Pulse:
    """The next pulse with bids in it (the closer may end earlier tests' auctions
    meanwhile: those pulses have none, and nothing else bids while a test runs)."""
    async with asyncio.timeout(seconds):
        while True:
            event = await subscriber.get()
            pulse = parse_pulse(str(event.message))
            assert pulse is not None, event.message
            if pulse.bids:
                return pulse


async def bids_stored(app: FastAPI, auction_id: str) -> int:
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM bids WHERE auction_id = :a"), {"a": auction_id}
        )
        return int(found.scalar_one())


async def published_auction(gql: GQL, **overrides: str) -> str:
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller, **overrides)
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    return str(auction["id"])


async def test_a_bid_through_graphql_is_pulsed_after_the_persister_commits(
    gql: GQL, app: FastAPI
) -> None:
    auction = await published_auction(gql)
    bidder = await register(gql)
    async with app.state.bus.subscribe(ACTIVITY_CHANNEL) as subscriber:
        started = int(time.time() * 1000)
        placed = await gql(BID, {"id": auction, "amount": "100.00"}, token=bidder.token)
        assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed
        # The persister runs on its own, woken by the bid's append.
        pulse = await next_bid_pulse(subscriber)
        assert await bids_stored(app, auction) == 1  # told after the commit
    assert pulse.bids == 1
    assert pulse.cancelled == 0
    assert started - 1_000 <= pulse.at <= int(time.time() * 1000)


async def test_a_buy_now_is_pulsed_as_a_bid_and_an_end(gql: GQL, app: FastAPI) -> None:
    auction = await published_auction(gql, buyNowPrice="150.00")
    buyer = await register(gql)
    async with app.state.bus.subscribe(ACTIVITY_CHANNEL) as subscriber:
        bought = await gql(BUY_NOW, {"id": auction}, token=buyer.token)
        assert bought["data"]["buyNow"]["__typename"] == "BidAccepted", bought
        pulse = await next_bid_pulse(subscriber)
    assert pulse.bids == 1
    assert pulse.ended >= 1


def test_a_commit_without_bids_or_ends_is_not_pulsed() -> None:
    step = PriceStep(
        sequence=4, at_ms=1_000, price=900, bid_count=0, ends_ms=9_000, leader=None,
        status="ACTIVE", dutch_price=900,
    )  # fmt: skip
    assert pulse_of([(uuid.uuid4(), [step])], now_ms=5_000) is None
    bid = BidAccepted(
        sequence=5, at_ms=2_000, price=900, bid_count=1, ends_ms=9_000, leader="u",
        status="ENDED", bidder="u", amount=900, max_amount=900, leading=True,
    )  # fmt: skip
    end = Ended(
        sequence=6, at_ms=2_000, price=900, bid_count=1, ends_ms=2_000, leader="u",
        status="ENDED", reason="ACCEPTED",
    )  # fmt: skip
    pulse = pulse_of([(uuid.uuid4(), [step]), (uuid.uuid4(), [bid, end])], now_ms=5_000)
    assert pulse == Pulse(at=2_000, bids=1, ended=1, cancelled=0, auctions=2)
    assert parse_pulse(pulse.to_json()) == pulse
    assert parse_pulse("not json") is None


@pytest.fixture
async def silent_redis() -> AsyncIterator[str]:
    """A server that accepts connections and never answers (a Redis that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()


async def test_a_bus_that_hangs_costs_the_persister_at_most_the_timeout(
    silent_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = BoundedBroadcast(silent_redis)
    pulse = ActivityPulse(bus, timeout_seconds=0.3)
    bid = BidAccepted(
        sequence=1, at_ms=1_000, price=100, bid_count=1, ends_ms=9_000, leader="u",
        status="ACTIVE", bidder="u", amount=100, max_amount=100, leading=True,
    )  # fmt: skip
    started = time.perf_counter()
    try:
        with caplog.at_level(logging.WARNING, logger="gavel.activity"):
            await pulse.persisted([(uuid.uuid4(), [bid])])  # never raises
        assert time.perf_counter() - started < 1.0
    finally:
        await bus.disconnect()
    assert "activity pulse not published" in caplog.text
