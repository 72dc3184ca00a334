"""The seller's listings table: only the viewer's listings, paged, sorted and filtered on
the server; publish, schedule and cancel from a row; another seller's listings can be
neither seen nor acted on."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from nicegui import ui
from nicegui.testing.user import User

from tests.admin_ui.listing_steps import client_of, local, stored, table_rows
from tests.admin_ui.steps import sign_in
from tests.api.discovery_kit import bid, live_auction
from tests.conftest import GQL
from tests.helpers import Account, create_auction, register


def table(user: User) -> ui.table:
    (element,) = user.find(kind=ui.table, marker="listings-table").elements
    return element


def trigger(user: User, event: str, args: dict[str, Any]) -> None:
    """What a row button or the table's pager sends from the browser."""
    user.find(kind=ui.table, marker="listings-table").trigger(event, args)


async def rows_after(user: User, check: Any) -> list[dict[str, Any]]:
    for _ in range(60):
        rows = table_rows(user)
        if check(rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"the table never showed the expected rows: {table_rows(user)}")


async def _error_of(user: User, marker: str) -> str:
    """The error an input shows under itself (a prop, not text on the page)."""
    for _ in range(50):
        (element,) = user.find(marker=marker).elements
        if isinstance(element, ui.input) and element.error:
            return element.error
        await asyncio.sleep(0.02)
    raise AssertionError(f"{marker} shows no error")


async def _listings(user: User, seller: Account) -> None:
    await sign_in(user, seller, next_path="/listings")
    await user.should_see(marker="listings-table")


