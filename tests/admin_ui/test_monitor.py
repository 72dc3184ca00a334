"""The seller's live monitor and the "live now" list: live updates from the bus, soft
close, the Dutch clock, sealed secrecy, and who may see what."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import time
from datetime import timedelta

from fastapi import FastAPI
from nicegui import ui
from nicegui.testing.user import User

import admin_ui.pages
from tests.admin_ui.steps import sign_in
from tests.api.admin_steps import VOID
from tests.api.settlement_steps import make_admin
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, Account, create_auction, iso, register


async def live_auction(gql: GQL, seller: Account, **overrides: object) -> str:
    created = await create_auction(gql, seller, **overrides)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    return str(created["id"])


async def bid(gql: GQL, bidder: Account, auction: str, amount: str) -> None:
    body = await gql(BID, {"id": auction, "amount": amount}, token=bidder.token)
    assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body


# Every page module imported before the first simulation: its reset drops the modules it
# finds imported after it started, and their pages would be declared twice on re-import.
for _page in pkgutil.iter_modules(admin_ui.pages.__path__):
    importlib.import_module(f"admin_ui.pages.{_page.name}")


def texts(user: User, marker: str) -> list[str]:
    return [e.text for e in user.find(marker=marker).elements if isinstance(e, ui.label)]


async def test_a_graphql_bid_reaches_the_ticker_within_a_second(ui_user: User, gql: GQL) -> None:
    seller, bidder = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller, title="Brass ship's clock")
    await sign_in(ui_user, seller, next_path=f"/listings/{auction}/live")
    await ui_user.should_see("Brass ship's clock", retries=30)
    await ui_user.should_see(marker="ticker-empty")
    assert texts(ui_user, "monitor-price") == ["No bids yet"]

    started = time.monotonic()
    await bid(gql, bidder, auction, "125.00")
    await ui_user.should_see("$125.00", retries=10)  # 10 x 0.1 s: within a second
    assert time.monotonic() - started < 1.0
    await ui_user.should_see(marker="ticker-line")
    assert texts(ui_user, "monitor-price") == ["$125.00"]
    assert texts(ui_user, "monitor-bids") == ["1"]
    assert texts(ui_user, "monitor-leader") == [bidder.username]
    await ui_user.should_see(bidder.username)

    # Newest first: the next bid's line comes above the first.
    rival = await register(gql)
    await bid(gql, rival, auction, "140.00")
    await ui_user.should_see("$140.00", retries=10)
    lines = list(ui_user.find(marker="ticker-line").elements)
    assert len(lines) == 2
    ticker = ui_user.find(marker="ticker").elements.pop()
    first_line = next(iter(ticker))
    assert rival.username in [getattr(e, "text", "") for e in first_line.descendants()]


async def test_soft_close_moves_the_countdown_end(ui_user: User, gql: GQL) -> None:
    seller, bidder = await register(gql, seller=True), await register(gql)
    auction = await live_auction(
        gql,
        seller,
        endsAt=iso(timedelta(seconds=60)),
        softCloseWindowSeconds=120,
        softCloseExtensionSeconds=300,
    )
    await sign_in(ui_user, seller, next_path=f"/listings/{auction}/live")
    await ui_user.should_see(marker="monitor-countdown", retries=30)
    before = texts(ui_user, "monitor-ends")
    await ui_user.should_see(
        "Soft close: a bid in the last 2 minutes moves the end 5 minutes later."
    )
    await bid(gql, bidder, auction, "100.00")
    await ui_user.should_see("end extended (soft close)", retries=10)
    assert texts(ui_user, "monitor-ends") != before
    countdown = texts(ui_user, "monitor-countdown")[0]
    assert countdown.startswith("0") and countdown > "01:00", countdown  # about five minutes


async def test_dutch_clock_price_steps_down(ui_user: User, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    auction = await live_auction(
        gql,
        seller,
        type="DUTCH",
        startingPrice="50.00",
        dutchStep="5.00",
        dutchStepSeconds=1,
        dutchFloor="30.00",
    )
    await sign_in(ui_user, seller, next_path=f"/listings/{auction}/live")
    await ui_user.should_see(marker="monitor-dutch", retries=30)
    first = texts(ui_user, "monitor-price")[0]
    await ui_user.should_see("Dutch clock:")
    # The 1-second timer moves the price on the clock without any bid.
    for _ in range(40):
        if texts(ui_user, "monitor-price")[0] != first:
            break
        await asyncio.sleep(0.1)
    assert texts(ui_user, "monitor-price")[0] != first
    assert texts(ui_user, "monitor-price")[0].startswith("$")


async def test_sealed_bids_show_that_a_bid_came_never_amounts(ui_user: User, gql: GQL) -> None:
    seller, bidder = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller, type="SEALED_FIRST_PRICE")
    await sign_in(ui_user, seller, next_path=f"/listings/{auction}/live")
    await ui_user.should_see("Hidden (sealed bids)", retries=30)
    await bid(gql, bidder, auction, "777.00")
    await ui_user.should_see(marker="ticker-line", retries=10)
    await ui_user.should_see("sealed bid")
    await ui_user.should_not_see("$777.00")
    await ui_user.should_not_see(bidder.username)
    assert texts(ui_user, "monitor-price") == ["Sealed: secret until the end"]
    assert texts(ui_user, "monitor-bids") == ["1"]


async def test_voided_bids_redraw_the_recomputed_auction(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller, honest, shill = (
        await register(gql, seller=True),
        await register(gql),
        await register(gql),
    )
    admin = await make_admin(gql, app)
    auction = await live_auction(gql, seller)
    await bid(gql, honest, auction, "110.00")
    await bid(gql, shill, auction, "300.00")
    await sign_in(ui_user, seller, next_path=f"/listings/{auction}/live")
    await ui_user.should_see(marker="monitor-price", retries=30)
    assert texts(ui_user, "monitor-leader") == [shill.username]
    assert texts(ui_user, "monitor-bids") == ["2"]

    voided = await gql(
        VOID, {"id": shill.id, "auctionId": auction, "reason": "shill bidding"}, token=admin.token
    )
    assert voided["data"]["voidBids"]["errors"] == [], voided
    await ui_user.should_see("1 bid voided, price recomputed", retries=20)
    assert texts(ui_user, "monitor-leader") == [honest.username]
    assert texts(ui_user, "monitor-bids") == ["1"]
    assert texts(ui_user, "monitor-price") == ["$110.00"]  # the honest bid alone


async def test_another_seller_gets_nothing_of_the_monitor(ui_user: User, gql: GQL) -> None:
    owner, other = await register(gql, seller=True), await register(gql, seller=True)
    auction = await live_auction(gql, owner, title="Owner's secret lamp")
    await sign_in(ui_user, other, next_path=f"/listings/{auction}/live")
    await ui_user.should_see("It does not exist, or it is not yours to see.", retries=30)
    await ui_user.should_not_see("Owner's secret lamp")
    await ui_user.should_not_see(marker="ticker")
    # Nor in the "live now" list.
    await ui_user.open("/live")
    await ui_user.should_see("Nothing is live right now", retries=30)
    await ui_user.should_not_see(marker=f"live-{auction}")
    # A malformed id names nothing either.
    await ui_user.open("/listings/not-an-id/live")
    await ui_user.should_see("It does not exist, or it is not yours to see.", retries=30)


async def test_admin_may_monitor_any_auction(ui_user: User, gql: GQL, app: FastAPI) -> None:
    seller, admin = await register(gql, seller=True), await make_admin(gql, app)
    auction = await live_auction(gql, seller, title="Admin-watched teapot")
    await sign_in(ui_user, admin, next_path=f"/listings/{auction}/live")
    await ui_user.should_see("Admin-watched teapot", retries=30)
    # Everyone's live auctions (the session's other tests' too): page through to it.
    await ui_user.open("/live")
    await ui_user.should_see(marker="live-page", retries=30)
    for _ in range(100):
        try:
            await ui_user.should_see(marker=f"live-{auction}", retries=1)
            break
        except AssertionError:
            page = texts(ui_user, "live-page")[0]
            ui_user.find(marker="live-next").click()
            for _ in range(30):
                if texts(ui_user, "live-page")[0] != page:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the admin's live list never shows {auction}") from None


async def test_live_now_lists_own_live_auctions_with_links(ui_user: User, gql: GQL) -> None:
    seller, other = await register(gql, seller=True), await register(gql, seller=True)
    mine = await live_auction(gql, seller, title="Walnut writing desk")
    theirs = await live_auction(gql, other, title="Someone else's chair")
    draft = await create_auction(gql, seller, title="Unpublished stool")
    await sign_in(ui_user, seller, next_path="/live")
    await ui_user.should_see("Walnut writing desk", retries=30)
    await ui_user.should_not_see("Someone else's chair")
    await ui_user.should_not_see("Unpublished stool")
    assert texts(ui_user, "live-page") == ["Page 1 of 1 · 1 live auction"]
    ui_user.find(marker=f"live-{mine}").click()
    await ui_user.should_see(marker="monitor-countdown")
    assert theirs
    # A draft's monitor says it is not live yet.
    await ui_user.open(f"/listings/{draft['id']}/live")
    await ui_user.should_see("Unpublished stool", retries=30)
    assert texts(ui_user, "monitor-countdown") == ["Not published yet"]
    await ui_user.should_see(marker="ticker-empty")


async def test_bidders_and_strangers_are_kept_out(ui_user: User, gql: GQL) -> None:
    seller, bidder = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller, title="Copper kettle")
    for path in (f"/listings/{auction}/live", "/live"):
        await ui_user.open(path)
        await ui_user.should_see(marker="sign-in")  # anonymous: sent to sign in
        await ui_user.should_not_see("Copper kettle")
    await sign_in(ui_user, bidder, next_path=f"/listings/{auction}/live")
    await ui_user.should_see("Not for this account", retries=30)
    await ui_user.should_not_see("Copper kettle")
    await ui_user.open("/live")
    await ui_user.should_see("Not for this account", retries=30)


async def test_page_loads_that_never_connect_hold_no_subscription(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """A page subscribes to the auction's channel once its browser connected: GETs that
    never open the socket (curl in a loop) hold nothing until NiceGUI prunes them."""
    import uuid

    from realtime.events import channel

    seller = await register(gql, seller=True)
    auction = await live_auction(gql, seller)
    await sign_in(ui_user, seller, next_path="/listings")
    name = channel(uuid.UUID(auction))
    before = app.state.bus.subscriber_count(name)
    for _ in range(20):
        page = await ui_user.http_client.get(f"/listings/{auction}/live")
        assert page.status_code == 200
    await asyncio.sleep(0.5)
    assert app.state.bus.subscriber_count(name) == before
    # A page that connects does follow the auction.
    await ui_user.open(f"/listings/{auction}/live")
    await ui_user.should_see(marker="ticker-empty")
    for _ in range(50):
        if app.state.bus.subscriber_count(name) == before + 1:
            break
        await asyncio.sleep(0.02)
    assert app.state.bus.subscriber_count(name) == before + 1


async def test_a_banned_sellers_open_monitor_stops(ui_user: User, gql: GQL, app: FastAPI) -> None:
    """The live callback re-authenticates: after a ban, a bid no longer reaches the page."""
    from tests.api.admin_steps import BAN

    seller, bidder = await register(gql, seller=True), await register(gql)
    auction = await live_auction(gql, seller, title="Brass ship's clock")
    await sign_in(ui_user, seller, next_path=f"/listings/{auction}/live")
    await ui_user.should_see(marker="ticker-empty", retries=30)
    (price,) = ui_user.find(marker="monitor-price").elements
    admin = await make_admin(gql, app)
    banned = await gql(BAN, {"id": seller.id, "reason": "fraud"}, token=admin.token)
    assert banned["data"]["banUser"]["errors"] == [], banned
    await bid(gql, bidder, auction, "125.00")
    await ui_user.should_see(marker="sign-in", retries=50)
    assert isinstance(price, ui.label) and "125" not in price.text
