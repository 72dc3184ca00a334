"""Offline evaluation of the recommendations (docs/search.md "Recommendations").

    .venv/bin/python -m bench.recommendations_eval [--history seeded|synthetic|both]

Leave-last-out: each user's last bid is held out (all of that user's bids on that
auction are removed), the rest of the history is loaded into a fresh PostgreSQL database,
and `services/search/recommendations.recommend` (the code the API runs, with no trending
data: its last fallback is the popular list) picks 10 auctions for every user who keeps
at least one bid. A hit is the held-out auction among them. The baseline is the popular
list alone (most bids, excluding the user's own bid-on auctions and listings).

Histories:
- `seeded`: the demo seeds (`python -m seeds`), built in memory (45 bidders who bid at
  random, with no taste: a thin signal);
- `synthetic`: a deterministic history (random.Random(16)) of users who each prefer one
  or two leaf categories (85 % of their bids), pick auctions there by a Zipf-like
  popularity, and see titles made of their category's words.
Every auction but drafts is made ACTIVE for the evaluation: a held-out auction must be
recommendable. Writes the table to bench/results/recommendations_eval.md (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from alembic import command
from alembic.config import Config

from devservers.stack import embedded_stack
from domain.categories import CATEGORIES
from gavel_app import build_deps
from realtime.slots import AuctionSlots
from services.deps import Deps
from services.search import recommendation_queries as q
from services.search.recommendations import recommend
from settings import Settings
from storage.db import make_engine, make_session_factory
from storage.tables import Auction, Bid, Item, User
from storage.uow import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "recommendations_eval.md"
K = 10
LEAVES = [c for c in CATEGORIES if "/" in c]


@dataclass
class History:
    name: str
    users: list[User]
    items: list[Item]
    auctions: list[Auction]
    bids: list[Bid]


@dataclass
class Split:
    """The history without the held-out bids, and each user's held-out auction."""

    history: History
    held_out: dict[uuid.UUID, uuid.UUID]


@dataclass
class Scores:
    history: str
    users: int
    hits: int = 0
    baseline_hits: int = 0
    hits_by_reason: Counter[str] = field(default_factory=Counter)

    def row(self) -> str:
        by_reason = ", ".join(f"{r} {n}" for r, n in sorted(self.hits_by_reason.items()))
        return (
            f"| {self.history} | {self.users} | {self.hits / self.users:.3f} "
            f"| {self.baseline_hits / self.users:.3f} | {by_reason or '-'} |"
        )


def _id(kind: str, n: int) -> uuid.UUID:
    # Fixed ids: the recommender breaks ties by id, so random ones would move the figures.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"gavel-eval:{kind}:{n}")


def _user(n: int) -> User:
    return User(
        id=_id("user", n), username=f"eval{n}", email=f"eval{n}@eval.test", password_hash="-"
    )


def _auction(item: Item, now: datetime, rng: random.Random, n: int) -> Auction:
    return Auction(
        id=_id("auction", n),
        item_id=item.id,
        seller_id=item.seller_id,
        type="ENGLISH",
        status="ACTIVE",
        currency="USD",
        starting_price=rng.randrange(1, 500) * 100,
        starts_at=now - timedelta(days=5),
        activated_at=now - timedelta(days=5),
        published_at=now - timedelta(days=5),
        ends_at=now + timedelta(days=5),
    )


def synthetic_history(
    now: datetime, *, users: int = 400, auctions: int = 2000, seed: int = 16
) -> History:
    """Users with tastes (see the module's docstring); deterministic for a seed."""
    rng = random.Random(seed)
    sellers = [_user(n) for n in range(20)]
    bidders = [_user(n) for n in range(20, 20 + users)]
    vocabulary = {c: [f"{c.split('/')[1]}{w}" for w in range(12)] for c in LEAVES}
    items: list[Item] = []
    by_category: dict[str, list[Auction]] = defaultdict(list)
    rows: list[Auction] = []
    for n in range(auctions):
        category = LEAVES[n % len(LEAVES)]
        words = rng.sample(vocabulary[category], 3)
        item = Item(
            id=_id("item", n),
            seller_id=rng.choice(sellers).id,
            title=" ".join(words).capitalize(),
            description="Synthetic lot.",
            category=category,
            condition="USED",
        )
        items.append(item)
        auction = _auction(item, now, rng, n)
        rows.append(auction)
        by_category[category].append(auction)
    # Within a category, a few auctions draw most bids (rank r weighs 1 / (r + 1)).
    weights = {c: [1 / (r + 1) for r in range(len(a))] for c, a in by_category.items()}
    bids: list[Bid] = []
    for user in bidders:
        tastes = rng.sample(LEAVES, rng.choice((1, 2)))
        chosen: list[Auction] = []
        for _ in range(rng.randrange(4, 13)):
            category = rng.choice(tastes) if rng.random() < 0.85 else rng.choice(LEAVES)
            auction = rng.choices(by_category[category], weights[category])[0]
            if auction not in chosen:
                chosen.append(auction)
        start = now - timedelta(days=4)
        for step, auction in enumerate(chosen):
            auction.bid_count += 1
            bids.append(
                Bid(
                    auction_id=auction.id,
                    bidder_id=user.id,
                    sequence=auction.bid_count,
                    amount=auction.starting_price + auction.bid_count * 100,
                    currency="USD",
                    placed_at=start + timedelta(minutes=10 * step + rng.random()),
                )
            )
    return History("synthetic", [*sellers, *bidders], items, rows, bids)


