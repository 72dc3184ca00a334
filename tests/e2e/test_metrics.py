"""GET /metrics of the real app (uvicorn in its own process, real PostgreSQL and Redis):
the series move as bids are placed and subscriptions open, close and receive events.
Several workers in multiprocess mode add up to one consistent scrape."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from devservers.app_server import app_server, uvicorn_command
from devservers.ports import free_port
from settings import Settings
from tests.conftest import GQL
from tests.e2e.test_subscriptions import SUBSCRIBE, TRANSPORT_WS, live_auction, socket
from tests.helpers import Account, register

ROOT = Path(__file__).resolve().parents[2]

NAMED_BID = """
mutation MetricsBid($id: ID!, $amount: Decimal!) {
  placeBid(auctionId: $id, amount: $amount) {
    __typename ... on BidRejected { reason }
  }
}"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def env_for(settings: Settings, secret: str) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": secret + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_RATE_LIMITS": "false",
    }


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    with app_server(env_for(settings, "e2e-metrics-")) as base:
        yield base


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as c:
        yield c


async def place(gql: GQL, bidder: Account, auction_id: str, amount: str) -> dict[str, Any]:
    body = await gql(NAMED_BID, {"id": auction_id, "amount": amount}, token=bidder.token)
    result: dict[str, Any] = body["data"]["placeBid"]
    return result


async def until(client: httpx.AsyncClient, check: Any, wait: float = 10.0) -> Samples:
    """Scrapes until `check(samples)` holds (background work: the persister)."""
    deadline = time.monotonic() + wait
    while True:
        samples = await scrape(client)
        if check(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.1)


async def test_scrape_follows_bids_subscriptions_and_background_work(server, client):
    gql = GQL(client)
    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction_id = await live_auction(gql, seller)
    before = await scrape(client)

    async with socket(server, TRANSPORT_WS) as sock:
        await sock.subscribe("1", SUBSCRIBE, {"id": auction_id})
        opened = await until(client, lambda s: value(s, "gavel_subscriptions_open") >= 1)
        assert value(opened, "gavel_websockets_open") >= 1
        assert value(opened, "gavel_subscriptions_open") >= 1

        assert (await place(gql, alice, auction_id, "100"))["__typename"] == "BidAccepted"
        assert (await place(gql, bob, auction_id, "150"))["__typename"] == "BidAccepted"
        low = await place(gql, alice, auction_id, "1")
        assert low == {"__typename": "BidRejected", "reason": "BID_TOO_LOW"}
        assert [(await sock.event("1"))["sequence"] for _ in range(2)] == [1, 2]

        after = await until(
            client,
            lambda s: (
                value(s, "gavel_persister_batch_events_sum")
                >= value(before, "gavel_persister_batch_events_sum") + 2
            ),
        )

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("gavel_bid_seconds_count", outcome="accepted") == 2
    assert moved("gavel_bid_seconds_count", outcome="rejected") == 1
    assert moved("gavel_bid_seconds_count", outcome="error") == 0
    assert moved("gavel_bids_accepted_total") == 2
    assert moved("gavel_bids_rejected_total", reason="BID_TOO_LOW") == 1
    assert moved("gavel_bids_rejected_total", reason="SELF_BIDDING") == 0
    assert moved("gavel_events_delivered_total") == 2
    assert moved("gavel_persister_batch_events_sum") == 2
    assert (
        moved("gavel_graphql_request_seconds_count", operation="MetricsBid", type="mutation") == 3
    )
    # Every rejection code of the catalogue is a series from the start.
    assert ("gavel_bids_rejected_total", frozenset({("reason", "FRAUD_HOLD")})) in before
    assert value(after, "gavel_bid_seconds_bucket", outcome="accepted", le="+Inf") >= 2
    # Read from Redis at scrape time (the Redis other tests share: their values are
    # tests/integration/test_lag.py's to check).
    assert value(after, "gavel_lag_scrape_success") == 1
    assert value(after, "gavel_outbox_auctions_read") >= 1
    for name in (
        "gavel_outbox_pending_events",
        "gavel_outbox_oldest_pending_seconds",
        "gavel_closer_overdue_auctions",
        "gavel_closer_lag_seconds",
    ):
        assert after[(name, frozenset())] >= 0, name

    # The socket closed: its connection and subscription leave the gauges.
    closed = await until(client, lambda s: value(s, "gavel_websockets_open") == 0)
    assert value(closed, "gavel_websockets_open") == 0
    assert value(closed, "gavel_subscriptions_open") == 0


