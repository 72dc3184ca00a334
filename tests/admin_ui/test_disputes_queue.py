"""The disputes queue and a dispute's page: the story, the evidence images, and the
resolution (full refund, partial refund with the domain's checks next to the amount,
release); admins only, and never an admin who is a party to the sale."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from nicegui import ui
from nicegui.testing.user import User as UIUser
from sqlalchemy import text

from services import admin_money
from tests.admin_ui.hostile import (
    FORGED_REQUESTS,
    ban_out_of_band,
    crashes,
    table_rows,
    trigger,
)
from tests.admin_ui.hostile import eventually as eventually_true
from tests.admin_ui.review_steps import eventually, open_as, user_row
from tests.api.settlement_steps import (
    DISPUTE,
    RESPOND,
    Sale,
    dispute_with_evidence,
    make_admin,
    paid,
    payload,
    png,
    read,
)
from tests.conftest import GQL
from tests.helpers import LOGIN, PASSWORD, Account, register

REASON = "Item not as described"
MESSAGE = "The lens is scratched.\nThe listing said mint."


async def disputed(gql: GQL, app: FastAPI, **kwargs: object) -> tuple[Sale, str]:
    """A paid sale its buyer disputed; the dispute's id."""
    sale = await paid(gql, app, **kwargs)
    opened = await payload(
        gql, DISPUTE, {"id": sale.transaction_id, "reason": REASON, "message": MESSAGE}, sale.buyer
    )
    assert opened["errors"] == [], opened
    dispute_id = (await read(gql, sale, sale.buyer))["dispute"]["id"]
    return sale, str(dispute_id)


def amount_field(user: UIUser) -> ui.input:
    (field,) = user.find(marker="refund-amount").elements
    assert isinstance(field, ui.input)
    return field


