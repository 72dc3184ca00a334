"""The token-bucket script on the real Redis: all-or-nothing, retry-after, backoff."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from adapters.rate_limits import KEY_PREFIX, Charge, Rate, RedisBuckets
from devservers.stack import StackUrls


@pytest.fixture
async def buckets(stack: StackUrls) -> AsyncIterator[RedisBuckets]:
    client = aioredis.from_url(stack.redis_url, decode_responses=True)
    try:
        yield RedisBuckets(client)
    finally:
        await client.aclose()


def name() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_a_burst_then_a_wait_of_one_interval(buckets):
    rate, key = Rate(3, 30), name()
    for _ in range(3):
        assert await buckets.charge([Charge(key, rate)]) == 0
    wait = await buckets.charge([Charge(key, rate)])
    assert 9 < wait <= 10  # one token comes back every 30/3 s


async def test_a_refusal_by_one_bucket_charges_none(buckets):
    roomy, full = name(), name()
    assert await buckets.charge([Charge(full, Rate(1, 60))]) == 0
    before = await buckets.redis.get(KEY_PREFIX + roomy)
    wait = await buckets.charge([Charge(roomy, Rate(5, 60)), Charge(full, Rate(1, 60))])
    assert wait > 0
    assert await buckets.redis.get(KEY_PREFIX + roomy) == before is None
    # the roomy bucket still has its whole burst
    for _ in range(5):
        assert await buckets.charge([Charge(roomy, Rate(5, 60))]) == 0


async def test_consecutive_failures_cost_more_each_time(buckets):
    """Burst 10, one token per 0.1 s; penalties 1, 2, 4, 4, ... (capped at 4), paid on
    admission. Refusals charge nothing; the wait after an admission is at most
    (1 + max) intervals however long the streak."""
    rate, key, streak = Rate(10, 1), name(), name()
    penalties: list[int] = []
    waits: list[float] = []
    while len(penalties) < 6:
        wait, penalty, _ = await buckets.attempt(streak, Charge(key, rate), [], max_penalty=4)
        if wait:
            assert penalty == 0
            waits.append(wait)
            await asyncio.sleep(wait)
        else:
            penalties.append(penalty)
    assert penalties == [1, 2, 4, 4, 4, 4]
    assert waits and max(waits) <= (1 + 4) * 0.1 + 0.01, waits
    assert waits[-1] >= 0.3, waits  # the capped penalty keeps the pace slow
    assert int(await buckets.redis.get(KEY_PREFIX + streak)) == 6


async def test_an_attempt_that_did_not_fail_gives_its_penalty_back(buckets):
    rate, key, streak = Rate(10, 100), name(), name()  # ten tokens, one per 10 s
    pair, other = Charge(key, rate), Charge(name(), Rate(1, 100))

    async def streak_now() -> int:
        return int(await buckets.redis.get(KEY_PREFIX + streak) or 0)

    assert await buckets.attempt(streak, pair, [], max_penalty=8) == (0, 1, -1)  # 2 used
    assert await buckets.attempt(streak, pair, [], max_penalty=8) == (0, 2, -1)  # 5 used
    assert await buckets.attempt(streak, pair, [other], max_penalty=8) == (0, 4, -1)  # 10 used
    # All-or-nothing: the emptied other bucket refuses; the streak does not move.
    wait, penalty, by = await buckets.attempt(streak, pair, [other], max_penalty=8)
    assert wait > 0 and penalty == 0 and by == 1 and await streak_now() == 3
    await buckets.settle(streak, pair, 4, reset=False, max_penalty=8)  # neither failed nor passed
    assert await streak_now() == 2  # 6 used
    assert await buckets.attempt(streak, pair, [], max_penalty=8) == (0, 4, -1)  # 11 used
    # A success: its own penalty (4) back, and the backoff cleared, i.e. the penalties of
    # the two failures still in the streak (1 + 2) back too: 4 used (the four attempts'
    # own tokens), streak forgotten.
    await buckets.settle(streak, pair, 4, reset=True, max_penalty=8)
    assert await streak_now() == 0
    assert await buckets.charge([Charge(key, rate, cost=6)]) == 0
    assert await buckets.charge([Charge(key, rate)]) > 0
