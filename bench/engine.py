"""Engine-level bid throughput: the Redis slot vs a PostgreSQL row-lock engine.

    .venv/bin/python -m bench.engine [--seconds 10] [--clients 64] [--processes 2]

(a) bids through the domain use case straight to the Redis slot (no HTTP);
(b) the same English rule done without Redis: asyncpg, SELECT … FOR UPDATE on the auction
    row, insert the bid, update the row, commit;
(c) redis-benchmark EVALSHA of the bid script, the ceiling (needs Debian's redis-tools).
All on one hot auction, with embedded servers started here (AOF appendfsync always,
PostgreSQL with fsync on). Prints a table and writes bench/results/engine.json.

--processes N splits the bidders of (a) and (b) over N client OS processes (spawned, each
with its own uvloop event loop and its own Redis and PostgreSQL connections), released
together at one wall-clock start time; the parent merges their counts and latencies. With
--processes 1 the bidders run in this process, as before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import shutil
import subprocess
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import asyncpg
import redis.asyncio as aioredis
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlmodel import col, select

from bench.stats import Run, table
from devservers.stack import StackUrls, embedded_stack
from domain.pricing import increment
from gavel_app import build_deps
from realtime.persister import Persister
from realtime.scripts import source
from realtime.slot_seeding import seed_for
from realtime.slots import AuctionSlots, keys
from services import bidding
from settings import Settings
from storage.db import make_engine, make_session_factory
from storage.tables import Auction, Item, User
from storage.uow import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "bench-" + "x" * 40
# Awaited once a client's connections are set up; returns when the bidders are to start.
Ready = Callable[[], Awaitable[None]]


async def wait_for_start(ready: Ready | None) -> None:
    if ready is not None:
        await ready()


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


async def make_users(deps: Any, count: int) -> list[User]:
    digest = deps.hasher.hash_sync("bench-password")
    users = [
        User(
            username=f"b{uuid.uuid4().hex[:12]}",
            email=f"{uuid.uuid4().hex}@bench.test",
            password_hash=digest,
        )
        for _ in range(count)
    ]
    async with deps.uow() as uow:
        uow.session.add_all(users)
        await uow.commit()
    return users


async def make_auction(deps: Any, seller: User) -> Auction:
    now = datetime.now(UTC)
    item = Item(
        seller_id=seller.id,
        title="Benchmark lot",
        description="Hot auction.",
        category="collectibles",
        condition="NEW",
    )
    auction = Auction(
        item_id=item.id,
        seller_id=seller.id,
        type="ENGLISH",
        status="ACTIVE",
        currency="USD",
        starting_price=100,
        starts_at=now,
        activated_at=now,
        published_at=now,
        ends_at=now + timedelta(hours=2),
    )
    async with deps.uow() as uow:
        uow.session.add(item)
        await uow.session.flush()
        uow.session.add(auction)
        await uow.commit()
    return auction


async def make_live_auction(deps: Any, seller: User) -> Auction:
    """An active English auction with its Redis slot, as publishing would leave it."""
    auction = await make_auction(deps, seller)
    async with deps.uow() as uow:
        await deps.slots.create(await seed_for(uow, auction))
    return auction


async def prepare_live(
    urls: StackUrls, tmp: Path, secret: str, bidders: int, auctions: int
) -> dict[str, list[str]]:
    """Bidders' access tokens and live auctions for benchmarks that go through a server."""
    settings = Settings(
        DATABASE_URL=urls.database_url,
        REDIS_URL=urls.redis_url,
        GAVEL_JWT_SECRET=secret,
        GAVEL_DATA_DIR=tmp,
    )
    engine = make_engine(urls.database_url)
    redis = aioredis.from_url(urls.redis_url, decode_responses=True)
    deps = build_deps(
        settings,
        UnitOfWorkFactory(make_session_factory(engine)),
        AuctionSlots(redis),
        fast_hash=True,
    )
    seller, *users = await make_users(deps, bidders + 1)
    ids = [str((await make_live_auction(deps, seller)).id) for _ in range(auctions)]
    tokens = [deps.tokens.issue_access(u.id) for u in users]
    await redis.aclose()
    await engine.dispose()
    return {"tokens": tokens, "auctions": ids}


