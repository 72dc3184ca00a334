"""Object-level permissions of settlement (issue 14 item 8): only the buyer pays and
confirms, only the seller ships and offers second chances, only a party leaves feedback,
only admins resolve disputes, and nobody else sees a sale, its dispute, feedback or
ledger (NOT_FOUND, exactly as for an id that names nothing). Every refusal changes
nothing: the sale reads the same afterwards."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.settlement_steps import (
    CONFIRM,
    DECLINING_CARD,
    DISPUTE,
    FEEDBACK,
    GOOD_CARD,
    PAY,
    PURCHASES,
    RESOLVE,
    RESPOND,
    SALES,
    SAVE_CARD,
    SECOND_CHANCE,
    SETUP_INTENT,
    SHIP,
    TRANSACTION,
    codes,
    make_admin,
    paid,
    payload,
    read,
    shipped,
    sold,
)
from tests.helpers import BID, LOGIN, PASSWORD, PUBLISH, Account, create_auction, register


@pytest.fixture
async def stranger(gql):
    return await register(gql, seller=True)


async def test_nobody_else_sees_a_sale(gql, app, stranger):
    sale = await sold(gql, app)
    unknown = str(uuid.uuid4())
    for variables in ({"id": sale.transaction_id}, {"id": unknown}):
        body = await gql(TRANSACTION, variables, token=stranger.token)
        assert body["data"] == {"transaction": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    # The stranger's answer is the unknown id's, word for word: nothing leaks.
    mine = await gql(TRANSACTION, {"id": sale.transaction_id}, token=stranger.token)
    nobody = await gql(TRANSACTION, {"id": unknown}, token=stranger.token)
    assert mine["errors"][0]["message"] == nobody["errors"][0]["message"]
    anonymous = await gql(TRANSACTION, {"id": sale.transaction_id})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    malformed = await gql(TRANSACTION, {"id": "not-a-uuid"}, token=sale.buyer.token)
    assert malformed["errors"][0]["extensions"]["code"] == "INVALID_ID"
    for lists in (PURCHASES, SALES):
        theirs = (await gql(lists, token=stranger.token))["data"]["me"]
        assert next(iter(theirs.values()))["totalCount"] == 0
    buyer_view = await read(gql, sale, sale.buyer)
    seller_view = await read(gql, sale, sale.seller)
    admin_view = await read(gql, sale, await make_admin(gql, app))
    assert buyer_view["id"] == seller_view["id"] == admin_view["id"] == sale.transaction_id
    purchases = (await gql(PURCHASES, token=sale.buyer.token))["data"]["me"]["purchases"]
    sales = (await gql(SALES, token=sale.seller.token))["data"]["me"]["sales"]
    assert [e["node"]["id"] for e in purchases["edges"]] == [sale.transaction_id]
    assert [e["node"]["id"] for e in sales["edges"]] == [sale.transaction_id]
    assert (await gql(SALES, token=sale.buyer.token))["data"]["me"]["sales"]["totalCount"] == 0


async def test_only_the_buyer_gets_the_payment_client_secret(gql, app):
    sale = await sold(gql, app)
    # No card on file: paying makes an intent for the buyer's client to confirm.
    started = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert started["errors"] == [] and started["transaction"]["status"] == "PENDING"
    assert (await read(gql, sale, sale.buyer))["paymentClientSecret"]
    assert (await read(gql, sale, sale.seller))["paymentClientSecret"] is None
    assert (await read(gql, sale, await make_admin(gql, app)))["paymentClientSecret"] is None


async def _refused(
    gql: Any, sale_reader: Any, doc: str, variables: dict[str, Any], who: Any, code: str
) -> None:
    before = await sale_reader()
    result = await payload(gql, doc, variables, who)
    assert codes(result) == [code], result
    assert await sale_reader() == before


async def test_only_the_buyer_pays(gql, app, stranger):
    sale = await sold(gql, app)
    for who in (sale.seller, stranger):
        ok = await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, who)
        assert ok["errors"] == [], ok

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.buyer)

    pay = {"id": sale.transaction_id}
    await _refused(gql, state, PAY, pay, sale.seller, "FORBIDDEN")
    await _refused(gql, state, PAY, pay, stranger, "NOT_FOUND")
    assert (await state())["status"] == "PENDING"


async def test_only_the_seller_ships_and_only_the_buyer_confirms(gql, app, stranger):
    sale = await paid(gql, app)

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.seller)

    ship = {"id": sale.transaction_id, "carrier": "UPS", "tracking": "1Z999"}
    await _refused(gql, state, SHIP, ship, sale.buyer, "FORBIDDEN")
    await _refused(gql, state, SHIP, ship, stranger, "NOT_FOUND")
    assert (await state())["shipment"] is None
    shipped_now = await payload(gql, SHIP, ship, sale.seller)
    assert shipped_now["errors"] == [], shipped_now
    confirm = {"id": sale.transaction_id}
    await _refused(gql, state, CONFIRM, confirm, sale.seller, "FORBIDDEN")
    await _refused(gql, state, CONFIRM, confirm, stranger, "NOT_FOUND")
    assert (await state())["receivedAt"] is None


async def test_only_the_buyer_disputes_only_the_seller_responds_only_admins_resolve(
    gql, app, stranger
):
    sale = await shipped(gql, app)

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.buyer)

    dispute = {"id": sale.transaction_id, "reason": "NOT_AS_DESCRIBED", "message": "Broken."}
    await _refused(gql, state, DISPUTE, dispute, sale.seller, "FORBIDDEN")
    await _refused(gql, state, DISPUTE, dispute, stranger, "NOT_FOUND")
    assert (await state())["dispute"] is None
    opened = await payload(gql, DISPUTE, dispute, sale.buyer)
    assert opened["errors"] == [], opened
    dispute_id = (await state())["dispute"]["id"]

    respond = {"id": dispute_id, "message": "It was fine when it left."}
    await _refused(gql, state, RESPOND, respond, sale.buyer, "FORBIDDEN")
    await _refused(gql, state, RESPOND, respond, stranger, "NOT_FOUND")
    assert (await state())["dispute"]["sellerResponse"] is None

    listing = """query($after: String) { disputes(status: OPEN, first: 100, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id transaction { id } } } } }"""
    for who in (sale.buyer, sale.seller, stranger):
        body = await gql(listing, token=who.token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    admin = await make_admin(gql, app)
    found, after = [], None
    while True:
        page = (await gql(listing, {"after": after}, token=admin.token))["data"]["disputes"]
        found += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert {"id": dispute_id, "transaction": {"id": sale.transaction_id}} in found

    resolve = {"id": dispute_id, "resolution": "REFUND_FULL"}
    for who in (sale.buyer, sale.seller, stranger):
        before = await state()
        body = await gql(RESOLVE, resolve, token=who.token)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert await state() == before
    assert (await state())["status"] != "REFUNDED"


async def _made_admin(gql: Any, app: Any, account: Account) -> Account:
    """`account` given the ADMIN role too, logged in again for a token that says so."""
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET roles = array_append(roles, 'ADMIN') WHERE id = :u"),
            {"u": account.id},
        )
    login = await gql(LOGIN, {"email": account.email, "password": PASSWORD})
    account.token = login["data"]["login"]["accessToken"]
    return account


@pytest.mark.parametrize("party", ["buyer", "seller"])
async def test_an_admin_who_is_a_party_to_the_sale_cannot_resolve_its_dispute(gql, app, party):
    admin = await _made_admin(gql, app, await register(gql, seller=party == "seller"))
    sale = await shipped(gql, app, **{party: admin})

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.buyer)

    opened = await payload(
        gql, DISPUTE, {"id": sale.transaction_id, "reason": "Broken", "message": "m"}, sale.buyer
    )
    assert opened["errors"] == [], opened
    dispute_id = (await state())["dispute"]["id"]
    for resolution in ("REFUND_FULL", "RELEASE"):
        before = await state()
        result = await payload(gql, RESOLVE, {"id": dispute_id, "resolution": resolution}, admin)
        assert codes(result) == ["FORBIDDEN"], result
        assert "party" in result["errors"][0]["message"]
        assert await state() == before
    other_admin = await make_admin(gql, app)
    resolved = await payload(gql, RESOLVE, {"id": dispute_id, "resolution": "RELEASE"}, other_admin)
    assert resolved["errors"] == [], resolved
    assert (await state())["status"] == "RELEASED"


async def test_confirm_receipt_before_shipment_is_refused(gql, app):
    sale = await paid(gql, app)

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.buyer)

    before = await state()
    result = await payload(gql, CONFIRM, {"id": sale.transaction_id}, sale.buyer)
    assert codes(result) == ["INVALID_STATE"], result
    assert "not been shipped yet" in result["errors"][0]["message"]
    assert await state() == before
    assert before["status"] == "AUTHORIZED" and before["receivedAt"] is None


async def test_the_seller_sees_when_to_ship_by(gql, app):
    sale = await paid(gql, app)
    ship_by = """query($id: ID!) { transaction(id: $id) { shipBy } }"""
    seen = await gql(ship_by, {"id": sale.transaction_id}, token=sale.seller.token)
    assert seen["data"]["transaction"]["shipBy"], seen
    ship = {"id": sale.transaction_id, "carrier": "UPS", "tracking": "1Z999"}
    assert (await payload(gql, SHIP, ship, sale.seller))["errors"] == []
    seen = await gql(ship_by, {"id": sale.transaction_id}, token=sale.seller.token)
    assert seen["data"]["transaction"]["shipBy"] is None  # shipped: nothing to wait for


async def test_only_the_seller_offers_a_second_chance(gql, app, stranger):
    sale = await sold(gql, app)

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.seller)

    offer = {"id": sale.transaction_id}
    await _refused(gql, state, SECOND_CHANCE, offer, sale.buyer, "FORBIDDEN")
    await _refused(gql, state, SECOND_CHANCE, offer, stranger, "NOT_FOUND")


async def test_only_a_party_leaves_feedback(gql, app, stranger):
    sale = await shipped(gql, app)
    confirmed = await payload(gql, CONFIRM, {"id": sale.transaction_id}, sale.buyer)
    assert confirmed["errors"] == [], confirmed

    async def state() -> dict[str, Any]:
        return await read(gql, sale, sale.seller)

    rate = {"id": sale.transaction_id, "rating": 1, "comment": "never met them"}
    await _refused(gql, state, FEEDBACK, rate, stranger, "NOT_FOUND")
    admin = await make_admin(gql, app)
    await _refused(gql, state, FEEDBACK, rate, admin, "FORBIDDEN")
    assert (await state())["feedback"] == []


async def _saved_card(app: Any, user_id: str) -> str | None:
    async with app.state.engine.connect() as conn:
        pm: str | None = (
            await conn.execute(
                text("SELECT stripe_payment_method_id FROM users WHERE id = :u"), {"u": user_id}
            )
        ).scalar_one()
    return pm


async def test_a_saved_card_is_the_owners_alone(gql, app, stranger):
    owner = await register(gql)
    saved = await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, owner)
    assert saved["errors"] == [], saved
    pm = await _saved_card(app, owner.id)
    assert pm and pm != GOOD_CARD  # the token became a card of the owner's own
    theirs = await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, stranger)
    assert theirs["errors"] == [], theirs
    assert await _saved_card(app, owner.id) == pm
    assert await _saved_card(app, stranger.id) not in (None, pm)
    mine = "{ me { paymentMethodSaved } }"
    assert (await gql(mine, token=owner.token))["data"]["me"]["paymentMethodSaved"] is True
    nobody = await register(gql)
    assert (await gql(mine, token=nobody.token))["data"]["me"]["paymentMethodSaved"] is False


async def test_another_users_saved_card_cannot_be_taken(gql, app, stranger):
    owner = await register(gql)
    assert (await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, owner))["errors"] == []
    pm = await _saved_card(app, owner.id)
    taken = await payload(gql, SAVE_CARD, {"pm": pm}, stranger)
    assert codes(taken) == ["INVALID_INPUT"], taken
    assert await _saved_card(app, stranger.id) is None


async def test_strikes_and_disputes_lost_are_for_admins(gql, app, stranger):
    someone = await register(gql)
    doc = "query($id: ID!) { user(id: $id) { username unpaidStrikes disputesLost } }"
    for who in (someone, stranger):
        body = await gql(doc, {"id": someone.id}, token=who.token)
        assert body["data"]["user"] == {
            "username": someone.username,
            "unpaidStrikes": None,
            "disputesLost": None,
        }
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    admin = await make_admin(gql, app)
    body = await gql(doc, {"id": someone.id}, token=admin.token)
    assert "errors" not in body, body
    assert body["data"]["user"]["unpaidStrikes"] == 0
    assert body["data"]["user"]["disputesLost"] == 0


async def test_a_second_chance_sale_is_the_runner_ups_not_the_first_buyers(gql, app):
    seller = await register(gql, seller=True)
    runner_up, buyer = await register(gql), await register(gql)
    # A bid below the reserve leaves buy-now open.
    created = await create_auction(gql, seller, reservePrice="200.00", buyNowPrice="250.00")
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    bid = await gql(BID, {"id": created["id"], "amount": "110.00"}, token=runner_up.token)
    assert bid["data"]["placeBid"]["__typename"] == "BidAccepted", bid
    sale = await sold(gql, app, seller=seller, buyer=buyer, auction=created["id"])
    assert (await payload(gql, SAVE_CARD, {"pm": DECLINING_CARD}, buyer))["errors"] == []
    declined = await payload(gql, PAY, {"id": sale.transaction_id}, buyer)
    assert codes(declined) == ["PAYMENT_DECLINED"]

    offered = await payload(gql, SECOND_CHANCE, {"id": sale.transaction_id}, seller)
    assert offered["errors"] == [], offered
    offer = offered["transaction"]
    assert offer["isSecondChance"] is True and offer["status"] == "PENDING"
    assert offer["buyer"]["id"] == runner_up.id and offer["price"] == {"amount": "110.00"}

    link = "query($id: ID!) { transaction(id: $id) { secondChance { id } } }"
    as_seller = await gql(link, {"id": sale.transaction_id}, token=seller.token)
    assert as_seller["data"]["transaction"]["secondChance"] == {"id": offer["id"]}
    as_buyer = await gql(link, {"id": sale.transaction_id}, token=buyer.token)
    assert as_buyer["data"]["transaction"]["secondChance"] is None
    # Each buyer sees their own sale only.
    theirs = await gql(TRANSACTION, {"id": offer["id"]}, token=buyer.token)
    assert theirs["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    first = await gql(TRANSACTION, {"id": sale.transaction_id}, token=runner_up.token)
    assert first["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    mine = (await gql(PURCHASES, token=runner_up.token))["data"]["me"]["purchases"]
    assert [e["node"]["id"] for e in mine["edges"]] == [offer["id"]]
    again = await payload(gql, SECOND_CHANCE, {"id": sale.transaction_id}, seller)
    assert codes(again) == ["INVALID_STATE"]


@pytest.mark.parametrize(
    ("doc", "variables"),
    [
        (SAVE_CARD, {"pm": GOOD_CARD}),
        (SETUP_INTENT, {}),
        (PAY, {"id": str(uuid.uuid4())}),
        (SHIP, {"id": str(uuid.uuid4()), "carrier": "UPS", "tracking": "1Z"}),
        (CONFIRM, {"id": str(uuid.uuid4())}),
        (DISPUTE, {"id": str(uuid.uuid4()), "reason": "x", "message": "y"}),
        (RESPOND, {"id": str(uuid.uuid4()), "message": "y"}),
        (RESOLVE, {"id": str(uuid.uuid4()), "resolution": "RELEASE"}),
        (SECOND_CHANCE, {"id": str(uuid.uuid4())}),
        (FEEDBACK, {"id": str(uuid.uuid4()), "rating": 5}),
        ("{ disputes { totalCount } }", {}),
    ],
)
async def test_anonymous_callers_are_refused(gql, doc, variables):
    body = await gql(doc, variables)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_AUTHENTICATED"]
