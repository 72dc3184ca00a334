"""Crash-resume, webhooks applied once, reconciliation (issue 14 item 4), against the
Stripe emulator through the real SDK.

A crash is a gateway that makes the real call and then raises before anything is
recorded, as a process killed at that instant would leave things; the worker then
resumes the step once it is stale. The emulator's own records show nothing happened
twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.errors import InvalidState
from domain.payments import GatewayEvent
from services import settlement
from tests.conftest import ROOT
from tests.helpers import own_redis_db, stripe_event, stripe_webhook_headers, test_card
from tests.integration.settlement_kit import (
    SETTLEMENT_REDIS_DB,
    Clock,
    balances,
    deps_with,
    ledger_sums,
    make_user,
    reload,
    settle_app,
    sold_auction,
    start,
    with_card,
)

__all__ = ["settle_app"]


class Crash(Exception):
    """The process died right after the gateway answered."""


class CrashAfter:
    """The real gateway, except that `method` raises Crash after doing its work."""

    def __init__(self, real: Any, method: str) -> None:
        self._real = real
        self._method = method

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        async def crashing(*args: Any, **kwargs: Any) -> Any:
            await attr(*args, **kwargs)
            raise Crash(name)

        return crashing


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def deps(settle_app, payment_gateway, clock):
    return deps_with(settle_app, clock, payments=payment_gateway)


async def _intents_of(gateway, txn_id) -> list[Any]:
    return [
        v
        for v in await gateway.list_intents(limit=100)
        if v.metadata.get("transaction_id") == str(txn_id)
    ]


async def _refunds_of(gateway, intent_id) -> list[Any]:
    page = await gateway.client.v1.refunds.list_async(params={"payment_intent": intent_id})
    return list(page.data)


async def test_a_crash_after_capture_resumes_without_capturing_or_paying_twice(
    settle_app, deps, payment_gateway, clock
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 6_000))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    crashing = deps_with(settle_app, clock, payments=CrashAfter(payment_gateway, "capture"))
    with pytest.raises(Crash):
        await settlement.confirm_receipt(crashing, buyer, txn.id)
    stuck = await reload(deps, txn.id)
    assert (stuck.status, stuck.pending_step) == ("AUTHORIZED", "release")
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert intent.status == "succeeded"  # the capture happened; nothing recorded it
    assert await balances(deps, txn.id) == {"buyer_funds": -6_000, "escrow": 6_000}

    await settlement.run_due(deps)  # too early: the step may still be running
    assert (await reload(deps, txn.id)).pending_step == "release"
    clock.advance(timedelta(minutes=5))
    report = await settlement.run_due(deps)
    assert report.resumed >= 1 and report.errors == []
    done = await reload(deps, txn.id)
    assert (done.status, done.pending_step) == ("RELEASED", None)
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received) == ("succeeded", 6_000)
    assert await balances(deps, txn.id) == {
        "buyer_funds": -6_000,
        "platform_revenue": 300,
        "payouts_pending": 5_700,
    }
    assert await ledger_sums(deps) == 0


async def test_a_crash_after_a_partial_refund_refunds_once(
    settle_app, deps, payment_gateway, clock
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    admin = await make_user(deps, "BIDDER", "ADMIN")
    txn = await start(deps, await sold_auction(deps, seller, buyer, 9_000))
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Scratched", "A scratch.")
    crashing = deps_with(settle_app, clock, payments=CrashAfter(payment_gateway, "refund"))
    with pytest.raises(Crash):
        await settlement.resolve_dispute(crashing, admin, dispute.id, "REFUND_PARTIAL", 1_000)
    assert len(await _refunds_of(payment_gateway, txn.stripe_payment_intent_id)) == 1
    with pytest.raises(InvalidState, match="being resolved"):
        await settlement.resolve_dispute(deps, admin, dispute.id, "RELEASE", None)
    clock.advance(timedelta(minutes=5))
    assert (await settlement.run_due(deps)).errors == []
    done = await reload(deps, txn.id)
    assert (done.status, done.refunded_amount) == ("RELEASED", 1_000)
    refunds = await _refunds_of(payment_gateway, txn.stripe_payment_intent_id)
    assert [r.amount for r in refunds] == [1_000]
    assert await balances(deps, txn.id) == {
        "buyer_funds": -9_000,
        "refunds": 1_000,
        "platform_revenue": 400,
        "payouts_pending": 7_600,
    }


async def test_a_crash_after_authorizing_adopts_the_intent_instead_of_charging_again(
    settle_app, deps, payment_gateway, clock
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    auction = await sold_auction(deps, seller, buyer, 2_500)
    crashing = deps_with(settle_app, clock, payments=CrashAfter(payment_gateway, "authorize"))
    with pytest.raises(Crash):
        await settlement.start_settlement(crashing, auction.id)
    txn = await start(deps, auction)
    assert (txn.status, txn.pending_step, txn.stripe_payment_intent_id) == (
        "PENDING",
        "authorize",
        None,
    )
    made = await _intents_of(payment_gateway, txn.id)
    assert len(made) == 1
    clock.advance(timedelta(minutes=5))
    assert (await settlement.run_due(deps)).errors == []
    done = await reload(deps, txn.id)
    assert (done.status, done.stripe_payment_intent_id) == ("AUTHORIZED", made[0].id)
    assert len(await _intents_of(payment_gateway, txn.id)) == 1
    assert await ledger_sums(deps, txn.id) == 0


def _event(kind: str, obj: dict[str, Any]) -> GatewayEvent:
    return GatewayEvent(
        id=f"evt_{uuid.uuid4().hex}", type=kind, object=obj, created=datetime.now(UTC)
    )


async def test_a_webhook_is_applied_once_however_often_it_arrives(deps, payment_gateway):
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    txn = await start(deps, await sold_auction(deps, seller, buyer, 3_300))
    txn = await settlement.pay(deps, buyer, txn.id)  # no saved card: the client confirms
    customer = (await reload_user(deps, buyer)).stripe_customer_id
    card = await test_card(payment_gateway, customer)
    # What the buyer's client does with the client secret (Stripe.js): set the card,
    # confirm (localstripe takes them as two calls).
    intents = payment_gateway.client.v1.payment_intents
    await intents.update_async(txn.stripe_payment_intent_id, params={"payment_method": card})
    confirmed = await intents.confirm_async(txn.stripe_payment_intent_id)
    obj = confirmed.to_dict()
    assert obj["status"] == "requires_capture"
    event = _event("payment_intent.amount_capturable_updated", obj)
    assert await settlement.apply_gateway_event(deps, event) is True
    for _ in range(3):
        assert await settlement.apply_gateway_event(deps, event) is False
    done = await reload(deps, txn.id)
    assert done.status == "AUTHORIZED"
    assert await balances(deps, txn.id) == {"buyer_funds": -3_300, "escrow": 3_300}
    # A later, different event about the same intent still applies (and changes nothing).
    assert await settlement.apply_gateway_event(
        deps, _event("payment_intent.requires_capture", obj)
    )
    assert await balances(deps, txn.id) == {"buyer_funds": -3_300, "escrow": 3_300}


async def test_a_failed_payment_event_fails_a_pending_sale(deps, payment_gateway):
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    txn = await start(deps, await sold_auction(deps, seller, buyer, 1_100))
    txn = await settlement.pay(deps, buyer, txn.id)
    obj = {"id": txn.stripe_payment_intent_id, "status": "requires_payment_method", "amount": 1_100}
    assert await settlement.apply_gateway_event(deps, _event("payment_intent.payment_failed", obj))
    assert (await reload(deps, txn.id)).status == "FAILED"
    unknown = _event("payment_intent.amount_capturable_updated", {"id": "pi_nobody", "amount": 5})
    assert await settlement.apply_gateway_event(deps, unknown) is True  # recorded, ignored
    assert await settlement.apply_gateway_event(deps, unknown) is False


async def test_reconciliation_agrees_with_the_gateway_and_reports_differences(
    deps, payment_gateway
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    held = await start(deps, await sold_auction(deps, seller, buyer, 4_000))
    done = await start(deps, await sold_auction(deps, seller, buyer, 5_000))
    await settlement.mark_shipped(deps, seller, done.id, "DHL", "1")
    await settlement.confirm_receipt(deps, buyer, done.id)
    mine = {str(held.id), str(done.id)}

    report = await settlement.reconcile(deps)
    assert report.checked >= 2
    assert [d for d in report.differences if d.transaction_id in mine] == []

    # Captured behind the ledger's back (a missed step): reported, not repaired.
    await payment_gateway.capture(
        held.stripe_payment_intent_id, amount=None, idempotency_key=f"t:{uuid.uuid4()}"
    )
    report = await settlement.reconcile(deps)
    problems = [d.problem for d in report.differences if d.transaction_id == str(held.id)]
    assert problems and "AUTHORIZED here" in problems[0]


async def reload_user(deps, user):
    from storage.tables import User

    async with deps.uow() as uow:
        return await uow.session.get(User, user.id)


async def test_webhook_deliveries_over_http_apply_once_and_forgeries_not_at_all(
    settle_app, deps, payment_gateway
):
    seller, buyer = await make_user(deps, "BIDDER", "SELLER"), await make_user(deps)
    txn = await start(deps, await sold_auction(deps, seller, buyer, 2_000))
    txn = await settlement.pay(deps, buyer, txn.id)
    customer = (await reload_user(deps, buyer)).stripe_customer_id
    card = await test_card(payment_gateway, customer)
    intents = payment_gateway.client.v1.payment_intents
    await intents.update_async(txn.stripe_payment_intent_id, params={"payment_method": card})
    obj = (await intents.confirm_async(txn.stripe_payment_intent_id)).to_dict()
    payload = stripe_event("payment_intent.amount_capturable_updated", obj)
    transport = httpx.ASGITransport(app=settle_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        forged = await client.post(
            "/webhooks/stripe",
            content=payload,
            headers=stripe_webhook_headers(payload, secret="whsec_" + "0" * 48),
        )
        assert forged.status_code == 400
        assert (await reload(deps, txn.id)).status == "PENDING"
        answers = [
            await client.post(
                "/webhooks/stripe", content=payload, headers=stripe_webhook_headers(payload)
            )
            for _ in range(3)
        ]
    assert [r.json().get("applied") for r in answers] == [True, False, False]
    assert (await reload(deps, txn.id)).status == "AUTHORIZED"
    assert await balances(deps, txn.id) == {"buyer_funds": -2_000, "escrow": 2_000}


async def test_a_process_killed_after_capturing_is_resumed_without_a_second_capture(
    settle_app, deps, payment_gateway, clock, stack, tmp_path
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    txn = await start(deps, await sold_auction(deps, seller, buyer, 7_700))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "1")
    engine = settle_app.state.engine
    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REDIS_URL": own_redis_db(stack.redis_url, SETTLEMENT_REDIS_DB),
        "STRIPE_API_BASE": stack.stripe_api_base,
        "GAVEL_DATA_DIR": str(tmp_path),
        "GAVEL_JWT_SECRET": "k" * 48,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.settlement_killed",
        str(buyer.id),
        str(txn.id),
        env=env,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    stuck = await reload(deps, txn.id)
    assert (stuck.status, stuck.pending_step) == ("AUTHORIZED", "release")
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received) == ("succeeded", 7_700)

    clock.advance(timedelta(minutes=5))
    assert (await settlement.run_due(deps)).errors == []
    done = await reload(deps, txn.id)
    assert (done.status, done.pending_step) == ("RELEASED", None)
    intent = await payment_gateway.retrieve_intent(txn.stripe_payment_intent_id)
    assert (intent.status, intent.amount_received) == ("succeeded", 7_700)
    charges = await payment_gateway.client.v1.charges.list_async(
        params={"payment_intent": txn.stripe_payment_intent_id}
    )
    mine = list(charges.data)
    assert [(c.amount, c.captured) for c in mine] == [(7_700, True)]
    assert await ledger_sums(deps, txn.id) == 0


async def test_an_authorization_lost_at_the_gateway_fails_the_sale_and_voids_escrow(
    deps, clock, payment_gateway
):
    seller = await make_user(deps, "BIDDER", "SELLER")
    sales = []
    for price in (1_200, 1_300):
        buyer = await with_card(deps, await make_user(deps))
        txn = await start(deps, await sold_auction(deps, seller, buyer, price))
        # Cancelled behind Gavel's back (or expired early): the hold is gone.
        await payment_gateway.cancel(
            txn.stripe_payment_intent_id, idempotency_key=f"t:{uuid.uuid4()}"
        )
        sales.append(txn)
    # One is learnt from the webhook...
    intent = await payment_gateway.retrieve_intent(sales[0].stripe_payment_intent_id)
    event = _event("payment_intent.canceled", {"id": intent.id, "status": intent.status})
    assert await settlement.apply_gateway_event(deps, event)
    # ...the other when the worker comes to capture it.
    clock.advance(timedelta(days=7))
    assert (await settlement.run_due(deps)).errors == []
    for txn in sales:
        failed = await reload(deps, txn.id)
        assert failed.status == "FAILED", failed.failure_reason
        assert await balances(deps, txn.id) == {}  # escrow given back: nothing held
        assert await ledger_sums(deps, txn.id) == 0
