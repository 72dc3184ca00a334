"""The admin overview: live KPIs and a live bids-per-minute chart (docs/admin-app.md
"Overview and system health").

Two sources keep it live without a reload:

- the activity pulse (realtime/activity_pulse.py) on the bus: every persister commit, in
  any process, tells how many bids it wrote; the page adds them to the current minute
  and to "bids in the last minute", and redraws at most once a second (`FLUSH_SECONDS`),
  however many commits arrive;
- a timer every GAVEL_ADMIN_REFRESH_SECONDS re-reads the figures PostgreSQL and Redis
  hold (auction counts, GMV today, lags: services/admin_dashboard.py, each an index
  range read) and this process's open connections.

The chart is seeded once from PostgreSQL at page load (and again after the bus lost
events); it is never polled.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from admin_ui import session
from admin_ui.context import admin_context
from admin_ui.formatting import money, plural, when
from admin_ui.live import follow
from admin_ui.shell import PageEnv, admin_page
from domain.errors import DomainError
from realtime.activity_pulse import ACTIVITY_CHANNEL, parse_pulse
from services import admin_dashboard
from services.admin_dashboard import LAG_LIMIT_SECONDS, BidActivity, Lag, OverviewFigures
from services.unavailable import Unavailable
from storage.tables import User

FLUSH_SECONDS = 1.0  # the chart and the live figure redraw at most this often
LABEL_EVERY_MINUTES = 10


class LiveBids:
    """Bids per minute over a sliding window of minutes, and the bids of the last 60
    seconds: seeded from PostgreSQL, then fed by the pulse. `changed` says whether a
    redraw is due."""

    def __init__(self, seed: BidActivity) -> None:
        self.first_minute = seed.first_minute
        self.counts = list(seed.per_minute)
        self.recent: deque[tuple[int, int]] = deque(seed.recent)
        self.changed = True

    @property
    def last_minute(self) -> int:
        """The window's last (current) minute, Unix seconds // 60."""
        return self.first_minute + len(self.counts) - 1

    def roll(self, now_ms: int) -> None:
        """Move the window so that it ends at the minute of `now_ms`."""
        shift = now_ms // 60_000 - self.last_minute
        if shift <= 0:
            return
        shift = min(shift, len(self.counts))
        self.counts = self.counts[shift:] + [0] * shift
        self.first_minute = now_ms // 60_000 - len(self.counts) + 1
        self.changed = True

    def add(self, at_ms: int, bids: int) -> None:
        """`bids` accepted at `at_ms` (a pulse). A pulse from before the window is only
        counted in nothing; one from a later minute (clocks of two hosts) moves it."""
        if bids <= 0:
            return
        self.roll(at_ms)
        index = at_ms // 60_000 - self.first_minute
        if 0 <= index < len(self.counts):
            self.counts[index] += bids
        self.recent.append((at_ms, bids))
        self.changed = True

    def in_last_minute(self, now_ms: int) -> int:
        """Bids accepted in the 60 seconds before `now_ms` (pulses of several processes
        may arrive slightly out of order: filtered, not popped)."""
        kept = deque(item for item in self.recent if item[0] > now_ms - 60_000)
        if len(kept) != len(self.recent):
            self.recent = kept
            self.changed = True
        return sum(count for _, count in kept)

    def labels(self, zone: ZoneInfo) -> list[str]:
        return [
            datetime.fromtimestamp((self.first_minute + i) * 60, UTC)
            .astimezone(zone)
            .strftime("%H:%M")
            for i in range(len(self.counts))
        ]


def chart_options(live: LiveBids, zone: ZoneInfo) -> dict[str, Any]:
    """ECharts options for the bids-per-minute bars (readable in light and dark mode)."""
    return {
        "backgroundColor": "transparent",
        "animationDuration": 300,
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {
            "type": "category",
            "data": live.labels(zone),
            "axisTick": {"alignWithLabel": True},
            "axisLabel": {"interval": LABEL_EVERY_MINUTES - 1},
        },
        "yAxis": {"type": "value", "minInterval": 1, "splitLine": {"lineStyle": {"opacity": 0.3}}},
        "series": [
            {
                "name": "Bids",
                "type": "bar",
                "data": list(live.counts),
                "itemStyle": {"color": "#5898d4", "borderRadius": [3, 3, 0, 0]},
                "barCategoryGap": "20%",
            }
        ],
    }


