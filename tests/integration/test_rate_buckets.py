"""The token-bucket script on the real Redis: all-or-nothing, retry-after, backoff."""

from __future__ import annotations

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
    rate, key, streak = Rate(10, 10), name(), name()  # a burst of 10, one token a second
    waits = [await buckets.penalize(Charge(key, rate), streak, max_cost=8) for _ in range(6)]
    # costs 1, 2, 4 (7 tokens: within the burst), then 8 each (capped): 15, 23, 31 s taken
    assert waits[:3] == [0, 0, 0]
    assert 4 <= waits[3] <= 5
    assert 7.9 <= waits[4] - waits[3] <= 8.1
    assert 7.9 <= waits[5] - waits[4] <= 8.1