async def test_a_new_seller_is_invited_to_create_a_listing(ui_user: User, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    await sign_in(ui_user, seller, next_path="/listings")
    await ui_user.should_see("No listings yet")
    await ui_user.should_not_see(marker="listings-table")
    ui_user.find(marker="create-first-listing").click()
    await ui_user.should_see(marker="save-draft")


async def test_pages_sorts_and_filters_on_the_server(ui_user: User, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    other = await register(gql, seller=True)
    await create_auction(gql, other, title="Someone else's lamp")
    for n in range(12):
        await create_auction(
            gql,
            seller,
            title=f"Camera number {n:02d}",
            startingPrice=f"{10 + n}.00",
            type="DUTCH" if n % 4 == 0 else "ENGLISH",
            **({"dutchFloor": "1", "dutchStep": "1", "dutchStepSeconds": 60} if n % 4 == 0 else {}),
        )
    await live_auction(gql, seller, title="Published vase", startingPrice="5.00")
    await _listings(ui_user, seller)
    rows = table_rows(ui_user)
    assert len(rows) == 10  # one page of ten, newest first
    assert rows[0]["title"] == "Published vase"
    assert table(ui_user).pagination["rowsNumber"] == 13
    assert all("lamp" not in r["title"] for r in rows)

    trigger(ui_user, "request", {"page": 2, "rowsPerPage": 10, "sortBy": "created"})
    rows = await rows_after(ui_user, lambda rs: len(rs) == 3)
    assert {r["title"] for r in rows} == {
        "Camera number 00",
        "Camera number 01",
        "Camera number 02",
    }

    trigger(
        ui_user,
        "request",
        {"page": 1, "rowsPerPage": 10, "sortBy": "price", "descending": False},
    )
    rows = await rows_after(ui_user, lambda rs: rs[1]["price"] == "$10.00")
    assert [r["price"] for r in rows[:3]] == ["$5.00", "$10.00", "$11.00"]
    assert [r["price_note"] for r in rows[:2]] == ["starting price", "starting price"]

    # A header click moves the sort menu along; the menu sorts too (phones use it).
    assert field_select(ui_user, "sort").value == "Lowest price"
    with client_of(ui_user):
        field_select(ui_user, "sort").value = "Most bids"
    for _ in range(60):
        if table(ui_user).pagination["sortBy"] == "bids":
            break
        await asyncio.sleep(0.05)
    assert table(ui_user).pagination["sortBy"] == "bids"
    assert table(ui_user).pagination["page"] == 1
    with client_of(ui_user):
        field_select(ui_user, "sort").value = "Lowest price"
    await rows_after(ui_user, lambda rs: rs[0]["title"] == "Published vase")

    with client_of(ui_user):
        field_select(ui_user, "filter-type").value = ["DUTCH"]
    rows = await rows_after(ui_user, lambda rs: len(rs) == 3)
    assert {r["type"] for r in rows} == {"Dutch"}
    with client_of(ui_user):
        field_select(ui_user, "filter-type").value = []
        field_select(ui_user, "filter-status").value = ["ACTIVE"]
    rows = await rows_after(ui_user, lambda rs: len(rs) == 1)
    assert rows[0]["title"] == "Published vase" and rows[0]["status_label"] == "Live"
    with client_of(ui_user):
        field_select(ui_user, "filter-status").value = []
    ui_user.find(marker="filter-text").type("number 1")
    rows = await rows_after(ui_user, lambda rs: len(rs) == 2)
    assert {r["title"] for r in rows} == {"Camera number 10", "Camera number 11"}
    ui_user.find(marker="filter-text").type("zzz")
    await rows_after(ui_user, lambda rs: rs == [])
    await ui_user.should_not_see("No listings yet")  # filters that match nothing say so


def field_select(user: User, marker: str) -> Any:
    (element,) = user.find(marker=marker).elements
    return element


async def test_publish_schedule_and_cancel_from_the_table(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    now_draft = await create_auction(gql, seller, title="Publish me now")
    later_draft = await create_auction(gql, seller, title="Schedule me")
    doomed = await create_auction(gql, seller, title="Cancel me")
    await _listings(ui_user, seller)

    trigger(ui_user, "publish", {"id": now_draft["id"]})
    await ui_user.should_see("Published: bidding is open.")
    assert (await stored(app, now_draft["id"]))["status"] == "ACTIVE"

    trigger(ui_user, "schedule", {"id": later_draft["id"]})
    await ui_user.should_see(marker="schedule-dialog")
    fill_marker(ui_user, "schedule-at", local(-timedelta(hours=1)))
    ui_user.find(marker="confirm-schedule").click()
    await asyncio.sleep(0.05)
    assert field_select(ui_user, "schedule-at").error == "Pick a moment in the future."
    fill_marker(ui_user, "schedule-at", local(timedelta(hours=5)))
    ui_user.find(marker="confirm-schedule").click()
    await ui_user.should_see("Scheduled: bidding opens")
    row = await stored(app, later_draft["id"])
    assert row["status"] == "SCHEDULED" and row["starts_at"] is not None

    trigger(ui_user, "cancel", {"id": doomed["id"]})
    await ui_user.should_see(marker="cancel-dialog")
    ui_user.find(marker="cancel-reason").type("Sold it elsewhere")
    ui_user.find(marker="confirm-cancel").click()
    await ui_user.should_see("Listing cancelled.")
    row = await stored(app, doomed["id"])
    assert (row["status"], row["cancel_reason"]) == ("CANCELLED", "Sold it elsewhere")
    rows = await rows_after(ui_user, lambda rs: any(r["status"] == "CANCELLED" for r in rs))
    cancelled = next(r for r in rows if r["id"] == doomed["id"])
    assert not cancelled["cancellable"] and not cancelled["editable"]


async def test_a_cancel_needs_a_reason(ui_user: User, gql: GQL, app: FastAPI) -> None:
    """The dialog asks for a reason, kept in the audit log: empty or blank, nothing is
    cancelled and the field says why; with one, the listing is cancelled."""
    seller = await register(gql, seller=True)
    draft = await create_auction(gql, seller, title="Spare lens cap")
    await _listings(ui_user, seller)
    trigger(ui_user, "cancel", {"id": draft["id"]})
    await ui_user.should_see(marker="cancel-dialog")
    for blank in ("", "   \n "):
        fill_marker(ui_user, "cancel-reason", blank)
        ui_user.find(marker="confirm-cancel").click()
        await asyncio.sleep(0.1)
        error = field_select(ui_user, "cancel-reason").error
        assert error is not None and "audit log" in error
        assert (await stored(app, draft["id"]))["status"] == "DRAFT"
    fill_marker(ui_user, "cancel-reason", "  Found a scratch  ")
    ui_user.find(marker="confirm-cancel").click()
    await ui_user.should_see("Listing cancelled.")
    row = await stored(app, draft["id"])
    assert (row["status"], row["cancel_reason"]) == ("CANCELLED", "Found a scratch")


async def test_row_actions_are_a_labelled_menu(ui_user: User, gql: GQL) -> None:
    """A row's actions sit behind one button (four icon buttons were clipped at the
    table's right edge), each with its icon and its words."""
    from admin_ui.pages.listings import ROW_ACTIONS

    seller = await register(gql, seller=True)
    await create_auction(gql, seller, title="Menu draft")
    await _listings(ui_user, seller)
    template = table(ui_user).slots["body-cell-actions"].template or ""
    assert template.count("<q-btn") == 1 and "<q-menu" in template
    assert "<q-tooltip>Actions</q-tooltip>" in template
    for flag, event, icon, label, _ in ROW_ACTIONS:
        assert f'v-if="props.row.{flag}"' in template and f"$emit('{event}'" in template
        assert (
            f'name="{icon}"' in template and f"<q-item-section>{label}</q-item-section>" in template
        )
    (row,) = table_rows(ui_user)
    assert row["editable"] and row["publishable"] and row["cancellable"]


def fill_marker(user: User, marker: str, value: str) -> None:
    with client_of(user):
        field_select(user, marker).value = value


async def test_cancel_after_a_bid_is_refused_in_words(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    auction_id = await live_auction(gql, seller, title="Already bid on")
    await bid(gql, bidder, auction_id, "100.00")
    await _listings(ui_user, seller)
    # A page drawn before the bid still offers the button: the use case decides.
    trigger(ui_user, "cancel", {"id": auction_id})
    await ui_user.should_see(marker="cancel-dialog")
    ui_user.find(marker="cancel-reason").type("Changed my mind")
    ui_user.find(marker="confirm-cancel").click()
    await ui_user.should_see("Sellers can cancel only before the first bid; ask an admin.")
    assert (await stored(app, auction_id))["status"] == "ACTIVE"


async def test_another_sellers_listing_is_never_shown_nor_changed(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    owner = await register(gql, seller=True)
    draft = await create_auction(gql, owner, title="Owner's draft")
    live_id = await live_auction(gql, owner, title="Owner's live one")
    intruder = await register(gql, seller=True)
    await create_auction(gql, intruder, title="Intruder's own")
    await _listings(ui_user, intruder)
    assert [r["title"] for r in table_rows(ui_user)] == ["Intruder's own"]
    for event in ("publish", "cancel"):
        for target in (draft["id"], live_id):
            trigger(ui_user, event, {"id": target})
            if event == "cancel":
                await ui_user.should_see(marker="cancel-dialog")
                await ui_user.should_not_see("Owner's")  # the dialog names nothing of it
                ui_user.find(marker="cancel-reason").type("Not mine")
                ui_user.find(marker="confirm-cancel").click()
            await asyncio.sleep(0.1)
    trigger(ui_user, "schedule", {"id": draft["id"]})
    fill_marker(ui_user, "schedule-at", local(timedelta(hours=5)))
    ui_user.find(marker="confirm-schedule").click()
    await asyncio.sleep(0.1)
    await ui_user.should_see("It does not exist, or it is not yours to see.")
    assert (await stored(app, draft["id"]))["status"] == "DRAFT"
    assert (await stored(app, draft["id"]))["starts_at"] is None
    assert (await stored(app, live_id))["status"] == "ACTIVE"
    assert [r["title"] for r in table_rows(ui_user)] == ["Intruder's own"]


async def test_an_admin_sees_only_their_own_listings_here(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    from tests.api.settlement_steps import make_admin

    seller = await register(gql, seller=True)
    await create_auction(gql, seller, title="A seller's draft")
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/listings")
    await ui_user.should_see("No listings yet")
    await ui_user.should_not_see("A seller's draft")


async def test_bidders_and_anonymous_are_kept_out(ui_user: User, gql: GQL) -> None:
    await ui_user.open("/listings")
    await ui_user.should_see(marker="sign-in")
    await sign_in(ui_user, await register(gql), next_path="/listings")
    await ui_user.should_see("Not for this account")
    await ui_user.should_not_see(marker="listings-table")


# -- hostile input from the browser: refused or clamped, never a crash -------------------


async def test_a_forged_page_request_is_clamped_not_a_crash(ui_user: User, gql: GQL) -> None:
    """The table's `request` event carries whatever the browser sends: a page that is not
    a number, a huge one (an offset past bigint), a page size "all", negative values and
    an unknown sort show a page of the seller's listings (ERROR logs fail the fixture)."""
    seller = await register(gql, seller=True)
    await create_auction(gql, seller, title="Still listed")
    await _listings(ui_user, seller)
    for forged in (
        {"page": "x", "rowsPerPage": 20},
        {"page": 10**20, "rowsPerPage": 20},
        {"page": 1, "rowsPerPage": "all"},
        {"page": -3, "rowsPerPage": -10, "sortBy": "password", "descending": "yes"},
        {"page": [1], "rowsPerPage": {"a": 1}, "sortBy": None},
    ):
        trigger(ui_user, "request", forged)
        await asyncio.sleep(0.2)
    trigger(ui_user, "request", {"page": 1, "rowsPerPage": 10})
    await rows_after(ui_user, lambda rows: [r["title"] for r in rows] == ["Still listed"])


async def test_a_nul_byte_in_the_search_is_refused_in_words(ui_user: User, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    await create_auction(gql, seller, title="Something to search")
    await _listings(ui_user, seller)
    ui_user.find(marker="filter-text").type("ab\x00c")
    await ui_user.should_see("must not contain NUL", retries=30)


async def test_the_schedule_dialog_refuses_a_date_off_the_calendar(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """Year 1 with a +05:00 offset leaves the calendar when turned into UTC."""
    seller = await register(gql, seller=True)
    draft = await create_auction(gql, seller, title="Mine to schedule")
    await _listings(ui_user, seller)
    for moment in ("0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00"):
        await ui_user.open("/listings")
        await ui_user.should_see(marker="listings-table")
        trigger(ui_user, "schedule", {"id": draft["id"]})
        await ui_user.should_see(marker="schedule-at")
        ui_user.find(marker="schedule-at").type(moment)
        ui_user.find(marker="confirm-schedule").click()
        assert "between the years" in await _error_of(ui_user, "schedule-at"), moment
    assert (await stored(app, draft["id"]))["status"] == "DRAFT"


async def test_a_banned_sellers_open_page_reads_nothing_more(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """The page was authenticated when it loaded; every later read re-authenticates, so
    after a ban the open table reads nothing more and the browser is sent to sign in."""
    from sqlalchemy import text

    from tests.api.admin_steps import BAN
    from tests.api.settlement_steps import make_admin

    seller = await register(gql, seller=True)
    await create_auction(gql, seller, title="Before the ban")
    await _listings(ui_user, seller)
    listings_table = table(ui_user)
    admin = await make_admin(gql, app)
    banned = await gql(BAN, {"id": seller.id, "reason": "fraud"}, token=admin.token)
    assert banned["data"]["banUser"]["errors"] == [], banned
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE items SET title = 'Renamed after the ban' WHERE id IN"
                " (SELECT item_id FROM auctions WHERE seller_id = :u)"
            ),
            {"u": seller.id},
        )
    trigger(ui_user, "request", {"page": 1, "rowsPerPage": 10})
    await ui_user.should_see(marker="sign-in", retries=50)
    assert not any("after the ban" in str(r["title"]) for r in listings_table.rows)