async def test_queue_puts_open_disputes_first_and_opens_one(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    sale, dispute_id = await disputed(gql, app)
    viewer = await user_row(app, admin)
    queue = await admin_money.dispute_queue(app.state.deps, viewer, view="all", limit=100)
    states = [row.status in admin_money.OPEN_STATES for row in queue.rows]
    assert states == sorted(states, reverse=True), "open disputes come first"
    opened = [row.created_at for row in queue.rows if row.status in admin_money.OPEN_STATES]
    assert opened == sorted(opened), "the one waiting longest on top"
    open_view = await admin_money.dispute_queue(app.state.deps, viewer, view="open", limit=100)

    await open_as(ui_user, admin, "/disputes", "disputes-table")
    (table,) = ui_user.find(marker="disputes-table").elements
    assert isinstance(table, ui.table)
    assert table.pagination["rowsNumber"] == open_view.total
    assert table.rows[0]["id"] == str(open_view.rows[0].id)
    ui_user.find(marker="disputes-table").trigger("open", {"id": dispute_id})
    await ui_user.should_see(marker="dispute-timeline")
    await ui_user.open("/disputes")  # a click anywhere on the row opens it too
    ui_user.find(marker="disputes-table").trigger("rowClick", [{}, {"id": dispute_id}, 0])
    await ui_user.should_see(marker="dispute-timeline")
    await ui_user.should_see(f"Dispute: {REASON}")
    await ui_user.should_see(sale.seller.username)


async def test_dispute_page_tells_the_story_and_shows_the_evidence(
    ui_user: UIUser, gql: GQL, app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(gql, app)
    sale = await paid(gql, app)
    opened = await dispute_with_evidence(
        client,
        sale.buyer,
        {"id": sale.transaction_id, "reason": REASON, "message": MESSAGE},
        [png(), png()],
    )
    assert opened["errors"] == [], opened
    dispute_id = (await read(gql, sale, sale.buyer))["dispute"]["id"]
    answered = await payload(
        gql, RESPOND, {"id": dispute_id, "message": "It left here mint."}, sale.seller
    )
    assert answered["errors"] == [], answered

    await open_as(ui_user, admin, f"/disputes/{dispute_id}", "dispute-timeline")
    await ui_user.should_see(f"Buyer {sale.buyer.username} opened a dispute: {REASON}")
    await ui_user.should_see(MESSAGE)
    await ui_user.should_see(f"Seller {sale.seller.username} responded")
    await ui_user.should_see("It left here mint.")
    await ui_user.should_see("Ledger: authorize")
    images = ui_user.find(marker="evidence-image").elements
    assert len(images) == 2
    for image in images:
        src = image.props["src"]
        assert src.startswith("/media/evidence/") and "&sig=" in src, src
        served = await client.get(src)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("image/")


async def test_partial_refund_checks_the_amount_next_to_the_field(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    sale, dispute_id = await disputed(gql, app, price="120.00")
    await open_as(ui_user, admin, f"/disputes/{dispute_id}", "resolve")
    ui_user.find("Partial refund, the rest to the seller").click()
    await ui_user.should_see(marker="refund-amount")

    for typed, said in (
        ("", 'The refund amount must be a plain decimal string like "12.50"'),
        ("12,50", 'The refund amount must be a plain decimal string like "12.50"'),
        ("12.345", "USD amounts have at most 2 decimal places"),
        ("120.00", "A partial refund is more than 0 and less than 120.00 USD"),
    ):
        amount_field(ui_user).value = typed
        amount_field(ui_user).error = None
        ui_user.find(marker="resolve").click()
        await eventually(lambda: bool(amount_field(ui_user).error), f"an error for {typed!r}")
        assert said in (amount_field(ui_user).error or ""), amount_field(ui_user).error
    txn = await read(gql, sale, admin)
    assert txn["dispute"]["status"] == "OPEN" and txn["refundedAmount"]["amount"] == "0.00"

    amount_field(ui_user).value = "20.00"
    ui_user.find(marker="resolve").click()
    await ui_user.should_see(marker="resolved", retries=60)
    await ui_user.should_see("Refunded $20.00 to the buyer.")
    txn = await read(gql, sale, admin)
    assert txn["dispute"]["status"] == "RESOLVED_REFUND"
    assert txn["dispute"]["resolution"] == "REFUND_PARTIAL"
    assert txn["refundedAmount"]["amount"] == "20.00"


async def test_full_refund_and_release(ui_user: UIUser, gql: GQL, app: FastAPI) -> None:
    admin = await make_admin(gql, app)
    refunded, refund_id = await disputed(gql, app)
    released, release_id = await disputed(gql, app)

    await open_as(ui_user, admin, f"/disputes/{refund_id}", "resolve")
    ui_user.find(marker="resolve").click()  # a full refund is the default choice
    await ui_user.should_see(marker="resolved", retries=60)
    txn = await read(gql, refunded, admin)
    assert (txn["status"], txn["dispute"]["resolution"]) == ("REFUNDED", "REFUND_FULL")

    await ui_user.open(f"/disputes/{release_id}")
    ui_user.find("Release the money to the seller").click()
    ui_user.find(marker="resolve").click()
    await ui_user.should_see(marker="resolved", retries=60)
    txn = await read(gql, released, admin)
    assert txn["dispute"]["status"] == "RESOLVED_RELEASE"
    await ui_user.should_not_see(marker="resolve")  # decided once


async def test_an_admin_who_is_a_party_is_refused_in_words(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET roles = '{BIDDER,SELLER,ADMIN}' WHERE id = :u"), {"u": seller.id}
        )
    login = await gql(LOGIN, {"email": seller.email, "password": PASSWORD})
    seller.token = login["data"]["login"]["accessToken"]
    sale, dispute_id = await disputed(gql, app, seller=seller)

    await open_as(ui_user, seller, f"/disputes/{dispute_id}", "resolve")
    ui_user.find(marker="resolve").click()
    await ui_user.should_see(
        "You are a party to this sale: another admin must resolve its dispute.", retries=40
    )
    await ui_user.should_see(marker="resolve-problem")
    txn = await read(gql, sale, seller)
    assert txn["dispute"]["status"] == "OPEN" and txn["status"] == "AUTHORIZED"


async def test_unknown_dispute_is_a_written_not_found(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await open_as(ui_user, admin, f"/disputes/{uuid.uuid4()}", "This page cannot be shown")
    await ui_user.should_see("It does not exist, or it is not yours to see.")
    await ui_user.open("/disputes/not-an-id")
    await ui_user.should_see("It does not exist, or it is not yours to see.")


async def test_parties_and_other_sellers_get_nothing_of_the_disputes(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    sale, dispute_id = await disputed(gql, app)
    stranger: Account = await register(gql, seller=True)
    for account in (sale.seller, sale.buyer, stranger):
        for path in ("/disputes", f"/disputes/{dispute_id}"):
            await open_as(ui_user, account, path, "Not for this account")
            await ui_user.should_not_see(marker="disputes-table")
            await ui_user.should_not_see(marker="dispute-timeline")
            await ui_user.should_not_see(REASON)
            ui_user.find(marker="sign-out").click()
            await ui_user.should_see(marker="sign-in")


async def test_anonymous_visitors_are_sent_to_sign_in(ui_user: UIUser) -> None:
    for path in ("/disputes", f"/disputes/{uuid.uuid4()}"):
        await ui_user.open(path)
        await ui_user.should_see(marker="sign-in")
        await ui_user.should_not_see(marker="dispute-timeline")


async def test_forged_table_events_are_clamped_not_crashes(
    ui_user: UIUser, gql: GQL, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await make_admin(gql, app)
    await disputed(gql, app)
    await open_as(ui_user, admin, "/disputes", "disputes-table")
    for forged in FORGED_REQUESTS:
        trigger(ui_user, "disputes-table", "request", forged)
        await asyncio.sleep(0.15)
    for event, args in (("open", "x"), ("open", {"id": "../users"}), ("rowClick", [1])):
        trigger(ui_user, "disputes-table", event, args)
    await asyncio.sleep(0.3)
    assert crashes(caplog) == []
    (table,) = ui_user.find(marker="disputes-table").elements
    assert isinstance(table, ui.table)
    assert table.pagination["rowsPerPage"] in (10, 20, 50, 100)


async def test_an_open_queue_reads_nothing_once_the_admin_is_banned(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await open_as(ui_user, admin, "/disputes", "dispute-view")
    await ban_out_of_band(app, admin.id)
    _, dispute_id = await disputed(gql, app)
    ui_user.find(marker="dispute-view").click()
    ui_user.find("All").click()

    def shown() -> bool:
        return any(r["id"] == dispute_id for r in table_rows(ui_user, "disputes-table"))

    assert not await eventually_true(shown), "a banned admin's open queue showed a new dispute"


async def test_a_coded_reason_reads_as_words_in_the_list_the_title_and_the_story(
    ui_user: UIUser, gql: GQL, app: FastAPI
) -> None:
    """API clients send codes ("NOT_AS_DESCRIBED"): people read "Not as described"."""
    admin = await make_admin(gql, app)
    sale = await paid(gql, app)
    opened = await payload(
        gql,
        DISPUTE,
        {"id": sale.transaction_id, "reason": "NOT_AS_DESCRIBED", "message": MESSAGE},
        sale.buyer,
    )
    assert opened["errors"] == [], opened
    dispute_id = str((await read(gql, sale, sale.buyer))["dispute"]["id"])
    await open_as(ui_user, admin, "/disputes", "disputes-table")
    (table,) = ui_user.find(marker="disputes-table").elements
    assert isinstance(table, ui.table)
    [row] = [r for r in table.rows if r["id"] == dispute_id]
    assert row["reason"] == "Not as described"
    await ui_user.open(f"/disputes/{dispute_id}")
    await ui_user.should_see("Dispute: Not as described", retries=40)
    await ui_user.should_see(f"Buyer {sale.buyer.username} opened a dispute: Not as described")
    await ui_user.should_not_see("NOT_AS_DESCRIBED")


def test_reason_words_turns_codes_into_words_and_keeps_what_people_typed() -> None:
    assert admin_money.reason_words("NOT_AS_DESCRIBED") == "Not as described"
    assert admin_money.reason_words("NEVER_ARRIVED") == "Never arrived"
    assert admin_money.reason_words("DAMAGED") == "Damaged"
    assert admin_money.reason_words("Item not as described") == "Item not as described"
    assert admin_money.reason_words("DVD broken") == "DVD broken"
    assert admin_money.reason_words("UPS") == "UPS"
