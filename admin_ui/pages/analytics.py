"""Seller analytics: charts of the seller's own auctions (services/seller_analytics.py).

Revenue over time, sell-through, final vs starting price, bids and watchers per auction,
time to first bid and the best hours to end an auction, for the auctions ending in a date
range (the viewer's timezone). Money charts show one currency at a time (amounts in
different currencies are never added up). An admin may look at any seller's figures with
`?seller=<user id>`; a seller only ever sees their own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money
from admin_ui.messages import empty_state, explain
from admin_ui.shell import PageEnv, admin_page
from domain.errors import DomainError
from domain.money import to_decimal
from services import seller_analytics
from services.seller_analytics import Analytics, Grain, HourPoint
from storage.tables import User

DEFAULT_DAYS = 90
# Axis text that reads on light and dark backgrounds alike.
MUTED = "#9e9e9e"
BASE: dict[str, Any] = {
    "backgroundColor": "transparent",
    "textStyle": {"color": MUTED},
    "legend": {"textStyle": {"color": MUTED}, "top": 0},
    # Room above the plot for the legend and the axis names (containLabel keeps the
    # tick labels inside, not the names).
    "grid": {"left": 8, "right": 8, "bottom": 8, "top": 56, "containLabel": True},
    "tooltip": {"trigger": "axis"},
}
# A value axis's name sits above the axis, starting at it and running inward: a name
# centred on the axis line was cut at the chart's edge on a phone ("ell-through %").
LEFT_NAME: dict[str, Any] = {"nameLocation": "end", "nameTextStyle": {"align": "left"}}
RIGHT_NAME: dict[str, Any] = {"nameLocation": "end", "nameTextStyle": {"align": "right"}}


def major(minor: int, currency: str) -> float:
    """A chart coordinate (display only: the figures themselves stay integer)."""
    return float(to_decimal(minor, currency))


def short(title: str, limit: int = 18) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def chart(options: dict[str, Any], marker: str) -> ui.echart:
    return ui.echart({**BASE, **options}).classes("w-full h-64").mark(marker)


def card(title: str, note: str) -> ui.card:
    box = ui.card().classes("w-full p-4 gap-2")
    with box:
        ui.label(title).classes("text-lg font-semibold")
        ui.label(note).classes("text-sm opacity-70")
    return box


def duration_words(seconds: float) -> str:
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds < 3_600:
        return f"{round(seconds / 60)} min"
    if seconds < 86_400:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def draw(a: Analytics, currency: str) -> None:
    """Every chart of `a`; money charts in `currency`."""
    buckets = sorted({p.bucket for p in a.revenue} | {p.bucket for p in a.sell_through})
    labels = [b.isoformat() for b in buckets]
    with ui.element("div").classes("grid grid-cols-1 lg:grid-cols-2 gap-4 w-full"):
        per_bucket = {p.bucket: p.amount for p in a.revenue if p.currency == currency}
        total = sum(per_bucket.values())
        with card(
            f"Revenue per {a.grain}",
            f"Final prices of sold auctions, {currency}: {money(total, currency)} in all.",
        ):
            chart(
                {
                    "xAxis": {"type": "category", "data": labels},
                    "yAxis": {"type": "value", "name": currency, **LEFT_NAME},
                    "series": [
                        {
                            "name": currency,
                            "type": "bar",
                            "data": [major(per_bucket.get(b, 0), currency) for b in buckets],
                        }
                    ],
                },
                "chart-revenue",
            )
        rate = a.sell_through_rate
        with card(
            "Sell-through",
            "Sold out of ended auctions (cancelled ones are not counted).",
        ):
            ui.label(
                f"{rate:.0%} · {a.sold} sold of {a.ended} ended" if rate is not None else "—"
            ).classes("text-2xl font-bold").mark("sell-through-rate")
            ended = {p.bucket: p for p in a.sell_through}
            chart(
                {
                    "xAxis": {"type": "category", "data": labels},
                    "yAxis": {"type": "value", "minInterval": 1},
                    "series": [
                        {
                            "name": "ended",
                            "type": "bar",
                            "data": [ended[b].ended if b in ended else 0 for b in buckets],
                        },
                        {
                            "name": "sold",
                            "type": "bar",
                            "data": [ended[b].sold if b in ended else 0 for b in buckets],
                        },
                    ],
                },
                "chart-sell-through",
            )
        prices = [p for p in a.prices if p.currency == currency]
        with card(
            "Final vs starting price",
            f"The latest sold auctions in {currency}, oldest on the left.",
        ):
            chart(
                {
                    "xAxis": {
                        "type": "category",
                        "data": [short(p.title) for p in prices],
                        "axisLabel": {"rotate": 30},
                    },
                    "yAxis": {"type": "value", "name": currency, **LEFT_NAME},
                    "series": [
                        {
                            "name": "starting",
                            "type": "bar",
                            "data": [major(p.starting_price, currency) for p in prices],
                        },
                        {
                            "name": "final",
                            "type": "bar",
                            "data": [major(p.final_price, currency) for p in prices],
                        },
                    ],
                },
                "chart-prices",
            )
        engaged = list(reversed(a.engagement))  # the most bids at the top
        with card("Bids and watchers", "The auctions with the most bids, and who watches them."):
            chart(
                {
                    "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
                    "yAxis": {"type": "category", "data": [short(p.title) for p in engaged]},
                    "xAxis": {"type": "value", "minInterval": 1},
                    "series": [
                        {"name": "bids", "type": "bar", "data": [p.bids for p in engaged]},
                        {"name": "watchers", "type": "bar", "data": [p.watchers for p in engaged]},
                    ],
                },
                "chart-engagement",
            )
        median = a.first_bid_median_seconds
        with card(
            "Time to first bid",
            "From the start of bidding to the first bid that counted"
            + (f"; median {duration_words(median)}." if median is not None else "."),
        ):
            chart(
                {
                    "xAxis": {"type": "category", "data": [label for label, _ in a.first_bid]},
                    "yAxis": {
                        "type": "value",
                        "minInterval": 1,
                        "name": "auctions",
                        **LEFT_NAME,
                    },
                    "series": [
                        {
                            "name": "auctions",
                            "type": "bar",
                            "data": [n for _, n in a.first_bid],
                        }
                    ],
                },
                "chart-first-bid",
            )
        hours = {h.hour: h for h in a.hours}
        best = max(
            (h for h in a.hours if h.ended),
            key=lambda h: (h.sold / h.ended, h.mean_ratio or 0.0),
            default=None,
        )
        with card(
            "Best hours to end",
            "By the hour an auction ended, in your timezone: sell-through and the mean"
            " final/starting price of those sold"
            + (f". Best so far: {best.hour:02d}:00." if best is not None else "."),
        ):
            chart(
                {
                    "xAxis": {"type": "category", "data": [f"{h:02d}" for h in range(24)]},
                    "yAxis": [
                        {"type": "value", "name": "sell-through %", "max": 100, **LEFT_NAME},
                        {
                            "type": "value",
                            "name": "final/start",
                            "splitLine": {"show": False},
                            **RIGHT_NAME,
                        },
                    ],
                    "series": [
                        {
                            "name": "sell-through %",
                            "type": "bar",
                            "data": [
                                round(100 * hours[h].sold / hours[h].ended)
                                if h in hours and hours[h].ended
                                else None
                                for h in range(24)
                            ],
                        },
                        {
                            "name": "final/start",
                            "type": "line",
                            "yAxisIndex": 1,
                            "connectNulls": True,
                            "data": [ratio_at(hours, h) for h in range(24)],
                        },
                    ],
                },
                "chart-hours",
            )


def ratio_at(hours: dict[int, HourPoint], hour: int) -> float | None:
    ratio = hours[hour].mean_ratio if hour in hours else None
    return round(ratio, 2) if ratio is not None else None


def parse_day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


@admin_page(
    "/analytics", title="Analytics", audience="seller", nav="Analytics", icon="insights", order=130
)
async def analytics_page(env: PageEnv) -> None:
    deps = admin_context().deps
    seller = env.request.query_params.get("seller")
    # Another seller's figures: nothing of the page at all (NOT_FOUND), unless admin.
    scoped = seller_analytics.seller_scope(env.viewer, seller)
    if scoped != env.viewer.id:
        ui.label(f"Figures of seller {scoped}").classes("opacity-70").mark("analytics-seller")
    today = datetime.now(env.zone).date()
    with ui.row().classes("items-end gap-3 w-full flex-wrap").mark("analytics-filters"):
        start = (
            ui.input("From", value=(today - timedelta(days=DEFAULT_DAYS - 1)).isoformat())
            .props("type=date outlined dense")
            .mark("analytics-from")
        )
        end = ui.input("To", value=today.isoformat()).props("type=date outlined dense")
        end.mark("analytics-to")
        grain = ui.select({"day": "per day", "week": "per week"}, value="week", label="Revenue")
        grain.props("outlined dense").classes("min-w-[8rem]").mark("analytics-grain")
        currency = (
            ui.select([], label="Currency")
            .props("outlined dense")
            .classes("min-w-[7rem]")
            .mark("analytics-currency")
        )
        with ui.row().classes("gap-1"):
            for days in (30, 90, 365):
                ui.button(f"{days} days", on_click=lambda d=days: preset(d)).props(
                    "flat dense no-caps"
                ).mark(f"analytics-last-{days}")
    problem = ui.label("").classes("text-negative").mark("analytics-problem")
    problem.visible = False
    spinner = ui.spinner(size="lg")
    spinner.visible = False
    body = ui.column().classes("w-full gap-4").mark("analytics-body")
    loaded: dict[str, Analytics] = {}
    quiet = {"on": False}

    async def preset(days: int) -> None:
        start.value = (today - timedelta(days=days - 1)).isoformat()
        end.value = today.isoformat()
        await load()

    async def load() -> None:
        problem.visible = False
        first, last = parse_day(start.value), parse_day(end.value)
        if first is None or last is None:
            problem.text = "Pick both dates of the range."
            problem.visible = True
            return
        spinner.visible = True
        chosen: Grain = "day" if grain.value == "day" else "week"

        async def work(viewer: User) -> Analytics:
            # Read as the viewer signed in now (a ban or a lost role stops the page);
            # a refusal of the range is shown next to the dates.
            try:
                return await seller_analytics.seller_analytics(
                    deps,
                    viewer,
                    start=first,
                    end=last,
                    zone=env.zone,
                    grain=chosen,
                    seller_id=seller,
                )
            except DomainError as err:
                problem.text = explain(err)
                problem.visible = True
                raise

        try:
            a = await act(work, audience="seller")
        finally:
            spinner.visible = False
        if a is None:
            loaded.pop("current", None)
            body.clear()
            return
        loaded["current"] = a
        options = a.currencies
        keep = currency.value if currency.value in options else None
        quiet["on"] = True  # set_options fires on_value_change: draw once, below
        try:
            currency.set_options(options, value=keep or (options[0] if options else None))
        finally:
            quiet["on"] = False
        redraw()

    def redraw() -> None:
        if quiet["on"]:
            return
        a = loaded.get("current")
        body.clear()
        if a is None:
            return
        with body:
            if a.empty:
                empty_state(
                    "Nothing to chart yet",
                    "Charts fill in as your auctions end in the chosen range. Try a longer"
                    " range, or publish a listing (Selling → Listings).",
                    icon="insights",
                )
                return
            draw(a, str(currency.value or (a.currencies[0] if a.currencies else "USD")))

    for control in (start, end, grain):
        control.on_value_change(load)
    currency.on_value_change(redraw)
    await load()
