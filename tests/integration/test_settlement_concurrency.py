"""Several processes run the settlement worker at once (issue 14: "several processes
must not double-act"): passes racing over the same due sales act on each once, and a
buyer's confirmation racing the worker's auto-release releases once. Checked on the
ledger (one release posting each, balanced) and on the emulator's intents."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from domain.errors import InvalidState
from services import settlement
from tests.integration.settlement_kit import (
    clock,
    deps,
    ledger_sums,
    make_user,
    reload,
    settle_app,
    sold_auction,
    start,
    with_card,
)

__all__ = ["clock", "deps", "settle_app"]


async def _release_postings(deps, txn_id) -> int:
    from sqlmodel import col, func, select

    from storage.tables import LedgerEntry

    async with deps.uow() as uow:
        return int(
            (
                await uow.session.exec(
                    select(func.count(func.distinct(LedgerEntry.posting_id))).where(
                        col(LedgerEntry.transaction_id) == txn_id,
                        col(LedgerEntry.posting_key) == "release",
                    )
                )
            ).one()
        )


async def test_racing_worker_passes_capture_and_release_each_sale_once(
    deps, clock, payment_gateway
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    sales = []
    for price in (1_000, 2_000, 3_000, 4_000):
        buyer = await with_card(deps, await make_user(deps))
        sales.append(await start(deps, await sold_auction(deps, seller, buyer, price)))
    for txn in sales:
        await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    # Another process: same database and gateway, its own sessions.
    other = dataclasses.replace(deps)
    clock.advance(timedelta(days=7))  # past every authorization's capture point
    reports = await asyncio.gather(*(settlement.run_due(d) for d in (deps, other, deps, other)))
    assert all(r.errors == [] for r in reports)
    for txn in sales:
        captured = await reload(deps, txn.id)
        assert captured.status == "CAPTURED"
        intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
        assert (intent.status, intent.amount_received) == ("succeeded", txn.amount)
    clock.advance(timedelta(days=8))  # past every hold window
    reports = await asyncio.gather(*(settlement.run_due(d) for d in (deps, other, deps, other)))
    assert all(r.errors == [] for r in reports)
    for txn in sales:
        assert (await reload(deps, txn.id)).status == "RELEASED"
        assert await _release_postings(deps, txn.id) == 1
        assert await ledger_sums(deps, txn.id) == 0


async def test_a_confirmation_racing_the_auto_release_releases_once(deps, clock):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 5_000))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    clock.advance(timedelta(days=14, seconds=1))
    results = await asyncio.gather(
        settlement.confirm_receipt(deps, buyer, txn.id),
        settlement.run_due(deps),
        return_exceptions=True,
    )
    for result in results:
        # The buyer either released it, or was told the release is under way.
        assert not isinstance(result, Exception) or isinstance(result, InvalidState), result
    assert (await reload(deps, txn.id)).status == "RELEASED"
    assert await _release_postings(deps, txn.id) == 1
    assert await ledger_sums(deps) == 0
