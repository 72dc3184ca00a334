"""The bidding scripts on a real Redis Cluster (SPEC section 4, "Redis-atomic auction slots").

Every auction's keys share the hash tag `{<auction id>}`, so each Lua script touches one
cluster slot and must run unchanged on a three-master Valkey cluster. The same scenario
(English with proxy bids and an idempotent retry, sealed, Dutch, a close, `live()` and
`events_since()`) runs through `AuctionSlots` on a single node and on the cluster; the
results must be identical, up to the wall-clock times the scripts stamp.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from devservers.cluster import EmbeddedCluster
from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from domain.events import BidAccepted, Ended, EventKind
from domain.slot_results import (
    MISSING,
    AlreadyOver,
    BidApplied,
    BidRefused,
    CancelApplied,
    CancelRefused,
    CloseApplied,
    ClosePending,
)
from realtime.slots import DUTCH_SET, ENDS_ZSET, LIVE_SET, AuctionSlots, SlotSeed, keys, ms

pytestmark = pytest.mark.slow

NS = uuid.UUID("0b7f1f9e-3c1e-4a55-8f4e-4c1f1b2a9d00")
SELLER = uuid.uuid5(NS, "seller")
A = uuid.uuid5(NS, "bidder-a")
B = uuid.uuid5(NS, "bidder-b")
C = uuid.uuid5(NS, "bidder-c")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster(tmp_path_factory.mktemp("cluster")) as embedded:
        yield embedded


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A private single node (not the session Redis, whose `gavel:live` the app drains)."""
    with EmbeddedRedis(tmp_path_factory.mktemp("single"), free_port()) as server:
        yield server


@pytest.fixture(scope="module")
async def cluster_client(cluster: EmbeddedCluster) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster.urls[0], decode_responses=True)
    await client.initialize()
    try:
        yield client
    finally:
        await client.aclose()


def seed(auction_id: uuid.UUID, type_: str, **overrides: Any) -> SlotSeed:
    fields: dict[str, Any] = {
        "auction_id": auction_id,
        "type": type_,
        "currency": "USD",
        "seller_id": SELLER,
        "starting_price": 1000,
        "reserve_price": None,
        "buy_now_price": None,
        "starts_at": NOW - timedelta(minutes=5),
        "ends_at": NOW + timedelta(days=2),
        "hard_close_at": None,
        "soft_close_window_seconds": None,
        "soft_close_extension_seconds": None,
        "dutch_step": None,
        "dutch_step_seconds": None,
        "dutch_floor": None,
        "activated_at": NOW - timedelta(minutes=5),
    }
    fields.update(overrides)
    return SlotSeed(**fields)


