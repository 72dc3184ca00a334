"""SPEC section 4: "closing is atomic and idempotent even with several app processes running".

Two real app servers (`uvicorn gavel_app:create_app --factory`), both running the
scheduler and the persister, share one PostgreSQL database and one Redis (both private to
this module, so no other app process takes part). Short auctions of every closing path run
at once: an English one with proxy bids, an English one whose end a late bid pushes back
(soft close), a Vickrey, a Dutch that nobody buys (both tickers step its price) and a Dutch
that a bid ends before its time. Bidders alternate between the two servers.

Afterwards each auction must have ended exactly once: one ENDED event, last, in a gapless
event log (Redis stream and PostgreSQL agree), no bid twice, the outcome stored once
(one winner/seller notification) and right, both servers' `auction(id)` answering the same
ENDED state, the agenda keys empty, and neither server having logged a traceback.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from devservers.app_server import app_server
from devservers.ports import free_port
from devservers.redis import EmbeddedRedis
from devservers.stack import StackUrls
from realtime.slots import DUTCH_SET, ENDS_ZSET, LIVE_SET, keys
from tests.conftest import GQL, create_database, migrate
from tests.helpers import BID, PUBLISH, Account, create_auction, iso, register

pytestmark = pytest.mark.slow

AUCTION = """query($id: ID!) { auction(id: $id) {
  status outcome bidCount endsAt currentPrice { amount } finalPrice { amount } winner { id }
} }"""
SETTLE = 15.0  # how long the auctions may take to end and reach PostgreSQL


@dataclass(frozen=True)
class Servers:
    bases: list[str]
    logs: list[Path]
    database_url: str
    redis_url: str


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(
        tmp_path_factory.mktemp("two-redis"), free_port(), appendfsync="no"
    ) as server:
        yield server


@pytest.fixture(scope="module")
async def own_database(stack: StackUrls) -> str:
    url = await create_database(stack.database_url, f"gavel_two_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    return url


@pytest.fixture(scope="module")
def servers(
    own_redis: EmbeddedRedis, own_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("two-apps")
    env = {
        "DATABASE_URL": own_database,
        "REDIS_URL": own_redis.url,
        "GAVEL_JWT_SECRET": secrets.token_urlsafe(48),  # shared: a token works on both
        "GAVEL_DATA_DIR": str(folder),
        "GAVEL_MIN_AUCTION_SECONDS": "2",
        "GAVEL_RUN_SCHEDULER": "true",
    }
    logs = [folder / f"app-{i}.log" for i in range(2)]
    with ExitStack() as running:
        # Started side by side: each start-up takes seconds of import time.
        with ThreadPoolExecutor(2) as pool:
            starting = [
                pool.submit(running.enter_context, app_server(env, log_file=log)) for log in logs
            ]
        bases = [future.result() for future in starting]
        yield Servers(bases, logs, own_database, own_redis.url)


@dataclass
class Expected:
    """What one auction must end as, and which bids it must hold."""

    auction_id: str
    outcome: str
    winner: str | None
    price: str | None  # major units, as the API shows it
    bids: list[tuple[str, int]] = field(default_factory=list)  # (bidder, minor amount)
    extended_to: datetime | None = None  # the end a late bid set (soft close)


@dataclass
class Run:
    seller: Account
    english: Expected
    extended: Expected
    vickrey: Expected
    dutch_unsold: Expected
    dutch_bought: Expected

    @property
    def all(self) -> list[Expected]:
        return [
            self.english,
            self.extended,
            self.vickrey,
            self.dutch_unsold,
            self.dutch_bought,
        ]


def minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


class Apps:
    """GraphQL on both servers; `on(i)` alternates between them."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self.gql = [GQL(client) for client in clients]

    def on(self, index: int) -> GQL:
        return self.gql[index % len(self.gql)]

    async def bid(
        self,
        index: int,
        who: Account,
        auction_id: str,
        amount: str,
        max_amount: str | None = None,
    ) -> dict[str, Any]:
        body = await self.on(index)(
            BID, {"id": auction_id, "amount": amount, "max": max_amount}, token=who.token
        )
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["placeBid"]
        assert result["__typename"] == "BidAccepted", (result, auction_id, amount)
        return result

    async def live(self, index: int, seller: Account, **listing: Any) -> str:
        gql = self.on(index)
        created = await create_auction(gql, seller, **listing)
        published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
        assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
        return str(created["id"])

    async def state(self, index: int, auction_id: str) -> dict[str, Any]:
        body = await self.on(index)(AUCTION, {"id": auction_id})
        assert "errors" not in body, body
        found: dict[str, Any] = body["data"]["auction"]
        return found


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def scenario(apps: Apps) -> Run:
    seller = await register(apps.on(0), seller=True)
    a, b, c = [await register(apps.on(i)) for i in range(3)]
    no_soft_close = {"softCloseWindowSeconds": 0, "softCloseExtensionSeconds": 0}
    english = await apps.live(
        0, seller, startingPrice="10", endsAt=iso(timedelta(seconds=3.5)), **no_soft_close
    )
    extended = await apps.live(
        1,
        seller,
        startingPrice="10",
        endsAt=iso(timedelta(seconds=4)),
        softCloseWindowSeconds=2,
        softCloseExtensionSeconds=3,
    )
    vickrey = await apps.live(
        0, seller, type="SEALED_SECOND_PRICE", startingPrice="5", endsAt=iso(timedelta(seconds=3.5))
    )
    dutch = {"type": "DUTCH", "startingPrice": "100", "dutchStep": "10", "dutchStepSeconds": 1}
    dutch_unsold = await apps.live(
        1, seller, dutchFloor="50", endsAt=iso(timedelta(seconds=3.5)), **dutch
    )
    dutch_bought = await apps.live(
        0, seller, dutchFloor="50", endsAt=iso(timedelta(seconds=10)), **dutch
    )

    # English with proxy bids: b ends up leading on a ceiling of 50 at 35 + 1.
    first_end = (await apps.state(1, extended))["endsAt"]
    early = await apps.bid(1, a, extended, "10")  # outside the 2 s window: no extension
    assert early["auction"]["endsAt"] == first_end, (early, first_end)
    await apps.bid(0, a, english, "10", "30")
    assert not (await apps.bid(1, b, english, "15"))["leading"]
    assert (await apps.bid(0, b, english, "20", "50"))["leading"]
    assert (await apps.bid(1, a, english, "35"))["auction"]["currentPrice"]["amount"] == "36.00"
    await apps.bid(0, a, vickrey, "20")
    await apps.bid(1, b, vickrey, "25")
    await apps.bid(0, c, vickrey, "22")

    # The Dutch one is bought after its price stepped at least once.
    await asyncio.sleep(1.2)
    bought = await apps.bid(1, b, dutch_bought, "100")
    assert bought["auction"]["status"] == "ENDED", bought
    dutch_price = bought["bid"]["amount"]["amount"]
    assert minor(dutch_price) < 10_000, bought

    # A late bid inside the soft-close window pushes the end back.
    deadline = parse_time(first_end)
    await asyncio.sleep((deadline - datetime.now(deadline.tzinfo)).total_seconds() - 1.2)
    late = await apps.bid(0, c, extended, "12")
    assert late["leading"] is True
    extended_to = parse_time(late["auction"]["endsAt"])
    assert extended_to > deadline, (late, first_end)

    return Run(
        seller=seller,
        english=Expected(
            english,
            "SOLD",
            b.id,
            "36.00",
            [(a.id, 1000), (b.id, 1500), (b.id, 2000), (a.id, 3500)],
        ),
        extended=Expected(
            extended, "SOLD", c.id, "12.00", [(a.id, 1000), (c.id, 1200)], extended_to=extended_to
        ),
        vickrey=Expected(
            vickrey, "SOLD", b.id, "22.00", [(a.id, 2000), (b.id, 2500), (c.id, 2200)]
        ),
        dutch_unsold=Expected(dutch_unsold, "UNSOLD", None, None),
        dutch_bought=Expected(
            dutch_bought, "SOLD", b.id, dutch_price, [(b.id, minor(dutch_price))]
        ),
    )


