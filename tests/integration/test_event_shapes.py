"""Every event and answer the real Lua scripts write parses into domain/events.py's types
and is written back unchanged: no field a script emits is lost or misread."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from domain.events import parse_event, raw_event
from domain.slot_results import (
    BidApplied,
    parse_bid_result,
    parse_cancel_result,
    parse_close_result,
    parse_tick_result,
    raw_bid_result,
)
from realtime.slots import LIVE_SET, AuctionSlots, SlotSeed, keys, request_key
from settings import Settings
from tests.helpers import slot_seed


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(settings.redis_url or "", decode_responses=True)
    yield client
    await client.aclose()


def lua_empty_as_list(value: Any) -> Any:
    """cjson writes an empty Lua table as {}; the typed form writes an empty list."""
    if isinstance(value, dict):
        return {k: ([] if v == {} else lua_empty_as_list(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [lua_empty_as_list(v) for v in value]
    return value


class Raw:
    """Calls the scripts as realtime/slots.py does, keeping their raw answers."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.slots = AuctionSlots(redis, batch_bids=False)
        self.answers: list[dict[str, Any]] = []

    async def bid(self, lot: SlotSeed, bidder: str, amount: int, **kw: Any) -> dict[str, Any]:
        state, events, idem, sealed = keys(lot.auction_id)
        ceiling = kw.get("ceiling")
        args = [
            bidder,
            str(amount),
            "" if ceiling is None else str(ceiling),
            kw.get("idem", ""),
            kw.get("kind", "bid"),
            "60000",
        ]
        keys_ = [state, events, idem, sealed, request_key(lot.auction_id)]
        answer: dict[str, Any] = orjson.loads(await self.slots.scripts.bid(keys=keys_, args=args))
        self.answers.append(answer)
        return answer

    async def stream(self, lot: SlotSeed) -> list[dict[str, Any]]:
        entries: Any = await self.redis.xrange(keys(lot.auction_id)[1])
        return [orjson.loads(fields["e"]) for _, fields in entries]


async def test_every_event_and_answer_of_the_real_scripts_round_trips(redis: aioredis.Redis):
    raw = Raw(redis)
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    english = slot_seed(
        "ENGLISH",
        reserve_price=500,
        buy_now_price=5000,
        soft_close_window_seconds=7200,
        soft_close_extension_seconds=7200,
    )
    sealed = slot_seed("SEALED_SECOND_PRICE", starting_price=100, reserve_price=150)
    dutch = slot_seed(
        "DUTCH", starting_price=5000, dutch_step=100, dutch_step_seconds=1, dutch_floor=1000,
        activated_at=datetime.now(UTC) - timedelta(seconds=5),
    )  # fmt: skip
    buy = slot_seed("ENGLISH", buy_now_price=900)
    cancelled = slot_seed("ENGLISH")
    lots = (english, sealed, dutch, buy, cancelled)
    for lot in lots:
        await raw.slots.create(lot)
    # Off the agendas: a running app's closer, ticker and persister leave them alone.
    members = [str(lot.auction_id) for lot in lots]
    await raw.slots.forget(members)
    await redis.srem(LIVE_SET, *members)
    # The ticker may have published the Dutch step between create and forget: make the
    # step due again, so the tick below has one to publish.
    await redis.hset(keys(dutch.auction_id)[0], mapping={"d_pub": "0", "d_price": ""})

    await raw.bid(english, a, 100, ceiling=800, idem="k-1")  # leads, with a ceiling
    await raw.bid(english, b, 300)  # outbid at once by a's ceiling (reserve lifts price)
    await raw.bid(english, b, 900)  # takes the lead: a outbid; soft close extends
    await raw.bid(english, b, 950, ceiling=2000)  # the leader raises the ceiling
    await raw.bid(english, c, 10)  # too low
    await raw.bid(english, b, 3000, ceiling=2500)  # own lead, ceiling raised again
    await raw.bid(sealed, a, 120)
    await raw.bid(sealed, a, 200, idem="s")  # replaces a's own bid
    await raw.bid(sealed, b, 180)
    await raw.bid(sealed, c, 200)
    await raw.bid(sealed, a, 150)  # not above own bid
    await raw.bid(dutch, a, 100)  # below the clock's price
    tick = orjson.loads(
        await raw.slots.scripts.tick(keys=list(keys(dutch.auction_id)[:2]), args=[])
    )
    await raw.bid(dutch, b, 5000)  # takes the price: ENDED (ACCEPTED)
    await raw.bid(buy, c, 0, kind="buynow")  # ENDED (BUY_NOW)
    await raw.bid(buy, a, 1000)  # after the end
    await raw.bid(cancelled, a, slot_seed("ENGLISH").starting_price, idem="x")
    state, events, _, sealed_key = keys(sealed.auction_id)
    await redis.hset(state, "ends_ms", "1")  # due now
    close = orjson.loads(await raw.slots.scripts.close(keys=[state, events, sealed_key], args=[]))
    again = orjson.loads(await raw.slots.scripts.close(keys=[state, events, sealed_key], args=[]))
    state, events, _, sealed_key = keys(english.auction_id)
    pending = orjson.loads(await raw.slots.scripts.close(keys=[state, events, sealed_key], args=[]))
    state, events, _, _ = keys(cancelled.auction_id)
    refused = orjson.loads(await raw.slots.scripts.cancel(keys=[state, events], args=["no", "1"]))
    cancel = orjson.loads(await raw.slots.scripts.cancel(keys=[state, events], args=["why", ""]))
    already = orjson.loads(await raw.slots.scripts.cancel(keys=[state, events], args=["x", ""]))
    ghost, ghost_events, _, ghost_sealed = keys(uuid.uuid4())
    missing = orjson.loads(
        await raw.slots.scripts.close(keys=[ghost, ghost_events, ghost_sealed], args=[])
    )

    seen_kinds = set()
    for lot in (english, sealed, dutch, buy, cancelled):
        for event in await raw.stream(lot):
            seen_kinds.add(event["kind"])
            assert raw_event(parse_event(event)) == lua_empty_as_list(event), event
    assert seen_kinds == {"BID_ACCEPTED", "PRICE_STEP", "EXTENDED", "ENDED", "CANCELLED"}

    for answer in raw.answers:
        result = parse_bid_result(answer)
        if isinstance(result, BidApplied):
            assert raw_bid_result(result) == lua_empty_as_list(answer), answer
        else:
            assert not answer["ok"], answer
    step = parse_tick_result(tick)
    assert step is not None and raw_event(step) == tick["event"]
    for answer in (close, again, pending, missing):
        parse_close_result(answer)  # every shape is known
    for answer in (refused, cancel, already):
        parse_cancel_result(answer)
    assert type(parse_close_result(close)).__name__ == "CloseApplied"
    assert type(parse_close_result(pending)).__name__ == "ClosePending"
    assert type(parse_close_result(again)).__name__ == "AlreadyOver"
    assert type(parse_close_result(missing)).__name__ == "SlotMissing"
    assert type(parse_cancel_result(refused)).__name__ == "CancelRefused"
    assert type(parse_cancel_result(cancel)).__name__ == "CancelApplied"
    assert type(parse_cancel_result(already)).__name__ == "AlreadyOver"
