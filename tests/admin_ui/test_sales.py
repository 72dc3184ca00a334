"""Sales and payouts: the seller's sales with buyer, price, status and money, shipping
with the use case's refusals next to the fields, server-side filter and pages, and that
nobody sees or ships another seller's sales."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI
from nicegui import ui
from nicegui.testing.user import User

import admin_ui.pages
from tests.admin_ui.steps import sign_in
from tests.api.settlement_steps import (
    CONFIRM,
    SHIP,
    make_admin,
    paid,
    payload,
    read,
    shipped,
    sold,
)
from tests.conftest import GQL
from tests.helpers import register

# Every page module imported before the first simulation (see test_monitor.py).
for _page in pkgutil.iter_modules(admin_ui.pages.__path__):
    importlib.import_module(f"admin_ui.pages.{_page.name}")


def label(user: User, marker: str) -> str:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.label)
    return str(element.text)


async def test_a_paid_sale_is_shipped_from_the_page(ui_user: User, gql: GQL, app: FastAPI) -> None:
    sale = await paid(gql, app, price="120.00")
    txn = sale.transaction_id
    await sign_in(ui_user, sale.seller, next_path="/sales")
    await ui_user.should_see(marker=f"sale-{txn}", retries=30)
    await ui_user.should_see(f"Buyer: {sale.buyer.username}")
    await ui_user.should_see("$120.00")
    assert label(ui_user, f"payout-{txn}") == "Money: in escrow until the buyer confirms receipt"
    await ui_user.should_see(marker="totals-USD")
    assert label(ui_user, "sales-page") == "Page 1 of 1 · 1 sale"

    # Refused by the use case: the reason shows next to the field it concerns.
    ui_user.find(marker=f"tracking-{txn}").type("1Z999AA10123456784")
    ui_user.find(marker=f"ship-{txn}").click()
    await ui_user.should_see("Carrier is required.")
    assert label(ui_user, f"carrier-problem-{txn}") == "Carrier is required."
    assert label(ui_user, f"tracking-problem-{txn}") == ""
    assert (await read(gql, sale, sale.seller))["status"] == "AUTHORIZED"

    ui_user.find(marker=f"carrier-{txn}").type("UPS")
    ui_user.find(marker=f"ship-{txn}").click()
    await ui_user.should_see(marker=f"shipped-{txn}")
    assert "with UPS, tracking 1Z999AA10123456784" in label(ui_user, f"shipped-{txn}")
    await ui_user.should_not_see(marker=f"ship-{txn}")


async def test_a_refusal_of_the_sale_itself_is_said_in_words(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    sale = await paid(gql, app)
    txn = sale.transaction_id
    await sign_in(ui_user, sale.seller, next_path="/sales")
    await ui_user.should_see(marker=f"ship-{txn}", retries=30)
    # Shipped meanwhile through the API (another tab): the form's click is refused.
    done = await payload(gql, SHIP, {"id": txn, "carrier": "DHL", "tracking": "JD1"}, sale.seller)
    assert done["errors"] == []
    ui_user.find(marker=f"carrier-{txn}").type("UPS")
    ui_user.find(marker=f"tracking-{txn}").type("1Z1")
    ui_user.find(marker=f"ship-{txn}").click()
    await ui_user.should_see("The item is already marked shipped.")
    assert (await read(gql, sale, sale.seller))["shipment"]["carrier"] == "DHL"


async def test_released_sale_shows_the_sellers_ledger_lines(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    sale = await shipped(gql, app, price="200.00")
    confirmed = await payload(gql, CONFIRM, {"id": sale.transaction_id}, sale.buyer)
    assert confirmed["errors"] == [], confirmed
    await sign_in(ui_user, sale.seller, next_path="/sales")
    await ui_user.should_see(marker=f"ledger-{sale.transaction_id}", retries=30)
    await ui_user.should_see("Owed to you")
    lines = ui_user.find(marker="ledger-line").elements
    assert len(lines) >= 2  # the payable, and its payout (made or pending)
    state = label(ui_user, f"payout-{sale.transaction_id}")
    assert state in ("Money: paid out", "Money: payout pending (to be transferred by hand)")
    await ui_user.should_not_see(marker=f"ship-{sale.transaction_id}")


async def test_filter_and_pages_are_served_by_the_server(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    paid_sale = await paid(gql, app, seller=seller, price="150.00")
    for _ in range(10):
        await sold(gql, app, seller=seller)
    await sign_in(ui_user, seller, next_path="/sales")
    await ui_user.should_see("Page 1 of 2 · 11 sales", retries=30)
    await ui_user.should_not_see(marker="ledger-line")  # nothing released yet
    first_page = {m for e in ui_user.find(kind=ui.card).elements for m in e._markers}
    ui_user.find(marker="sales-next").click()
    await ui_user.should_see("Page 2 of 2 · 11 sales")
    second_page = {m for e in ui_user.find(kind=ui.card).elements for m in e._markers}
    sales = {m for m in first_page | second_page if m.startswith("sale-")}
    assert len(sales) == 11 and not (first_page & second_page & sales)

    ui_user.find(marker="sales-filter").click()
    ui_user.find("Paid: to ship").click()
    await ui_user.should_see("Page 1 of 1 · 1 sale")
    await ui_user.should_see(marker=f"sale-{paid_sale.transaction_id}")
    ui_user.find(marker="sales-filter").click()
    ui_user.find("Refunded").click()
    await ui_user.should_see("No sales here: refunded")


async def test_nobody_sees_or_ships_another_sellers_sales(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    sale = await paid(gql, app, price="130.00")
    txn = sale.transaction_id
    other = await register(gql, seller=True)
    await sign_in(ui_user, other, next_path="/sales")
    await ui_user.should_see("No sales yet", retries=30)
    await ui_user.should_not_see(marker=f"sale-{txn}")
    await ui_user.should_not_see(marker=f"ship-{txn}")
    await ui_user.should_not_see(marker="totals-USD")
    await ui_user.open(f"/sales?seller={sale.seller.id}")
    await ui_user.should_see("It does not exist, or it is not yours to see.", retries=30)
    await ui_user.should_not_see(marker=f"sale-{txn}")
    await ui_user.should_not_see(marker="sales-list")

    # An admin reads them, and cannot ship in the seller's place.
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path=f"/sales?seller={sale.seller.id}")
    await ui_user.should_see(marker=f"sale-{txn}", retries=30)
    await ui_user.should_not_see(marker=f"ship-{txn}")

    bidder = await register(gql)
    await sign_in(ui_user, bidder, next_path="/sales")
    await ui_user.should_see("Not for this account", retries=30)
    await ui_user.should_not_see(marker="sales-list")


async def test_anonymous_is_sent_to_sign_in(ui_user: User) -> None:
    await ui_user.open("/sales")
    await ui_user.should_see(marker="sign-in", retries=30)


async def test_a_banned_sellers_open_page_reads_nothing_more(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """Every read after the page loaded re-authenticates: a filter change after a ban
    empties the page and sends the browser to sign in."""
    from tests.api.admin_steps import BAN

    sale = await sold(gql, app, price="120.00")
    await sign_in(ui_user, sale.seller, next_path="/sales")
    await ui_user.should_see(marker=f"sale-{sale.transaction_id}", retries=30)
    (sales_list,) = ui_user.find(marker="sales-list").elements
    admin = await make_admin(gql, app)
    banned = await gql(BAN, {"id": sale.seller.id, "reason": "fraud"}, token=admin.token)
    assert banned["data"]["banUser"]["errors"] == [], banned
    (sort,) = ui_user.find(marker="sales-sort").elements
    assert isinstance(sort, ui.select)
    sort.set_value("oldest")
    await ui_user.should_see(marker="sign-in", retries=50)
    assert not list(sales_list.descendants())[1:]
