"""Listing auctions through the API: create/update/publish/cancel, permissions, validation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import CREATE, PUBLISH, create_auction, iso, listing, register

UPDATE = """mutation($id: ID!, $input: UpdateAuctionInput!) {
  updateAuction(auctionId: $id, input: $input) {
    auction { id item { title } startingPrice { amount } } errors { code field } } }"""
CANCEL = """mutation($id: ID!, $r: String) { cancelAuction(auctionId: $id, reason: $r) {
  auction { id status } errors { code message } } }"""
AUCTION = """query($id: ID!) { auction(id: $id) { id status type currentPrice { amount }
  minimumNextBid { amount currency } reserveMet bidCount watcherCount
  startingPrice { amount currency } item { title seller { username } } } }"""


@pytest.fixture
async def seller(gql):
    return await register(gql, seller=True)


async def test_create_all_four_types(gql, seller):
    cases: list[dict[str, Any]] = [
        {"type": "ENGLISH", "reservePrice": "150.00", "buyNowPrice": "500"},
        {
            "type": "DUTCH",
            "startingPrice": "1000",
            "dutchStep": "10",
            "dutchStepSeconds": 60,
            "dutchFloor": "400",
        },
        {"type": "SEALED_FIRST_PRICE", "reservePrice": "120"},
        {"type": "SEALED_SECOND_PRICE", "currency": "JPY", "startingPrice": "15000"},
    ]
    for overrides in cases:
        auction = await create_auction(gql, seller, **overrides)
        assert auction["status"] == "DRAFT"
        assert auction["type"] == overrides["type"]
        assert auction["item"]["seller"]["username"] == seller.username
    jpy = await create_auction(gql, seller, type="ENGLISH", currency="JPY", startingPrice="1500")
    assert jpy["startingPrice"] == {"amount": "1500", "currency": "JPY"}


BAD_INPUTS = [
    ({"startingPrice": "-1"}, "INVALID_AMOUNT", "startingPrice"),
    ({"startingPrice": "0"}, "INVALID_AMOUNT", "startingPrice"),
    # "NaN" and "1e30" are no Decimal at all: tests/api/test_strict_input.py
    ({"startingPrice": "1" + "0" * 30}, "INVALID_AMOUNT", "startingPrice"),
    ({"startingPrice": "10.001"}, "INVALID_AMOUNT", "startingPrice"),
    ({"currency": "JPY", "startingPrice": "10.5"}, "INVALID_AMOUNT", "startingPrice"),
    ({"currency": "XXX"}, "UNKNOWN_CURRENCY", "currency"),
    ({"category": "weapons"}, "UNKNOWN_CATEGORY", "category"),
    ({"title": "x" * 1_000_000}, "TOO_LONG", "title"),
    ({"description": "y" * 1_000_000}, "TOO_LONG", "description"),
    ({"endsAt": iso(timedelta(seconds=-60))}, "INVALID_SCHEDULE", "endsAt"),
    (
        {"startsAt": iso(timedelta(days=2)), "endsAt": iso(timedelta(days=1))},
        "INVALID_SCHEDULE",
        "endsAt",
    ),
    ({"endsAt": iso(timedelta(seconds=1))}, "INVALID_SCHEDULE", "endsAt"),
    ({"reservePrice": "50"}, "INVALID_AMOUNT", "reservePrice"),
    ({"type": "SEALED_FIRST_PRICE", "buyNowPrice": "900"}, "INVALID_INPUT", "buyNowPrice"),
    ({"type": "DUTCH"}, "INVALID_AMOUNT", "dutchStep"),
    ({"dutchStep": "5"}, "INVALID_INPUT", "dutchStep"),
]


@pytest.mark.parametrize(("overrides", "code", "field"), BAD_INPUTS)
async def test_bad_listing_input_changes_nothing(gql, seller, overrides, code, field):
    mine = """{ auctions(filter: {statuses: [DRAFT]}, first: 100) { totalCount } }"""
    before = (await gql(mine, token=seller.token))["data"]["auctions"]["totalCount"]
    body = await gql(CREATE, {"input": listing(**overrides)}, token=seller.token)
    data = body["data"]["createAuction"]
    assert data["auction"] is None
    assert [(e["code"], e["field"]) for e in data["errors"]] == [(code, field)], data
    after = (await gql(mine, token=seller.token))["data"]["auctions"]["totalCount"]
    assert after == before


async def test_float_and_garbage_amounts_are_rejected_by_the_scalar(gql, seller):
    body = await gql(CREATE, {"input": listing(startingPrice="ten dollars")}, token=seller.token)
    assert body.get("data") is None and body["errors"]


async def test_bidder_cannot_list_before_becoming_seller(gql):
    bidder = await register(gql)
    body = await gql(CREATE, {"input": listing()}, token=bidder.token)
    assert body["data"]["createAuction"]["errors"][0]["code"] == "NOT_SELLER"
    anonymous = await gql(CREATE, {"input": listing()})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_publish_now_or_later(gql, seller):
    now = await create_auction(gql, seller)
    published = (await gql(PUBLISH, {"id": now["id"]}, token=seller.token))["data"]
    assert published["publishAuction"]["auction"]["status"] == "ACTIVE"
    later = await create_auction(gql, seller, startsAt=iso(timedelta(hours=1)))
    published = (await gql(PUBLISH, {"id": later["id"]}, token=seller.token))["data"]
    assert published["publishAuction"]["auction"]["status"] == "SCHEDULED"
    again = (await gql(PUBLISH, {"id": later["id"]}, token=seller.token))["data"]
    assert again["publishAuction"]["errors"][0]["code"] == "INVALID_STATE"


async def test_active_auction_reads_live_fields(gql, seller):
    created = await create_auction(gql, seller, reservePrice="300")
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    auction = (await gql(AUCTION, {"id": created["id"]}))["data"]["auction"]
    assert auction["status"] == "ACTIVE"
    assert auction["currentPrice"] is None
    assert auction["minimumNextBid"] == {"amount": "100.00", "currency": "USD"}
    assert auction["reserveMet"] is False and auction["bidCount"] == 0


async def test_dutch_price_shows_while_active(gql, seller):
    created = await create_auction(
        gql,
        seller,
        type="DUTCH",
        startingPrice="1000",
        dutchStep="10",
        dutchStepSeconds=3600,
        dutchFloor="400",
    )
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    auction = (await gql(AUCTION, {"id": created["id"]}))["data"]["auction"]
    assert auction["currentPrice"] == {"amount": "1000.00"}
    assert auction["minimumNextBid"]["amount"] == "1000.00"


async def test_seller_edits_own_draft_only(gql, seller):
    other = await register(gql, seller=True)
    created = await create_auction(gql, seller)
    ok = (
        await gql(
            UPDATE,
            {"id": created["id"], "input": {"title": "Leica M6 TTL", "startingPrice": "120"}},
            token=seller.token,
        )
    )["data"]["updateAuction"]
    assert ok["errors"] == []
    assert ok["auction"]["item"]["title"] == "Leica M6 TTL"
    assert ok["auction"]["startingPrice"]["amount"] == "120.00"
    # Another seller cannot see, edit, publish or cancel someone else's draft.
    for doc, variables in [
        (UPDATE, {"id": created["id"], "input": {"title": "Mine now"}}),
        (PUBLISH, {"id": created["id"]}),
        (CANCEL, {"id": created["id"]}),
    ]:
        body = await gql(doc, variables, token=other.token)
        payload = next(iter(body["data"].values()))
        assert payload["errors"][0]["code"] == "NOT_FOUND", body
    assert (await gql(AUCTION, {"id": created["id"]}, token=other.token))["data"]["auction"] is None
    assert (await gql(AUCTION, {"id": created["id"]}))["data"]["auction"] is None
    # Once published it is public, still not theirs to change.
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    body = await gql(CANCEL, {"id": created["id"]}, token=other.token)
    assert body["data"]["cancelAuction"]["errors"][0]["code"] == "FORBIDDEN"
    body = await gql(UPDATE, {"id": created["id"], "input": {"title": "Nope"}}, token=seller.token)
    assert body["data"]["updateAuction"]["errors"][0]["code"] == "INVALID_STATE"


async def test_bad_update_changes_nothing(gql, seller):
    created = await create_auction(gql, seller)
    body = await gql(
        UPDATE,
        {"id": created["id"], "input": {"title": "Fine title", "startingPrice": "-5"}},
        token=seller.token,
    )
    assert body["data"]["updateAuction"]["errors"][0]["code"] == "INVALID_AMOUNT"
    auction = (await gql(AUCTION, {"id": created["id"]}, token=seller.token))["data"]["auction"]
    assert auction["item"]["title"] == "Leica M6 rangefinder, 1986"
    assert auction["startingPrice"]["amount"] == "100.00"


async def test_cancel_before_bids_and_admin(gql, seller, app):
    created = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    body = await gql(CANCEL, {"id": created["id"], "r": "changed my mind"}, token=seller.token)
    assert body["data"]["cancelAuction"]["auction"]["status"] == "CANCELLED"
    again = await gql(CANCEL, {"id": created["id"]}, token=seller.token)
    assert again["data"]["cancelAuction"]["errors"][0]["code"] == "INVALID_STATE"


async def test_watch_and_unwatch(gql, seller):
    bidder = await register(gql)
    created = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    watch = "mutation($id: ID!) { watchAuction(auctionId: $id) { ok errors { code } } }"
    unwatch = "mutation($id: ID!) { unwatchAuction(auctionId: $id) { ok } }"
    for _ in range(2):  # watching twice is harmless
        assert (await gql(watch, {"id": created["id"]}, token=bidder.token))["data"][
            "watchAuction"
        ]["ok"]
    auction = (await gql(AUCTION, {"id": created["id"]}))["data"]["auction"]
    assert auction["watcherCount"] == 1
    mine = "{ me { watchlist { totalCount edges { node { id } } } } }"
    watchlist = (await gql(mine, token=bidder.token))["data"]["me"]["watchlist"]
    assert watchlist["totalCount"] == 1 and watchlist["edges"][0]["node"]["id"] == created["id"]
    await gql(unwatch, {"id": created["id"]}, token=bidder.token)
    assert (await gql(AUCTION, {"id": created["id"]}))["data"]["auction"]["watcherCount"] == 0
    missing = await gql(watch, {"id": "00000000-0000-0000-0000-000000000000"}, token=bidder.token)
    assert missing["data"]["watchAuction"]["errors"][0]["code"] == "NOT_FOUND"


async def test_invalid_ids_get_clear_errors(gql, seller):
    body = await gql(AUCTION, {"id": "not-a-uuid"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"
    body = await gql(PUBLISH, {"id": "not-a-uuid"}, token=seller.token)
    assert body["data"]["publishAuction"]["errors"][0]["code"] == "INVALID_ID"


async def test_email_is_private(gql, seller):
    body = await gql("query($id: ID!) { user(id: $id) { username email } }", {"id": seller.id})
    assert body["errors"] and "email" in body["errors"][0]["message"]
    body = await gql("query($id: ID!) { user(id: $id) { username } }", {"id": seller.id})
    assert body["data"]["user"]["username"] == seller.username


async def test_categories_are_a_taxonomy(gql):
    categories = (await gql("{ categories }"))["data"]["categories"]
    assert "cameras" in categories and "cameras/film" in categories
    assert all(c.split("/")[0] in categories for c in categories)


async def test_admin_cancels_an_auction_with_bids_and_bidders_are_told(gql, seller, app):
    from sqlalchemy import text

    from tests.helpers import BID, LOGIN, PASSWORD

    created = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    bidder = await register(gql)
    admin = await register(gql)
    watcher = await register(gql)
    watched = await gql(
        "mutation($id: ID!) { watchAuction(auctionId: $id) { ok } }",
        {"id": created["id"]},
        token=watcher.token,
    )
    assert watched["data"]["watchAuction"]["ok"], watched
    placed = await gql(BID, {"id": created["id"], "amount": "100"}, token=bidder.token)
    assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET roles = '{BIDDER,ADMIN}' WHERE id = :u"), {"u": admin.id}
        )
    refused = await gql(CANCEL, {"id": created["id"]}, token=seller.token)
    assert refused["data"]["cancelAuction"]["errors"][0]["code"] == "FORBIDDEN"
    login = await gql(LOGIN, {"email": admin.email, "password": PASSWORD})
    admin_token = login["data"]["login"]["accessToken"]
    done = await gql(CANCEL, {"id": created["id"], "r": "counterfeit"}, token=admin_token)
    assert done["data"]["cancelAuction"]["auction"]["status"] == "CANCELLED"
    inbox = await gql(
        "{ me { notifications { totalCount edges { node { kind auctionId read } } } } }",
        token=bidder.token,
    )
    notes = inbox["data"]["me"]["notifications"]
    assert notes["totalCount"] == 1
    assert notes["edges"][0]["node"] == {
        "kind": "AUCTION_CANCELLED",
        "auctionId": created["id"],
        "read": False,
    }
    # Watchers are told too (docs/notifications.md), once.
    told = await gql(
        "{ me { notifications { edges { node { kind message } } } } }", token=watcher.token
    )
    assert [e["node"] for e in told["data"]["me"]["notifications"]["edges"]] == [
        {"kind": "AUCTION_CANCELLED", "message": "An auction you watch was cancelled."}
    ]
    after = await gql(BID, {"id": created["id"], "amount": "200"}, token=bidder.token)
    assert after["data"]["placeBid"]["reason"] == "AUCTION_NOT_ACTIVE"
    bids = await gql(
        "query($id: ID!) { auction(id: $id) { status bids { totalCount } } }",
        {"id": created["id"]},
    )
    assert bids["data"]["auction"] == {"status": "CANCELLED", "bids": {"totalCount": 0}}