async def spread_ids(client: RedisCluster, count: int) -> list[uuid.UUID]:
    """Auction ids whose hash tags land on every master (CLUSTER KEYSLOT decides)."""
    by_node: dict[str, list[uuid.UUID]] = {}
    while sum(len(v) for v in by_node.values()) < count or len(by_node) < 3:
        candidate = uuid.uuid4()
        slot = await client.cluster_keyslot(keys(candidate)[0])
        node = client.get_node_from_key(keys(candidate)[0])
        assert node is not None
        assert slot == await client.cluster_keyslot(keys(candidate)[1])
        name = node.name
        if len(by_node.get(name, [])) < -(-count // 3):
            by_node.setdefault(name, []).append(candidate)
    ids: list[uuid.UUID] = []
    rows = list(by_node.values())
    while len(ids) < count:  # round-robin, so consecutive auctions sit on different nodes
        for row in rows:
            if row and len(ids) < count:
                ids.append(row.pop(0))
    return ids


def strip_times(value: Any) -> Any:
    """The scripts stamp `at` (Redis TIME); everything else must match between runs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: strip_times(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if "at_ms" in changes:
            changes["at_ms"] = 0
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return {k: strip_times(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(strip_times(v) for v in value)
    return value


async def scenario(client: Any, ids: list[uuid.UUID]) -> dict[str, Any]:
    """One run of every script kind; returns each step's raw result by name."""
    english, sealed, dutch, second, pending = ids
    slots = AuctionSlots(client)
    out: dict[str, Any] = {}
    out["create"] = [
        await slots.create(seed(english, "ENGLISH")),
        await slots.create(seed(sealed, "SEALED_FIRST_PRICE", starting_price=500)),
        await slots.create(
            seed(
                dutch,
                "DUTCH",
                starting_price=5000,
                dutch_step=100,
                dutch_step_seconds=3600,
                dutch_floor=1000,
            )
        ),
        await slots.create(seed(second, "SEALED_SECOND_PRICE", starting_price=100)),
        await slots.create(seed(pending, "ENGLISH", reserve_price=3000)),
    ]
    out["create_again"] = await slots.create(seed(english, "ENGLISH", starting_price=1))

    # English: first bid with a proxy ceiling and an idempotency key.
    out["e1"] = await slots.bid(english, A, 1000, 1500, "k-1")
    out["e_low"] = await slots.bid(english, B, 1000, None, None)
    out["e_proxy"] = await slots.bid(english, B, 1100, None, "k-b")  # A's ceiling answers
    out["e_retry"] = await slots.bid(english, A, 1000, 1500, "k-1")  # same key: same answer
    out["e_retry_other_bidder"] = await slots.bid(english, C, 1000, 1500, "k-1")
    out["e_outbid"] = await slots.bid(english, B, 1600, 2000, None)
    out["e_leader_low"] = await slots.bid(english, B, 1700, 1900, None)  # ceiling not raised
    out["e_under"] = await slots.bid(english, A, 1650, None, None)
    out["e_self"] = await slots.bid(english, SELLER, 5000, None, None)
    out["e_buynow"] = await slots.bid(english, A, 0, None, None, kind="buynow")

    # Reserve: a ceiling at the reserve lifts the price to it.
    out["r1"] = await slots.bid(pending, A, 1000, 4000, None)

    # Sealed first price.
    out["s1"] = await slots.bid(sealed, A, 600, None, None)
    out["s_same"] = await slots.bid(sealed, A, 600, None, None)
    out["s_low"] = await slots.bid(sealed, B, 400, None, None)
    out["s2"] = await slots.bid(sealed, B, 900, None, None)
    out["s_raise"] = await slots.bid(sealed, A, 950, None, "k-s")

    # Sealed second price, one bid.
    out["ss1"] = await slots.bid(second, C, 250, None, None)

    # Dutch: below the clock price, then the first acceptable bid wins it.
    out["d_low"] = await slots.bid(dutch, A, 4000, None, None)
    out["d_win"] = await slots.bid(dutch, B, 5000, None, None)
    out["d_late"] = await slots.bid(dutch, C, 6000, None, None)
    out["d_tick"] = await slots.tick(dutch)

    # Closing: not yet due, then due (end moved into the past), then idempotent.
    out["close_pending"] = await slots.close(pending)
    for auction in (english, sealed):
        await client.hset(keys(auction)[0], "ends_ms", ms(NOW - timedelta(days=1)))
    out["close_english"] = await slots.close(english)
    out["close_sealed"] = await slots.close(sealed)
    out["close_again"] = await slots.close(english)
    out["e_after_end"] = await slots.bid(english, C, 99_999, None, None)
    out["cancel_refused"] = await slots.cancel(second, "seller withdrew", only_before_bids=True)
    out["cancel_second"] = await slots.cancel(second, "admin", only_before_bids=False)
    out["cancel_again"] = await slots.cancel(second, "twice", only_before_bids=False)

    missing = uuid.uuid5(NS, "never-created")
    out["missing_bid"] = await slots.bid(missing, A, 100, None, None)
    out["missing_close"] = await slots.close(missing)
    out["live"] = await slots.live([english, sealed, dutch, second, pending, missing])
    names = ("english", "sealed", "dutch", "second", "pending")
    out["events"] = {
        name: await slots.events_since(auction, 0) for name, auction in zip(names, ids, strict=True)
    }
    out["events_after_2"] = await slots.events_since(english, 2)
    out["events_window"] = await slots.events_since(english, 1, count=2)
    out["globals"] = {
        "live": sorted(await client.smembers(LIVE_SET)),
        "ends": sorted(await client.zrange(ENDS_ZSET, 0, -1)),
        "dutch": sorted(await client.smembers(DUTCH_SET)),
    }
    await slots.forget([str(english), str(dutch)])
    out["globals_after_forget"] = {
        "ends": sorted(await client.zrange(ENDS_ZSET, 0, -1)),
        "dutch": sorted(await client.smembers(DUTCH_SET)),
    }
    return out


@pytest.fixture(scope="module")
async def auction_ids(cluster_client: RedisCluster) -> list[uuid.UUID]:
    return await spread_ids(cluster_client, 5)


@pytest.fixture(scope="module")
async def on_cluster(cluster_client: RedisCluster, auction_ids: list[uuid.UUID]) -> dict[str, Any]:
    return await scenario(cluster_client, auction_ids)


@pytest.fixture(scope="module")
async def on_single(single: EmbeddedRedis, auction_ids: list[uuid.UUID]) -> dict[str, Any]:
    client = aioredis.from_url(single.url, decode_responses=True)
    try:
        return await scenario(client, auction_ids)
    finally:
        await client.aclose()


async def test_auctions_are_spread_over_the_masters(
    cluster: EmbeddedCluster, cluster_client: RedisCluster, auction_ids: list[uuid.UUID]
):
    homes: dict[uuid.UUID, str] = {}
    for auction in auction_ids:
        slots = {await cluster_client.cluster_keyslot(key) for key in keys(auction)}
        assert len(slots) == 1, f"keys of {auction} span slots {slots}"
        node = cluster_client.get_node_from_key(keys(auction)[0])
        assert node is not None
        homes[auction] = node.name
    assert len(set(homes.values())) == 3, homes
    assert len({homes[a] for a in auction_ids[:2]}) == 2  # English and sealed differ


async def test_cluster_results_match_a_single_node(
    on_cluster: dict[str, Any], on_single: dict[str, Any]
):
    assert on_cluster.keys() == on_single.keys()
    for step in on_cluster:
        assert strip_times(on_cluster[step]) == strip_times(on_single[step]), step


def applied(result: Any) -> BidApplied:
    assert isinstance(result, BidApplied), result
    return result


def refused(result: Any) -> BidRefused:
    assert isinstance(result, BidRefused), result
    return result


async def test_english_proxy_and_idempotency_on_the_cluster(on_cluster: dict[str, Any]):
    r = on_cluster
    assert r["create"] == [True] * 5 and r["create_again"] is False
    e1 = applied(r["e1"])
    assert e1.sequence == 1 and e1.leading is True
    assert (e1.price, e1.leader) == (1000, str(A))
    assert r["e_low"] == BidRefused("BID_TOO_LOW", 1050, None, 1)
    proxy = applied(r["e_proxy"])
    assert proxy.leading is False and (proxy.sequence, proxy.price) == (2, 1150)
    assert proxy.leader == str(A)
    assert r["e_retry"] == e1  # byte-identical replay, no new event
    assert refused(r["e_retry_other_bidder"]).reason == "BID_TOO_LOW"  # keys are per bidder
    outbid = applied(r["e_outbid"])
    assert outbid.sequence == 3 and (outbid.price, outbid.leader) == (1600, str(B))
    leader_low = refused(r["e_leader_low"])
    assert leader_low.detail == "CEILING_NOT_RAISED" and leader_low.minimum == 2001
    under = applied(r["e_under"])
    assert under.leading is False and (under.sequence, under.price) == (4, 1700)
    assert refused(r["e_self"]).reason == "SELF_BIDDING"
    assert refused(r["e_buynow"]).detail == "NO_BUY_NOW"
    r1 = applied(r["r1"])
    assert (r1.price, r1.leader) == (3000, str(A))


async def test_sealed_dutch_and_close_on_the_cluster(on_cluster: dict[str, Any]):
    r = on_cluster
    s1 = applied(r["s1"])
    assert s1.leading is False and s1.sequence == 1
    same = refused(r["s_same"])
    assert same.detail == "NOT_ABOVE_OWN_BID" and same.minimum == 601
    low = refused(r["s_low"])
    assert low.reason == "BID_TOO_LOW" and low.minimum == 500
    assert applied(r["s2"]).sequence == 2 and applied(r["s_raise"]).sequence == 3
    assert r["d_low"] == BidRefused("BID_TOO_LOW", 5000, None, 0)
    d_win = applied(r["d_win"])
    assert d_win.status == "ENDED" and d_win.price == 5000
    assert [e.kind for e in d_win.events] == [EventKind.BID_ACCEPTED, EventKind.ENDED]
    assert refused(r["d_late"]).reason == "AUCTION_ENDED" and r["d_tick"] is None
    assert isinstance(r["close_pending"], ClosePending)
    ended = r["close_english"]
    assert isinstance(ended, CloseApplied) and ended.event.sequence == 5
    assert (ended.event.price, ended.event.leader) == (1700, str(B))
    sealed_close = r["close_sealed"]
    assert isinstance(sealed_close, CloseApplied)
    assert sealed_close.event.sealed_bids is not None
    bids = sorted((b.bidder, b.amount, b.sequence) for b in sealed_close.event.sealed_bids)
    assert bids == sorted([(str(A), 950, 3), (str(B), 900, 2)])
    assert r["close_again"] == AlreadyOver("ENDED", sequence=5)
    assert refused(r["e_after_end"]).reason == "AUCTION_ENDED"
    assert r["cancel_refused"] == CancelRefused("ACTIVE", 1)
    assert isinstance(r["cancel_second"], CancelApplied)
    assert isinstance(r["cancel_again"], AlreadyOver)
    assert r["missing_bid"] is MISSING and r["missing_close"] is MISSING


async def test_live_and_events_on_the_cluster(
    on_cluster: dict[str, Any], auction_ids: list[uuid.UUID]
):
    r = on_cluster
    _english, sealed, dutch, second, pending = auction_ids
    live = r["live"]
    assert live[-1] is None and all(state is not None for state in live[:-1])
    e, s, d, ss, p = live[:5]
    assert (e.status, e.price, e.leader_id, e.bid_count, e.sequence) == ("ENDED", 1700, B, 4, 5)
    assert (s.status, s.sequence, s.bid_count) == ("ENDED", 4, 3)
    assert (d.status, d.winner_id, d.final_price, d.sequence) == ("ENDED", B, 5000, 2)
    assert (ss.status, ss.sequence) == ("CANCELLED", 2)
    assert (p.status, p.price, p.leader_id, p.sequence) == ("ACTIVE", 3000, A, 1)
    english_events = r["events"]["english"]
    assert [ev.sequence for ev in english_events] == [1, 2, 3, 4, 5]
    assert [type(ev) for ev in english_events] == [BidAccepted] * 4 + [Ended]
    assert english_events[2].outbid == str(A) and english_events[0].idempotency_key == "k-1"
    assert [ev.sequence for ev in r["events_after_2"]] == [3, 4, 5]
    assert [ev.sequence for ev in r["events_window"]] == [2, 3]
    assert [ev.sequence for ev in r["events"]["sealed"]] == [1, 2, 3, 4]
    assert [ev.kind for ev in r["events"]["second"]] == ["BID_ACCEPTED", "CANCELLED"]
    members = sorted(str(a) for a in auction_ids)
    assert r["globals"] == {"live": members, "ends": members, "dutch": [str(dutch)]}
    assert r["globals_after_forget"] == {
        "ends": sorted(str(a) for a in (sealed, second, pending)),
        "dutch": [],
    }


async def test_keys_live_on_the_node_that_owns_their_slot(
    cluster: EmbeddedCluster, on_cluster: dict[str, Any], auction_ids: list[uuid.UUID]
):
    """Ask each master directly (no cluster routing): the slot lives whole on its owner."""
    clients = [aioredis.from_url(url, decode_responses=True) for url in cluster.urls]
    try:
        for auction in auction_ids:
            slot = await clients[0].execute_command("CLUSTER", "KEYSLOT", keys(auction)[0])
            held = [
                set(await c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)) for c in clients
            ]
            owners = [i for i, found in enumerate(held) if found]
            assert len(owners) == 1, (auction, held)
            # Besides the slot's keys, the request keys of recent accepted bids (60 s).
            found = {k for k in held[owners[0]] if not k.startswith(f"gavel:{{{auction}}}:req:")}
            assert set(keys(auction)[:2]) <= found <= set(keys(auction)), found
            owner = clients[owners[0]]
            assert await owner.xinfo_groups(keys(auction)[1]) != []  # the persister's group
    finally:
        for c in clients:
            await c.aclose()


