"""Settlement through the API against the real app, PostgreSQL, Redis and the Stripe
emulator: a sale paid, shipped, received and rated end to end; a dispute refunded in
part; a declined card and a second-chance offer; and bad input answered with stable
codes that change nothing."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.api.settlement_steps import (
    CONFIRM,
    DECLINING_CARD,
    DISPUTE,
    FEEDBACK,
    GOOD_CARD,
    PAY,
    PURCHASES,
    REPUTATION,
    RESOLVE,
    RESPOND,
    SALES,
    SAVE_CARD,
    SETUP_INTENT,
    SHIP,
    Sale,
    codes,
    dispute_with_evidence,
    make_admin,
    paid,
    payload,
    png,
    read,
    shipped,
    sold,
)
from tests.helpers import BID, PUBLISH, create_auction, register


def ledger_sum(txn: dict[str, Any]) -> Decimal:
    return sum((Decimal(e["amount"]["amount"]) for e in txn["ledgerEntries"]), Decimal(0))


async def test_a_sale_paid_shipped_received_and_rated(gql, app):
    sale = await sold(gql, app, price="250.00")
    pending = await read(gql, sale, sale.buyer)
    assert pending["status"] == "PENDING"
    assert pending["price"] == {"amount": "250.00"}
    assert pending["amount"]["currency"] == "USD"
    assert pending["buyer"]["id"] == sale.buyer.id and pending["seller"]["id"] == sale.seller.id
    assert pending["auction"] == {"id": sale.auction_id, "status": "ENDED", "outcome": "SOLD"}
    assert pending["payBy"]
    purchases = (await gql(PURCHASES, token=sale.buyer.token))["data"]["me"]["purchases"]
    assert purchases["edges"][0]["node"] == {"id": sale.transaction_id, "status": "PENDING"}
    sales = (await gql(SALES, token=sale.seller.token))["data"]["me"]["sales"]
    assert sales["edges"][0]["node"]["id"] == sale.transaction_id

    before = {
        who.id: (await gql(REPUTATION, {"id": who.id}))["data"]["user"]
        for who in (sale.buyer, sale.seller)
    }
    assert all(r["reputationCount"] == 0 for r in before.values())

    # Paying without a card on file makes an intent the buyer's client confirms itself.
    assert pending["paymentClientSecret"] is None
    no_card = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert no_card["errors"] == [] and no_card["transaction"]["status"] == "PENDING"
    assert (await read(gql, sale, sale.buyer))["paymentClientSecret"]
    assert (await read(gql, sale, sale.seller))["paymentClientSecret"] is None
    setup = await payload(gql, SETUP_INTENT, {}, sale.buyer)
    assert setup["errors"] == [] and setup["clientSecret"], setup
    saved = await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, sale.buyer)
    assert saved == {"ok": True, "errors": []}
    mine = await gql("{ me { paymentMethodSaved } }", token=sale.buyer.token)
    assert mine["data"]["me"]["paymentMethodSaved"] is True

    authorized = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert authorized["errors"] == [], authorized
    assert authorized["transaction"]["status"] == "AUTHORIZED"
    assert authorized["transaction"]["captureBefore"]
    again = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert codes(again) == ["INVALID_STATE"]
    assert (await read(gql, sale, sale.buyer))["paymentClientSecret"] is None

    ship = {"id": sale.transaction_id, "carrier": "DHL Express", "tracking": "JD0146000032"}
    shipped_now = await payload(gql, SHIP, ship, sale.seller)
    assert shipped_now["errors"] == [], shipped_now
    seen = await read(gql, sale, sale.buyer)
    assert seen["shipment"]["carrier"] == "DHL Express"
    assert seen["shipment"]["trackingNumber"] == "JD0146000032"
    assert seen["shipment"]["shippedAt"] and seen["releaseAfter"]

    confirmed = await payload(gql, CONFIRM, {"id": sale.transaction_id}, sale.buyer)
    assert confirmed == {"ok": True, "errors": []}
    done = await read(gql, sale, sale.seller)
    assert done["status"] == "RELEASED"
    assert done["receivedAt"] and done["releasedAt"]
    assert Decimal(done["platformFee"]["amount"]) > 0
    assert done["ledgerEntries"] and ledger_sum(done) == 0
    assert {e["step"] for e in done["ledgerEntries"]} >= {"authorize", "release"}

    rate_seller = {"id": sale.transaction_id, "rating": 5, "comment": "Fast and careful."}
    rate_buyer = {"id": sale.transaction_id, "rating": 1, "comment": None}
    assert (await payload(gql, FEEDBACK, rate_seller, sale.buyer))["errors"] == []
    assert (await payload(gql, FEEDBACK, rate_buyer, sale.seller))["errors"] == []
    twice = await payload(gql, FEEDBACK, rate_seller, sale.buyer)
    assert codes(twice) == ["ALREADY_LEFT_FEEDBACK"]
    rated = await read(gql, sale, sale.buyer)
    assert sorted(f["rating"] for f in rated["feedback"]) == [1, 5]

    seller_now = (await gql(REPUTATION, {"id": sale.seller.id}))["data"]["user"]
    buyer_now = (await gql(REPUTATION, {"id": sale.buyer.id}))["data"]["user"]
    assert seller_now["reputationCount"] == 1 and buyer_now["reputationCount"] == 1
    assert seller_now["reputationScore"] > before[sale.seller.id]["reputationScore"]
    assert buyer_now["reputationScore"] < before[sale.buyer.id]["reputationScore"]


async def test_a_dispute_answered_and_refunded_in_part(gql, app):
    sale = await shipped(gql, app, price="200.00")
    opened = await payload(
        gql,
        DISPUTE,
        {"id": sale.transaction_id, "reason": "NOT_AS_DESCRIBED", "message": "Lens scratched."},
        sale.buyer,
    )
    assert opened == {"ok": True, "errors": []}
    dispute = (await read(gql, sale, sale.seller))["dispute"]
    assert dispute["status"] == "OPEN" and dispute["message"] == "Lens scratched."
    # Escrow holds while the dispute is open: the buyer cannot release it.
    held = await payload(gql, CONFIRM, {"id": sale.transaction_id}, sale.buyer)
    assert codes(held) == ["INVALID_STATE"]

    answer = await payload(
        gql, RESPOND, {"id": dispute["id"], "message": "It left here intact."}, sale.seller
    )
    assert answer["errors"] == [] and answer["dispute"]["status"] == "SELLER_RESPONDED"
    answered = (await read(gql, sale, sale.buyer))["dispute"]
    assert answered["sellerResponse"] == "It left here intact." and answered["respondedAt"]

    admin = await make_admin(gql, app)
    resolved = await payload(
        gql,
        RESOLVE,
        {"id": dispute["id"], "resolution": "REFUND_PARTIAL", "refund": "50.00"},
        admin,
    )
    assert resolved["errors"] == [], resolved
    assert resolved["dispute"]["status"] == "RESOLVED_REFUND"
    assert resolved["dispute"]["refundAmount"] == {"amount": "50.00"}
    assert resolved["dispute"]["transaction"]["status"] == "RELEASED"
    assert resolved["dispute"]["transaction"]["refundedAmount"] == {"amount": "50.00"}
    after = await read(gql, sale, sale.buyer)
    assert after["refundedAmount"] == {"amount": "50.00"}
    assert after["status"] == "RELEASED"
    assert ledger_sum(after) == 0
    again = await payload(gql, RESOLVE, {"id": dispute["id"], "resolution": "RELEASE"}, admin)
    assert codes(again) == ["INVALID_STATE"]


async def test_a_declined_card_fails_the_sale(gql, app):
    sale = await sold(gql, app)
    saved = await payload(gql, SAVE_CARD, {"pm": DECLINING_CARD}, sale.buyer)
    assert saved["errors"] == [], saved
    declined = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert codes(declined) == ["PAYMENT_DECLINED"]
    assert declined["transaction"]["status"] == "FAILED"
    failed = await read(gql, sale, sale.seller)
    assert failed["status"] == "FAILED" and failed["failureReason"]
    assert ledger_sum(failed) == 0


@pytest.fixture(scope="module")
async def sale_to_poke(gql, app):
    """A shipped sale the bad-input tests may poke at (they change nothing)."""
    return await shipped(gql, app)


BAD_ID = "not-a-uuid"


@pytest.mark.parametrize(
    ("doc", "variables", "code"),
    [
        (PAY, {"id": BAD_ID}, "INVALID_ID"),
        (PAY, {"id": str(uuid.uuid4())}, "NOT_FOUND"),
        (CONFIRM, {"id": BAD_ID}, "INVALID_ID"),
        (CONFIRM, {"id": str(uuid.uuid4())}, "NOT_FOUND"),
        (SHIP, {"id": str(uuid.uuid4()), "carrier": "UPS", "tracking": "1Z"}, "NOT_FOUND"),
        (FEEDBACK, {"id": BAD_ID, "rating": 5}, "INVALID_ID"),
        (DISPUTE, {"id": str(uuid.uuid4()), "reason": "x", "message": "y"}, "NOT_FOUND"),
        (RESPOND, {"id": BAD_ID, "message": "hi"}, "INVALID_ID"),
        (RESPOND, {"id": str(uuid.uuid4()), "message": "hi"}, "NOT_FOUND"),
        (SAVE_CARD, {"pm": "4242424242424242"}, "INVALID_INPUT"),
        (SAVE_CARD, {"pm": ""}, "INVALID_INPUT"),
        (SAVE_CARD, {"pm": "pm_" + "x" * 5000}, "INVALID_INPUT"),
    ],
)
async def test_unknown_and_malformed_ids(gql, sale_to_poke, doc, variables, code):
    for who in (sale_to_poke.buyer, sale_to_poke.seller):
        result = await payload(gql, doc, variables, who)
        assert codes(result) == [code], result


async def test_bad_shipping_and_feedback_input_changes_nothing(gql, app, sale_to_poke):
    sale = sale_to_poke
    before = await read(gql, sale, sale.buyer)
    ship_cases: list[tuple[dict[str, Any], str]] = [
        ({"carrier": "", "tracking": "1Z999"}, "carrier"),
        ({"carrier": "   ", "tracking": "1Z999"}, "carrier"),
        ({"carrier": "UPS", "tracking": ""}, "trackingNumber"),
        ({"carrier": "x" * 500, "tracking": "1Z999"}, "carrier"),
    ]
    for change, field in ship_cases:
        result = await payload(gql, SHIP, {"id": sale.transaction_id, **change}, sale.seller)
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_INPUT", field)]
    twice = {"id": sale.transaction_id, "carrier": "UPS", "tracking": "1Z999"}
    assert codes(await payload(gql, SHIP, twice, sale.seller)) == ["INVALID_STATE"]
    assert (await read(gql, sale, sale.buyer))["shipment"] == before["shipment"]
    feedback_cases: list[tuple[dict[str, Any], str]] = [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": -1}, "rating"),
        ({"rating": 5, "comment": "x" * 2001}, "comment"),
    ]
    confirmed = await payload(gql, CONFIRM, {"id": sale.transaction_id}, sale.buyer)
    assert confirmed["errors"] == [], confirmed
    released = await read(gql, sale, sale.buyer)
    for change, field in feedback_cases:
        result = await payload(gql, FEEDBACK, {"id": sale.transaction_id, **change}, sale.buyer)
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_INPUT", field)]
    assert (await read(gql, sale, sale.buyer))["feedback"] == []
    assert released["shipment"] == before["shipment"]
    ok = await payload(
        gql, FEEDBACK, {"id": sale.transaction_id, "rating": 4, "comment": "y" * 2000}, sale.buyer
    )
    assert ok["errors"] == [], ok


async def test_bad_refunds_change_nothing(gql, app):
    sale = await shipped(gql, app, price="150.00")
    opened = await payload(
        gql,
        DISPUTE,
        {"id": sale.transaction_id, "reason": "NOT_RECEIVED", "message": "Nothing came."},
        sale.buyer,
    )
    assert opened["errors"] == [], opened
    dispute_id = (await read(gql, sale, sale.buyer))["dispute"]["id"]
    admin = await make_admin(gql, app)
    before = await read(gql, sale, admin)
    cases = [
        ("REFUND_PARTIAL", "-1.00", "INVALID_AMOUNT"),
        ("REFUND_PARTIAL", "100.001", "INVALID_AMOUNT"),
        ("REFUND_PARTIAL", "1" + "0" * 20, "INVALID_AMOUNT"),
        ("REFUND_PARTIAL", "150.01", None),  # more than was paid
        ("REFUND_PARTIAL", "150.00", None),  # all of it is REFUND_FULL
        ("REFUND_PARTIAL", "0", None),
        ("REFUND_PARTIAL", None, None),
        ("RELEASE", "10.00", None),
    ]
    for resolution, refund, code in cases:
        variables = {"id": dispute_id, "resolution": resolution, "refund": refund}
        result = await payload(gql, RESOLVE, variables, admin)
        assert result["dispute"] is None and result["errors"], (variables, result)
        error = result["errors"][0]
        if code is not None:
            assert error["code"] == code, result
        assert error["code"] not in {"INTERNAL", "NOT_AVAILABLE_YET"}, result
        assert error["field"] == "refundAmount", result
        assert await read(gql, sale, admin) == before
    malformed = await payload(gql, RESOLVE, {"id": BAD_ID, "resolution": "RELEASE"}, admin)
    assert codes(malformed) == ["INVALID_ID"]
    unknown = await payload(gql, RESOLVE, {"id": str(uuid.uuid4()), "resolution": "RELEASE"}, admin)
    assert codes(unknown) == ["NOT_FOUND"]
    float_refund = await gql(
        RESOLVE,
        {"id": dispute_id, "resolution": "REFUND_PARTIAL", "refund": 10.5},
        token=admin.token,
    )
    assert float_refund["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert await read(gql, sale, admin) == before


async def test_second_chance_needs_a_failed_sale(gql, app):
    sale = await paid(gql, app)
    stranger = await register(gql)
    assert stranger.id != sale.buyer.id
    from tests.api.settlement_steps import SECOND_CHANCE

    result = await payload(gql, SECOND_CHANCE, {"id": sale.transaction_id}, sale.seller)
    assert codes(result) == ["INVALID_STATE"]


async def test_a_dispute_with_evidence_pictures_refunded_in_full(gql, app, client):
    sale = await shipped(gql, app, price="180.00")
    variables = {"id": sale.transaction_id, "reason": "DAMAGED", "message": "Cracked body."}
    foreign = await dispute_with_evidence(
        client, sale.buyer, {**variables, "ids": [str(uuid.uuid4())]}, [png()]
    )
    assert [(e["code"], e["field"]) for e in foreign["errors"]] == [
        ("INVALID_INPUT", "evidenceImageIds")
    ]
    assert (await read(gql, sale, sale.buyer))["dispute"] is None
    too_many = await dispute_with_evidence(client, sale.buyer, variables, [png()] * 11)
    assert codes(too_many) == ["INVALID_INPUT"]
    opened = await dispute_with_evidence(client, sale.buyer, variables, [png(), png()])
    assert opened == {"ok": True, "errors": []}
    dispute = (await read(gql, sale, sale.seller))["dispute"]
    assert len(dispute["evidenceImageUrls"]) == 2
    # Uploaded evidence is served at a signed URL only (tests/api/test_dispute_evidence_urls.py).
    picture = await client.get(dispute["evidenceImageUrls"][0])
    assert picture.status_code == 200 and picture.headers["content-type"].startswith("image/")

    admin = await make_admin(gql, app)
    resolved = await payload(
        gql, RESOLVE, {"id": dispute["id"], "resolution": "REFUND_FULL"}, admin
    )
    assert resolved["errors"] == [], resolved
    assert resolved["dispute"]["status"] == "RESOLVED_REFUND"
    after = await read(gql, sale, sale.buyer)
    assert after["status"] == "REFUNDED"
    assert after["refundedAmount"]["amount"] == after["amount"]["amount"]
    assert ledger_sum(after) == 0


async def test_bad_dispute_input_changes_nothing(gql, app):
    sale = await shipped(gql, app)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"reason": "", "message": "Broken."}, "reason"),
        ({"reason": "x" * 101, "message": "Broken."}, "reason"),
        ({"reason": "two\nlines", "message": "Broken."}, "reason"),
        ({"reason": "DAMAGED", "message": "   "}, "message"),
        ({"reason": "DAMAGED", "message": "y" * 5001}, "message"),
    ]
    for change, field in cases:
        result = await payload(gql, DISPUTE, {"id": sale.transaction_id, **change}, sale.buyer)
        assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_INPUT", field)]
    assert (await read(gql, sale, sale.buyer))["dispute"] is None
    opened = await payload(
        gql,
        DISPUTE,
        {"id": sale.transaction_id, "reason": "DAMAGED", "message": "Bent."},
        sale.buyer,
    )
    assert opened["errors"] == [], opened
    twice = await payload(
        gql,
        DISPUTE,
        {"id": sale.transaction_id, "reason": "DAMAGED", "message": "Bent."},
        sale.buyer,
    )
    assert codes(twice) == ["INVALID_STATE"]
    dispute_id = (await read(gql, sale, sale.seller))["dispute"]["id"]
    empty = await payload(gql, RESPOND, {"id": dispute_id, "message": ""}, sale.seller)
    assert [(e["code"], e["field"]) for e in empty["errors"]] == [("INVALID_INPUT", "message")]
    assert (await read(gql, sale, sale.seller))["dispute"]["sellerResponse"] is None


async def test_a_dutch_sale_reaches_the_buyer_through_the_worker(gql, app):
    """No use case called by hand: the app's persister records the outcome and its
    settlement worker opens the sale, which the buyer then finds and pays."""
    seller, buyer = await register(gql, seller=True), await register(gql)
    created = await create_auction(
        gql,
        seller,
        type="DUTCH",
        startingPrice="1000",
        dutchStep="10",
        dutchStepSeconds=3600,
        dutchFloor="500",
    )
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    won = await gql(BID, {"id": created["id"], "amount": "1000"}, token=buyer.token)
    assert won["data"]["placeBid"]["__typename"] == "BidAccepted", won

    async def purchase() -> dict[str, Any] | None:
        mine = (await gql(PURCHASES, token=buyer.token))["data"]["me"]["purchases"]
        return mine["edges"][0]["node"] if mine["edges"] else None

    found = None
    for _ in range(150):  # up to 30 s; the worker's interval is 5 s
        if (found := await purchase()) is not None:
            break
        await asyncio.sleep(0.2)
    assert found is not None and found["status"] == "PENDING"
    sale = Sale(seller, buyer, created["id"], found["id"])
    assert (await read(gql, sale, seller))["price"] == {"amount": "1000.00"}
    assert (await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, buyer))["errors"] == []
    result = await payload(gql, PAY, {"id": sale.transaction_id}, buyer)
    assert result["transaction"]["status"] == "AUTHORIZED", result


async def test_purchase_and_sale_pages(gql, app):
    buyer = await register(gql)
    seller = await register(gql, seller=True)
    sales = [await sold(gql, app, seller=seller, buyer=buyer) for _ in range(3)]
    page_doc = """query($after: String) { me { purchases(first: 2, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }"""
    first = (await gql(page_doc, token=buyer.token))["data"]["me"]["purchases"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (await gql(page_doc, {"after": after}, token=buyer.token))["data"]["me"]["purchases"]
    assert second["pageInfo"]["hasNextPage"] is False
    seen = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert sorted(seen) == sorted(s.transaction_id for s in sales)  # newest first, no gap
    assert seen[0] == sales[-1].transaction_id
    garbage = await gql(page_doc, {"after": "garbage"}, token=buyer.token)
    assert garbage["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    too_many = await gql("{ me { sales(first: 1000) { totalCount } } }", token=seller.token)
    assert too_many["errors"][0]["extensions"]["code"] == "INVALID_PAGE_SIZE"
