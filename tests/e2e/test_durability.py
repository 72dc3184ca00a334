"""SPEC section 4: "a bid whose acceptance the client saw is never lost: not on an app crash,
not on a Redis restart" and "if Redis loses an auction's slot, the slot is rebuilt from
PostgreSQL before the auction takes bids again".

The real server runs as a uvicorn subprocess. Twenty HTTP clients bid on one English
auction for several seconds; meanwhile the server is SIGKILLed and replaced on the same
port, and then Redis itself is killed and restarted from its AOF. Every client keeps an
unanswered bid's idempotency key and retries it until it gets an answer, so every bid it
was told is accepted is recorded. PostgreSQL must end up with each of them, gaplessly.

The session Redis of the test stack runs with `appendfsync everysec`; the storm switches it
to `always` (CONFIG SET) before the kill, as production runs it. The kill and restart
come last in the storm, and the test waits until Redis answers PING again.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from devservers.app_server import uvicorn_command
from devservers.ports import free_port
from devservers.redis import ping
from devservers.stack import StackUrls
from domain.pricing import increment
from realtime.slots import keys
from settings import Settings
from tests.helpers import BECOME_SELLER, BID, CREATE, PASSWORD, PUBLISH, REGISTER

ROOT = Path(__file__).resolve().parents[2]
BIDDERS = 20
PHASE_SECONDS = 2.5  # storm length before the app crash, after it, and after Redis restarts
ANSWER_WAIT = 30.0  # how long a client keeps retrying one unanswered bid
CATCH_UP = 20.0  # how long PostgreSQL may take to hold every acknowledged bid

pytestmark = pytest.mark.slow


class AppServer:
    """`uvicorn gavel_app:create_app --factory` on a fixed port, restartable after a kill."""

    def __init__(self, env: dict[str, str], port: int, log_dir: Path) -> None:
        self.env = env
        self.port = port
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = (self.log_dir / f"uvicorn-{self.starts}.log").open("ab")
        try:  # a log file, not a pipe: nobody reads a pipe and a full one blocks the server
            self.proc = subprocess.Popen(
                uvicorn_command("127.0.0.1", self.port, "--no-access-log"),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, as a crash: no lifespan shutdown, in-flight requests are cut."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_dir / f"uvicorn-{self.starts}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Gql:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body


@dataclass(frozen=True)
class User:
    id: str
    token: str


@dataclass(frozen=True)
class Ack:
    """One acceptance a client saw."""

    sequence: int
    amount: int  # minor units
    max_amount: int | None
    bidder: str
    key: str
    phase: str


@dataclass
class Storm:
    auction_id: str
    seller: User
    bidders: list[User]
    acks: list[Ack] = field(default_factory=list)
    rejections: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # GraphQL errors by phase
    slot_seq: int = 0


def minor(value: str) -> int:
    return int(Decimal(value) * 100)


def major(value: int) -> str:
    return str(Decimal(value).scaleb(-2))


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def register(gql: Gql, *, seller: bool = False) -> User:
    name = f"d{uuid.uuid4().hex[:10]}"
    body = await gql(
        REGISTER,
        {"input": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}},
    )
    data = body["data"]["register"]
    assert data["errors"] == [], data
    user = User(id=data["user"]["id"], token=data["accessToken"])
    if seller:
        result = await gql(BECOME_SELLER, token=user.token)
        assert result["data"]["becomeSeller"]["ok"], result
    return user


@pytest.fixture(scope="module")
def app_server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else "durable-" * 6
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": secret,  # the same secret for every process: tokens survive
        "GAVEL_DATA_DIR": str(settings.data_dir),
    }
    server = AppServer(env, free_port(), tmp_path_factory.mktemp("uvicorn"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def pg(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn(settings.database_url or ""))
    try:
        yield conn
    finally:
        await conn.close()


async def redis_hash(url: str, key: str) -> dict[str, str]:
    client = aioredis.from_url(url, decode_responses=True)
    try:
        value: dict[str, str] = await client.hgetall(key)  # type: ignore[assignment]
        return value
    finally:
        await client.aclose()


async def wait_redis(url: str, port: int) -> None:
    deadline = time.monotonic() + 30.0
    while not ping(port):
        assert time.monotonic() < deadline, "Redis did not answer PING after the restart"
        await asyncio.sleep(0.05)
    client = aioredis.from_url(url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()


async def answer(
    http: httpx.AsyncClient, token: str, variables: dict[str, Any], storm: Storm, phase: list[str]
) -> dict[str, Any] | None:
    """POST one bid until the server answers it (same idempotency key every time)."""
    deadline = time.monotonic() + ANSWER_WAIT
    while time.monotonic() < deadline:
        try:
            response = await http.post(
                "/graphql",
                json={"query": BID, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json()
            result: dict[str, Any] | None = (body.get("data") or {}).get("placeBid")
            if result is not None:
                return result
            storm.errors[phase[0]] = storm.errors.get(phase[0], 0) + 1
        except (httpx.HTTPError, ValueError):
            pass  # server killed / restarting, or a cut response: the outcome is unknown
        storm.retries += 1
        await asyncio.sleep(0.05)
    return None


async def bidder(
    index: int, user: User, storm: Storm, base: str, phase: list[str], stop: asyncio.Event
) -> None:
    rng = random.Random(index)
    next_min = 100
    attempt = 0
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as http:
        while not stop.is_set():
            attempt += 1
            amount = next_min + rng.randint(0, 3) * 5
            ceiling = amount + rng.randint(1, 8) * 25 if rng.random() < 0.3 else None
            key = f"storm-{index}-{attempt}"
            variables = {
                "id": storm.auction_id,
                "amount": major(amount),
                "max": None if ceiling is None else major(ceiling),
                "key": key,
            }
            started_in = phase[0]
            result = await answer(http, user.token, variables, storm, phase)
            if result is None:
                continue  # never answered: not acknowledged, nothing to check
            if result["__typename"] == "BidAccepted":
                bid = result["bid"]
                assert minor(bid["amount"]["amount"]) == amount, (result, variables)
                storm.acks.append(Ack(bid["sequence"], amount, ceiling, user.id, key, started_in))
                next_min = minor(result["auction"]["minimumNextBid"]["amount"])
            else:
                storm.rejections += 1
                assert result["reason"] == "BID_TOO_LOW", result
                next_min = minor(result["minimumNextBid"]["amount"])
            await asyncio.sleep(rng.random() * 0.02)


async def drop_stale_connections(app: FastAPI) -> None:
    """The in-process app of the other tests shares this Redis: after the kill its idle
    pooled connections are dead, and redis-py (no retry_on_error configured) would fail
    the next command on each of them once. Drop them so later tests start clean."""
    await app.state.redis.connection_pool.disconnect(inuse_connections=False)
    assert await app.state.redis.ping()


@pytest.fixture(scope="module")
async def storm(
    app_server: AppServer,
    stack: StackUrls,
    settings: Settings,
    pg: asyncpg.Connection,
    app: FastAPI,
) -> Storm:
    if stack.redis is None:
        pytest.skip("Redis is external (REDIS_URL); the storm needs to restart it")
    redis_server = stack.redis
    redis_url = settings.redis_url or ""
    async with httpx.AsyncClient(base_url=app_server.base, timeout=30.0) as http:
        gql = Gql(http)
        seller = await register(gql, seller=True)
        bidders = list(await asyncio.gather(*(register(gql) for _ in range(BIDDERS))))
        created = await gql(
            CREATE,
            {
                "input": {
                    "title": "Durability storm lot",
                    "description": "Bids survive crashes.",
                    "category": "home/tools",
                    "condition": "NEW",
                    "type": "ENGLISH",
                    "currency": "USD",
                    "startingPrice": "1.00",
                    "endsAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                }
            },
            token=seller.token,
        )
        auction_id = created["data"]["createAuction"]["auction"]["id"]
        published = await gql(PUBLISH, {"id": auction_id}, token=seller.token)
        assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published

    result = Storm(auction_id, seller, bidders)
    phase = ["before-app-crash"]
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(bidder(i, user, result, app_server.base, phase, stop))
        for i, user in enumerate(bidders)
    ]
    try:
        await asyncio.sleep(PHASE_SECONDS)
        phase[0] = "app-crash"
        app_server.kill()
        await asyncio.to_thread(app_server.start)
        phase[0] = "after-app-crash"
        await asyncio.sleep(PHASE_SECONDS)

        phase[0] = "redis-crash"
        control = aioredis.from_url(redis_url)
        try:
            await control.config_set("appendfsync", "always")
        finally:
            await control.aclose()
        redis_server.kill()  # SIGKILL: only what the AOF fsynced survives
        await asyncio.to_thread(redis_server.start)
        await wait_redis(redis_url, redis_server.port)
        await drop_stale_connections(app)
        phase[0] = "after-redis-crash"
        await asyncio.sleep(PHASE_SECONDS)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if redis_server.pid is None:  # failed between kill and start: later tests need it
            await asyncio.to_thread(redis_server.start)
    for task in tasks:
        task.result()  # a client's failed assertion fails the storm
    result.slot_seq = int((await redis_hash(redis_url, keys(auction_id)[0]))["seq"])
    per_phase = {
        p: sum(1 for a in result.acks if a.phase == p)
        for p in dict.fromkeys(a.phase for a in result.acks)
    }
    print(  # shown with -s / on failure: how hard the storm was
        f"storm: {len(result.acks)} acks {per_phase}, {result.rejections} rejections, "
        f"{result.retries} retries, GraphQL errors {result.errors}, slot seq {result.slot_seq}"
    )

    # PostgreSQL catches up: the new process reclaims what the killed one had read.
    deadline = time.monotonic() + CATCH_UP
    want = {a.sequence for a in result.acks}
    while True:
        rows = await pg.fetch(
            "SELECT sequence FROM auction_events WHERE auction_id = $1", uuid.UUID(auction_id)
        )
        have = {r["sequence"] for r in rows}
        if want <= have and result.slot_seq in have:
            break
        assert time.monotonic() < deadline, (
            f"PostgreSQL lacks acknowledged sequences {sorted(want - have)[:20]} "
            f"(slot seq {result.slot_seq}) after {CATCH_UP} s:\n{app_server.log_tail()}"
        )
        await asyncio.sleep(0.2)
    return result


async def test_every_acknowledged_bid_survives_app_and_redis_crashes(
    storm: Storm, pg: asyncpg.Connection
):
    acks = storm.acks
    phases = {a.phase for a in acks}
    # The storm really bid through every phase (else the crashes proved nothing).
    assert {"before-app-crash", "after-app-crash", "after-redis-crash"} <= phases, phases
    assert len(acks) >= 20, len(acks)

    # One acknowledged bid per sequence; a retried key names the same bid again.
    by_seq: dict[int, Ack] = {}
    for ack in acks:
        seen = by_seq.setdefault(ack.sequence, ack)
        assert seen == ack or seen.key == ack.key, (seen, ack)
    assert len({a.key for a in acks}) == len(by_seq)

    auction = uuid.UUID(storm.auction_id)
    bids = await pg.fetch(
        "SELECT sequence, amount, max_amount, bidder_id, idempotency_key FROM bids"
        " WHERE auction_id = $1 ORDER BY sequence",
        auction,
    )
    events = await pg.fetch(
        "SELECT sequence, kind FROM auction_events WHERE auction_id = $1 ORDER BY sequence",
        auction,
    )
    stored = {r["sequence"]: r for r in bids}
    for seq, ack in sorted(by_seq.items()):
        row = stored.get(seq)
        assert row is not None, f"acknowledged bid {ack} is not in PostgreSQL"
        assert (row["amount"], str(row["bidder_id"]), row["idempotency_key"]) == (
            ack.amount,
            ack.bidder,
            ack.key,
        ), (row, ack)
        assert row["max_amount"] == (ack.max_amount or ack.amount), (row, ack)

    n = storm.slot_seq
    sequences = [r["sequence"] for r in bids]
    assert sequences == list(range(1, n + 1)), "bids are not gapless 1..N / have duplicates"
    assert [r["sequence"] for r in events] == list(range(1, n + 1))
    assert {r["kind"] for r in events} == {"BID_ACCEPTED"}
    keys_stored = [(str(r["bidder_id"]), r["idempotency_key"]) for r in bids]
    assert len(set(keys_stored)) == len(keys_stored)  # no bid placed twice by a retry

    state = await pg.fetchrow(
        "SELECT last_sequence, bid_count, current_price, leader_id FROM auctions WHERE id = $1",
        auction,
    )
    assert state is not None
    assert (state["last_sequence"], state["bid_count"]) == (n, n)


async def test_a_lost_slot_is_rebuilt_and_continues_the_sequence(
    storm: Storm, app_server: AppServer, settings: Settings, pg: asyncpg.Connection
):
    redis_url = settings.redis_url or ""
    state_key = keys(storm.auction_id)[0]
    before = await redis_hash(redis_url, state_key)
    n = int(before["seq"])
    assert n == storm.slot_seq  # nothing moved since the storm: PostgreSQL has it all

    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.delete(*keys(storm.auction_id)) >= 2
    finally:
        await client.aclose()

    price, leader, ceiling = int(before["price"]), before["leader"], int(before["ceiling"])
    newcomer = next(u for u in storm.bidders if u.id != leader)
    amount = price + increment(price, "USD")
    async with httpx.AsyncClient(base_url=app_server.base, timeout=30.0) as http:
        body = await Gql(http)(
            BID,
            {"id": storm.auction_id, "amount": major(amount), "key": "after-rebuild"},
            token=newcomer.token,
        )
    result = body["data"]["placeBid"]
    assert result["__typename"] == "BidAccepted", result
    assert result["bid"]["sequence"] == n + 1

    rebuilt = await redis_hash(redis_url, state_key)
    for name in ("type", "status", "start", "ends_ms", "bids", "inc"):
        assert rebuilt[name] == before[name] or name == "bids", (name, rebuilt, before)
    assert int(rebuilt["bids"]) == int(before["bids"]) + 1
    assert int(rebuilt["seq"]) == n + 1

    # English proxy rules from the state before the loss: leader L with ceiling M at P.
    if amount > ceiling:
        expected_price, expected_leader = amount, newcomer.id
    else:
        expected_price, expected_leader = min(ceiling, amount + increment(amount, "USD")), leader
    auction = result["auction"]
    assert result["leading"] is (expected_leader == newcomer.id), (result, before)
    assert minor(auction["currentPrice"]["amount"]) == expected_price, (result, before)
    assert auction["leader"]["id"] == expected_leader, (result, before)
    assert int(rebuilt["price"]) == expected_price and rebuilt["leader"] == expected_leader
    assert int(rebuilt["ceiling"]) == max(ceiling, amount), (rebuilt, before)
    next_min = expected_price + increment(expected_price, "USD")
    assert minor(auction["minimumNextBid"]["amount"]) == next_min

    deadline = time.monotonic() + CATCH_UP
    while True:
        row = await pg.fetchrow(
            "SELECT amount, bidder_id FROM bids WHERE auction_id = $1 AND sequence = $2",
            uuid.UUID(storm.auction_id),
            n + 1,
        )
        if row is not None:
            break
        assert time.monotonic() < deadline, "the bid after the rebuild never reached PostgreSQL"
        await asyncio.sleep(0.2)
    assert (row["amount"], str(row["bidder_id"])) == (amount, newcomer.id)


async def test_an_idempotent_retry_after_a_slot_rebuild_returns_the_first_result(
    storm: Storm, app_server: AppServer, settings: Settings, pg: asyncpg.Connection
):
    """SPEC: "a retry with the same key returns the first result". The bids table keeps each
    bid's idempotency key, so a rebuilt slot can still recognise a retry."""
    last = max(storm.acks, key=lambda a: a.sequence)
    user = next(u for u in storm.bidders if u.id == last.bidder)
    auction = uuid.UUID(storm.auction_id)
    redis_url = settings.redis_url or ""
    slot_seq = int((await redis_hash(redis_url, keys(auction)[0]))["seq"])
    deadline = time.monotonic() + CATCH_UP
    while (
        await pg.fetchval("SELECT max(sequence) FROM auction_events WHERE auction_id = $1", auction)
        != slot_seq
    ):
        assert time.monotonic() < deadline, "PostgreSQL did not catch up"
        await asyncio.sleep(0.2)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await client.delete(*keys(auction))
    finally:
        await client.aclose()
    variables = {
        "id": storm.auction_id,
        "amount": major(last.amount),
        "max": None if last.max_amount is None else major(last.max_amount),
        "key": last.key,
    }
    async with httpx.AsyncClient(base_url=app_server.base, timeout=30.0) as http:
        body = await Gql(http)(BID, variables, token=user.token)
    result = body["data"]["placeBid"]
    assert result["__typename"] == "BidAccepted", (result, last)
    assert result["bid"]["sequence"] == last.sequence, (result, last)
    assert minor(result["bid"]["amount"]["amount"]) == last.amount
    count = await pg.fetchval("SELECT count(*) FROM bids WHERE auction_id = $1", auction)
    assert count == slot_seq  # and no second bid
