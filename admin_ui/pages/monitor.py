"""The seller's live auction monitor, and the list of auctions live now.

`/listings/{auction_id}/live` shows one auction as it happens: the current price with its
currency, the high bidder (by username, as the API shows it), bids, watchers, a countdown
to the end and a bid ticker, newest first. It follows the auction's bus channel (the same
public events the API's subscriptions carry): each event is applied with the domain's
rules (services/seller_monitor.py `advance`), a gap or a change the event does not carry
(voided bids, a sealed end, a cancellation) re-reads the auction. Soft close moves the end
when an event says so; a Dutch auction's price falls on its clock, computed each second
from its terms with the domain's pricing function (the 1-second timer does no I/O). A
slower timer re-reads the watchers and checks the slot's sequence, so an event lost
between the first read and the subscription is caught up.

`/live` lists the viewer's auctions that are live now (an admin: everyone's), a page at a
time, with links to their monitors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import orjson
from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import duration, money, plural, when
from admin_ui.live import follow
from admin_ui.messages import empty_state
from admin_ui.shell import PageEnv, admin_page
from domain.enums import AuctionStatus, AuctionType
from domain.errors import DomainError
from domain.events import MalformedEvent, parse_event
from domain.public_state import dutch_price_at
from realtime.events import channel
from services import seller_monitor
from services.seller_monitor import LiveListing, Monitor, TickerLine
from services.unavailable import Unavailable
from storage.tables import User

log = logging.getLogger("gavel.admin")

TYPE_NAMES = {
    AuctionType.ENGLISH: "English",
    AuctionType.DUTCH: "Dutch",
    AuctionType.SEALED_FIRST_PRICE: "Sealed, first price",
    AuctionType.SEALED_SECOND_PRICE: "Sealed, second price",
}
STATUS_COLORS = {
    AuctionStatus.ACTIVE: "positive",
    AuctionStatus.SCHEDULED: "info",
    AuctionStatus.ENDED: "grey",
    AuctionStatus.CANCELLED: "negative",
    AuctionStatus.DRAFT: "grey",
}
CATCH_UP_SECONDS = 10.0  # the safety re-check of watchers and the slot's sequence


class Pager:
    """ "Page N of M" with previous and next buttons; the service pages on the server.
    `on_change()` is awaited after the page moved; `marker` names the elements."""

    def __init__(self, size: int, on_change: Callable[[], Awaitable[None]], marker: str) -> None:
        self.size = size
        self.page = 0
        self.total = 0
        self._on_change = on_change
        with ui.row().classes("items-center gap-2 w-full justify-end"):
            self._prev = (
                ui.button(icon="chevron_left", on_click=lambda: self._go(-1))
                .props("flat round dense")
                .mark(f"{marker}-prev")
            )
            self._label = ui.label("").classes("text-sm opacity-80").mark(f"{marker}-page")
            self._next = (
                ui.button(icon="chevron_right", on_click=lambda: self._go(1))
                .props("flat round dense")
                .mark(f"{marker}-next")
            )

    @property
    def offset(self) -> int:
        return self.page * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def show(self, total: int, noun: str) -> None:
        """`noun` in the singular: "Page 1 of 2 · 11 sales"."""
        self.total = total
        self.page = min(self.page, self.pages - 1)
        self._label.text = f"Page {self.page + 1} of {self.pages} · {plural(total, noun)}"
        self._prev.enabled = self.page > 0
        self._next.enabled = self.page + 1 < self.pages

    def reset(self) -> None:
        self.page = 0

    async def _go(self, step: int) -> None:
        target = self.page + step
        if 0 <= target < self.pages:
            self.page = target
            await self._on_change()


def _price_text(m: Monitor, price: int | None) -> str:
    if price is not None:
        return money(price, m.currency)
    if m.type.sealed and m.state.status is not AuctionStatus.ENDED:
        return "Sealed: secret until the end"
    return "No bids yet"


def _leader_text(m: Monitor) -> str:
    if m.type.sealed and m.state.status is not AuctionStatus.ENDED:
        return "Hidden (sealed bids)"
    return m.leader_name or "Nobody yet"


class MonitorView:
    """The monitor's elements, kept up to date from `Monitor` snapshots."""

    def __init__(self, env: PageEnv, current: Monitor) -> None:
        self.env = env
        self.m = current
        self._lock = asyncio.Lock()
        self.stopped = False
        self.timers: list[ui.timer] = []
        with ui.column().classes("w-full gap-4") as self.body:
            self._draw()
        self.show()

    # -- drawing --------------------------------------------------------------------------

    def _figure(self, label: str, marker: str) -> ui.label:
        with ui.card().classes("p-3 gap-1"):
            ui.label(label).classes("text-xs uppercase opacity-60")
            return ui.label("").classes("text-xl font-semibold break-words").mark(marker)

    def _draw(self) -> None:
        m = self.m
        with ui.row().classes("items-center gap-2 w-full"):
            ui.label(m.title).classes("text-xl font-semibold").mark("monitor-title")
            ui.badge(TYPE_NAMES[m.type]).props("outline")
            self.status = ui.badge("").mark("monitor-status")
            self.live_dot = ui.icon("sensors").classes("text-positive").tooltip("Live")
        with ui.element("div").classes("grid grid-cols-2 md:grid-cols-4 gap-3 w-full"):
            self.price = self._figure("Current price", "monitor-price")
            self.leader = self._figure("High bidder", "monitor-leader")
            self.bids = self._figure("Bids", "monitor-bids")
            self.watchers = self._figure("Watchers", "monitor-watchers")
        with ui.card().classes("w-full p-4 gap-1"):
            self.countdown_caption = ui.label("Ends in").classes("text-xs uppercase opacity-60")
            self.countdown = ui.label("").classes("text-3xl font-bold").mark("monitor-countdown")
            self.ends = ui.label("").classes("opacity-80").mark("monitor-ends")
            if m.soft_close_window_seconds and m.soft_close_extension_seconds:
                ui.label(
                    "Soft close: a bid in the last "
                    f"{duration_words(m.soft_close_window_seconds)} moves the end"
                    f" {duration_words(m.soft_close_extension_seconds)} later"
                    + (
                        f", never past {when(m.hard_close_at, self.env.zone)}"
                        if m.hard_close_at
                        else ""
                    )
                    + "."
                ).classes("text-sm opacity-70")
            self.dutch = ui.label("").classes("text-sm").mark("monitor-dutch")
            self.dutch.visible = m.type is AuctionType.DUTCH
        with ui.card().classes("w-full p-0 gap-0"):
            with ui.row().classes("items-center justify-between w-full px-4 pt-3"):
                ui.label("Bid ticker").classes("text-lg font-semibold")
                ui.label("newest first").classes("text-xs opacity-60")
            self.no_bids = ui.label("No bids yet. New bids appear here as they come in.")
            self.no_bids.classes("px-4 pb-4 opacity-70").mark("ticker-empty")
            self.ticker = ui.column().classes("w-full gap-0 pb-2").mark("ticker")

    def _line(self, line: TickerLine) -> None:
        with (
            self.ticker,
            ui.row()
            .classes("w-full items-center gap-3 px-4 py-1 border-t border-gray-500/20 no-wrap")
            .mark("ticker-line") as row,
        ):
            full = when(line.at, self.env.zone, seconds=True)  # "2026-11-30 14:05:09 CET"
            today = when(admin_context().deps.clock(), self.env.zone)[:10]
            ui.label(full[11:19] if full[:10] == today else full[5:19]).classes(
                "font-mono text-sm opacity-70"
            ).tooltip(full)
            ui.label(line.note).classes("text-sm")
            ui.label(line.bidder or "").classes("text-sm opacity-80 truncate")
            ui.space()
            if line.amount is not None:
                ui.label(money(line.amount, self.m.currency)).classes("font-semibold")
        row.move(target_index=0)

    def show(self) -> None:
        """Everything from the current snapshot (the ticker redrawn whole)."""
        m = self.m
        status = m.state.status
        label = status.value.title()
        if m.state.outcome is not None:
            label += f" · {m.state.outcome.value.lower()}"
        self.status.text = label
        self.status.props(f"color={STATUS_COLORS.get(status, 'grey')}")
        self.live_dot.visible = status is AuctionStatus.ACTIVE
        self.leader.text = _leader_text(m)
        self.bids.text = str(m.state.bid_count)
        self.watchers.text = str(m.watchers)
        self.ends.text = ("Ends " if status is AuctionStatus.ACTIVE else "End ") + when(
            m.state.ends_at, self.env.zone
        )
        self.ticker.clear()
        for line in reversed(m.ticker):
            self._line(line)
        self.no_bids.visible = not m.ticker
        self.tick()

    def _add(self, previous: Monitor) -> None:
        """Only what changed since `previous` (the hot path: one event)."""
        m = self.m
        if m.ticker and (not previous.ticker or m.ticker[0] != previous.ticker[0]):
            self._line(m.ticker[0])
            children = list(self.ticker)
            for extra in children[seller_monitor.TICKER_SIZE :]:
                self.ticker.remove(extra)
        self.no_bids.visible = not m.ticker
        if m.state.ends_at != previous.state.ends_at and m.state.status is AuctionStatus.ACTIVE:
            ui.notify(f"End extended to {when(m.state.ends_at, self.env.zone, seconds=True)}")
        if m.state.status != previous.state.status:
            self.show()
            return
        self.leader.text = _leader_text(m)
        self.bids.text = str(m.state.bid_count)
        self.ends.text = "Ends " + when(m.state.ends_at, self.env.zone)
        self.tick()

    def tick(self) -> None:
        """Once a second, no I/O: the countdown and the Dutch clock's price."""
        m = self.m
        now = admin_context().deps.clock()
        status = m.state.status
        price = m.state.current_price
        if status is AuctionStatus.ACTIVE:
            self.countdown_caption.text = "Ends in"
            left = m.state.ends_at - now
            self.countdown.text = duration(left) if left.total_seconds() > 0 else "Ending…"
            if m.type is AuctionType.DUTCH:
                price = dutch_price_at(m.terms, now)
                self.dutch.text = _dutch_text(m, now, price)
        elif status is AuctionStatus.SCHEDULED:
            self.countdown_caption.text = "Starts in"
            start = m.starts_at or now
            self.countdown.text = duration(start - now)
        else:
            self.countdown_caption.text = "Bidding"
            self.countdown.text = {
                AuctionStatus.CANCELLED: "Cancelled",
                AuctionStatus.DRAFT: "Not published yet",
            }.get(status, "Ended")
            self.dutch.visible = False
        self.price.text = _price_text(m, price)

    # -- live updates ---------------------------------------------------------------------

    async def on_event(self, message: str) -> None:
        if self.stopped:
            return
        try:
            event = parse_event(orjson.loads(message))
        except (MalformedEvent, orjson.JSONDecodeError):
            log.warning("live monitor: an event it cannot read: %.200s", message)
            return
        async with self._lock:
            if event.sequence <= self.m.sequence:
                return  # seen already (a re-read got it first)
            # Only while the viewer may still read it (a ban or a lost role stops the page).
            if await self._allowed() is None:
                return
            if seller_monitor.needs_reread(self.m, event):
                await self._reread()
                return
            previous = self.m
            self.m = await seller_monitor.advance(admin_context().deps, self.m, event)
            self._add(previous)

    async def reread(self, _: str = "") -> None:
        async with self._lock:
            await self._reread()

    async def _allowed(self) -> User | None:
        """The viewer signed in now, or None (refused, shown by `act`: the page stops)."""
        if self.stopped:
            return None

        async def check(viewer: User) -> User:
            return viewer

        viewer = await act(check, audience="seller")
        if viewer is None:
            self.stop()
        return viewer

    def stop(self) -> None:
        """No more reads: timers off, events ignored, the figures emptied."""
        self.stopped = True
        for timer in self.timers:
            timer.deactivate()
        self.body.clear()
        with self.body:
            empty_state(
                "This monitor stopped",
                "Your account may no longer read this auction. Sign in again to continue.",
                icon="sensors_off",
            )

    async def _reread(self) -> None:
        viewer = await self._allowed()
        if viewer is None:
            return
        try:
            self.m = await seller_monitor.monitor(admin_context().deps, viewer, self.m.auction_id)
        except (DomainError, Unavailable) as err:  # gone, or a store is down: keep showing
            log.info("live monitor: re-read failed: %r", err)
            return
        self.show()

    async def catch_up(self) -> None:
        """The slow safety net: watchers, and a re-read if the slot moved on unseen."""
        deps = admin_context().deps
        viewer = await self._allowed()
        if viewer is None:
            return
        try:
            slot = (await deps.slots.live([self.m.auction_id]))[0]
            count = await seller_monitor.watchers(deps, viewer, self.m.auction_id)
        except (DomainError, Unavailable, OSError) as err:
            log.info("live monitor: catch-up failed: %r", err)
            return
        # Moved on unseen, or started (a scheduled auction's slot appears at activation).
        if slot is not None and (
            slot.sequence > self.m.sequence or slot.status != self.m.state.status.value
        ):
            await self.reread()
        if count != self.m.watchers:
            self.m = replace(self.m, watchers=count)
            self.watchers.text = str(count)


