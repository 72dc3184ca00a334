"""Voiding bids recomputes an auction exactly: random bid sequences through the real Lua
scripts, a random subset voided, and the slot's recomputed state compared with
`tests.model.reference` fed only the remaining bids.

English: random bidders, amounts around the minimum, proxy maxima, a reserve; after the
recompute the price, leader, bid count and the ignored bids (remaining bids the rules now
refuse) must equal the model's, and further bids must go on agreeing with it (the proxy
ceiling was rebuilt too). Sealed: each bidder's live bid (amount and sequence) and the
outcome at the close equal the model's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from domain.enums import AuctionType
from domain.events import BidsVoided, PriorState, parse_event, public_event, raw_event
from domain.outcome import FinalState, decide
from domain.slot_results import (
    AlreadyOver,
    BidApplied,
    BidRefused,
    CloseApplied,
    RecomputeApplied,
    RecomputeConflict,
    RecomputeRefused,
)
from realtime.slots import AuctionSlots, ReplayBid, SlotSeed, keys
from tests.integration.test_event_shapes import lua_empty_as_list
from tests.model.reference import English, Sealed, inc

T = TypeVar("T")
EXAMPLES = 50


@dataclass
class Engine:
    runner: asyncio.Runner
    redis: Any
    slots: AuctionSlots

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("valkey-void"), free_port(), appendfsync="no")
    server.start()
    runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
    try:
        client = aioredis.from_url(server.url, decode_responses=True)
        yield Engine(runner, client, AuctionSlots(client))
        runner.run(client.aclose())
    finally:
        runner.close()
        server.stop()


def _seed(kind: str, *, start: int, reserve: int | None = None) -> SlotSeed:
    now = datetime.now(UTC)
    return SlotSeed(
        auction_id=uuid.uuid4(),
        type=kind,
        currency="USD",
        seller_id=uuid.uuid4(),
        starting_price=start,
        reserve_price=reserve,
        buy_now_price=None,
        starts_at=now - timedelta(seconds=1),
        ends_at=now + timedelta(days=1),
        hard_close_at=None,
        soft_close_window_seconds=None,
        soft_close_extension_seconds=None,
        dutch_step=None,
        dutch_step_seconds=None,
        dutch_floor=None,
        activated_at=now - timedelta(seconds=1),
    )


BIDDERS = [str(uuid.UUID(int=i + 1)) for i in range(4)]


def _english_bid(data: Any, model: English) -> tuple[str, int, int | None]:
    leader = model.leader
    bidder = data.draw(st.sampled_from(BIDDERS + ([leader] * 2 if leader else [])))
    base = model.minimum_next_bid()
    amount = max(1, base + data.draw(st.integers(-inc(base), 3 * inc(base))))
    ceiling = None
    if data.draw(st.booleans()):
        ceiling = amount + data.draw(st.integers(0, 8)) * inc(amount)
    return bidder, amount, ceiling


async def _recompute(
    engine: Engine, seed: SlotSeed, accepted: list[ReplayBid], gone: set[int]
) -> BidsVoided:
    (live,) = await engine.slots.live([seed.auction_id])
    assert live is not None
    result = await engine.slots.recompute(
        seed.auction_id,
        expected_sequence=live.sequence,
        reason="VOIDED",
        voided=sorted(gone),
        remaining=[b for b in accepted if b.sequence not in gone],
    )
    assert isinstance(result, RecomputeApplied), result
    assert result.event.sequence == live.sequence + 1
    assert result.event.voided == tuple(sorted(gone))
    return result.event


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_english_recompute_equals_the_model_on_the_remaining_bids(
    engine: Engine, data: Any
) -> None:
    start = data.draw(st.sampled_from([50, 100, 990, 2_400]))
    reserve = data.draw(st.one_of(st.none(), st.integers(start, start * 4)))
    seed = _seed("ENGLISH", start=start, reserve=reserve)
    engine.run(_english(engine, data, seed))


async def _english(engine: Engine, data: Any, seed: SlotSeed) -> None:
    await engine.slots.create(seed)
    seller = str(seed.seller_id)
    first = English(seller=seller, start=seed.starting_price, reserve=seed.reserve_price)
    accepted: list[ReplayBid] = []
    for _ in range(data.draw(st.integers(1, 14))):
        bidder, amount, ceiling = _english_bid(data, first)
        res = await engine.slots.bid(seed.auction_id, uuid.UUID(bidder), amount, ceiling, None)
        step = first.bid(bidder, amount, ceiling)
        assert isinstance(res, BidApplied) == step.accepted, (res, step)
        if isinstance(res, BidApplied):
            accepted.append(ReplayBid(res.sequence, bidder, amount, ceiling))
    gone = {b.sequence for b in accepted if data.draw(st.booleans())}

    # The model replays only what remains, from scratch; its rejections are the ignored.
    model = English(seller=seller, start=seed.starting_price, reserve=seed.reserve_price)
    ignored = []
    for b in accepted:
        if b.sequence not in gone and not model.bid(b.bidder, b.amount, b.ceiling).accepted:
            ignored.append(b.sequence)
    event = await _recompute(engine, seed, accepted, gone)
    assert (event.price, event.leader, event.bid_count) == (model.price, model.leader, model.bids)
    assert event.ignored == tuple(ignored)
    assert event.before is not None
    assert (event.before.price, event.before.leader) == (first.price, first.leader)
    (live,) = await engine.slots.live([seed.auction_id])
    assert live is not None
    assert (live.price, str(live.leader_id) if live.leader_id else None, live.bid_count) == (
        model.price,
        model.leader,
        model.bids,
    )
    # The rebuilt ceiling decides the next bids exactly as the model's does.
    for _ in range(data.draw(st.integers(0, 5))):
        bidder, amount, ceiling = _english_bid(data, model)
        res = await engine.slots.bid(seed.auction_id, uuid.UUID(bidder), amount, ceiling, None)
        step = model.bid(bidder, amount, ceiling)
        assert isinstance(res, BidApplied) == step.accepted, (res, step)
        if isinstance(res, BidApplied):
            assert (res.price, res.leader, res.leading) == (step.price, step.leader, step.leading)
        else:
            assert isinstance(res, BidRefused)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), second=st.booleans())
def test_sealed_recompute_equals_the_model_on_the_remaining_bids(
    engine: Engine, data: Any, second: bool
) -> None:
    kind = "SEALED_SECOND_PRICE" if second else "SEALED_FIRST_PRICE"
    reserve = data.draw(st.one_of(st.none(), st.integers(100, 400)))
    engine.run(_sealed(engine, data, _seed(kind, start=100, reserve=reserve), second))


async def _sealed(engine: Engine, data: Any, seed: SlotSeed, second: bool) -> None:
    await engine.slots.create(seed)
    seller = str(seed.seller_id)
    accepted: list[ReplayBid] = []
    latest: dict[str, int] = {}
    for _ in range(data.draw(st.integers(1, 12))):
        bidder = data.draw(st.sampled_from(BIDDERS))
        amount = latest.get(bidder, 90) + data.draw(st.integers(-5, 120))
        res = await engine.slots.bid(seed.auction_id, uuid.UUID(bidder), amount, None, None)
        if isinstance(res, BidApplied):
            accepted.append(ReplayBid(res.sequence, bidder, amount, None))
            latest[bidder] = amount
    gone = {b.sequence for b in accepted if data.draw(st.booleans())}

    model = Sealed(seller=seller, start=100, reserve=seed.reserve_price, second_price=second)
    live_seq: dict[str, int] = {}
    for b in accepted:
        if b.sequence not in gone and model.bid(b.bidder, b.amount).accepted:
            live_seq[b.bidder] = b.sequence
    event = await _recompute(engine, seed, accepted, gone)
    assert event.bid_count == model.bids
    assert (event.price, event.leader) == (None, None)
    stored = await engine.redis.hgetall(keys(seed.auction_id)[3])
    want = {bidder: f"{amount}:{live_seq[bidder]}" for bidder, (amount, _) in model.live.items()}
    assert stored == want

    # The outcome at the close, as the persister decides it, is the model's.
    past = int((datetime.now(UTC) - timedelta(seconds=1)).timestamp() * 1000)
    await engine.redis.hset(keys(seed.auction_id)[0], "ends_ms", str(past))
    closed = await engine.slots.close(seed.auction_id)
    assert isinstance(closed, CloseApplied)
    model.end_by_time()
    outcome = decide(
        FinalState(
            type=AuctionType(seed.type),
            starting_price=100,
            reserve_price=seed.reserve_price,
            price=None,
            leader=None,
            sealed_bids=closed.event.sealed_bids or (),
        )
    )
    want_outcome = model.outcome()
    assert (outcome.winner, outcome.price) == (want_outcome.winner, want_outcome.price)


def test_a_moved_sequence_is_a_conflict_and_changes_nothing(engine: Engine) -> None:
    async def scenario() -> None:
        seed = _seed("ENGLISH", start=100)
        await engine.slots.create(seed)
        a, b = uuid.uuid4(), uuid.uuid4()
        await engine.slots.bid(seed.auction_id, a, 100, 500, None)
        await engine.slots.bid(seed.auction_id, b, 200, None, None)
        state_before = await engine.redis.hgetall(keys(seed.auction_id)[0])
        stale = await engine.slots.recompute(
            seed.auction_id,
            expected_sequence=1,
            reason="VOIDED",
            voided=[2],
            remaining=[ReplayBid(1, str(a), 100, 500)],
        )
        assert stale == RecomputeConflict(2)
        assert await engine.redis.hgetall(keys(seed.auction_id)[0]) == state_before

    engine.run(scenario())


def test_only_active_english_and_sealed_auctions_are_recomputed(engine: Engine) -> None:
    async def scenario() -> None:
        dutch = _seed("DUTCH", start=1000)
        dutch = SlotSeed(**{**_fields(dutch), "dutch_step": 10, "dutch_step_seconds": 60,
                            "dutch_floor": 100})  # fmt: skip
        await engine.slots.create(dutch)
        refused = await engine.slots.recompute(
            dutch.auction_id, expected_sequence=0, reason="VOIDED", voided=[], remaining=[]
        )
        assert refused == RecomputeRefused("AUCTION_NOT_ACTIVE")

        ended = _seed("ENGLISH", start=100)
        await engine.slots.create(ended)
        past = int((datetime.now(UTC) - timedelta(seconds=1)).timestamp() * 1000)
        await engine.redis.hset(keys(ended.auction_id)[0], "ends_ms", str(past))
        over = await engine.slots.recompute(
            ended.auction_id, expected_sequence=0, reason="VOIDED", voided=[], remaining=[]
        )
        assert over == AlreadyOver("ENDED")
        await engine.slots.close(ended.auction_id)
        assert await engine.slots.recompute(
            ended.auction_id, expected_sequence=1, reason="VOIDED", voided=[], remaining=[]
        ) == AlreadyOver("ENDED")

    engine.run(scenario())


def _fields(seed: SlotSeed) -> dict[str, Any]:
    return {name: getattr(seed, name) for name in SlotSeed.__slots__}


def test_the_bids_voided_event_round_trips(engine: Engine) -> None:
    """The script's raw BIDS_VOIDED (stream entry and answer) parses and writes back
    unchanged, and its bus form leaves out the state before."""

    async def scenario() -> None:
        seed = _seed("ENGLISH", start=100)
        await engine.slots.create(seed)
        a, b = uuid.uuid4(), uuid.uuid4()
        await engine.slots.bid(seed.auction_id, a, 100, 500, None)
        await engine.slots.bid(seed.auction_id, b, 600, None, None)
        for voided, remaining in (([2], [ReplayBid(1, str(a), 100, 500)]), ([1], [])):
            (live,) = await engine.slots.live([seed.auction_id])
            assert live is not None
            await engine.slots.recompute(
                seed.auction_id,
                expected_sequence=live.sequence,
                reason="RETRACTED",
                voided=voided,
                remaining=remaining,
            )
        entries = await engine.redis.xrange(keys(seed.auction_id)[1])
        raws = [orjson.loads(fields["e"]) for _, fields in entries][2:]
        for raw in raws:
            assert raw_event(parse_event(raw)) == lua_empty_as_list(raw), raw
            public = public_event(parse_event(raw), str(seed.auction_id), sealed=False)
            assert "before" not in public and public["voided"] == raw["voided"]
        first, second = (parse_event(r) for r in raws)
        assert isinstance(first, BidsVoided) and isinstance(second, BidsVoided)
        assert (first.price, first.leader, first.bid_count) == (100, str(a), 1)
        assert first.before == PriorState(600, str(b), 2)
        assert (second.price, second.leader, second.bid_count, second.ignored) == (
            None,
            None,
            0,
            (),
        )

    engine.run(scenario())