async def test_scripts_reload_after_script_flush_on_every_node(
    cluster: EmbeddedCluster, cluster_client: RedisCluster, on_cluster: dict[str, Any]
):
    """EVALSHA on a node that lost its script cache must SCRIPT LOAD again (NOSCRIPT)."""
    for url in cluster.urls:
        node = aioredis.from_url(url)
        try:
            await node.script_flush()
        finally:
            await node.aclose()
    slots = AuctionSlots(cluster_client)
    fresh = await spread_ids(cluster_client, 3)
    for auction in fresh:
        assert await slots.create(seed(auction, "ENGLISH")) is True
        assert applied(await slots.bid(auction, A, 1000, None, None)).sequence == 1
    # And once more with a cache flushed after the Script objects learned their SHAs.
    for url in cluster.urls:
        node = aioredis.from_url(url)
        try:
            await node.script_flush()
        finally:
            await node.aclose()
    for auction in fresh:
        result = applied(await slots.bid(auction, B, 1050, None, None))
        assert result.sequence == 2 and result.leader == str(B)


async def test_slots_survive_a_cluster_restart(
    cluster: EmbeddedCluster,
    on_cluster: dict[str, Any],
    auction_ids: list[uuid.UUID],
):
    """AOF + nodes.conf: a stopped and restarted cluster keeps every slot and its stream."""
    before = on_cluster["events"]["english"]
    cluster.stop()
    cluster.start()
    client = RedisCluster.from_url(cluster.urls[0], decode_responses=True)
    try:
        await client.initialize()
        slots = AuctionSlots(client)
        assert strip_times(await slots.events_since(auction_ids[0], 0)) == strip_times(before)
        pending = auction_ids[4]
        result = applied(await slots.bid(pending, B, 3100, None, None))
        assert result.sequence == 2 and result.leading is False
    finally:
        await client.aclose()
