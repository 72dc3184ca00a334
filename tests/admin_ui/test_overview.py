"""The admin overview (admin_ui/pages/overview.py, services/admin_dashboard.py): live KPIs
and the bids-per-minute chart, fed by the persister's activity pulse, and who may see them."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from nicegui.testing.user import User as SimulatedUser
from sqlalchemy import text

import admin_ui.pages
from admin_ui.pages.overview import LiveBids
from domain.errors import Forbidden
from services import admin_dashboard
from services.admin_dashboard import BidActivity
from storage.tables import User
from tests.admin_ui.steps import sign_in
from tests.api.settlement_steps import make_admin, sold
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, Account, create_auction, register

KPIS = (
    "kpi-active",
    "kpi-bids-per-minute",
    "kpi-gmv",
    "kpi-sockets",
    "kpi-outbox-lag",
    "kpi-closer-lag",
)


def import_every_page() -> None:
    """Import every page module now, at collection: the simulation keeps only the page
    modules imported before it starts (tests/admin_ui/simulation.py), and one imported
    during a simulation would be imported again by the next and declare its pages twice."""
    for page in pkgutil.iter_modules(admin_ui.pages.__path__):
        importlib.import_module(f"{admin_ui.pages.__name__}.{page.name}")


import_every_page()


def element(user: SimulatedUser, marker: str) -> Any:
    found = user.find(marker=marker).elements
    assert len(found) == 1, f"{len(found)} elements marked {marker!r}"
    return next(iter(found))


def number(text: str) -> int:
    """The figure a text starts with ("1,204 sold since ..."); "no sale yet ..." is 0."""
    first = text.split()[0]
    return 0 if first == "no" else int(first.replace(",", ""))


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.05)


async def user_row(app: FastAPI, account: Account) -> User:
    async with app.state.deps.uow() as uow:
        row: User | None = await uow.session.get(User, uuid.UUID(account.id))
    assert row is not None
    return row


async def live_auction_with_a_bid(gql: GQL) -> None:
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    auction = await create_auction(gql, seller)
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    placed = await gql(BID, {"id": auction["id"], "amount": "100.00"}, token=bidder.token)
    assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed


# -- the page -----------------------------------------------------------------------------


async def test_admin_sees_the_figures_and_the_chart(
    ui_user: SimulatedUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/overview")
    for marker in (*KPIS, "bids-chart", "bids-last-hour", "updated-at"):
        await ui_user.should_see(marker=marker)
    await ui_user.should_see("this process")
    chart = element(ui_user, "bids-chart")
    assert len(chart.options["series"][0]["data"]) == 60
    assert len(chart.options["xAxis"]["data"]) == 60
    assert element(ui_user, "kpi-outbox-lag").text.endswith(" s")


async def test_bids_per_minute_moves_after_a_bid_without_reload(
    ui_user: SimulatedUser, gql: GQL, app: FastAPI
) -> None:
    """The bid goes through GraphQL and the real persister; the open page hears the
    persister's pulse on the bus."""
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/overview")
    await ui_user.should_see(marker="kpi-bids-per-minute")
    page = ui_user.client
    figure = element(ui_user, "kpi-bids-per-minute")
    chart = element(ui_user, "bids-chart")
    before_chart = sum(chart.options["series"][0]["data"])

    await live_auction_with_a_bid(gql)

    # The last 60 s roll on (bids of earlier tests leave it), so the figure is only known
    # to count this bid; the chart's hour only grows within the session.
    await eventually(lambda: number(figure.text) >= 1)
    await eventually(lambda: sum(chart.options["series"][0]["data"]) >= before_chart + 1)
    assert ui_user.client is page  # no reload


async def test_a_sale_reaches_gmv_today_without_reload(
    ui_user: SimulatedUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/overview")
    await ui_user.should_see(marker="kpi-gmv")
    page = ui_user.client
    note = element(ui_user, "kpi-gmv-note")
    sales = number(note.text)

    await sold(gql, app, price="120.00")

    await eventually(lambda: number(note.text) == sales + 1)
    assert "$" in element(ui_user, "kpi-gmv").text
    assert ui_user.client is page


@pytest.mark.parametrize("role", ["seller", "bidder"])
async def test_other_accounts_get_nothing_of_it(
    ui_user: SimulatedUser, gql: GQL, role: str
) -> None:
    account = await register(gql, seller=role == "seller")
    await sign_in(ui_user, account, next_path="/overview")
    await ui_user.should_see("Not for this account")
    for marker in (*KPIS, "bids-chart"):
        await ui_user.should_not_see(marker=marker)


async def test_anonymous_visitor_is_sent_to_sign_in(ui_user: SimulatedUser) -> None:
    await ui_user.open("/overview")
    await ui_user.should_see(marker="sign-in")
    await ui_user.should_not_see(marker="kpi-active")


async def test_a_demoted_admin_stops_receiving_figures(
    ui_user: SimulatedUser, gql: GQL, app: FastAPI
) -> None:
    """The page's timer re-authenticates: an admin who lost the role is sent away."""
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/overview")
    await ui_user.should_see(marker="kpi-active")
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET roles = '{BIDDER}' WHERE id = :u"), {"u": admin.id}
        )
    await app.state.deps.account_states.forget(uuid.UUID(admin.id))
    await ui_user.should_see(marker="bidder-home", retries=60)


# -- the reads ----------------------------------------------------------------------------


