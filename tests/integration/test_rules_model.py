"""SPEC §4 exactness: random bid sequences through the real Lua scripts vs a reference model.

Each hypothesis example creates a fresh auction slot in a real (embedded Valkey) server,
replays random bids (four bidders plus the seller, amounts around the current price,
equal ceilings, proxy maxima, buy-now attempts, idempotency-key retries) and compares
every result with `tests.model.reference`: accepted or rejected, reason, minimum next bid,
price, leader, leading, sequence numbers (gapless) and bid count; then it closes the slot
and compares the outcome `domain.outcome.decide` computes (as the persister does) with the
model's. A last deterministic test covers soft close.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from domain.enums import AuctionOutcome, AuctionType
from domain.events import BidAccepted, Ended
from domain.outcome import FinalState, decide
from domain.slot_results import AlreadyOver, BidApplied, BidRefused, BidResult, CloseApplied
from realtime.slots import AuctionSlots, SlotSeed, keys
from tests.model.reference import (
    REASONS,
    Dutch,
    English,
    Idempotency,
    Outcome,
    Sealed,
    Step,
    inc,
)

EXAMPLES = 60
MAX_STEPS = 25
T = TypeVar("T")
# What the examples exercised, per auction type (printed with `pytest -s`).
STATS: defaultdict[str, Counter[str]] = defaultdict(Counter)
Model = English | Dutch | Sealed


@dataclass
class Engine:
    runner: asyncio.Runner
    redis: Any
    slots: AuctionSlots

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    async def now_ms(self) -> int:
        sec, usec = await self.redis.time()
        return int(sec) * 1000 + int(usec) // 1000


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("valkey-rules"), free_port(), appendfsync="no")
    server.start()
    # A loop of our own: hypothesis drives synchronous test functions, each example runs
    # its coroutine here (the client's connections belong to this loop).
    runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)  # leaves the global loop be
    try:
        client = aioredis.from_url(server.url, decode_responses=True)
        yield Engine(runner, client, AuctionSlots(client))
        runner.run(client.aclose())
    finally:
        runner.close()
        server.stop()


def _seed(
    auction_type: str,
    seller: str,
    *,
    start: int,
    reserve: int | None = None,
    buy_now: int | None = None,
    ends_in: timedelta = timedelta(days=1),
    active_ago: timedelta = timedelta(seconds=1),
    hard_in: timedelta | None = None,
    window: int | None = None,
    extension: int | None = None,
    dutch: tuple[int, int, int] | None = None,  # step, step seconds, floor
) -> SlotSeed:
    now = datetime.now(UTC)
    return SlotSeed(
        auction_id=uuid.uuid4(),
        type=auction_type,
        currency="USD",
        seller_id=uuid.UUID(seller),
        starting_price=start,
        reserve_price=reserve,
        buy_now_price=buy_now,
        starts_at=now - active_ago,
        ends_at=now + ends_in,
        hard_close_at=None if hard_in is None else now + hard_in,
        soft_close_window_seconds=window,
        soft_close_extension_seconds=extension,
        dutch_step=dutch[0] if dutch else None,
        dutch_step_seconds=dutch[1] if dutch else None,
        dutch_floor=dutch[2] if dutch else None,
        activated_at=now - active_ago,
    )


@dataclass
class Case:
    """One example: the live slot, its model, and what has been sent so far."""

    engine: Engine
    data: Any
    seed: SlotSeed
    model: Model
    bidders: list[str]
    idem: Idempotency = field(default_factory=Idempotency)
    sent: dict[tuple[str, str], BidResult] = field(default_factory=dict)  # first results
    keys_made: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def seller(self) -> str:
        return str(self.seed.seller_id)

    def draw(self, strategy: st.SearchStrategy[T], label: str) -> T:
        return self.data.draw(strategy, label=label)  # type: ignore[no-any-return]

    def who(self) -> str:
        leader = self.model.public_leader() if isinstance(self.model, English) else None
        pool = self.bidders * 3 + [self.seller] + ([leader] * 3 if leader else [])
        return self.draw(st.sampled_from(pool), "bidder")

    async def send(
        self,
        bidder: str,
        amount: int,
        ceiling: int | None,
        kind: str,
        decide_model: Callable[[int], Step],
    ) -> None:
        """One request (fresh, keyed or a retry) through the engine and the model."""
        retry = bool(self.sent) and self.draw(st.integers(0, 9), "retry?") == 0
        key: str | None
        if retry:
            bidder, key = self.draw(st.sampled_from(sorted(self.sent)), "retry of")
        elif self.draw(st.booleans(), "keyed?"):
            self.keys_made += 1
            key = f"k{self.keys_made}"
        else:
            key = None
        before = await self.engine.now_ms()
        res = await self.engine.slots.bid(
            self.seed.auction_id, uuid.UUID(bidder), amount, ceiling, key, kind
        )
        self.log.append(f"{kind} {bidder[:4]} {amount} max={ceiling} key={key} -> {res}")
        step = self.idem.apply(bidder, key, lambda: decide_model(before))
        STATS[self.seed.type][
            f"{'retry ' if retry else ''}{kind}: "
            + (f"accepted leading={res.leading}" if isinstance(res, BidApplied) else refused(res))
        ] += 1
        if retry:
            assert key is not None
            # A retry returns the first result and never places a second bid.
            assert res == self.sent[(bidder, key)], self.log
        else:
            if key is not None:
                self.sent[(bidder, key)] = res
            check_step(res, step, self.model, self.log)
            if isinstance(res, BidApplied) and isinstance(self.model, Dutch):
                assert self.model.price_at(res.at_ms) == step.price, self.log
            if isinstance(res, BidApplied):
                assert isinstance(res.events[0], BidAccepted), self.log
                first = res.bid
                assert first.bidder == bidder, self.log
                # The recorded bid: the amount sent (Dutch: the price it won at) and the
                # ceiling (the amount when no maxAmount was given).
                sent = step.price if isinstance(self.model, Dutch) or kind == "buynow" else amount
                assert first.amount == sent, self.log
                if isinstance(self.model, English) and kind == "bid":
                    assert first.max_amount == (amount if ceiling is None else ceiling)
        await self.check_state()

    async def check_state(self) -> None:
        """The slot's public state equals the model's (rejections change nothing)."""
        (live,) = await self.engine.slots.live([self.seed.auction_id])
        assert live is not None
        m = self.model
        got = (live.status, live.price, str(live.leader_id or "") or None, live.bid_count,
               live.sequence)  # fmt: skip
        want = ("ENDED" if m.ended else "ACTIVE", m.public_price(), m.public_leader(), m.bids,
                m.seq)  # fmt: skip
        assert got == want, self.log


def refused(res: BidResult) -> str:
    assert isinstance(res, BidRefused), res
    return res.reason


def check_step(res: BidResult, step: Step, model: Model, log: list[str]) -> None:
    if step.accepted:
        assert isinstance(res, BidApplied), log
        assert res.sequence == step.seq, log
        seqs = [e.sequence for e in res.events]
        assert step.seq is not None
        assert seqs == list(range(step.seq, step.seq + step.events)), log
        assert res.price == step.price, log
        assert res.leader == step.leader, log
        if step.leading is not None:
            assert res.leading is step.leading, log
        assert res.bid_count == model.bids, log
        assert (res.status == "ENDED") == step.ended, log
    else:
        assert isinstance(res, BidRefused), log
        if step.reason is None:
            assert res.reason in REASONS, log
        else:
            assert res.reason == step.reason, log
        if step.minimum is not None:
            assert res.minimum == step.minimum, log
        assert res.sequence == model.seq, log


async def finish(case: Case) -> None:
    """Close the slot (moving its end into the past) and compare the outcome."""
    engine, model, auction_id = case.engine, case.model, case.seed.auction_id
    if not model.ended:
        past = await engine.now_ms() - 1000
        await engine.redis.hset(keys(auction_id)[0], "ends_ms", str(past))
        closed = await engine.slots.close(auction_id)
        assert isinstance(closed, CloseApplied), (closed, case.log)
        assert closed.event.sequence == model.end_by_time(), case.log
    again = await engine.slots.close(auction_id)  # closing is idempotent
    assert isinstance(again, AlreadyOver) and again.sequence == model.seq, (again, case.log)
    await case.check_state()

    events = await engine.slots.events_since(auction_id, 0)
    assert [e.sequence for e in events] == list(range(1, model.seq + 1)), case.log
    assert sum(isinstance(e, BidAccepted) for e in events) == model.bids, case.log
    (ended,) = [e for e in events if isinstance(e, Ended)]
    assert ended.sequence == events[-1].sequence, case.log

    # The outcome exactly as realtime/event_records.py `_end` computes it.
    final = FinalState(
        type=AuctionType(case.seed.type),
        starting_price=case.seed.starting_price,
        reserve_price=case.seed.reserve_price,
        price=ended.price,
        leader=ended.leader,
        sealed_bids=ended.sealed_bids or (),
    )
    if isinstance(model, Sealed):
        assert {b.bidder: (b.amount, b.sequence) for b in final.sealed_bids} == model.live
    got = decide(final)
    STATS[case.seed.type][f"outcome {got.result.value}"] += 1
    want = model.outcome()
    assert (got.result is AuctionOutcome.SOLD, got.winner, got.price) == (
        want.sold,
        want.winner,
        want.price,
    ), (final, case.log)

    # Nothing is accepted after the end.
    late = await engine.slots.bid(auction_id, uuid.UUID(case.bidders[0]), 10**9, None, None)
    assert isinstance(late, BidRefused) and late.reason == "AUCTION_ENDED", late


def _at_any_time(decide_now: Callable[[], Step]) -> Callable[[int], Step]:
    """A model transition that does not depend on the clock (English, sealed)."""

    def at(_now_ms: int) -> Step:
        return decide_now()

    return at


def _around(case: Case, anchors: list[int]) -> int:
    base = case.draw(st.sampled_from(anchors), "anchor")
    spread = max(1, inc(max(base, 0)))
    jitter = case.draw(
        st.sampled_from([0, 0, 0, 1, -1]) | st.integers(-3 * spread, 6 * spread), "jitter"
    )
    return max(1, base + jitter)


def _people() -> tuple[str, list[str]]:
    return str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]


PRICES = st.one_of(
    st.integers(1, 120),
    st.integers(1, 3_000),
    st.sampled_from([1, 5, 99, 100, 499, 500, 2_499, 2_500, 9_999, 10_000, 24_999, 25_000,
                     49_999, 50_000, 99_999, 100_000, 249_999, 250_000, 499_999, 500_000]),
    st.integers(1, 2_000_000),
)  # fmt: skip


def run_property(
    engine: Engine, kind: str, case_fn: Callable[[Engine, Any], Coroutine[Any, Any, None]]
) -> int:
    """Runs `case_fn` for EXAMPLES hypothesis examples; returns how many ran."""
    count = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def prop(data: Any) -> None:
        nonlocal count
        count += 1
        engine.run(case_fn(engine, data))

    prop()
    assert count >= EXAMPLES
    print(f"\n{kind}: {count} examples, {dict(STATS[kind].most_common())}")
    return count


# --------------------------------------------------------------------------- English


async def english_case(engine: Engine, data: Any) -> None:
    start = data.draw(PRICES, label="start")
    reserve = data.draw(st.none() | st.integers(start, start * 4 + 200), label="reserve")
    floor = max(start, reserve or 0)
    buy_now = data.draw(st.none() | st.integers(floor + 1, floor * 3 + 500), label="buy now")
    seller, bidders = _people()
    seed = _seed("ENGLISH", seller, start=start, reserve=reserve, buy_now=buy_now)
    assert await engine.slots.create(seed)
    model = English(seller=seller, start=start, reserve=reserve, buy_now=buy_now)
    case = Case(engine, data, seed, model, bidders)
    for _ in range(data.draw(st.integers(0, MAX_STEPS), label="steps")):
        bidder = case.who()
        if data.draw(st.integers(0, 19), label="buy now?") == 0:
            await case.send(bidder, 0, None, "buynow", _at_any_time(partial(model.buy, bidder)))
            continue
        m, low = model.ceiling, model.minimum_next_bid()
        anchors = [low, model.start]
        if m is not None:
            anchors += [m, m, m + 1, m + inc(m), (low + m) // 2]
        if reserve is not None:
            anchors += [reserve]
        amount = _around(case, anchors)
        ceiling: int | None = data.draw(
            st.one_of(
                st.none(),
                st.just(amount),
                st.sampled_from([c for c in (model.ceiling, reserve) if c] or [amount]),
                st.integers(amount, amount + 8 * inc(amount)),
                st.integers(amount, amount + 60 * inc(amount)),  # room for outbid-at-once
            ),
            label="max",
        )
        if m is not None and low <= m and data.draw(st.integers(0, 3), label="underbid?") == 0:
            # A valid bid whose ceiling does not beat M (or ties it): recorded, not leading.
            bidder = data.draw(st.sampled_from(bidders), label="underbidder")
            amount = data.draw(st.integers(low, m), label="under amount")
            ceiling = data.draw(st.none() | st.just(m) | st.integers(amount, m), label="under max")
        if ceiling is not None and ceiling < amount:
            ceiling = None  # maxAmount < amount is INVALID_AMOUNT before the engine
        await case.send(
            bidder,
            amount,
            ceiling,
            "bid",
            _at_any_time(partial(model.bid, bidder, amount, ceiling)),
        )
    await finish(case)


def test_english_matches_model(engine: Engine) -> None:
    run_property(engine, "ENGLISH", english_case)


# --------------------------------------------------------------------------- Dutch


async def dutch_case(engine: Engine, data: Any) -> None:
    start = data.draw(st.integers(2, 2_000_000), label="start")
    floor = data.draw(st.integers(0, start - 1), label="floor")
    step = data.draw(st.integers(1, start - floor), label="step")
    step_seconds = data.draw(st.sampled_from([60, 90, 600, 3_600]), label="step seconds")
    steps_done = data.draw(st.integers(0, 40), label="steps elapsed")
    # Mid-interval, so the price cannot move during the example.
    ago = timedelta(seconds=steps_done * step_seconds + step_seconds / 2)
    seller, bidders = _people()
    seed = _seed("DUTCH", seller, start=start, active_ago=ago,
                 dutch=(step, step_seconds, floor))  # fmt: skip
    assert await engine.slots.create(seed)
    active_ms = int(await engine.redis.hget(keys(seed.auction_id)[0], "active_ms"))
    model = Dutch(seller=seller, start=start, step=step, step_ms=step_seconds * 1000,
                  floor=floor, active_ms=active_ms)  # fmt: skip
    case = Case(engine, data, seed, model, bidders)
    for _ in range(data.draw(st.integers(0, 12), label="steps")):
        bidder = case.who()
        if data.draw(st.integers(0, 9), label="buy now?") == 0:
            await case.send(bidder, 0, None, "buynow", partial(model.buy, bidder))
            continue
        price = model.price_at(await engine.now_ms())
        amount = _around(case, [price, price - 1, price + 1, floor, start, price - step])
        await case.send(bidder, amount, None, "bid", partial(model.bid, bidder, amount))
    await finish(case)


def test_dutch_matches_model(engine: Engine) -> None:
    run_property(engine, "DUTCH", dutch_case)


# --------------------------------------------------------------------------- sealed


async def sealed_case(engine: Engine, data: Any, *, second_price: bool) -> None:
    start = data.draw(PRICES, label="start")
    reserve = data.draw(st.none() | st.integers(start, start * 3 + 100), label="reserve")
    seller, bidders = _people()
    kind = "SEALED_SECOND_PRICE" if second_price else "SEALED_FIRST_PRICE"
    seed = _seed(kind, seller, start=start, reserve=reserve)
    assert await engine.slots.create(seed)
    model = Sealed(seller=seller, start=start, reserve=reserve, second_price=second_price)
    case = Case(engine, data, seed, model, bidders)
    for _ in range(data.draw(st.integers(0, MAX_STEPS), label="steps")):
        bidder = case.who()
        if data.draw(st.integers(0, 14), label="buy now?") == 0:
            await case.send(bidder, 0, None, "buynow", _at_any_time(partial(model.buy, bidder)))
            continue
        anchors = [start, start + 1] + [a for a, _ in model.live.values()]  # ties
        if reserve is not None:
            anchors += [reserve]
        amount = _around(case, anchors)
        await case.send(
            bidder, amount, None, "bid", _at_any_time(partial(model.bid, bidder, amount))
        )
    await finish(case)


async def first_price_case(engine: Engine, data: Any) -> None:
    await sealed_case(engine, data, second_price=False)


async def second_price_case(engine: Engine, data: Any) -> None:
    await sealed_case(engine, data, second_price=True)


def test_sealed_first_price_matches_model(engine: Engine) -> None:
    run_property(engine, "SEALED_FIRST_PRICE", first_price_case)


def test_sealed_second_price_matches_model(engine: Engine) -> None:
    run_property(engine, "SEALED_SECOND_PRICE", second_price_case)


# --------------------------------------------------------------------------- fixed cases


def test_sealed_outcome_examples() -> None:
    """The model's own sealed outcome rules on hand-made cases (ties, reserve, lone bid)."""
    first = Sealed(seller="s", start=100, reserve=None)
    for bidder, amount in (("a", 300), ("b", 300), ("c", 200)):
        assert first.bid(bidder, amount).accepted
    first.end_by_time()
    assert first.outcome() == Outcome(True, "a", 300)
    vickrey = Sealed(seller="s", start=100, reserve=250, second_price=True)
    assert vickrey.bid("a", 400).accepted and vickrey.bid("b", 200).accepted
    vickrey.end_by_time()
    assert vickrey.outcome() == Outcome(True, "a", 250)  # max(200, reserve, start)
    lone = Sealed(seller="s", start=100, second_price=True)
    assert lone.bid("a", 900).accepted
    lone.end_by_time()
    assert lone.outcome() == Outcome(True, "a", 100)