async def test_server_sent_event_streams_are_counted_while_open(server, client):
    gql = GQL(client)
    seller = await register(gql, seller=True)
    auction_id = await live_auction(gql, seller)
    body = {"query": SUBSCRIBE, "variables": {"id": auction_id}}
    async with (
        httpx.AsyncClient(base_url=server, timeout=10) as streaming,
        streaming.stream(
            "POST", "/graphql", json=body, headers={"accept": "text/event-stream"}
        ) as response,
    ):
        assert response.status_code == 200
        opened = await until(client, lambda s: value(s, "gavel_subscriptions_open") >= 1)
        assert value(opened, "gavel_sse_streams_open") == 1
        assert value(opened, "gavel_subscriptions_open") == 1
    closed = await until(client, lambda s: value(s, "gavel_sse_streams_open") == 0)
    assert value(closed, "gavel_sse_streams_open") == 0
    assert value(closed, "gavel_subscriptions_open") == 0


async def test_the_scrape_names_no_user_auction_or_secret(server, client):
    gql = GQL(client)
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    auction_id = await live_auction(gql, seller)
    await place(gql, bidder, auction_id, "100")
    text = (await client.get("/metrics")).text
    for secret in (
        seller.username,
        seller.email,
        bidder.id,
        bidder.token,
        auction_id,
        "correct horse",
    ):
        assert secret not in text


async def test_random_operation_names_do_not_grow_the_series(server, client):
    gql = GQL(client)
    for i in range(260):
        await gql(f"query Random{i}x{os.urandom(4).hex()} {{ __typename }}")
    await gql("query " + "L" * 200 + " { __typename }")
    samples = await scrape(client)
    names = {
        dict(labels)["operation"]
        for name, labels in samples
        if name == "gavel_graphql_request_seconds_count"
    }
    assert len(names) <= 200 + 2  # the cap, "other", "anonymous"
    assert "other" in names
    assert "L" * 200 not in names


@pytest.fixture(scope="module")
def two_workers(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """uvicorn --workers 2 in multiprocess mode, as README "Metrics" runs it."""
    directory = tmp_path_factory.mktemp("prometheus")
    env = {
        **os.environ,
        **env_for(settings, "e2e-workers-"),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    port = free_port()
    proc = subprocess.Popen(
        uvicorn_command("127.0.0.1", port, "--workers", "2", env=env),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("the two workers did not start")
        yield base, directory
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def accepted_by_process(directory: Path) -> dict[str, float]:
    """Each process's own count of accepted bids, from its file in the directory."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        for key, count, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == "gavel_bids_accepted_total":
                counts[path.stem] = count
    return counts


async def test_two_workers_add_up_in_every_scrape(two_workers):
    base, directory = two_workers
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        gql = GQL(client)
        seller = await register(gql, seller=True)
        bidder = await register(gql)
        auction_id = await live_auction(gql, seller)
    amounts = range(100, 400, 10)
    # A fresh connection per request: the workers take turns accepting them.
    for amount in amounts:
        async with httpx.AsyncClient(base_url=base, timeout=10) as one:
            answer = await place(GQL(one), bidder, auction_id, str(amount))
            assert answer["__typename"] == "BidAccepted"
    by_process = accepted_by_process(directory)
    assert sum(by_process.values()) == len(amounts)
    assert len([c for c in by_process.values() if c]) == 2, by_process  # both bid
    for _ in range(6):  # whichever worker answers, the scrape is the sum
        async with httpx.AsyncClient(base_url=base, timeout=10) as one:
            assert value(await scrape(one), "gavel_bids_accepted_total") == len(amounts)
