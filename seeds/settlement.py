"""Demo sales in every settlement state, for `python -m seeds` after the rows are loaded.

They are made the way the app makes them: through the settlement use cases, against
the payment gateway the settings name (the Stripe emulator under `make run`), never by
writing rows, so every ledger balances and every Stripe id exists at the gateway. A
sale that must be old (one lapsed unpaid, one captured because its authorization is
about to expire while the item is in transit) is started with a clock set back, and one
pass of the settlement worker (`run_due`) then moves it on, as it would in the app.
That pass also opens a PENDING sale for every other SOLD seeded auction, as the app's
worker would within seconds of starting.

Idempotent: when the seeded auctions already have sales, nothing is done. Never run
against a live Stripe key (demo sales charge cards); an unreachable gateway leaves the
demo sales out with a warning, the rest of the seed stands.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select

from adapters.stripe_gateway import build_gateway
from domain.enums import AuctionOutcome, AuctionStatus, AuctionType, TransactionStatus
from domain.payments import GatewayUnavailable
from gavel_app import build_deps, connect_redis
from realtime.slots import AuctionSlots
from seeds.builder import ADMIN_EMAIL, DEMO_PASSWORD
from seeds.loader import mark_emailed
from services import settlement
from services.deps import Deps
from settings import Settings
from storage.db import make_engine, make_session_factory
from storage.tables import Auction, Bid, Dispute, Transaction, User
from storage.uow import UnitOfWorkFactory

# Stripe test payment methods the emulator (and Stripe's test mode) turns into cards:
# one authorizes, the other attaches and is declined when charged.
log = logging.getLogger("gavel.seeds")

GOOD_CARD = "pm_card_visa"
DECLINING_CARD = "pm_card_chargeCustomerFail"

SCENARIOS = (
    "pending",
    "authorized",
    "captured_in_transit",
    "released_with_feedback",
    "refunded",
    "disputed",
    "declined",
    "lapsed_second_chance",
)


@dataclass(frozen=True, slots=True)
class Pick:
    auction_id: uuid.UUID
    seller: User
    buyer: User


@asynccontextmanager
async def settlement_deps(settings: Settings) -> AsyncIterator[Deps]:
    """The app's dependencies as the composition root builds them, with the gateway."""
    assert settings.database_url
    engine = make_engine(settings.database_url, pool_size=2)
    redis = connect_redis(settings)
    payments = build_gateway(settings)
    deps = build_deps(
        settings,
        UnitOfWorkFactory(make_session_factory(engine)),
        AuctionSlots(redis),
        payments=payments,
    )
    try:
        yield deps
    finally:
        await payments.aclose()
        await redis.aclose()
        await engine.dispose()


def _at(deps: Deps, moment: datetime) -> Deps:
    """`deps` with its clock stopped at `moment` (and the same policy)."""
    return dataclasses.replace(deps, clock=_fixed(moment))


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


async def _seeded_sold_english(deps: Deps) -> list[tuple[Auction, int]]:
    """Seeded English auctions that ended SOLD, with how many bidders each had."""
    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(Auction, func.count(func.distinct(Bid.bidder_id)))
                .join(User, col(User.id) == col(Auction.seller_id))
                .join(Bid, col(Bid.auction_id) == col(Auction.id))
                .where(
                    col(User.email).like("%@gavel.test"),
                    col(Auction.type) == AuctionType.ENGLISH.value,
                    col(Auction.status) == AuctionStatus.ENDED.value,
                    col(Auction.outcome) == AuctionOutcome.SOLD.value,
                )
                .group_by(col(Auction.id))
                .order_by(col(Auction.id))
            )
        ).all()
    return [(auction, int(bidders)) for auction, bidders in rows]


async def _any_sale(deps: Deps, auction_ids: list[uuid.UUID]) -> bool:
    async with deps.uow() as uow:
        found = (
            await uow.session.exec(
                select(Transaction.id).where(col(Transaction.auction_id).in_(auction_ids)).limit(1)
            )
        ).first()
    return found is not None


async def _user(deps: Deps, user_id: uuid.UUID) -> User:
    async with deps.uow() as uow:
        user = await uow.session.get(User, user_id)
    assert user is not None
    return user


async def _pick(deps: Deps, candidates: list[tuple[Auction, int]]) -> dict[str, Pick] | None:
    """One auction per scenario, each with a buyer of its own (a card saved for one
    scenario must not pay for another); the lapsed one needs a runner-up."""
    ordered = sorted(candidates, key=lambda c: c[1] < 2)  # runner-ups first
    used: set[uuid.UUID] = set()
    picks: dict[str, Pick] = {}
    for scenario in ("lapsed_second_chance", *SCENARIOS[:-1]):
        for auction, bidders in ordered:
            winner = auction.winner_id
            if winner is None or winner in used:
                continue
            if scenario == "lapsed_second_chance" and bidders < 2:
                continue
            used.add(winner)
            picks[scenario] = Pick(
                auction.id, await _user(deps, auction.seller_id), await _user(deps, winner)
            )
            break
        else:
            return None
    return picks


async def _start(deps: Deps, pick: Pick, card: str | None = None) -> uuid.UUID:
    """The sale of the pick's auction; with `card` saved first, authorized at once."""
    if card is not None:
        await settlement.save_payment_method(deps, pick.buyer, card)
    txn = await settlement.start_settlement(deps, pick.auction_id)
    assert txn is not None, pick
    return txn.id


async def _shipped(deps: Deps, pick: Pick, carrier: str, tracking: str) -> uuid.UUID:
    txn_id = await _start(deps, pick, GOOD_CARD)
    await settlement.mark_shipped(deps, pick.seller, txn_id, carrier, tracking)
    return txn_id


