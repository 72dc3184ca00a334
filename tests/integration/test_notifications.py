"""Notifications in PostgreSQL: the per-user gapless sequence, exactly once by dedupe key
under concurrency, the ending-soon job run by two schedulers at once, email dispatch by
two workers at once, and the kinds the persister creates (OUTBID by a proxy,
RESERVE_MET, AUCTION_LOST)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import text

from adapters.mailer import LogMailer
from devservers.stack import StackUrls
from gavel_app import build_deps
from realtime.persister import Persister
from realtime.slots import AuctionSlots
from services import bidding
from services.deps import Deps
from services.notifications.email import dispatch_emails
from services.notifications.ending_soon import notify_ending_soon
from services.notifications.preferences import update_email_preferences
from settings import Settings
from storage.notification_writer import NewNotification, add_notifications
from storage.tables import Auction, User, Watch
from tests.helpers import live_english_auction, own_redis_db
from tests.integration.test_concurrency import _users

ROOT = Path(__file__).resolve().parents[2]


async def _rows(app: FastAPI, user_id: uuid.UUID) -> list[tuple[int, str, str | None]]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT seq, kind, dedupe_key FROM notifications WHERE user_id = :u ORDER BY seq"),
            {"u": user_id},
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]


async def _counter(app: FastAPI, user_id: uuid.UUID) -> int:
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT last_seq FROM notification_counters WHERE user_id = :u"), {"u": user_id}
        )
        return int(found.scalar_one())


async def _add(app: FastAPI, items: list[NewNotification], *, commit: bool = True) -> int:
    async with app.state.deps.uow() as uow:
        added = await add_notifications(uow.session, items)
        if commit:
            await uow.commit()
        return added


async def test_sequences_are_gapless_per_user_under_concurrency(app: FastAPI):
    alice, bob = await _users(app, 2)

    def note(user: uuid.UUID, i: int) -> NewNotification:
        return NewNotification(user_id=user, kind="OUTBID", message=f"n{i}")

    # Many writers at once, each with notes of both users (in both orders), some rolled back.
    async def writer(i: int) -> None:
        pair = [note(alice.id, i), note(bob.id, i)]
        await _add(app, pair if i % 2 else pair[::-1], commit=i % 5 != 0)

    await asyncio.gather(*(writer(i) for i in range(30)))
    for user in (alice, bob):
        rows = await _rows(app, user.id)
        assert [seq for seq, _, _ in rows] == list(range(1, 25)), rows  # 6 rolled back
        assert await _counter(app, user.id) == 24


async def test_a_dedupe_key_adds_once_without_using_a_sequence_number(app: FastAPI):
    (alice,) = await _users(app, 1)
    keyed = NewNotification(user_id=alice.id, kind="ENDING_SOON", message="x", dedupe_key="k:1")
    plain = NewNotification(user_id=alice.id, kind="OUTBID", message="y")
    results = await asyncio.gather(*(_add(app, [keyed, plain]) for _ in range(8)))
    assert sorted(results) == [1] * 7 + [2]
    assert await _add(app, [keyed, keyed]) == 0  # also within one batch
    rows = await _rows(app, alice.id)
    assert [seq for seq, _, _ in rows] == list(range(1, 10))
    assert [key for _, _, key in rows].count("k:1") == 1
    assert await _counter(app, alice.id) == 9


async def test_ending_soon_once_per_user_with_two_schedulers(app: FastAPI):
    deps = app.state.deps
    seller, watcher, bidder, both, bystander = await _users(app, 5)
    # The slot holds the end (events carry it back to the row): seeded ending soon.
    auction = await live_english_auction(app, seller, reserve=100, ends_in=timedelta(minutes=5))
    far = await live_english_auction(app, seller)  # ends in an hour: not yet
    async with deps.uow() as uow:
        uow.session.add_all(
            [
                Watch(user_id=watcher.id, auction_id=auction.id),
                Watch(user_id=both.id, auction_id=auction.id),
                Watch(user_id=seller.id, auction_id=auction.id),
                Watch(user_id=bystander.id, auction_id=far.id),
            ]
        )
        await uow.commit()
    for user, amount in ((bidder, "1.00"), (both, "2.00")):
        result = await bidding.place_bid(deps, user, auction.id, Decimal(amount), None, None)
        assert isinstance(result, bidding.Accepted), result
    await app.state.persister.drain([str(auction.id)])

    lead = timedelta(minutes=15)
    added = await asyncio.gather(*(notify_ending_soon(deps, lead) for _ in range(4)))
    added += [await notify_ending_soon(deps, lead)]  # a later pass adds nothing
    # The app's own job (a third scheduler) may have added some first.
    assert sum(added) <= 3 and added[-1] == 0
    for user in (watcher, bidder, both):
        kinds = [kind for _, kind, _ in await _rows(app, user.id)]
        assert kinds.count("ENDING_SOON") == 1, (user, kinds)
    for user in (seller, bystander):
        assert "ENDING_SOON" not in [kind for _, kind, _ in await _rows(app, user.id)]


async def test_email_dispatch_follows_preferences_once_with_two_workers(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
):
    deps = app.state.deps
    # Drain what other tests left, so this test's counts are its own.
    while await dispatch_emails(deps, batch=500):
        pass
    mailer = LogMailer(keep=1000)
    monkeypatch.setattr(deps, "mailer", mailer)
    alice, bob = await _users(app, 2)
    chosen = await update_email_preferences(deps, alice.id, {"OUTBID": False, "ENDING_SOON": True})
    assert chosen["OUTBID"] is False and chosen["ENDING_SOON"] is True
    assert chosen["AUCTION_WON"] is True  # untouched kinds keep their default
    notes = []
    for user in (alice, bob):
        for kind in ("OUTBID", "ENDING_SOON", "AUCTION_WON"):
            notes.append(NewNotification(user_id=user.id, kind=kind, message=f"{kind} now"))
    await _add(app, notes)
    await asyncio.gather(*(dispatch_emails(deps, batch=2) for _ in range(6)))
    while await dispatch_emails(deps, batch=2):
        pass
    sent = sorted((to, subject) for to, subject, _ in mailer.sent if to in (alice.email, bob.email))
    assert sent == sorted(
        [
            (alice.email, "Gavel: An auction you follow is ending soon"),
            (alice.email, "Gavel: You won an auction"),
            (bob.email, "Gavel: You have been outbid"),
            (bob.email, "Gavel: You won an auction"),
        ]
    )  # bob's ENDING_SOON is off by default
    async with app.state.engine.connect() as conn:
        left = await conn.execute(
            text(
                "SELECT count(*) FROM notifications"
                " WHERE user_id IN (:a, :b) AND emailed_at IS NULL"
            ),
            {"a": alice.id, "b": bob.id},
        )
        assert left.scalar_one() == 0


async def test_unknown_preference_kind_changes_nothing(app: FastAPI):
    from domain.errors import ValidationFailed

    deps = app.state.deps
    (alice,) = await _users(app, 1)
    with pytest.raises(ValidationFailed):
        await update_email_preferences(deps, alice.id, {"OUTBID": False, "NOPE": True})
    async with app.state.engine.connect() as conn:
        prefs = await conn.execute(
            text("SELECT notification_prefs FROM users WHERE id = :u"), {"u": alice.id}
        )
        assert prefs.scalar_one() == {}


async def _bid(
    app: FastAPI,
    user: User,
    auction: Auction,
    amount: str,
    ceiling: str | None = None,
    deps: Deps | None = None,
) -> None:
    result = await bidding.place_bid(
        deps or app.state.deps,
        user,
        auction.id,
        Decimal(amount),
        Decimal(ceiling) if ceiling else None,
        None,
    )
    assert isinstance(result, bidding.Accepted), result


async def _notes_of(app: FastAPI, auction: Auction) -> list[tuple[uuid.UUID, str, str]]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT user_id, kind, message FROM notifications WHERE auction_id = :a"
                # Other tests' saved searches may match the listing: the matcher's, not
                # the persister's, and not what these tests count.
                " AND kind <> 'SAVED_SEARCH_MATCH'"
                " ORDER BY created_at, kind"
            ),
            {"a": auction.id},
        )
        return [(r[0], r[1], r[2]) for r in rows.all()]


async def test_outbid_by_a_proxy_and_reserve_met_once(app: FastAPI):
    seller, alice, bob, carol = await _users(app, 4)
    auction = await live_english_auction(app, seller, reserve=1000)
    await _bid(
        app, alice, auction, "1.00", "30.00"
    )  # alice leads, ceiling 30.00: the price jumps to the reserve
    await _bid(app, bob, auction, "11.00")  # bob is outbid at once by alice's proxy
    await _bid(app, carol, auction, "31.00")  # carol outbids alice
    await _bid(app, alice, auction, "40.00")  # alice outbids carol; reserve long met
    for _ in range(2):  # a second pass adds nothing
        await app.state.persister.drain([str(auction.id)])
    got = await _notes_of(app, auction)
    outbids = sorted((u, m) for u, k, m in got if k == "OUTBID")
    assert outbids == sorted(
        [
            (bob.id, "You have been outbid by a proxy bid."),
            (alice.id, "You have been outbid."),
            (carol.id, "You have been outbid."),
        ]
    )
    assert [u for u, k, _ in got if k == "RESERVE_MET"] == [seller.id]


async def test_the_end_tells_every_other_bidder_once(app: FastAPI):
    deps = app.state.deps
    seller, alice, bob, carol = await _users(app, 4)
    auction = await live_english_auction(app, seller, reserve=100, ends_in=timedelta(seconds=2))
    await _bid(app, alice, auction, "1.00")
    await _bid(app, bob, auction, "2.00")
    await _bid(app, alice, auction, "3.00")
    await _bid(app, carol, auction, "4.00")
    # The app's own scheduler closes it and its persister writes the end.
    for _ in range(100):
        async with deps.uow() as uow:
            row = await uow.session.get(Auction, auction.id)
            if row is not None and row.status == "ENDED":
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the auction did not end")
    await app.state.persister.drain(reclaim=True)  # a replay adds nothing
    got = await _notes_of(app, auction)
    ends = sorted((u, k) for u, k, _ in got if k.startswith("AUCTION_"))
    assert ends == sorted(
        [
            (alice.id, "AUCTION_LOST"),
            (bob.id, "AUCTION_LOST"),
            (carol.id, "AUCTION_WON"),
            (seller.id, "AUCTION_SOLD"),
        ]
    )


KILLED_REDIS_DB = 6  # the killed persister's own live auctions (no other persister sweeps)


async def test_a_persister_killed_mid_batch_creates_nothing_twice(
    app: FastAPI, stack: StackUrls, settings: Settings
):
    redis_url = own_redis_db(stack.redis_url, KILLED_REDIS_DB)
    redis = aioredis.from_url(redis_url, decode_responses=True)
    slots = AuctionSlots(redis)
    # The use cases on that Redis database, with no outbox: nothing is persisted yet.
    deps = build_deps(settings, app.state.deps.uow, slots, fast_hash=True)
    seller, alice, bob = await _users(app, 3)
    auctions = [await live_english_auction(app, seller, slots=slots) for _ in range(2)]
    for auction in auctions:
        for i in range(4):
            await _bid(app, (alice, bob)[i % 2], auction, f"{i + 1}.00", deps=deps)

    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": redis_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.persister_killed",
        env=env,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    for auction in auctions:
        assert await _notes_of(app, auction) == []  # its transaction died with it

    survivor = Persister(redis, slots, app.state.deps.uow, stale_ms=0)
    for _ in range(2):  # the killed consumer's entries, then a pass with nothing new
        await survivor.drain(reclaim=True)
    try:
        for auction in auctions:
            got = sorted((u, k) for u, k, _ in await _notes_of(app, auction))
            # alice, bob, alice, bob: each bid after the first outbids the other once.
            assert got == sorted([(alice.id, "OUTBID"), (bob.id, "OUTBID"), (alice.id, "OUTBID")])
        for user in (alice, bob):
            seqs = [seq for seq, _, _ in await _rows(app, user.id)]
            assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) in (2, 4)
            assert await _counter(app, user.id) == len(seqs)
    finally:
        await slots.forget([str(a.id) for a in auctions])
        await redis.aclose()


async def test_the_stream_refuses_a_negative_start_and_ends_at_shutdown(app: FastAPI):
    from dataclasses import replace

    from domain.errors import ValidationFailed
    from realtime.notification_feed import NotificationFeed
    from realtime.stream import ServerShuttingDown
    from services.notifications import live

    (alice,) = await _users(app, 1)
    feed = NotificationFeed("postgresql://unused", poll_seconds=30)  # never connected
    deps = replace(app.state.deps, notifications=feed)
    with pytest.raises(ValidationFailed):
        await anext(live.stream(deps, alice.id, -1))

    await _add(app, [NewNotification(user_id=alice.id, kind="OUTBID", message="m")])
    stream = live.stream(deps, alice.id, 0)
    assert (await anext(stream)).seq == 1
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # no wake-up, no poll for 30 s
    await _add(app, [NewNotification(user_id=alice.id, kind="OUTBID", message="m")])
    feed.wake(alice.id)  # what the LISTEN connection does on the NOTIFY
    assert (await asyncio.wait_for(waiting, 5)).seq == 2
    feed.close()
    with pytest.raises(ServerShuttingDown):
        await asyncio.wait_for(anext(stream), 5)
    await stream.aclose()