async def test_the_reads_are_for_admins_only(gql: GQL, app: FastAPI) -> None:
    deps = app.state.deps
    for account in (await register(gql, seller=True), await register(gql)):
        viewer = await user_row(app, account)
        with pytest.raises(Forbidden):
            await admin_dashboard.overview_figures(deps, viewer, ZoneInfo("UTC"))
        with pytest.raises(Forbidden):
            await admin_dashboard.bid_activity(deps, viewer)
        with pytest.raises(Forbidden):
            await admin_dashboard.read_lag(viewer, None)
        with pytest.raises(Forbidden):
            await admin_dashboard.system_health(
                deps, viewer, engine=None, redis=None, stripe_mode="emulator", lag_readings=None
            )


async def test_gmv_today_counts_each_sale_once_in_its_currency(gql: GQL, app: FastAPI) -> None:
    deps = app.state.deps
    admin = await user_row(app, await make_admin(gql, app))
    zone = ZoneInfo("Pacific/Kiritimati")  # far from UTC: "today" is the viewer's day
    before = await admin_dashboard.overview_figures(deps, admin, zone)
    await sold(gql, app, price="120.00")
    after = await admin_dashboard.overview_figures(deps, admin, zone)
    assert after.sales_today == before.sales_today + 1
    assert after.gmv_today["USD"] - before.gmv_today.get("USD", 0) == 12_000
    assert after.day_start.astimezone(zone).hour == 0


async def test_bid_activity_counts_the_bids_of_the_last_hour(gql: GQL, app: FastAPI) -> None:
    deps = app.state.deps
    admin = await user_row(app, await make_admin(gql, app))
    before = await admin_dashboard.bid_activity(deps, admin)
    await live_auction_with_a_bid(gql)
    await app.state.persister.drain()
    after = await admin_dashboard.bid_activity(deps, admin)
    assert len(after.per_minute) == 60
    assert sum(after.per_minute) >= sum(before.per_minute) + 1
    assert sum(count for _, count in after.recent) >= 1


# -- the live window ----------------------------------------------------------------------


def test_live_bids_roll_and_count_the_last_minute() -> None:
    minute = int(datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()) // 60
    live = LiveBids(BidActivity(minute - 2, [1, 2, 3], [((minute * 60 - 30) * 1000, 3)]))
    now = minute * 60_000 + 10_000
    assert live.in_last_minute(now) == 3
    live.add(now, 2)
    assert live.counts == [1, 2, 5]
    assert live.in_last_minute(now) == 5
    live.add(now + 55_000, 4)  # the next minute: the window moves
    assert live.counts == [2, 5, 4]
    assert live.in_last_minute(now + 55_000) == 6  # the seeded bids left the minute
    live.add((minute - 10) * 60_000, 7)  # before the window: counted nowhere
    assert live.counts == [2, 5, 4]
    live.roll(now + 10 * 60_000)
    assert live.counts == [0, 0, 0]
    assert live.labels(ZoneInfo("UTC"))[-1] == "12:10"


async def test_open_pages_share_one_figures_read_per_interval(gql: GQL, app: FastAPI) -> None:
    """Every open overview re-reads its figures each interval: with `max_age_seconds`
    they share one read per process and timezone, still checked per viewer."""
    deps = app.state.deps
    admin = await user_row(app, await make_admin(gql, app))
    zone = ZoneInfo("Asia/Kathmandu")  # a zone no page of this session uses
    first, second = await asyncio.gather(
        admin_dashboard.overview_figures(deps, admin, zone, max_age_seconds=60),
        admin_dashboard.overview_figures(deps, admin, zone, max_age_seconds=60),
    )
    assert first is second, "two pages at once share one read"
    await sold(gql, app, price="130.00")
    assert await admin_dashboard.overview_figures(deps, admin, zone, max_age_seconds=60) is first
    await asyncio.sleep(0.1)  # older than the next caller's interval, however fast the sale was
    fresh = await admin_dashboard.overview_figures(deps, admin, zone, max_age_seconds=0.05)
    # At least this sale: other tests' auctions may settle meanwhile.
    assert fresh is not first and fresh.sales_today >= first.sales_today + 1
    bidder = await user_row(app, await register(gql))
    with pytest.raises(Forbidden):
        await admin_dashboard.overview_figures(deps, bidder, zone, max_age_seconds=60)


async def test_kpi_captions_values_and_notes_wrap_instead_of_being_cut_off(
    ui_user: SimulatedUser, gql: GQL, app: FastAPI
) -> None:
    """On a 390-px phone two KPI cards share a row: "2 ending within the hour · 1
    scheduled" wraps; nothing on a card is truncated with an ellipsis."""
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/overview")
    await ui_user.should_see(marker="kpi-active-card", retries=50)
    for marker in ("kpi-active", "kpi-gmv", "kpi-outbox-lag", "kpi-closer-lag"):
        [card] = ui_user.find(marker=f"{marker}-card").elements
        cut = [e for e in [card, *card.descendants()] if "truncate" in e.classes]
        assert not cut, f"{marker}: {[getattr(e, 'text', e) for e in cut]}"
        [note] = ui_user.find(marker=f"{marker}-note").elements
        assert "break-words" in note.classes


def test_lag_notes_count_with_plurals() -> None:
    from admin_ui.pages.overview import lag_texts
    from services.admin_dashboard import Lag

    (_, one_event, _), (_, one_auction, _) = lag_texts(
        Lag(readable=True, outbox_pending=1, closer_overdue=1)
    )
    assert (one_event, one_auction) == ("1 event waiting", "1 auction overdue")
    (_, events, _), (_, auctions, _) = lag_texts(
        Lag(readable=True, outbox_pending=3, closer_overdue=0)
    )
    assert (events, auctions) == ("3 events waiting", "0 auctions overdue")