async def redis_engine(
    deps: Any,
    auction: Auction,
    bidders: list[User],
    seconds: float,
    *,
    first: int = 0,
    ready: Ready | None = None,
) -> Run:
    """`first`: the overall index of bidders[0] (its random seed); `ready`: see Ready."""
    run = Run("a) Redis slot (domain → Lua)")
    known = [auction.starting_price]
    await wait_for_start(ready)
    stop = time.perf_counter() + seconds

    async def worker(bidder: User, rng: random.Random) -> None:
        while time.perf_counter() < stop:
            price = known[0]
            # Most bids aim at the minimum, some race for it: a realistic mix of outcomes.
            amount = price + increment(price, "USD") * rng.randint(0, 3)
            t0 = time.perf_counter()
            result = await bidding.place_bid(
                deps, bidder, auction.id, Decimal(amount) / 100, None, None
            )
            run.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if isinstance(result, bidding.Accepted):
                run.accepted += 1
                known[0] = max(known[0], result.bid.amount)
            else:
                run.rejected += 1
                if result.minimum_next_bid:
                    known[0] = max(
                        known[0],
                        result.minimum_next_bid - increment(result.minimum_next_bid, "USD"),
                    )

    began = time.perf_counter()
    await asyncio.gather(*(worker(b, random.Random(first + i)) for i, b in enumerate(bidders)))
    run.seconds = time.perf_counter() - began
    return run


async def postgres_engine(
    dsn: str,
    auction: Auction,
    bidders: list[User],
    seconds: float,
    clients: int,
    *,
    first: int = 0,
    ready: Ready | None = None,
) -> Run:
    """One pooled connection per bidder; `first` and `ready` as in redis_engine."""
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)
    run = Run("b) PostgreSQL row lock")
    known = [auction.starting_price]
    await wait_for_start(ready)
    stop = time.perf_counter() + seconds

    async def attempt(bidder: User, amount: int) -> bool:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT current_price, last_sequence, bid_count FROM auctions"
                " WHERE id = $1 FOR UPDATE",
                auction.id,
            )
            price = row["current_price"]
            minimum = auction.starting_price if price is None else price + increment(price, "USD")
            if amount < minimum:
                known[0] = max(known[0], price or 0)
                return False
            sequence = row["last_sequence"] + 1
            await conn.execute(
                "INSERT INTO bids (id, auction_id, bidder_id, sequence, amount, currency,"
                " placed_at) VALUES ($1, $2, $3, $4, $5, 'USD', now())",
                uuid.uuid4(),
                auction.id,
                bidder.id,
                sequence,
                amount,
            )
            await conn.execute(
                "UPDATE auctions SET current_price = $2, leader_id = $3, last_sequence = $4,"
                " bid_count = bid_count + 1 WHERE id = $1",
                auction.id,
                amount,
                bidder.id,
                sequence,
            )
            known[0] = max(known[0], amount)
            return True

    async def worker(bidder: User, rng: random.Random) -> None:
        while time.perf_counter() < stop:
            price = known[0]
            amount = price + increment(price, "USD") * rng.randint(0, 3)
            t0 = time.perf_counter()
            ok = await attempt(bidder, amount)
            run.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if ok:
                run.accepted += 1
            else:
                run.rejected += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(b, random.Random(first + i)) for i, b in enumerate(bidders)))
    run.seconds = time.perf_counter() - began
    await pool.close()
    return run


Engine = Literal["redis", "postgres"]


@dataclass(frozen=True)
class Share:
    """One client process's part of a run: plain values, sent to a spawned child."""

    engine: Engine
    database_url: str
    redis_url: str
    data_dir: str
    auction_id: str
    bidder_ids: list[str]
    first: int  # overall index of the first bidder: the same random seeds as one process
    seconds: float


def client_process(share: Share, conn: Connection) -> None:
    """A spawned child: sends "ready", receives the start time, sends its counts back."""
    import uvloop

    try:
        result = uvloop.run(client_main(share, conn))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    else:
        conn.send(("done", result))
    finally:
        conn.close()


