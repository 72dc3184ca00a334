"""The fraud queue: flags with their signals in words, and the decisions on them
(dismiss, hold, ban, void bids with the price recomputed); admins only."""

from __future__ import annotations

from fastapi import FastAPI
from nicegui.testing.user import User as UIUser

from tests.admin_ui.hostile import ban_out_of_band, eventually
from tests.admin_ui.review_steps import open_as
from tests.api.admin_steps import account_state, add_flag, audit_rows, flag_status
from tests.api.settlement_steps import make_admin
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, Account, create_auction, register

AUCTION = """query($id: ID!) { auction(id: $id) {
  currentPrice { amount currency } bidCount leader { id } } }"""


async def flag_on_page(user: UIUser, admin: Account, flag_id: str) -> None:
    await open_as(user, admin, "/fraud", f"flag-{flag_id}")


async def decide(user: UIUser, flag_id: str, action: str, reason: str) -> None:
    """Click `action` on the flag's card, give `reason`, confirm."""
    with user.scope(marker=f"flag-{flag_id}"):
        user.find(marker=action).click()
    await user.should_see(marker="reason")
    user.find(marker="reason").type(reason)
    user.find(marker="confirm").click()


async def test_open_flags_show_their_account_score_and_signals_in_words(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    suspect = await register(gql)
    await add_flag(app, suspect.id, score=80, status="DISMISSED")
    flag = await add_flag(app, suspect.id, score=85)
    await flag_on_page(ui_user, admin, flag)
    with ui_user.scope(marker=f"flag-{flag}"):
        await ui_user.should_see("Shill bidding")
        await ui_user.should_see("score 85")
        await ui_user.should_see(suspect.username)
        await ui_user.should_see("1 open flag")
        await ui_user.should_see("Bidder tendency: 0.90 (adds 30 to the score)")
        await ui_user.should_see("90% of their bids go to one seller")
        await ui_user.should_see("Winning ratio: 0.05 (adds 20 to the score)")
    await ui_user.should_see(marker="flags-page")


async def test_dismiss_needs_a_reason_then_closes_the_flag(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    suspect = await register(gql)
    flag = await add_flag(app, suspect.id)
    await flag_on_page(ui_user, admin, flag)

    await decide(ui_user, flag, "flag-dismiss", "   ")
    await ui_user.should_see("Give a reason of 1 to 500 characters.")
    assert await flag_status(app, flag) == "OPEN"

    ui_user.find(marker="reason").type("looked at the bids: an honest collector")
    ui_user.find(marker="confirm").click()
    await ui_user.should_see("Flag dismissed.")
    assert await flag_status(app, flag) == "DISMISSED"
    rows = await audit_rows(app, flag)
    assert [r["action"] for r in rows] == ["dismiss_fraud_flag"]
    assert rows[0]["details"]["reason"] == "looked at the bids: an honest collector"
    await ui_user.should_not_see(marker=f"flag-{flag}")  # the open queue moved on

    ui_user.find(marker="flag-status").click()
    ui_user.find("Dismissed").click()
    await ui_user.should_see(marker=f"flag-{flag}")


async def test_hold_then_ban_from_the_queue(ui_user: UIUser, gql: GQL, app: FastAPI) -> None:
    admin = await make_admin(gql, app)
    suspect = await register(gql)
    flag = await add_flag(app, suspect.id)
    await flag_on_page(ui_user, admin, flag)

    await decide(ui_user, flag, "flag-hold", "shill pattern on three auctions")
    await ui_user.should_see("Account on hold.")
    assert await account_state(app, suspect.id) == (False, True)
    assert await flag_status(app, flag) == "ACTIONED"

    ui_user.find(marker="flag-status").click()
    ui_user.find("Actioned").click()
    await ui_user.should_see(marker=f"flag-{flag}")
    with ui_user.scope(marker=f"flag-{flag}"):
        await ui_user.should_see("On hold")
        await ui_user.should_see("Release hold")
    await decide(ui_user, flag, "flag-ban", "confirmed: a ring of accounts")
    await ui_user.should_see("Account banned.")
    assert await account_state(app, suspect.id) == (True, True)


async def test_void_from_the_queue_recomputes_the_price(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    honest, shill = await register(gql), await register(gql)
    auction = str((await create_auction(gql, seller))["id"])
    published = await gql(PUBLISH, {"id": auction}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    for bidder, amount in ((honest, "110.00"), (shill, "150.00")):
        placed = await gql(BID, {"id": auction, "amount": amount}, token=bidder.token)
        assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed
    before = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert before["leader"]["id"] == shill.id
    flag = await add_flag(app, shill.id, auction_id=auction)
    await flag_on_page(ui_user, admin, flag)

    await decide(ui_user, flag, "flag-void", "bids placed to push the price up")
    await ui_user.should_see(marker="void-report", retries=40)

    after = (await gql(AUCTION, {"id": auction}))["data"]["auction"]
    assert after["leader"]["id"] == honest.id
    assert after["bidCount"] == 1
    assert after["currentPrice"]["amount"] != before["currentPrice"]["amount"]
    (prices,) = ui_user.find(marker="void-prices").elements
    text = prices.props.get("text") or getattr(prices, "text", "")
    old = "$" + before["currentPrice"]["amount"]
    new = "$" + after["currentPrice"]["amount"]
    assert f"Price {old} → {new} · 2 bids → 1 bid · new leader" == text
    assert await flag_status(app, flag) == "OPEN"  # a void decides nothing on the account


async def test_decisions_on_an_admins_account_are_refused_in_words(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin, other_admin = await make_admin(gql, app), await make_admin(gql, app)
    flag = await add_flag(app, other_admin.id)
    await flag_on_page(ui_user, admin, flag)
    await decide(ui_user, flag, "flag-dismiss", "not mine to judge")
    await ui_user.should_see("Another admin's account: remove the ADMIN role first.")
    assert await flag_status(app, flag) == "OPEN"


async def test_sellers_and_bidders_get_nothing_of_the_queue(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    suspect = await register(gql)
    flag = await add_flag(app, suspect.id)
    for account in (await register(gql, seller=True), await register(gql)):
        await open_as(ui_user, account, "/fraud", "Not for this account")
        await ui_user.should_not_see(marker=f"flag-{flag}")
        await ui_user.should_not_see(marker="flag-card")
        await ui_user.should_not_see(suspect.username)
        ui_user.find(marker="sign-out").click()
        await ui_user.should_see(marker="sign-in")


async def test_anonymous_visitors_are_sent_to_sign_in(ui_user: UIUser) -> None:
    await ui_user.open("/fraud")
    await ui_user.should_see(marker="sign-in")
    await ui_user.should_not_see(marker="flag-card")


async def test_an_open_queue_stops_watching_once_the_admin_is_banned(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    """The queue's watch timer re-authenticates at every tick: a banned admin's open page
    learns nothing of flags raised after the ban."""
    admin = await make_admin(gql, app)
    await open_as(ui_user, admin, "/fraud", "flag-status")
    await ban_out_of_band(app, admin.id)
    await add_flag(app, (await register(gql)).id, score=90)
    ticks = max(5.0, 0.5 * 10) + 1.5  # the watch's interval (refresh_seconds 0.5) and then some
    told = await eventually(
        lambda: any("flags-changed" in e._markers for e in ui_user.client.elements.values()),  # type: ignore[union-attr]
        ticks,
    )
    assert not told, "a banned admin's open queue was told of a flag raised after the ban"


async def _flag_as_the_rules_store_it(app: FastAPI, user_id: str, auction_id: str) -> str:
    """A `new_account_high_value` flag with a shill signal beside it, its details exactly
    as domain/fraud/flags.py `flags_of` stores them (amounts in minor units)."""
    import json
    import uuid

    from sqlalchemy import text

    from domain.fraud.shill import WEIGHTS
    from domain.fraud.signals import Signal

    auction = uuid.UUID(auction_id)
    young = Signal(
        rule="new_account_high_value",
        score=62,
        explanation="account 5 hours old bid 185000 minor units (threshold 100000)",
        evidence={"amount": 185000, "threshold": 100000, "account_age_seconds": 5 * 3600 + 60},
        auction_id=auction,
    )
    features = {name: 0.0 for name in WEIGHTS} | {"bidder_tendency": 0.9, "auction_bids": 0.25}
    shill = Signal(
        rule="shill_bidding",
        score=55,
        explanation="bidding pattern like a shill's; strongest: bidder tendency 0.90",
        evidence={"features": features, "weights": dict(WEIGHTS), "seller_id": str(uuid.uuid4())},
        auction_id=auction,
    )
    details = {
        "total": 80,
        "held": False,
        "flag_threshold": 60,
        "hold_threshold": 90,
        "signals": [young.as_json(), shill.as_json()],
    }
    flag_id = str(uuid.uuid4())
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO fraud_flags (id, user_id, auction_id, rule, score, details, status,"
                " created_at) VALUES (:id, :u, :a, 'new_account_high_value', 62,"
                " CAST(:d AS jsonb), 'OPEN', now())"
            ),
            {"id": flag_id, "u": user_id, "a": auction_id, "d": json.dumps(details)},
        )
    return flag_id


async def test_signals_are_written_in_words_with_money_in_its_currency(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    """No Python dicts, no minor units: the amounts in the auction's currency, the shill
    features as a list with their weights, record ids left out; counts with plurals."""
    admin = await make_admin(gql, app)
    seller = await register(gql, seller=True)
    suspect = await register(gql)
    auction = str((await create_auction(gql, seller, currency="EUR"))["id"])
    flag = await _flag_as_the_rules_store_it(app, suspect.id, auction)
    await add_flag(app, suspect.id)
    await flag_on_page(ui_user, admin, flag)
    with ui_user.scope(marker=f"flag-{flag}"):
        await ui_user.should_see(
            "An account 5 hours old bid €1,850.00; new accounts are flagged from €1,000.00."
        )
        await ui_user.should_see("Amount: €1,850.00")
        await ui_user.should_see("Threshold: €1,000.00")
        await ui_user.should_see("Account age: 5 hours")
        await ui_user.should_see("Bidder tendency 0.90 (weight 3)")
        await ui_user.should_see("Auction bids 0.25 (weight 1)")
        await ui_user.should_see("2 open flags")
    shown = [
        str(getattr(e, "text", ""))
        for card in ui_user.find(marker=f"flag-{flag}").elements
        for e in [card, *card.descendants()]
    ]
    assert shown and not any("{" in t or "minor units" in t or "(s)" in t for t in shown), shown
    assert not any("Seller id" in t or "Weights" in t for t in shown), shown