async def seed_sales(settings: Settings) -> int:
    """Make the demo sales (module docstring); returns how many sales exist afterwards
    for the seeded auctions, 0 when there is nothing to settle."""
    async with settlement_deps(settings) as deps:
        assert deps.payments is not None
        if deps.payments.mode == "stripe-live":
            # Demo sales charge cards: never against a live account.
            log.warning("STRIPE_API_KEY is a live key: no demo sales are made")
            return await _count_sales(deps)
        candidates = await _seeded_sold_english(deps)
        if not await _any_sale(deps, [a.id for a, _ in candidates]):
            started = deps.clock()
            try:
                await _make_sales(deps, candidates)
            except GatewayUnavailable as down:
                log.warning("the payment gateway is unreachable: demo sales left out (%s)", down)
            # Their notifications are demo history, like the builder's: not mailed when
            # the app starts (the seeds load while no app runs).
            assert settings.database_url
            await mark_emailed(settings.database_url, since=started)
        return await _count_sales(deps)


async def _make_sales(deps: Deps, candidates: list[tuple[Auction, int]]) -> None:
    picks = await _pick(deps, candidates)
    if picks is None:
        return
    policy = deps.settlement_policy
    now = deps.clock()
    async with deps.uow() as uow:
        admin = (await uow.session.exec(select(User).where(col(User.email) == ADMIN_EMAIL))).one()

    # Captured in transit: authorized and shipped so long ago that the authorization is
    # about to expire, so the worker's pass captures it into the platform's balance.
    long_ago = now - (policy.authorization_lifetime - policy.capture_margin) - timedelta(hours=1)
    await _shipped(_at(deps, long_ago), picks["captured_in_transit"], "UPS", "1Z999AA10123456784")
    # Lapsed: the winner never paid within the payment window.
    unpaid = now - policy.payment_window - timedelta(hours=1)
    lapsed_id = await _start(_at(deps, unpaid), picks["lapsed_second_chance"])

    await _start(deps, picks["pending"])  # the buyer has no card yet: try the flow
    await _start(deps, picks["authorized"], GOOD_CARD)
    await _start(deps, picks["declined"], DECLINING_CARD)

    done = picks["released_with_feedback"]
    txn_id = await _shipped(deps, done, "DHL Express", "JD014600003245")
    await settlement.confirm_receipt(deps, done.buyer, txn_id)
    await settlement.leave_feedback(deps, done.buyer, txn_id, 5, "As described, well packed.")
    await settlement.leave_feedback(deps, done.seller, txn_id, 4, "Paid at once, thank you!")

    refunded = picks["refunded"]
    txn_id = await _shipped(deps, refunded, "USPS", "9400111202555842761023")
    dispute = await settlement.open_dispute(
        deps, refunded.buyer, txn_id, "NOT_RECEIVED", "Tracking has not moved for two weeks."
    )
    await settlement.respond_to_dispute(deps, refunded.seller, dispute.id, "I shipped it on time.")
    await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_FULL")

    disputed = picks["disputed"]
    txn_id = await _shipped(deps, disputed, "FedEx", "449044304137821")
    await settlement.open_dispute(
        deps,
        disputed.buyer,
        txn_id,
        "NOT_AS_DESCRIBED",
        "The listing said the shutter works; it sticks at every speed below 1/60.",
    )

    # The worker's pass: captures the old authorization, lapses the unpaid sale (an
    # unpaid strike) and opens a sale for every other SOLD seeded auction.
    await settlement.run_due(deps, now)
    lapsed = picks["lapsed_second_chance"]
    await settlement.offer_second_chance(deps, lapsed.seller, lapsed_id)


async def _count_sales(deps: Deps) -> int:
    async with deps.uow() as uow:
        total = (await uow.session.exec(select(func.count()).select_from(Transaction))).one()
    return int(total)


async def demo_sales(settings: Settings) -> list[str]:
    """Lines for the seed summary: a buyer who can pay a sale in GraphiQL, and one sale
    per status with its parties (development-only credentials)."""
    assert settings.database_url
    engine = make_engine(settings.database_url, pool_size=1)
    lines: list[str] = []
    try:
        sessions = UnitOfWorkFactory(make_session_factory(engine))
        async with sessions() as uow:
            rows = (
                await uow.session.exec(
                    select(Transaction, User)
                    .join(User, col(User.id) == col(Transaction.buyer_id))
                    .where(col(User.email).like("%@gavel.test"))
                    .order_by(col(Transaction.created_at), col(Transaction.id))
                )
            ).all()
            for txn, buyer in rows:
                if (
                    txn.status == TransactionStatus.PENDING.value
                    and not buyer.stripe_payment_method_id
                ):
                    lines.append(
                        f"buyer   {buyer.email} / {DEMO_PASSWORD}: pay sale {txn.id} (PENDING,"
                        " no card saved yet: README 'Settlement in GraphiQL')"
                    )
                    break
            shown: set[str] = set()
            for txn, buyer in rows:
                if txn.status in shown:
                    continue
                shown.add(txn.status)
                seller = await uow.session.get(User, txn.seller_id)
                assert seller is not None
                lines.append(
                    f"sale    {txn.status:<10} {txn.id} buyer {buyer.email}, seller {seller.email}"
                )
            disputes = (
                await uow.session.exec(
                    select(Dispute.transaction_id, Dispute.status).order_by(col(Dispute.created_at))
                )
            ).all()
            for txn_id, status in disputes:
                lines.append(f"dispute {status:<10} on sale {txn_id}")
    finally:
        await engine.dispose()
    return lines
