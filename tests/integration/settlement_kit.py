"""A private app and small builders for the settlement tests (test_settlement_*.py).

The app has its own PostgreSQL database and Redis database, and its settlement worker
is off: each test runs `run_due` itself with the time it wants (`now`), so nothing
sleeps and no pass of another process acts in between. Auction-type happy paths end
their auctions through the real engine; other flows start from an auction row recorded
ENDED/SOLD directly (the engine's result, written as the persister writes it).
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func
from sqlmodel import col, select

from devservers.stack import StackUrls
from domain.payments import PaymentGateway
from gavel_app import create_app
from services.deps import Deps
from settings import Settings
from storage.tables import Auction, Bid, Item, LedgerEntry, Transaction, User
from tests.conftest import GENEROUS_LIMITS, create_database, migrate
from tests.helpers import STRIPE_WEBHOOK_SECRET, own_redis_db

SETTLEMENT_REDIS_DB = 9


@pytest.fixture(scope="module")
async def settle_app(
    stack: StackUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    database = await create_database(stack.database_url, f"gavel_settle_{uuid.uuid4().hex[:8]}")
    await migrate(database)
    settings = Settings(
        DATABASE_URL=database,
        REDIS_URL=own_redis_db(stack.redis_url, SETTLEMENT_REDIS_DB),
        GAVEL_JWT_SECRET=secrets.token_urlsafe(48),
        GAVEL_DATA_DIR=tmp_path_factory.mktemp("settle-data"),
        GAVEL_MIN_AUCTION_SECONDS=2,
        GAVEL_RUN_SETTLEMENT=False,  # the tests run the worker's passes
        STRIPE_API_BASE=stack.stripe_api_base,
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        **GENEROUS_LIMITS,
    )
    application = create_app(settings, fast_hash=True)
    async with application.router.lifespan_context(application):
        yield application


class Clock:
    """A clock the tests move by hand (deps.clock)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def deps_with(app: FastAPI, clock: Clock, **changes: object) -> Deps:
    """The app's dependencies with the test's clock (and any other field replaced)."""
    base: Deps = app.state.deps
    return dataclasses.replace(base, clock=clock, **changes)  # type: ignore[arg-type]


async def make_user(deps: Deps, *roles: str) -> User:
    name = f"s{uuid.uuid4().hex[:10]}"
    user = User(
        username=name,
        email=f"{name}@example.com",
        password_hash="x",
        roles=list(roles or ("BIDDER",)),
    )
    async with deps.uow() as uow:
        uow.session.add(user)
        await uow.commit()
    return user


async def sold_auction(
    deps: Deps,
    seller: User,
    buyer: User,
    price: int,
    *,
    type: str = "ENGLISH",
    runner_up: tuple[User, int] | None = None,
    currency: str = "USD",
) -> Auction:
    """An auction recorded ENDED/SOLD to `buyer` at `price`, with the bids that made it
    (the runner-up's below the winner's)."""
    now = deps.clock()
    item = Item(
        seller_id=seller.id,
        title="Leica M6 rangefinder",
        description="A camera.",
        category="cameras/film",
        condition="USED",
    )
    auction = Auction(
        item_id=item.id,
        seller_id=seller.id,
        type=type,
        status="ENDED",
        outcome="SOLD",
        currency=currency,
        starting_price=min(price, runner_up[1] if runner_up else price),
        ends_at=now,
        starts_at=now - timedelta(hours=1),
        winner_id=buyer.id,
        final_price=price,
        current_price=price,
        bid_count=2 if runner_up else 1,
        last_sequence=2 if runner_up else 1,
        ended_at=now,
    )
    bids = []
    if runner_up is not None:
        bids.append((runner_up[0], runner_up[1]))
    bids.append((buyer, price))
    async with deps.uow() as uow:
        uow.session.add(item)
        await uow.session.flush()
        uow.session.add(auction)
        await uow.session.flush()
        for seq, (bidder, amount) in enumerate(bids, start=1):
            uow.session.add(
                Bid(
                    auction_id=auction.id,
                    bidder_id=bidder.id,
                    sequence=seq,
                    amount=amount,
                    currency=currency,
                    placed_at=now - timedelta(minutes=10 - seq),
                )
            )
        await uow.commit()
    return auction


async def ledger_sums(deps: Deps, transaction_id: uuid.UUID | None = None) -> int:
    """The sum of a sale's entries (or of the whole ledger)."""
    query = select(func.coalesce(func.sum(LedgerEntry.amount), 0))
    if transaction_id is not None:
        query = query.where(col(LedgerEntry.transaction_id) == transaction_id)
    async with deps.uow() as uow:
        return int((await uow.session.exec(query)).one())


async def balances(deps: Deps, transaction_id: uuid.UUID) -> dict[str, int]:
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(LedgerEntry.account, func.sum(LedgerEntry.amount))
                .where(col(LedgerEntry.transaction_id) == transaction_id)
                .group_by(col(LedgerEntry.account))
            )
        ).all()
    return {account: int(total) for account, total in rows if int(total) != 0}


async def reload(deps: Deps, transaction_id: uuid.UUID) -> Transaction:
    async with deps.uow() as uow:
        row = await uow.session.get(Transaction, transaction_id)
        assert row is not None
        return row


async def with_card(deps: Deps, user: User, card: str = "pm_card_visa") -> User:
    """The user with a saved card, through the use case (customer + attach)."""
    from services.settlement import save_payment_method

    await save_payment_method(deps, user, card)
    async with deps.uow() as uow:
        row = await uow.session.get(User, user.id)
        assert row is not None and row.stripe_payment_method_id
        return row


DECLINING_CARD = "pm_card_chargeCustomerFail"


async def notifications_of(deps: Deps, user: User) -> list[str]:
    from storage.tables import Notification

    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Notification.kind)
                .where(col(Notification.user_id) == user.id)
                .order_by(col(Notification.created_at))
            )
        ).all()
    return list(rows)


async def audit_actions(deps: Deps, entity_id: uuid.UUID) -> list[str]:
    from storage.tables import AuditLog

    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(AuditLog.action)
                .where(col(AuditLog.entity_id) == str(entity_id))
                .order_by(col(AuditLog.id))
            )
        ).all()
    return list(rows)


async def start(deps: Deps, auction: Auction) -> Transaction:
    """start_settlement for an auction the test made SOLD (never None then)."""
    from services.settlement import start_settlement

    txn = await start_settlement(deps, auction.id)
    assert txn is not None
    return txn


@pytest.fixture
def clock() -> Clock:
    """A stopped clock the test moves by hand (the worker's `now`)."""
    return Clock()


@pytest.fixture
def deps(settle_app: FastAPI, payment_gateway: PaymentGateway, clock: Clock) -> Deps:
    """The settlement app's dependencies on the emulator's gateway and the test's clock."""
    return deps_with(settle_app, clock, payments=payment_gateway)
