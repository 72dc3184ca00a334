"""Trending scores in the real Redis (adapters/trending_redis.py): decay, re-base,
de-duplication, categories, recent views; and the same scripts on a Valkey cluster."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from adapters.trending_redis import RECENT_VIEWS_KEPT, RedisTrending
from devservers.cluster import EmbeddedCluster
from devservers.stack import StackUrls
from domain.discovery import TrendingPolicy, increment
from services.search.trending import ActivityRecorder
from storage.tables import Bid, User, Watch
from tests.helpers import live_english_auction

HALF_LIFE = 100.0
T0 = 1_700_000_000.0
FILM = ("cameras/film", "cameras")


def policy(**overrides: float) -> TrendingPolicy:
    values: dict[str, float] = {"half_life_seconds": HALF_LIFE, "view_dedupe_seconds": 60}
    values.update(overrides)
    return TrendingPolicy(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(stack: StackUrls) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(stack.redis_url, decode_responses=True)
    try:
        yield redis
    finally:
        await redis.aclose()


def store_on(client: object, **overrides: float) -> RedisTrending:
    # A prefix (and hash tag) of its own: the session's app shares this Redis.
    return RedisTrending(client, policy(**overrides), prefix=f"test:{{tr-{uuid.uuid4().hex}}}")


async def test_an_activity_one_half_life_older_counts_half(client):
    store = store_on(client)
    old, new = uuid.uuid4(), uuid.uuid4()
    assert await store.record(old, FILM, 1.0, T0)
    assert await store.record(new, FILM, 1.0, T0 + HALF_LIFE)
    scores = await store.scores(None, T0 + HALF_LIFE)
    assert scores[old] == pytest.approx(0.5) and scores[new] == pytest.approx(1.0)
    assert await store.top(None, 0, 10) == [new, old]
    # The script adds exactly the domain's increment (epoch: the first activity).
    raw = await client.zscore(store.key(None), str(new))
    assert raw == pytest.approx(increment(1.0, T0 + HALF_LIFE, T0, HALF_LIFE))


async def test_many_old_activities_lose_to_fewer_recent_ones(client):
    store = store_on(client)
    steady, burst = uuid.uuid4(), uuid.uuid4()
    for _ in range(7):
        await store.record(steady, FILM, 1.0, T0)
    for _ in range(2):
        await store.record(burst, FILM, 1.0, T0 + 3 * HALF_LIFE)  # 7/8 < 2
    assert await store.top("cameras", 0, 2) == [burst, steady]


async def test_a_rebase_keeps_order_and_decayed_scores(client):
    store = store_on(client, rebase_after=3)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store.record(a, FILM, 4.0, T0)
    await store.record(b, FILM, 1.0, T0 + HALF_LIFE)
    before = await store.scores(None, T0 + 2 * HALF_LIFE)
    # Five half-lives after the epoch: past `rebase_after`, so this re-bases first.
    await store.record(c, FILM, 1.0, T0 + 5 * HALF_LIFE)
    assert float(await client.get(store.epoch_key)) == T0 + 5 * HALF_LIFE
    after = await store.scores(None, T0 + 5 * HALF_LIFE)
    assert after[a] == pytest.approx(before[a] / 8)
    assert after[b] == pytest.approx(before[b] / 8)
    assert after[c] == pytest.approx(1.0)
    assert await store.top(None, 0, 3) == [c, a, b]
    assert (await store.scores("cameras/film", T0 + 5 * HALF_LIFE)) == pytest.approx(after)


async def test_concurrent_rebases_scale_once(client):
    store = store_on(client)
    a = uuid.uuid4()
    await store.record(a, FILM, 1.0, T0)
    await asyncio.gather(*(store.rebase(T0 + 2 * HALF_LIFE) for _ in range(5)))
    assert await client.zscore(store.key(None), str(a)) == pytest.approx(0.25)


async def test_a_repeated_view_within_the_window_counts_once(client):
    store = store_on(client)
    auction, viewer = uuid.uuid4(), uuid.uuid4()
    dedupe = f"view:{auction}:u:{viewer}"
    assert await store.record(auction, FILM, 1.0, T0, dedupe=dedupe)
    assert not await store.record(auction, FILM, 1.0, T0, dedupe=dedupe)
    assert await store.record(auction, FILM, 1.0, T0, dedupe=f"view:{auction}:u:other")
    assert (await store.scores(None, T0))[auction] == pytest.approx(2.0)


async def test_categories_cover_their_subtree_only(client):
    store = store_on(client)
    film, painting = uuid.uuid4(), uuid.uuid4()
    await store.record(film, FILM, 1.0, T0)
    await store.record(painting, ("art/paintings", "art"), 1.0, T0)
    assert await store.top("cameras", 0, 10) == [film]
    assert await store.top("cameras/film", 0, 10) == [film]
    assert await store.top("cameras/digital", 0, 10) == []
    assert set(await store.top(None, 0, 10)) == {film, painting}
    await store.forget([film], FILM)
    assert await store.top("cameras", 0, 10) == [] and await store.top(None, 0, 10) == [painting]


async def test_recent_views_newest_first_each_once_bounded(client):
    store = store_on(client)
    user = uuid.uuid4()
    auctions = [uuid.uuid4() for _ in range(RECENT_VIEWS_KEPT + 5)]
    for n, auction in enumerate(auctions):
        await store.record(auction, FILM, 1.0, T0, dedupe=f"v{n}", recent_of=user)
    await store.record(auctions[-3], FILM, 1.0, T0, dedupe="again", recent_of=user)
    recent = await store.recent_views(user, 100)
    assert len(recent) == RECENT_VIEWS_KEPT == len(set(recent))
    assert recent[:3] == [auctions[-3], auctions[-1], auctions[-2]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(tmp_path_factory.mktemp("trending-cluster")) as embedded:
        yield embedded


async def test_the_scripts_run_unchanged_on_a_cluster(cluster):
    """Every key of a store shares one hash tag: multi-key scripts stay in one slot."""
    client = RedisCluster.from_url(cluster.urls[0], decode_responses=True)
    try:
        store = store_on(client, rebase_after=1)
        a, b = uuid.uuid4(), uuid.uuid4()
        assert await store.record(a, FILM, 1.0, T0, dedupe="x", recent_of=b)
        assert await store.record(b, FILM, 1.0, T0 + 3 * HALF_LIFE)  # re-bases first
        assert await store.top("cameras", 0, 5) == [b, a]
        assert (await store.scores(None, T0 + 3 * HALF_LIFE))[a] == pytest.approx(0.125)
        await store.forget([a], FILM)
        assert await store.top(None, 0, 5) == [b]
        assert await store.recent_views(b, 5) == [a]
    finally:
        await client.aclose()


async def test_a_warm_start_rebuilds_bids_and_watches_from_postgresql_once(app):
    """A new or emptied Redis: the scores of the stored history's bids and watches,
    decayed to now, as if each had been recorded when it happened; only once."""
    deps = app.state.deps
    half_life = 3600.0
    store = RedisTrending(
        app.state.redis,
        TrendingPolicy(half_life_seconds=half_life, bid_weight=5, watch_weight=3),
        prefix=f"test:{{tr-{uuid.uuid4().hex}}}",
    )
    recorder = ActivityRecorder(store, deps)
    seller, bidder = new_user(), new_user()
    async with deps.uow() as uow:
        uow.session.add_all([seller, bidder])
        await uow.commit()
    auction = await live_english_auction(app, seller)
    now = datetime.now(UTC)
    async with deps.uow() as uow:
        for sequence, age in ((1, half_life), (2, 0.0)):
            uow.session.add(
                Bid(
                    auction_id=auction.id,
                    bidder_id=bidder.id,
                    sequence=sequence,
                    amount=100 * sequence,
                    currency="USD",
                    placed_at=now - timedelta(seconds=age),
                )
            )
        uow.session.add(Watch(user_id=bidder.id, auction_id=auction.id, created_at=now))
        await uow.commit()

    assert await recorder.warm_start() >= 1
    expected = 5 * (0.5 + 1) + 3
    at = datetime.now(UTC).timestamp()
    assert (await store.scores(None, at))[auction.id] == pytest.approx(expected, rel=1e-3)
    assert (await store.scores("collectibles", at))[auction.id] == pytest.approx(expected, rel=1e-3)
    assert await recorder.warm_start() == 0  # the scores exist: nothing counted twice
    assert (await store.scores(None, at))[auction.id] == pytest.approx(expected, rel=1e-3)


def new_user() -> User:
    name = f"t{uuid.uuid4().hex[:12]}"
    return User(username=name, email=f"{name}@example.com", password_hash="-")


async def test_an_unreachable_redis_never_fails_the_view_watch_or_persister(app, caplog):
    """Recording is best effort: the request (or the persister's pass) goes on."""
    deps = app.state.deps
    dead = aioredis.from_url("redis://127.0.0.1:1", decode_responses=True)
    recorder = ActivityRecorder(RedisTrending(dead, policy()), deps)
    seller, viewer = new_user(), new_user()
    async with deps.uow() as uow:
        uow.session.add_all([seller, viewer])
        await uow.commit()
    auction = await live_english_auction(app, seller)
    try:
        await recorder.viewed(auction, viewer, "203.0.113.9")
        await recorder.watched(auction, viewer)
        await recorder.bids_persisted({auction.id: 2}, set())
    finally:
        await dead.aclose()
    assert sum("not recorded" in r.getMessage() for r in caplog.records) == 3
