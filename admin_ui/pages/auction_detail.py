"""One auction for admins: its terms and state, a live view, its bids and its event log.

The live view (price, bid count, leader, end and a countdown that follows soft-close
extensions) follows the auction's bus channel (`realtime.events.channel`): each event
marks the view stale and a short timer redraws it from the slot and the row, at most
twice a second however fast bids come (a burst costs one read). The bids and the event
log are paged in PostgreSQL (services/admin_catalog.py) and follow the same events;
what the persister records a few milliseconds after an event shows at the next redraw.
A sealed auction's amounts stay hidden until it ends, here as in the API. An id that
is not an auction's gets a page that says so. Sellers follow their own auctions on
/listings/{id}/live; this page is for admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import duration, money, plural, when
from admin_ui.live import follow
from admin_ui.messages import error_state
from admin_ui.paged_table import PagedTable
from admin_ui.pages.auctions import (
    FEATURABLE,
    STATUS_NAMES,
    TYPE_NAMES,
    auction_actions,
    price_text,
)
from admin_ui.shell import PageEnv, admin_page
from domain.enums import AuctionStatus, AuctionType
from realtime.events import channel
from services import admin_catalog
from services.admin_catalog import AuctionView, EventLine
from storage.tables import Auction, User

# A redraw after a bus event waits at most this long, so a burst of bids costs one read.
REDRAW_SECONDS = 0.5
# Redraws after the last event: the persister records events a few ms after the bus.
SETTLE_PASSES = 2

BID_COLUMNS: list[dict[str, Any]] = [
    {"name": "sequence", "label": "#", "field": "sequence", "align": "left"},
    {"name": "bidder", "label": "Bidder", "field": "bidder", "align": "left"},
    {"name": "amount", "label": "Amount", "field": "amount", "align": "right"},
    {"name": "max", "label": "Proxy ceiling", "field": "max", "align": "right"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
    {"name": "placed", "label": "Placed", "field": "placed", "align": "left"},
]
EVENT_COLUMNS: list[dict[str, Any]] = [
    {"name": "sequence", "label": "#", "field": "sequence", "align": "left"},
    {"name": "kind", "label": "Event", "field": "kind", "align": "left"},
    {"name": "what", "label": "What happened", "field": "what", "align": "left"},
    {"name": "price", "label": "Price after", "field": "price", "align": "right"},
    {"name": "bids", "label": "Bids", "field": "bids"},
    {"name": "at", "label": "At", "field": "at", "align": "left"},
]
KIND_NAMES = {
    "BID_ACCEPTED": "Bid",
    "PRICE_STEP": "Price step",
    "EXTENDED": "Extended",
    "ENDED": "Ended",
    "CANCELLED": "Cancelled",
    "BIDS_VOIDED": "Bids voided",
}


@admin_page("/auctions/{auction_id}", title="Auction", audience="admin")
async def auction_page(env: PageEnv, auction_id: str) -> None:
    deps = admin_context().deps
    try:
        wanted = uuid.UUID(auction_id)
    except ValueError:
        wanted = None
    view = await admin_catalog.auction_view(deps, env.viewer, wanted) if wanted else None
    if view is None:
        error_state(
            "No such auction",
            "The link may be mistyped, or the auction was never created. Find it under Auctions.",
            icon="search_off",
        )
        ui.link("All auctions", "/auctions").mark("back-to-auctions")
        return
    await _draw(env, view)


async def _draw(env: PageEnv, view: AuctionView) -> None:
    deps = admin_context().deps
    auction, item = view.auction, view.item
    currency = auction.currency
    state: dict[str, Any] = {"auction": auction, "view": view, "stale": 0}

    with ui.row().classes("w-full items-center gap-2 flex-wrap"):
        ui.link("Auctions", "/auctions").classes("opacity-70")
        ui.icon("chevron_right").classes("opacity-50")
        ui.label(item.title).classes("text-2xl font-semibold").mark("auction-title")
        ui.space()
        ui.chip(TYPE_NAMES[auction.type]).props("outline")
        status_chip = ui.chip("").props("color=primary text-color=white").mark("live-status")
        featured_chip = (
            ui.chip("Featured", icon="star")
            .props("color=amber-8 text-color=white")
            .mark("featured-badge")
        )

    # The live view: everything here is redrawn from the slot after each event.
    with ui.card().classes("w-full").mark("live-view"):
        with ui.grid().classes("w-full grid grid-cols-2 md:grid-cols-5 gap-4") as figures:
            price = _figure("Current price", "live-price")
            bids = _figure("Bids", "live-bids")
            leader = _figure("Leading", "live-leader")
            ends = _figure("Ends", "live-ends", size="text-base")
            countdown = _figure("Time left", "live-countdown")
        live_note = ui.label("").classes("text-sm opacity-70").mark("live-note")

    def redraw_live() -> None:
        v: AuctionView = state["view"]
        row: Auction = state["auction"]
        s = v.state
        status_chip.text = STATUS_NAMES[s.status.value] + (
            f" · {s.outcome.value.lower()}" if s.outcome else ""
        )
        # A cancelled or ended auction is put forward nowhere, whatever its flag says.
        featured_chip.visible = row.featured and row.status in FEATURABLE
        # A cancelled auction's price, count and leader describe bids that are all void.
        figures.visible = s.status is not AuctionStatus.CANCELLED
        price.text = price_text(row, s)
        bids.text = str(s.bid_count)
        if s.bid_amounts_hidden:
            leader.text = "sealed"
        elif s.leader is not None:
            leader.text = v.names.get(s.leader, str(s.leader)[:8])
        else:
            leader.text = "nobody yet"
        ends.text = when(s.ends_at, env.zone)
        tick()
        if s.status is AuctionStatus.ACTIVE:
            nxt = s.minimum_next_bid
            live_note.text = (
                f"Live: updates as bids arrive. Next bid at least {money(nxt, currency)}."
                if nxt is not None and not s.bid_amounts_hidden
                else "Live: updates as bids arrive."
            )
        elif s.status is AuctionStatus.ENDED:
            winner = v.names.get(s.winner) if s.winner else None
            live_note.text = (
                f"Sold to {winner} for {money(s.final_price, currency)}."
                if winner and s.final_price is not None
                else "Ended without a sale."
            )
        elif s.status is AuctionStatus.CANCELLED:
            live_note.text = cancelled_text(v, env)
        else:
            live_note.text = "Not live yet."

    def tick() -> None:
        s = state["view"].state
        if s.status in (AuctionStatus.ACTIVE, AuctionStatus.SCHEDULED):
            countdown.text = duration(s.ends_at - datetime.now(UTC))
        else:
            countdown.text = "over"

    redraw_live()

    with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-4"):
        with ui.card().classes("w-full gap-2").mark("terms"):
            ui.label("Terms").classes("text-lg font-semibold")
            terms = ui.column().classes("w-full gap-2")

            def draw_terms() -> None:
                terms.clear()
                with terms:
                    _terms(env, state["view"])

            draw_terms()
        with ui.card().classes("w-full gap-2").mark("decisions"):
            ui.label("Decisions").classes("text-lg font-semibold")
            decisions = ui.column().classes("w-full gap-2")

            def draw_decisions() -> None:
                decisions.clear()
                with decisions:
                    auction_actions(state["auction"], after=lambda: refresh_all())

            draw_decisions()

    with ui.tabs().classes("w-full") as tabs:
        bids_tab = ui.tab("Bids").mark("tab-bids")
        events_tab = ui.tab("Event log").mark("tab-events")
    with ui.tab_panels(tabs, value=bids_tab).classes("w-full"):
        with ui.tab_panel(bids_tab):
            bids_table = PagedTable(
                BID_COLUMNS,
                _bid_fetch(env, state),
                marker="bids-table",
                no_data="No bids yet: they show here as they arrive.",
            )
            if view.amounts_hidden:
                ui.label(
                    "Sealed: amounts stay secret until the auction ends, here as everywhere."
                ).classes("text-sm opacity-70").mark("sealed-note")
        with ui.tab_panel(events_tab):
            events_table = PagedTable(
                EVENT_COLUMNS,
                _event_fetch(env, state),
                marker="events-table",
                no_data="Nothing has happened yet: events show here as they happen.",
            )
    await bids_table.load()
    await events_table.load()

    async def read_again(viewer: User) -> tuple[Auction | None, AuctionView | None]:
        row = await admin_catalog.reread(deps, viewer, auction.id)
        fresh = await admin_catalog.auction_view(deps, viewer, auction.id)
        return row, fresh

    async def reauthenticated() -> tuple[Auction | None, AuctionView | None] | None:
        """Both reads with the viewer read again (an open page outlives a ban, a lost
        role, a sign-out); None when refused: the page then stops following."""
        if state.get("stopped"):
            return None
        found = await act(read_again, audience="admin")
        if found is None:
            state["stopped"] = True
            timer.deactivate()
        return found

    async def refresh_all() -> None:
        found = await reauthenticated()
        if found is None or found[0] is None:
            return
        state["auction"] = found[0]
        if found[1] is not None:
            state["view"] = found[1]
        redraw_live()
        draw_terms()
        draw_decisions()
        await bids_table.reload()
        await events_table.reload()

    async def on_timer() -> None:
        tick()
        if state["stale"] > 0:
            state["stale"] -= 1
            await refresh_live()

    async def refresh_live() -> None:
        found = await reauthenticated()
        fresh = found[1] if found is not None else None
        if fresh is None:
            return
        before = state["auction"].status
        state["view"], state["auction"] = fresh, fresh.auction
        redraw_live()
        if fresh.auction.status != before:
            draw_terms()
            draw_decisions()
        await bids_table.reload()
        await events_table.reload()

    def on_event(_: str) -> None:
        if not state.get("stopped"):
            state["stale"] = SETTLE_PASSES

    timer = ui.timer(REDRAW_SECONDS, on_timer)
    follow(channel(auction.id), on_event, on_gap=on_event)


def _figure(label: str, marker: str, *, size: str = "text-xl") -> Any:
    with ui.column().classes("gap-0 min-w-0 w-full"):
        ui.label(label).classes("text-xs uppercase opacity-60")
        value = ui.label("").classes(f"{size} font-semibold w-full truncate").mark(marker)
    return value


def _terms(env: PageEnv, view: AuctionView) -> None:
    auction, item, seller = view.auction, view.item, view.seller
    cur = auction.currency
    rows: list[tuple[str, str]] = [
        ("Seller", seller.username),
        ("Category", item.category),
        ("Condition", item.condition.replace("_", " ").title()),
        ("Starting price", money(auction.starting_price, cur)),
        ("Reserve (the seller's secret)", money(auction.reserve_price, cur)),
        ("Buy now", money(auction.buy_now_price, cur)),
    ]
    if auction.type == AuctionType.DUTCH.value:
        rows += [
            ("Dutch step", money(auction.dutch_step, cur)),
            ("Every", f"{auction.dutch_step_seconds or 0} s"),
            ("Floor", money(auction.dutch_floor, cur)),
        ]
    if auction.soft_close_window_seconds:
        rows += [
            (
                "Soft close",
                f"bids in the last {auction.soft_close_window_seconds} s extend it by"
                f" {auction.soft_close_extension_seconds or 0} s",
            ),
            ("Hard close", when(auction.hard_close_at, env.zone)),
        ]
    rows += [
        ("Starts", when(auction.starts_at, env.zone)),
        ("Published", when(auction.published_at, env.zone)),
        ("Watchers", str(view.watchers)),
        ("Listed", when(auction.created_at, env.zone)),
        (
            ("Featured since", when(auction.featured_at, env.zone))
            if auction.featured and auction.status in FEATURABLE
            else ("Featured", "No")
        ),
        ("Auction id", str(auction.id)),
    ]
    with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1 text-sm").mark("terms-grid"):
        for label, value in rows:
            ui.label(label).classes("opacity-70")
            ui.label(value).classes("break-all" if label == "Auction id" else "break-words").mark(
                f"term-{label.lower().replace(' ', '-')}"
            )
    with ui.row().classes("gap-3 text-sm"):
        ui.link("Seller's account", f"/users?q={seller.username}")
        ui.link("Audit trail", f"/audit?entity={auction.id}")


def cancelled_text(view: AuctionView, env: PageEnv) -> str:
    """A cancelled auction in plain words: "Cancelled on 2026-11-30 14:05 CET by ann:
    counterfeit. All 5 bids were voided: nobody won and nobody pays." (who and why from
    its audit row, when known)."""
    gone = view.cancellation
    at = gone.at if gone is not None else view.auction.cancelled_at
    text = "Cancelled" + (f" on {when(at, env.zone)}" if at is not None else "")
    if gone is not None and gone.by:
        text += f" by {gone.by}"
    reason = gone.reason if gone is not None else view.auction.cancel_reason
    text += f": {reason}." if reason else "."
    voided = gone.voided_bids if gone is not None else view.auction.bid_count
    if voided == 1:
        text += " Its only bid was voided: nobody won and nobody pays."
    elif voided > 1:
        text += f" All {plural(voided, 'bid')} were voided: nobody won and nobody pays."
    else:
        text += " It had no bids."
    return text


def _auction_rows(
    state: dict[str, Any],
    read: Callable[[Any, Auction, int, int], Awaitable[Any]],
    row_of: Callable[[Any, Auction], dict[str, Any]],
) -> Any:
    """A PagedTable fetch over one of the auction's paged reads (bids, event log), with
    the viewer re-authenticated for every page; None once the page stopped or was refused."""

    async def fetch(
        limit: int, offset: int, _sort: str | None, _desc: bool
    ) -> tuple[list[dict[str, Any]], int] | None:
        auction: Auction = state["auction"]
        if state.get("stopped"):
            return None
        page = await act(lambda viewer: read(viewer, auction, limit, offset), audience="admin")
        if page is None:
            return None
        return [row_of(line, auction) for line in page.rows], page.total

    return fetch


def _bid_fetch(env: PageEnv, state: dict[str, Any]) -> Any:
    deps = admin_context().deps

    def row_of(line: Any, _auction: Auction) -> dict[str, Any]:
        return {
            "id": line.sequence,
            "sequence": line.sequence,
            "bidder": line.bidder,
            "amount": "sealed" if line.amount is None else money(line.amount, line.currency),
            "max": "—"
            if line.max_amount is None or line.max_amount == line.amount
            else money(line.max_amount, line.currency),
            "state": line.state,
            "placed": when(line.placed_at, env.zone, seconds=True),
        }

    return _auction_rows(state, partial(admin_catalog.auction_bids, deps), row_of)


def _event_fetch(env: PageEnv, state: dict[str, Any]) -> Any:
    deps = admin_context().deps

    def row_of(line: Any, auction: Auction) -> dict[str, Any]:
        return {
            "id": line.sequence,
            "sequence": line.sequence,
            "kind": KIND_NAMES.get(line.kind, line.kind),
            "what": describe(line, auction.currency, env),
            "price": "sealed"
            if line.price is None and _hidden(auction)
            else money(line.price, auction.currency),
            "bids": line.bid_count,
            "at": when(line.at, env.zone, seconds=True),
        }

    return _auction_rows(state, partial(admin_catalog.event_log, deps), row_of)


def _hidden(auction: Auction) -> bool:
    return AuctionType(auction.type).sealed and auction.status != AuctionStatus.ENDED.value


def describe(line: EventLine, currency: str, env: PageEnv) -> str:
    """An event in a sentence: "alice bid $120.00 (leads)", "ended: TIME", ..."""
    if line.kind == "BID_ACCEPTED":
        who = line.bidder or "someone"
        if line.amount is None:
            return f"{who} placed a sealed bid"
        text = f"{who} bid {money(line.amount, currency)}"
        if line.buy_now:
            text += " (bought it now)"
        elif line.leading is True:
            text += " (leads)"
        elif line.leading is False:
            text += " (outbid at once by a proxy)"
        return text
    if line.kind == "PRICE_STEP":
        return "the Dutch price fell one step"
    if line.kind == "EXTENDED":
        return f"soft close: now ends {when(line.ends_at, env.zone, seconds=True)}"
    if line.kind == "ENDED":
        reasons = {"TIME": "its time ran out", "BUY_NOW": "bought now", "ACCEPTED": "accepted"}
        return f"ended: {reasons.get(line.reason or '', line.reason or '')}"
    if line.kind == "CANCELLED":
        return f"cancelled{': ' + line.reason if line.reason else ''}"
    if line.kind == "BIDS_VOIDED":
        seqs = ", ".join(f"#{s}" for s in line.voided) or "none"
        note = f" ({line.note})" if line.note else ""
        return f"bids {seqs} voided, {(line.reason or '').lower()}{note}; price recomputed"
    return line.kind