# --------------------------------------------------------------------------- soft close


def test_soft_close(engine: Engine) -> None:
    engine.run(_soft_close(engine))


async def _soft_close(engine: Engine) -> None:
    slots, redis = engine.slots, engine.redis
    seller, (a, b, c, _) = _people()

    async def ends_of(seed: SlotSeed) -> int:
        return int(await redis.hget(keys(seed.auction_id)[0], "ends_ms"))

    async def bid(seed: SlotSeed, who: str, amount: int) -> BidResult:
        return await slots.bid(seed.auction_id, uuid.UUID(who), amount, None, None)

    async def accepted(seed: SlotSeed, who: str, amount: int) -> BidApplied:
        result = await bid(seed, who, amount)
        assert isinstance(result, BidApplied), result
        return result

    # Inside the window: end = max(end, bid time + extension), announced as EXTENDED.
    soft = _seed("ENGLISH", seller, start=100, ends_in=timedelta(seconds=10), window=60,
                 extension=30)  # fmt: skip
    await slots.create(soft)
    end0 = await ends_of(soft)
    r1 = await accepted(soft, a, 100)
    assert r1.sequence == 1
    at1 = r1.at_ms
    assert r1.ends_ms == max(end0, at1 + 30_000) == await ends_of(soft)
    assert [(e.sequence, e.kind) for e in r1.events] == [(1, "BID_ACCEPTED"), (2, "EXTENDED")]
    assert r1.events[1].ends_ms == at1 + 30_000
    # A rejected bid does not extend and changes nothing.
    end1 = await ends_of(soft)
    low = await bid(soft, b, 101)
    assert isinstance(low, BidRefused) and low.reason == "BID_TOO_LOW" and low.sequence == 2
    assert await ends_of(soft) == end1
    # The next accepted bid extends again from its own time.
    r2 = await accepted(soft, b, 200)
    at2 = r2.at_ms
    assert r2.sequence == 3
    assert r2.ends_ms == max(end1, at2 + 30_000) == await ends_of(soft)
    assert len(r2.events) == (2 if at2 + 30_000 > end1 else 1)

    # An extension shorter than the time left keeps the end: max(end, now + ext).
    short = _seed("ENGLISH", seller, start=100, ends_in=timedelta(seconds=20), window=60,
                  extension=5)  # fmt: skip
    await slots.create(short)
    end0 = await ends_of(short)
    r = await accepted(short, a, 100)
    assert r.ends_ms == end0 and len(r.events) == 1

    # The hard stop caps extensions; once reached, no further EXTENDED events.
    capped = _seed("ENGLISH", seller, start=100, ends_in=timedelta(seconds=10), window=60,
                   extension=30, hard_in=timedelta(seconds=15))  # fmt: skip
    await slots.create(capped)
    hard = int(await redis.hget(keys(capped.auction_id)[0], "hard_ms"))
    r = await accepted(capped, a, 100)
    assert r.ends_ms == hard == await ends_of(capped)
    assert [e.kind for e in r.events] == ["BID_ACCEPTED", "EXTENDED"]
    r = await accepted(capped, b, 200)
    assert r.ends_ms == hard and len(r.events) == 1

    # Outside the window: no extension.
    far = _seed("ENGLISH", seller, start=100, ends_in=timedelta(hours=1), window=60,
                extension=30)  # fmt: skip
    await slots.create(far)
    end0 = await ends_of(far)
    r = await accepted(far, a, 100)
    assert r.ends_ms == end0 and len(r.events) == 1

    # Soft close applies to English auctions only.
    for kind in ("SEALED_FIRST_PRICE", "SEALED_SECOND_PRICE"):
        sealed = _seed(kind, seller, start=100, ends_in=timedelta(seconds=10), window=60,
                       extension=30)  # fmt: skip
        await slots.create(sealed)
        end0 = await ends_of(sealed)
        r = await accepted(sealed, c, 500)
        assert r.ends_ms == end0 and len(r.events) == 1