def duration_words(seconds: int) -> str:
    if seconds % 60 == 0:
        return plural(seconds // 60, "minute")
    return plural(seconds, "second")


def _dutch_text(m: Monitor, now: datetime, price: int) -> str:
    terms = m.terms
    floor = terms.dutch_floor or 0
    if price <= floor or not terms.dutch_step_seconds or terms.clock_start is None:
        return f"Dutch clock: at its floor, {money(floor, m.currency)}."
    elapsed = (now - terms.clock_start).total_seconds()
    step = terms.dutch_step_seconds
    left = step - (elapsed % step)
    nxt = max(floor, price - (terms.dutch_step or 0))
    return (
        f"Dutch clock: {money(price, m.currency)} now, {money(nxt, m.currency)} in"
        f" {duration_from_seconds(left)}; floor {money(floor, m.currency)}."
    )


def duration_from_seconds(seconds: float) -> str:
    return duration(timedelta(seconds=max(0.0, seconds)))


@admin_page("/listings/{auction_id}/live", title="Live monitor", audience="seller")
async def monitor_page(env: PageEnv, auction_id: str) -> None:
    current = await seller_monitor.monitor(admin_context().deps, env.viewer, auction_id)
    view = MonitorView(env, current)
    view.timers = [
        ui.timer(1.0, view.tick),
        # Once soon after the subscription started (an event published between the first
        # read and the subscription is not lost for long), then now and then.
        ui.timer(1.0, view.catch_up, once=True),
        ui.timer(CATCH_UP_SECONDS, view.catch_up),
    ]
    # live.follow subscribes once the browser connected (NiceGUI's timers wait for it too).
    follow(channel(current.auction_id), view.on_event, on_gap=view.reread)


@admin_page("/live", title="Live now", audience="seller", nav="Live now", icon="sensors", order=120)
async def live_now_page(env: PageEnv) -> None:
    deps = admin_context().deps
    with ui.row().classes("items-center gap-3 w-full"):
        ui.label("Auctions live now").classes("text-xl font-semibold")
        ui.space()
        sort = (
            ui.select({"ending": "Ending soonest", "bids": "Most bids"}, value="ending")
            .props("dense outlined")
            .mark("live-sort")
        )
    listing = ui.column().classes("w-full gap-2").mark("live-list")

    async def fetch(viewer: User) -> tuple[list[LiveListing], int]:
        return await seller_monitor.live_listings(
            deps,
            viewer,
            limit=pager.size,
            offset=pager.offset,
            most_bids=sort.value == "bids",
        )

    async def load() -> None:
        """Read again as the viewer signed in now (a ban or a lost role empties the list)."""
        found = await act(fetch, audience="seller")
        if found is None:
            listing.clear()
            return
        draw(*found)

    def draw(rows: list[LiveListing], total: int) -> None:
        pager.show(total, "live auction")
        listing.clear()
        with listing:
            if not rows:
                empty_state(
                    "Nothing is live right now",
                    "Publish a listing (Selling → Listings) and its monitor shows here while"
                    " bidding is open.",
                    icon="sensors_off",
                )
            for row in rows:
                with (
                    ui.link(target=f"/listings/{row.auction_id}/live")
                    .classes("no-underline w-full")
                    .mark(f"live-{row.auction_id}"),
                    ui.card().classes("w-full p-3 hover:bg-gray-500/10"),
                    ui.element("div").classes(
                        "grid grid-cols-2 md:grid-cols-5 gap-2 items-center w-full"
                    ),
                ):
                    ui.label(row.title).classes("font-semibold col-span-2 truncate")
                    ui.label(TYPE_NAMES[row.type]).classes("text-sm opacity-70")
                    ui.label(
                        money(row.price, row.currency)
                        if row.price is not None
                        else ("sealed" if row.type.sealed else "no bids yet")
                    ).classes("font-semibold")
                    ui.label(
                        f"{plural(row.bid_count, 'bid')} · ends {when(row.ends_at, env.zone)}"
                    ).classes("text-sm opacity-80")

    async def resort() -> None:
        pager.reset()
        await load()

    pager = Pager(20, load, "live")
    sort.on_value_change(resort)
    draw(*await fetch(env.viewer))  # the build reads as the viewer just authenticated
