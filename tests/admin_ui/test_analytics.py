"""The seller's analytics page: charts of their own sales, the range filter, the empty
state, and that nobody sees another seller's figures (the figures themselves are checked
against a reference in tests/integration/test_seller_analytics.py)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from fastapi import FastAPI
from nicegui import ui
from nicegui.testing.user import User

import admin_ui.pages
from tests.admin_ui.steps import sign_in
from tests.api.settlement_steps import make_admin, sold
from tests.conftest import GQL
from tests.helpers import PUBLISH, create_auction, register

# Every page module imported before the first simulation (see test_monitor.py).
for _page in pkgutil.iter_modules(admin_ui.pages.__path__):
    importlib.import_module(f"admin_ui.pages.{_page.name}")


def chart_options(user: User, marker: str) -> dict[str, Any]:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.echart)
    return element.options


def label(user: User, marker: str) -> str:
    element = user.find(marker=marker).elements.pop()
    assert isinstance(element, ui.label)
    return str(element.text)


async def test_a_seller_sees_charts_of_their_own_sales(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    sale = await sold(gql, app, price="120.00")
    await sold(gql, app, price="999.00")  # another seller's sale: never in these charts
    await sign_in(ui_user, sale.seller, next_path="/analytics")
    await ui_user.should_see(marker="chart-revenue", retries=30)
    assert label(ui_user, "sell-through-rate") == "100% · 1 sold of 1 ended"
    await ui_user.should_see("Final prices of sold auctions, USD: $120.00 in all.")
    revenue = chart_options(ui_user, "chart-revenue")
    assert revenue["series"][0]["data"] == [120.0]
    prices = chart_options(ui_user, "chart-prices")
    assert [s["data"] for s in prices["series"]] == [[100.0], [120.0]]  # start, buy-now price
    engagement = chart_options(ui_user, "chart-engagement")
    assert engagement["series"][0]["data"] == [1]
    for marker in ("chart-sell-through", "chart-first-bid", "chart-hours"):
        await ui_user.should_see(marker=marker)

    # A range before the sale: nothing to chart, said in words.
    ui_user.find(marker="analytics-from").clear().type("2020-01-01")
    ui_user.find(marker="analytics-to").clear().type("2020-01-31")
    await ui_user.should_see("Nothing to chart yet")
    await ui_user.should_not_see(marker="chart-revenue")
    # A reversed range is refused next to the filters, with the rule.
    ui_user.find(marker="analytics-to").clear().type("2019-12-01")
    await ui_user.should_see("The range ends before it starts.")
    ui_user.find(marker="analytics-last-30").click()
    await ui_user.should_see(marker="chart-revenue")


async def test_charts_open_on_the_sellers_most_used_currency(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """Two sales in USD, one in EUR (alphabetically first): the money charts open on USD;
    the axis names stay inside a phone-wide chart."""
    seller = await register(gql, seller=True)
    euro = await create_auction(gql, seller, currency="EUR", buyNowPrice="400.00")
    assert (await gql(PUBLISH, {"id": euro["id"]}, token=seller.token))["data"]
    await sold(gql, app, seller=seller, auction=str(euro["id"]))
    for price in ("120.00", "130.00"):
        await sold(gql, app, seller=seller, price=price)
    await sign_in(ui_user, seller, next_path="/analytics")
    await ui_user.should_see(marker="chart-revenue", retries=30)
    (select,) = ui_user.find(marker="analytics-currency").elements
    assert isinstance(select, ui.select) and select.value == "USD"
    await ui_user.should_see("Final prices of sold auctions, USD: $250.00 in all.")
    hours = chart_options(ui_user, "chart-hours")
    for axis in hours["yAxis"]:
        assert axis["nameLocation"] == "end" and axis["nameTextStyle"]["align"] in ("left", "right")


async def test_a_new_seller_gets_an_empty_state(ui_user: User, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    await sign_in(ui_user, seller, next_path="/analytics")
    await ui_user.should_see("Nothing to chart yet", retries=30)
    await ui_user.should_not_see(marker="chart-revenue")


async def test_another_sellers_figures_are_nothing_but_an_admin_sees_them(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    sale = await sold(gql, app, price="175.00")
    snoop = await register(gql, seller=True)
    await sign_in(ui_user, snoop, next_path=f"/analytics?seller={sale.seller.id}")
    await ui_user.should_see("It does not exist, or it is not yours to see.", retries=30)
    await ui_user.should_not_see(marker="chart-revenue")
    await ui_user.should_not_see(marker="analytics-filters")

    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path=f"/analytics?seller={sale.seller.id}")
    await ui_user.should_see(marker="chart-revenue", retries=30)
    assert label(ui_user, "sell-through-rate") == "100% · 1 sold of 1 ended"
    assert chart_options(ui_user, "chart-revenue")["series"][0]["data"] == [175.0]


async def test_bidders_and_strangers_are_kept_out(ui_user: User, gql: GQL) -> None:
    await ui_user.open("/analytics")
    await ui_user.should_see(marker="sign-in", retries=30)
    bidder = await register(gql)
    await sign_in(ui_user, bidder, next_path="/analytics")
    await ui_user.should_see("Not for this account", retries=30)
    await ui_user.should_not_see(marker="analytics-filters")


async def test_a_range_at_the_end_of_the_calendar_is_refused_in_words(
    ui_user: User, gql: GQL
) -> None:
    """From 9999-12-30 to 9999-12-31 is two days, within the longest range, but the day
    after its end is off the calendar: refused next to the dates, not a crash."""
    seller = await register(gql, seller=True)
    await sign_in(ui_user, seller, next_path="/analytics")
    await ui_user.should_see(marker="analytics-from", retries=50)
    for first, last in (("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02")):
        ui_user.find(marker="analytics-from").clear().type(first)
        ui_user.find(marker="analytics-to").clear().type(last)
        await ui_user.should_see("must fall between the years", retries=30)
        ui_user.find(marker="analytics-last-30").click()
        await ui_user.should_see("Nothing to chart yet")


async def test_a_banned_sellers_open_page_reads_nothing_more(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    from tests.api.admin_steps import BAN

    sale = await sold(gql, app, price="120.00")
    await sign_in(ui_user, sale.seller, next_path="/analytics")
    await ui_user.should_see(marker="chart-revenue", retries=30)
    admin = await make_admin(gql, app)
    banned = await gql(BAN, {"id": sale.seller.id, "reason": "fraud"}, token=admin.token)
    assert banned["data"]["banUser"]["errors"] == [], banned
    ui_user.find(marker="analytics-last-90").click()
    await ui_user.should_see(marker="sign-in", retries=50)