def seeded_history(now: datetime) -> History:
    """The demo seeds' users, items, auctions and bids (seeds/builder.py), in memory."""
    from seeds.builder import ADMIN_PASSWORD, DEMO_PASSWORD, build

    rows = build(now, {ADMIN_PASSWORD: "-", DEMO_PASSWORD: "-"})
    for a in rows.auctions:
        if a.status == "DRAFT":
            continue
        a.status, a.outcome, a.winner_id, a.final_price = "ACTIVE", None, None, None
        a.ended_at = a.cancelled_at = a.cancel_reason = a.hard_close_at = None
        a.starts_at = a.activated_at = a.published_at = now - timedelta(days=5)
        a.ends_at = now + timedelta(days=5)
    return History("seeded demo", rows.users, rows.items, rows.auctions, rows.bids)


def hold_out(history: History) -> Split:
    """Each user's last bid's auction, and every bid of that user on it, set aside."""
    mine: dict[uuid.UUID, list[Bid]] = defaultdict(list)
    for b in history.bids:
        if b.voided_at is None:
            mine[b.bidder_id].append(b)
    held_out: dict[uuid.UUID, uuid.UUID] = {}
    for user_id, bids in mine.items():
        last = max(bids, key=lambda b: (b.placed_at, b.sequence))
        if any(b.auction_id != last.auction_id for b in bids):
            held_out[user_id] = last.auction_id
    kept = [b for b in history.bids if held_out.get(b.bidder_id) != b.auction_id]
    counts = Counter(b.auction_id for b in kept)
    for a in history.auctions:
        a.bid_count = counts[a.id]
    return Split(
        History(history.name, history.users, history.items, history.auctions, kept), held_out
    )


async def load(deps: Deps, history: History) -> None:
    async with deps.uow() as uow:
        for rows in (history.users, history.items, history.auctions, history.bids):
            uow.session.add_all(rows)
            await uow.session.flush()
        await uow.commit()


async def evaluate(deps: Deps, split: Split) -> Scores:
    """Hit rate at K of the recommender and of the popular baseline (module docstring)."""
    scores = Scores(split.history.name, len(split.held_out))
    users = {u.id: u for u in split.history.users}
    for user_id, target in split.held_out.items():
        picks = await recommend(deps, users[user_id], K, max_page=100)
        hit = next((p for p in picks if p.auction.id == target), None)
        if hit is not None:
            scores.hits += 1
            scores.hits_by_reason[hit.reason.value] += 1
        async with deps.uow() as uow:
            known = await q.bid_auctions(uow, user_id, 1000)
            baseline = await q.popular(uow, user_id, known, deps.clock(), limit=K)
        scores.baseline_hits += any(p.auction_id == target for p in baseline)
    return scores


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


async def _on_server(server_url: str, statement: str) -> None:
    base, _, _ = server_url.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres".replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def fresh_database(server_url: str) -> str:
    """A new, empty database on the server of `server_url` (never an existing one)."""
    base, _, _ = server_url.rpartition("/")
    name = f"gavel_receval_{uuid.uuid4().hex[:8]}"
    await _on_server(server_url, f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


async def run_on(server_url: str, redis_url: str, data_dir: Path, history: History) -> list[Scores]:
    """Load `history` less its held-out bids into a fresh database and evaluate it: as
    the API runs, then with co-bidding off (similar items of the user's bid-on auctions,
    then popular: what a user known only by watches and views gets)."""
    url = await fresh_database(server_url)
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        settings = Settings(
            DATABASE_URL=url,
            REDIS_URL=redis_url,
            GAVEL_JWT_SECRET="e" * 48,
            GAVEL_DATA_DIR=data_dir,
        )
        deps = build_deps(
            settings, UnitOfWorkFactory(make_session_factory(engine)), AuctionSlots(redis)
        )
        split = hold_out(history)
        await load(deps, split.history)
        full = await evaluate(deps, split)
        deps.recommend_min_co_bidders = 10**9
        similar_only = await evaluate(deps, split)
        similar_only.history += " (co-bidding off)"
        return [full, similar_only]
    finally:
        await redis.aclose()
        await engine.dispose()
        name = url.rpartition("/")[2]
        await _on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(results: Sequence[Scores]) -> str:
    lines = [
        f"| history | users evaluated | hit rate@{K} | popular baseline@{K} | hits by reason |",
        "|---|---|---|---|---|",
        *(s.row() for s in results),
    ]
    return "\n".join(lines) + "\n"


async def main(which: str) -> str:
    now = datetime.now(UTC)
    histories = {"seeded": seeded_history, "synthetic": synthetic_history}
    chosen = list(histories) if which == "both" else [which]
    with (
        tempfile.TemporaryDirectory(prefix="gavel-receval-") as tmp,
        embedded_stack(Path(tmp), durable=False) as urls,
    ):
        results = [
            scores
            for h in chosen
            for scores in await run_on(
                urls.database_url, urls.redis_url, Path(tmp), histories[h](now)
            )
        ]
    return report(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--history", choices=("seeded", "synthetic", "both"), default="both")
    text = asyncio.run(main(parser.parse_args().history))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)
    print(f"written to {OUT}")