async def client_main(share: Share, conn: Connection) -> dict[str, Any]:
    began: list[float] = []

    async def ready() -> None:
        conn.send(("ready", None))
        start_at: float = await asyncio.to_thread(conn.recv)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began.append(time.time())

    engine = make_engine(share.database_url, pool_size=2)
    sessions = UnitOfWorkFactory(make_session_factory(engine))
    redis = aioredis.from_url(share.redis_url, decode_responses=True)
    try:
        async with sessions() as uow:
            auction = await uow.session.get(Auction, uuid.UUID(share.auction_id))
            ids = [uuid.UUID(b) for b in share.bidder_ids]
            found = (await uow.session.exec(select(User).where(col(User.id).in_(ids)))).all()
        assert auction is not None
        by_id = {u.id: u for u in found}
        bidders = [by_id[i] for i in ids]
        if share.engine == "redis":
            settings = Settings(
                DATABASE_URL=share.database_url,
                REDIS_URL=share.redis_url,
                GAVEL_JWT_SECRET=JWT_SECRET,
                GAVEL_DATA_DIR=Path(share.data_dir),
            )
            deps = build_deps(settings, sessions, AuctionSlots(redis), fast_hash=True)
            run = await redis_engine(
                deps, auction, bidders, share.seconds, first=share.first, ready=ready
            )
        else:
            dsn = share.database_url.replace("+asyncpg", "")
            run = await postgres_engine(
                dsn,
                auction,
                bidders,
                share.seconds,
                len(bidders),
                first=share.first,
                ready=ready,
            )
    finally:
        await redis.aclose()
        await engine.dispose()
    return {
        "accepted": run.accepted,
        "rejected": run.rejected,
        "latencies_ms": run.latencies_ms,
        "began": began[0],
        "ended": began[0] + run.seconds,
    }


async def in_processes(
    name: str,
    engine: Engine,
    urls: StackUrls,
    data_dir: Path,
    auction: Auction,
    bidders: list[User],
    seconds: float,
    processes: int,
) -> Run:
    """The bidders split over `processes` spawned clients that start together; merged."""
    ctx = multiprocessing.get_context("spawn")
    size, extra = divmod(len(bidders), processes)
    shares, start = [], 0
    for k in range(processes):
        end = start + size + (1 if k < extra else 0)
        shares.append(
            Share(
                engine=engine,
                database_url=urls.database_url,
                redis_url=urls.redis_url,
                data_dir=str(data_dir),
                auction_id=str(auction.id),
                bidder_ids=[str(b.id) for b in bidders[start:end]],
                first=start,
                seconds=seconds,
            )
        )
        start = end
    children: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    finished = False
    try:
        for share in shares:
            parent_end, child_end = ctx.Pipe()
            process = ctx.Process(target=client_process, args=(share, child_end), daemon=True)
            process.start()
            child_end.close()  # so a child that dies is seen as EOF, not waited for forever
            children.append((process, parent_end))

        async def receive(conn: Connection, expected: str) -> Any:
            kind, value = await asyncio.to_thread(conn.recv)
            if kind != expected:
                raise RuntimeError(f"bench client process failed:\n{value}")
            return value

        await asyncio.gather(*(receive(conn, "ready") for _, conn in children))
        start_at = time.time() + 0.25  # all set up: released together
        for _, conn in children:
            conn.send(start_at)
        results: list[dict[str, Any]] = await asyncio.gather(
            *(receive(conn, "done") for _, conn in children)
        )
        finished = True
    finally:
        for child, conn in children:
            if not finished:  # the others may wait for a start time that will not come
                child.terminate()
            await asyncio.to_thread(child.join, 30)
            if child.is_alive():
                child.terminate()
                child.join()
            conn.close()
    run = Run(name)
    for result in results:
        run.accepted += result["accepted"]
        run.rejected += result["rejected"]
        run.latencies_ms.extend(result["latencies_ms"])
    # From the first client's start to the last one's end: the window every bid fell in.
    began = [r["began"] for r in results]
    run.seconds = max(r["ended"] for r in results) - min(began)
    run.notes = f"start skew {(max(began) - min(began)) * 1000:.1f} ms; "
    return run


async def stored_bids(engine: Any, auction: Auction) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM bids WHERE auction_id = :a"), {"a": auction.id}
        )
        count: int = found.scalar_one()
    return count