class Kpi:
    """A figure's card: a caption, a big value (marked for tests) and a note."""

    def __init__(self, marker: str, icon: str, title: str) -> None:
        # Nothing is cut off with "…": on a 390-px phone two cards share a row, and their
        # captions, values and notes wrap instead.
        with ui.card().classes("p-4 gap-1 min-w-0").mark(f"{marker}-card"):
            with ui.row().classes("items-center gap-2 no-wrap opacity-70 min-w-0"):
                ui.icon(icon).classes("text-lg")
                ui.label(title).classes("text-sm break-words min-w-0")
            self.value = (
                ui.label("…").classes("text-2xl font-semibold break-words min-w-0").mark(marker)
            )
            self.note = (
                ui.label("")
                .classes("text-xs opacity-70 break-words whitespace-normal")
                .mark(f"{marker}-note")
            )

    def show(self, value: str, note: str = "", *, alarm: bool = False) -> None:
        self.value.text = value
        self.note.text = note
        if alarm:
            self.value.classes(add="text-negative")
        else:
            self.value.classes(remove="text-negative")


def gmv_text(figures: OverviewFigures) -> str:
    """ "$1,200.00 · €80.00", or "0" before the first sale of the day."""
    parts = [money(amount, currency) for currency, amount in sorted(figures.gmv_today.items())]
    return " · ".join(parts) if parts else "0"


def lag_texts(lag: Lag) -> tuple[tuple[str, str, bool], tuple[str, str, bool]]:
    """(value, note, alarm) for the outbox lag and the closer lag."""
    if not lag.readable:
        unknown = ("?", "Redis did not answer", True)
        return unknown, unknown
    outbox = (
        f"{lag.outbox_oldest_seconds:.1f} s",
        f"{plural(lag.outbox_pending, 'event')} waiting",
        lag.outbox_oldest_seconds > LAG_LIMIT_SECONDS,
    )
    closer = (
        f"{lag.closer_seconds:.1f} s",
        f"{plural(lag.closer_overdue, 'auction')} overdue",
        lag.closer_seconds > LAG_LIMIT_SECONDS,
    )
    return outbox, closer


async def current_admin() -> User | None:
    """The viewer, re-authenticated for a timer's read (a page stays open for hours): None
    once signed out, banned or no longer an admin. Raises Unavailable."""
    viewer = await session.signed_in_user()
    return viewer if viewer is not None and session.is_admin(viewer) else None


