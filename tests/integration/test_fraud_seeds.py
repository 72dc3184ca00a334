"""The demo data (seeds/) is honest bidding: the scorer, run over all of it with the
default thresholds, holds nobody, so `make run`'s demo logins keep working; and the
seeded queue is what the scorer raises: it updates those flags in place, adds none."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from devservers.stack import StackUrls
from gavel_app import build_deps, connect_redis
from realtime.slots import AuctionSlots
from seeds import load
from services.fraud.scorer import score_pass
from settings import Settings
from storage.db import make_engine, make_session_factory
from storage.uow import UnitOfWorkFactory
from tests.conftest import create_database, migrate


async def test_the_scorer_holds_no_seeded_account(stack: StackUrls, settings: Settings):
    url = await create_database(stack.database_url, f"gavel_fraud_seed_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    await load(url, progress=False)
    engine = make_engine(url, pool_size=2)
    redis = connect_redis(settings)
    try:
        deps = build_deps(
            settings.model_copy(update={"database_url": url}),
            UnitOfWorkFactory(make_session_factory(engine)),
            AuctionSlots(redis),
            fast_hash=True,
        )
        seeded_flags = "SELECT user_id, rule, auction_id FROM fraud_flags WHERE status = 'OPEN'"
        async with engine.connect() as conn:
            seeded = set((await conn.execute(text(seeded_flags))).all())
        passes = scored = 0
        while (report := await score_pass(deps, settings.fraud_policy)).auctions:
            passes += 1
            scored += report.bidders
            assert report.held == [], report
        async with engine.connect() as conn:
            held = (
                await conn.execute(text("SELECT count(*) FROM users WHERE fraud_hold"))
            ).scalar()
            flags = (
                await conn.execute(text("SELECT rule, count(*) FROM fraud_flags GROUP BY rule"))
            ).all()
            after = set((await conn.execute(text(seeded_flags))).all())
        assert passes > 0 and scored > 0
        assert held == 0, flags
        assert seeded and after == seeded, (seeded, after)
        print(f"\nseeds: {scored} bidder scorings in {passes} passes; flags by rule: {flags}")
    finally:
        await redis.aclose()
        await engine.dispose()