async def redis_benchmark_ceiling(
    redis_url: str, auction: Auction, bidder: User, clients: int
) -> Run | None:
    tool = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if tool is None:
        return None
    client = aioredis.from_url(redis_url, decode_responses=True)
    sha = await client.script_load(source("bid"))
    await client.aclose()
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    state, events, idem, sealed = keys(auction.id)
    requests = 200_000
    # __rand_int__ makes each amount different: a mix of accepted and too-low bids.
    cmd = [
        tool,
        "-p",
        port,
        "-c",
        str(clients),
        "-n",
        str(requests),
        "-r",
        "100000000",
        "--csv",
        "EVALSHA",
        sha,
        "4",
        state,
        events,
        idem,
        sealed,
        str(bidder.id),
        "__rand_int__",
        "",
        "",
        "bid",
    ]
    done = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, check=True)
    out = done.stdout
    line = out.strip().splitlines()[-1].split(",")
    rps = float(line[1].strip('"'))
    run = Run(
        "c) redis-benchmark EVALSHA bid.lua",
        seconds=requests / rps,
        notes="ceiling; accepted/rejected not split",
    )
    run.accepted, run.rejected = 0, requests
    if len(line) >= 8:  # --csv: name, rps, avg, min, p50, p95, p99, max
        run.measured = {p: float(line[k].strip('"')) for p, k in ((50, 4), (95, 5), (99, 6))}
    return run


async def main(seconds: float, clients: int, processes: int = 1) -> list[dict[str, object]]:
    clients_note = f"{processes} client process{'es' if processes > 1 else ''}"
    with (
        tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp,
        embedded_stack(Path(tmp), durable=True) as urls,
    ):
        await asyncio.to_thread(migrate, urls.database_url)
        engine = make_engine(urls.database_url, pool_size=20)
        redis = aioredis.from_url(urls.redis_url, decode_responses=True)
        settings = Settings(
            DATABASE_URL=urls.database_url,
            REDIS_URL=urls.redis_url,
            GAVEL_JWT_SECRET=JWT_SECRET,
            GAVEL_DATA_DIR=Path(tmp),
        )
        slots = AuctionSlots(redis)
        deps = build_deps(
            settings, UnitOfWorkFactory(make_session_factory(engine)), slots, fast_hash=True
        )
        seller, *bidders = await make_users(deps, clients + 1)
        rows = []
        hot = await make_live_auction(deps, seller)
        if processes > 1:
            a = await in_processes(
                "a) Redis slot (domain → Lua)",
                "redis",
                urls,
                Path(tmp),
                hot,
                bidders,
                seconds,
                processes,
            )
        else:
            a = await redis_engine(deps, hot, bidders, seconds)
        persister = Persister(redis, slots, deps.uow)
        while await persister.drain([str(hot.id)]):
            pass
        stored = await stored_bids(engine, hot)
        a.notes = (
            f"{clients_note}; {a.notes}stored {stored} of {a.accepted} accepted (outbox persister)"
        )
        rows.append({**a.row(), "processes": processes})
        cold = await make_auction(deps, seller)
        if processes > 1:
            b = await in_processes(
                "b) PostgreSQL row lock",
                "postgres",
                urls,
                Path(tmp),
                cold,
                bidders,
                seconds,
                processes,
            )
        else:
            b = await postgres_engine(
                urls.database_url.replace("+asyncpg", ""), cold, bidders, seconds, clients
            )
        stored = await stored_bids(engine, cold)
        b.notes = (
            f"SELECT … FOR UPDATE; INSERT; UPDATE; COMMIT; {clients_note}; {b.notes}"
            f"stored {stored} of {b.accepted} accepted"
        )
        rows.append({**b.row(), "processes": processes})
        ceiling_auction = await make_live_auction(deps, seller)
        c = await redis_benchmark_ceiling(urls.redis_url, ceiling_auction, bidders[0], clients)
        rows.append(
            c.row()
            if c
            else {"name": "c) redis-benchmark", "notes": "skipped: apt-get install redis-tools"}
        )
        await redis.aclose()
        await engine.dispose()
    ratio = a.decided / a.seconds / max(1.0, b.decided / b.seconds)
    rows.append({"name": "ratio a/b (decided)", "notes": f"{ratio:.1f}x"})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="client OS processes the bidders of (a) and (b) are split over (1: this one)",
    )
    args = parser.parse_args()
    if not 1 <= args.processes <= args.clients:
        parser.error("--processes must be between 1 and --clients")
    import uvloop

    result = uvloop.run(main(args.seconds, args.clients, args.processes))
    print(f"{args.clients} bidders over {args.processes} client process(es) for a) and b)")
    print(table(result))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine.json").write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(),
                "seconds": args.seconds,
                "clients": args.clients,
                "processes": args.processes,
                "rows": result,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out / 'engine.json'}")