@admin_page(
    "/overview", title="Overview", audience="admin", nav="Overview", icon="dashboard", order=10
)
async def overview_page(env: PageEnv) -> None:
    context = admin_context()
    deps = context.deps
    figures = await admin_dashboard.overview_figures(deps, env.viewer, env.zone)
    live = LiveBids(await admin_dashboard.bid_activity(deps, env.viewer))

    with ui.row().classes("w-full items-center gap-2"):
        ui.label("Overview").classes("text-2xl font-semibold")
        ui.space()
        live_badge = ui.badge("Live", color="positive").props("rounded").mark("live-badge")
        if context.bus is None:
            live_badge.text = "Refreshing"
            live_badge.props("color=grey")
        updated = ui.label("").classes("text-xs opacity-70").mark("updated-at")
    stale = ui.label("").classes("text-warning text-sm w-full").mark("figures-stale")
    stale.visible = False

    with ui.element("div").classes("grid grid-cols-2 md:grid-cols-3 2xl:grid-cols-6 gap-3 w-full"):
        active = Kpi("kpi-active", "gavel", "Active auctions")
        per_minute = Kpi("kpi-bids-per-minute", "bolt", "Bids per minute")
        gmv = Kpi("kpi-gmv", "payments", "GMV today")
        sockets = Kpi("kpi-sockets", "cable", "Open WebSockets")
        outbox = Kpi("kpi-outbox-lag", "move_to_inbox", "Outbox lag")
        closer = Kpi("kpi-closer-lag", "timer", "Closer lag")

    with ui.card().classes("w-full p-4 gap-2"):
        with ui.row().classes("w-full items-baseline gap-2"):
            ui.label("Bids per minute, last hour").classes("text-lg font-semibold")
            ui.space()
            hour_total = ui.label("").classes("text-sm opacity-70").mark("bids-last-hour")
        chart = ui.echart(chart_options(live, env.zone)).classes("w-full h-64").mark("bids-chart")
        ui.label(
            "Live from each persister commit (every process); times in your timezone."
        ).classes("text-xs opacity-60")

    def show_figures(found: OverviewFigures, lag: Lag) -> None:
        active.show(
            f"{found.active_auctions:,}",
            f"{found.ending_soon:,} ending within the hour · {found.scheduled_auctions:,}"
            " scheduled",
        )
        gmv.show(
            gmv_text(found),
            f"{found.sales_today:,} sold since midnight ({env.zone.key})"
            if found.sales_today
            else f"no sale yet since midnight ({env.zone.key})",
        )
        count = context.open_sockets() if context.open_sockets is not None else None
        sockets.show(
            "?" if count is None else f"{count:,}", "GraphQL sockets and streams, this process"
        )
        (o_value, o_note, o_alarm), (c_value, c_note, c_alarm) = lag_texts(lag)
        outbox.show(o_value, o_note, alarm=o_alarm)
        closer.show(c_value, c_note, alarm=c_alarm)
        updated.text = f"Updated {when(deps.clock(), env.zone, seconds=True)}"

    due = False  # an auction ended: re-read the figures at the next redraw

    async def show_live() -> None:
        nonlocal due
        now_ms = int(time.time() * 1000)
        live.roll(now_ms)
        recent = live.in_last_minute(now_ms)
        if live.changed:
            live.changed = False
            per_minute.show(f"{recent:,}", "accepted in the last 60 s")
            hour_total.text = f"{plural(sum(live.counts), 'bid')} in the last hour"
            chart.options.update(chart_options(live, env.zone))
            chart.update()
        if due:  # after the redraw: a slow store delays only the figures it holds
            due = False
            await refresh()

    show_figures(figures, await admin_dashboard.read_lag(env.viewer, context.lag_readings))
    busy = False
    timers: list[Any] = []

    async def refresh() -> None:
        nonlocal busy
        if busy:  # the previous read is still waiting on a slow store
            return
        busy = True
        try:
            viewer = await current_admin()
            if viewer is None:
                for timer in timers:  # signed out, banned or no longer an admin
                    timer.cancel()
                ui.navigate.to("/")
                return
            # Shared with the other open overview pages of this process: one read each
            # interval, however many admins keep the page open.
            found = await admin_dashboard.overview_figures(
                deps, viewer, env.zone, max_age_seconds=context.refresh_seconds
            )
            lag = await admin_dashboard.read_lag(viewer, context.lag_readings)
            show_figures(found, lag)
            stale.visible = False
        except (Unavailable, DomainError):
            stale.text = (
                "PostgreSQL or Redis did not answer: these figures are from the last"
                " successful read; they update again once the stores answer."
            )
            stale.visible = True
        finally:
            busy = False

    async def reseed(_: str) -> None:
        # The bus lost events: start again from what PostgreSQL holds.
        nonlocal live
        try:
            viewer = await current_admin()  # re-authenticated: the page outlives a ban
            if viewer is None:
                return
            live = LiveBids(await admin_dashboard.bid_activity(deps, viewer))
        except (Unavailable, DomainError):
            return
        await show_live()

    def on_pulse(message: str) -> None:
        nonlocal due
        pulse = parse_pulse(message)
        if pulse is None:
            return
        live.add(pulse.at, pulse.bids)
        due = due or bool(pulse.ended or pulse.cancelled)

    await show_live()
    follow(ACTIVITY_CHANNEL, on_pulse, on_gap=reseed)
    timers.append(ui.timer(FLUSH_SECONDS, show_live))
    timers.append(ui.timer(context.refresh_seconds, refresh, immediate=False))