async def wait_until_stored(pg: asyncpg.Connection, run: Run) -> None:
    ids = [uuid.UUID(e.auction_id) for e in run.all]
    deadline = time.monotonic() + SETTLE
    while True:
        ended = await pg.fetchval(
            "SELECT count(*) FROM auctions WHERE id = ANY($1) AND status = 'ENDED'", ids
        )
        if ended == len(ids):
            return
        assert time.monotonic() < deadline, f"only {ended} of {len(ids)} auctions stored as ENDED"
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def pg(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(servers.database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def redis(servers: Servers) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(servers.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
async def run(servers: Servers, pg: asyncpg.Connection) -> Run:
    async with (
        httpx.AsyncClient(base_url=servers.bases[0], timeout=10) as first,
        httpx.AsyncClient(base_url=servers.bases[1], timeout=10) as second,
    ):
        result = await scenario(Apps([first, second]))
    await wait_until_stored(pg, result)
    return result


async def test_each_auction_ended_exactly_once(
    run: Run, pg: asyncpg.Connection, redis: aioredis.Redis
):
    for expected in run.all:
        auction = uuid.UUID(expected.auction_id)
        rows = await pg.fetch(
            "SELECT sequence, kind, payload FROM auction_events WHERE auction_id = $1"
            " ORDER BY sequence",
            auction,
        )
        kinds = [r["kind"] for r in rows]
        assert [r["sequence"] for r in rows] == list(range(1, len(rows) + 1)), kinds
        assert kinds.count("ENDED") == 1 and kinds[-1] == "ENDED", (expected, kinds)
        # The stream is where the close script wrote: one ENDED there too, same log.
        entries: Any = await redis.xrange(keys(auction)[1])
        stream = [orjson.loads(fields["e"]) for _, fields in entries]
        assert [(e["seq"], e["kind"]) for e in stream] == [(r["sequence"], r["kind"]) for r in rows]

        bids = await pg.fetch(
            "SELECT sequence, bidder_id, amount FROM bids WHERE auction_id = $1 ORDER BY sequence",
            auction,
        )
        assert [r["sequence"] for r in bids] == [
            r["sequence"] for r in rows if r["kind"] == "BID_ACCEPTED"
        ]
        assert [(str(r["bidder_id"]), r["amount"]) for r in bids] == expected.bids, expected

        if expected.extended_to is not None:
            assert kinds == ["BID_ACCEPTED", "BID_ACCEPTED", "EXTENDED", "ENDED"]
            ended_ms = int(orjson.loads(rows[-1]["payload"])["at"])
            assert ended_ms >= int(expected.extended_to.timestamp() * 1000), (rows, expected)

    steps = await pg.fetch(
        "SELECT payload FROM auction_events WHERE auction_id = $1 AND kind = 'PRICE_STEP'"
        " ORDER BY sequence",
        uuid.UUID(run.dutch_unsold.auction_id),
    )
    prices = [int(orjson.loads(s["payload"])["dutch_price"]) for s in steps]
    # Both tickers ran; each step was published once, so prices strictly fall.
    assert prices and prices == sorted(set(prices), reverse=True), prices
    assert all(p % 1000 == 0 and 5000 <= p < 10_000 for p in prices), prices


async def test_outcomes_are_stored_once_and_right(run: Run, pg: asyncpg.Connection):
    for expected in run.all:
        auction = uuid.UUID(expected.auction_id)
        row = await pg.fetchrow(
            "SELECT status, outcome, winner_id, final_price, last_sequence, bid_count, ended_at"
            " FROM auctions WHERE id = $1",
            auction,
        )
        assert row is not None
        assert (row["status"], row["outcome"]) == ("ENDED", expected.outcome), (row, expected)
        assert (str(row["winner_id"]) if row["winner_id"] else None) == expected.winner
        price = None if expected.price is None else minor(expected.price)
        assert row["final_price"] == price, (row, expected)
        assert row["bid_count"] == len(expected.bids)
        last = await pg.fetchval(
            "SELECT max(sequence) FROM auction_events WHERE auction_id = $1", auction
        )
        assert row["last_sequence"] == last
        if expected.extended_to is not None:
            assert row["ended_at"] >= expected.extended_to

        notes = await pg.fetch(
            "SELECT user_id, kind FROM notifications WHERE auction_id = $1"
            " AND kind IN ('AUCTION_WON', 'AUCTION_SOLD', 'AUCTION_UNSOLD')",
            auction,
        )
        got = sorted((str(n["user_id"]), n["kind"]) for n in notes)
        if expected.winner is None:
            assert got == [(run.seller.id, "AUCTION_UNSOLD")]
        else:
            assert got == sorted(
                [(expected.winner, "AUCTION_WON"), (run.seller.id, "AUCTION_SOLD")]
            ), expected


async def test_notifications_are_created_once_and_numbered_without_gaps(
    run: Run, pg: asyncpg.Connection
):
    """Both processes persist and close: each OUTBID once per displacing bid event,
    AUCTION_LOST once per other bidder, and every user's sequence 1..n with the counter
    at n."""
    for expected in run.all:
        auction = uuid.UUID(expected.auction_id)
        events = await pg.fetch(
            "SELECT payload FROM auction_events WHERE auction_id = $1 AND kind = 'BID_ACCEPTED'",
            auction,
        )
        outbid = sorted(
            p["outbid"] for e in events if (p := orjson.loads(e["payload"])).get("outbid")
        )
        notes = await pg.fetch(
            "SELECT user_id, kind FROM notifications WHERE auction_id = $1", auction
        )
        assert sorted(str(n["user_id"]) for n in notes if n["kind"] == "OUTBID") == outbid
        losers = sorted({bidder for bidder, _ in expected.bids} - {expected.winner or ""})
        lost = sorted(str(n["user_id"]) for n in notes if n["kind"] == "AUCTION_LOST")
        assert lost == losers, expected
    gaps = await pg.fetch(
        "SELECT n.user_id, count(*) AS n, min(n.seq) AS lo, max(n.seq) AS hi, c.last_seq"
        " FROM notifications n JOIN notification_counters c USING (user_id)"
        " GROUP BY n.user_id, c.last_seq"
        " HAVING min(n.seq) <> 1 OR max(n.seq) <> count(*) OR c.last_seq <> count(*)"
    )
    assert gaps == []


async def test_both_processes_agree(
    run: Run, servers: Servers, redis: aioredis.Redis, pg: asyncpg.Connection
):
    answers: list[list[dict[str, Any]]] = []
    for base in servers.bases:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            gql = GQL(client)
            answers.append(
                [(await gql(AUCTION, {"id": e.auction_id}))["data"]["auction"] for e in run.all]
            )
    assert answers[0] == answers[1]
    for expected, state in zip(run.all, answers[0], strict=True):
        assert (state["status"], state["outcome"]) == ("ENDED", expected.outcome), state
        final = state["finalPrice"]["amount"] if state["finalPrice"] else None
        assert final == expected.price, (state, expected)
        assert (state["winner"]["id"] if state["winner"] else None) == expected.winner

    # Every finished auction left the closer's, ticker's and persister's agendas (one that
    # a racing reconcile put back is taken off by the next reclaiming sweep, every 5 s).
    deadline = time.monotonic() + 8
    while True:
        agenda = (
            await redis.smembers(LIVE_SET),
            await redis.zrange(ENDS_ZSET, 0, -1),
            await redis.smembers(DUTCH_SET),
        )
        if not any(agenda):
            break
        assert time.monotonic() < deadline, agenda
        await asyncio.sleep(0.1)

    for log in servers.logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"{log}:\n{text[-4000:]}"


# Last: its auction stays live, which the agenda check above would see.
async def test_a_notification_caused_on_one_process_arrives_live_on_the_other(
    servers: Servers,
):
    from tests.e2e.test_notifications_live import NOTES, _note
    from tests.e2e.test_subscriptions import TRANSPORT_WS, socket

    async with (
        httpx.AsyncClient(base_url=servers.bases[0], timeout=10) as first,
        httpx.AsyncClient(base_url=servers.bases[1], timeout=10) as second,
    ):
        apps = Apps([first, second])
        seller = await register(apps.on(0), seller=True)
        alice, bob = await register(apps.on(0)), await register(apps.on(1))
        auction_id = await apps.live(0, seller, startingPrice="10")
        auth = {"authorization": f"Bearer {alice.token}"}
        async with socket(servers.bases[0], TRANSPORT_WS, auth) as sock:
            await sock.subscribe("n", NOTES, {"since": 0})
            await apps.bid(0, alice, auction_id, "10")
            await apps.bid(1, bob, auction_id, "20")  # persisted by either process
            note = await _note(sock, "n")
            assert (note["kind"], note["sequence"]) == ("OUTBID", 1)
            await sock.assert_quiet()
