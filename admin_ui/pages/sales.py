"""Sales and payouts: the seller's sales, where the money is, and shipping.

Totals per currency (paid out, owed, in escrow, awaiting payment, refunded), then the
sales a page at a time (filtered and sorted on the server, services/seller_money.py),
each with its buyer, price, status, payout state and the ledger lines on the seller's
accounts. A paid sale not shipped yet has a carrier and tracking number form that calls
the settlement use case (`mark_shipped`); its refusals are shown next to the field they
concern. An admin may read any seller's sales with `?seller=<user id>` (shipping stays
the seller's own act).
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money, when
from admin_ui.messages import empty_state, explain
from admin_ui.pages.monitor import Pager
from admin_ui.shell import PageEnv, admin_page
from domain.errors import DomainError
from domain.ledger import Account
from services import seller_money
from services.seller_analytics import seller_scope
from services.seller_money import Sale, SaleFilter, SaleSort
from services.settlement import fulfilment
from storage.tables import User

PAGE_SIZE = 10
FILTERS: dict[str, str] = {
    "all": "All sales",
    "awaiting_payment": "Awaiting payment",
    "to_ship": "Paid: to ship",
    "shipped": "Shipped, in escrow",
    "released": "Released",
    "refunded": "Refunded",
    "failed": "Failed",
}
SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "price_high": "Highest price",
    "price_low": "Lowest price",
}
ACCOUNT_NAMES = {
    Account.SELLER_PAYABLE.value: "Owed to you",
    Account.PAYOUTS.value: "Paid out",
    Account.PAYOUTS_PENDING.value: "Payout pending",
}
STATUS_COLORS = {
    "PENDING": "warning",
    "AUTHORIZED": "info",
    "CAPTURED": "info",
    "RELEASED": "positive",
    "REFUNDED": "grey",
    "FAILED": "negative",
}


def draw_totals(rows: list[seller_money.Totals]) -> None:
    if not rows:
        return
    with ui.element("div").classes("grid grid-cols-1 md:grid-cols-2 xl:grid-cols-3 gap-3 w-full"):
        for t in rows:
            with ui.card().classes("p-4 gap-1").mark(f"totals-{t.currency}"):
                ui.label(t.currency).classes("text-xs uppercase opacity-60")
                for name, amount in (
                    ("Paid out", t.paid_out),
                    ("Owed to you", t.owed),
                    ("In escrow", t.in_escrow),
                    ("Awaiting payment", t.awaiting_payment),
                    ("Refunded to buyers", t.refunded),
                ):
                    with ui.row().classes("w-full justify-between gap-4"):
                        ui.label(name).classes("opacity-80")
                        ui.label(money(amount, t.currency)).classes("font-semibold")


def draw_ledger(sale: Sale, env: PageEnv) -> None:
    currency = sale.transaction.currency
    if not sale.ledger:
        ui.label("No ledger lines for you yet: they appear when the escrow is released.").classes(
            "text-sm opacity-70"
        )
        return
    with ui.column().classes("w-full gap-0").mark(f"ledger-{sale.transaction.id}"):
        for leg in sale.ledger:
            with ui.row().classes("w-full items-center gap-3 py-1 no-wrap").mark("ledger-line"):
                ui.label(when(leg.created_at, env.zone)).classes("text-sm opacity-70")
                ui.label(ACCOUNT_NAMES.get(leg.account, leg.account)).classes("text-sm")
                ui.space()
                ui.label(money(leg.amount, currency)).classes("font-mono text-sm")


def ship_form(sale: Sale, on_shipped: Any) -> None:
    """Carrier and tracking number; the use case's refusals next to their fields."""
    txn_id = sale.transaction.id
    with ui.element("div").classes("grid grid-cols-1 md:grid-cols-3 gap-2 w-full items-start"):
        with ui.column().classes("gap-0"):
            carrier = ui.input("Carrier").props("outlined dense").mark(f"carrier-{txn_id}")
            carrier_problem = ui.label("").classes("text-negative text-sm")
            carrier_problem.mark(f"carrier-problem-{txn_id}")
        with ui.column().classes("gap-0"):
            tracking = ui.input("Tracking number").props("outlined dense")
            tracking.mark(f"tracking-{txn_id}")
            tracking_problem = ui.label("").classes("text-negative text-sm")
            tracking_problem.mark(f"tracking-problem-{txn_id}")
        button = ui.button("Mark shipped", icon="local_shipping").props("unelevated")
        button.mark(f"ship-{txn_id}")
    problem = ui.label("").classes("text-negative text-sm").mark(f"ship-problem-{txn_id}")
    places = {"carrier": carrier_problem, "trackingNumber": tracking_problem}

    async def ship() -> None:
        for label in (carrier_problem, tracking_problem, problem):
            label.text = ""

        async def work(viewer: User) -> Any:
            try:
                return await fulfilment.mark_shipped(
                    admin_context().deps,
                    viewer,
                    txn_id,
                    str(carrier.value or ""),
                    str(tracking.value or ""),
                )
            except DomainError as err:  # shown next to its field, not as a toast
                return err

        button.props("loading")
        try:
            result = await act(work, audience="seller")
        finally:
            button.props(remove="loading")
        if isinstance(result, DomainError):
            places.get(result.field or "", problem).text = explain(result)
            return
        if result is not None:
            ui.notify("Marked shipped: the buyer was told.", type="positive")
            await on_shipped()

    button.on_click(ship)


def draw_sale(sale: Sale, env: PageEnv, own: bool, on_shipped: Any) -> None:
    txn = sale.transaction
    with ui.card().classes("w-full p-4 gap-2").mark(f"sale-{txn.id}"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(sale.title).classes("text-lg font-semibold")
            ui.badge(txn.status.title()).props(f"color={STATUS_COLORS.get(txn.status, 'grey')}")
            if sale.dispute:
                ui.badge(f"dispute: {sale.dispute.replace('_', ' ').lower()}").props(
                    "color=negative outline"
                )
            ui.space()
            ui.label(money(txn.price, txn.currency)).classes("text-lg font-bold")
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-3 gap-1 w-full text-sm"):
            ui.label(f"Buyer: {sale.buyer}")
            ui.label(f"Sold {when(txn.created_at, env.zone)}")
            ui.label(f"Money: {sale.payout_state}").mark(f"payout-{txn.id}")
        if txn.shipped_at is not None:
            ui.label(
                f"Shipped {when(txn.shipped_at, env.zone)} with {txn.carrier},"
                f" tracking {txn.tracking_number}"
            ).classes("text-sm").mark(f"shipped-{txn.id}")
        lines = f"Your ledger lines ({len(sale.ledger)})"
        with ui.expansion(lines, icon="receipt_long").classes("w-full"):
            draw_ledger(sale, env)
        if own and sale.can_ship:
            ship_form(sale, on_shipped)


@admin_page(
    "/sales",
    title="Sales & payouts",
    audience="seller",
    nav="Sales & payouts",
    icon="payments",
    order=140,
)
async def sales_page(env: PageEnv) -> None:
    deps = admin_context().deps
    asked = env.request.query_params.get("seller")
    seller = seller_scope(env.viewer, asked)  # another seller's: NOT_FOUND, nothing shown
    own = seller == env.viewer.id
    ui.label("Your money" if own else "Money").classes("text-xl font-semibold")
    totals_box = ui.column().classes("w-full").mark("sales-totals")
    with ui.row().classes("items-center gap-3 w-full flex-wrap"):
        ui.label("Sales").classes("text-xl font-semibold")
        ui.space()
        show = ui.select(FILTERS, value="all", label="Show").props("outlined dense")
        show.mark("sales-filter")
        sort = ui.select(SORTS, value="newest", label="Order").props("outlined dense")
        sort.mark("sales-sort")
    spinner = ui.spinner(size="lg")
    spinner.visible = False
    listing = ui.column().classes("w-full gap-3").mark("sales-list")

    async def fetch(viewer: User) -> tuple[list[Sale], int, list[seller_money.Totals]]:
        chosen_show: SaleFilter = show.value if show.value in FILTERS else "all"
        chosen_sort: SaleSort = sort.value if sort.value in SORTS else "newest"
        rows, total = await seller_money.sales(
            deps,
            viewer,
            limit=pager.size,
            offset=pager.offset,
            sort=chosen_sort,
            show=chosen_show,
            seller_id=seller,
        )
        return rows, total, await seller_money.totals(deps, viewer, seller_id=seller)

    async def load() -> None:
        """Read again as the viewer signed in now: a seller banned, demoted or signed out
        since the page opened reads nothing more (the page empties)."""
        spinner.visible = True
        try:
            found = await act(fetch, audience="seller")
        finally:
            spinner.visible = False
        if found is None:
            totals_box.clear()
            listing.clear()
            return
        draw(*found)

    def draw(rows: list[Sale], total: int, money_rows: list[seller_money.Totals]) -> None:
        pager.show(total, "sale")
        totals_box.clear()
        with totals_box:
            draw_totals(money_rows)
        listing.clear()
        with listing:
            if not rows:
                if show.value == "all":
                    empty_state(
                        "No sales yet",
                        "When one of your auctions ends sold, the sale shows here: the"
                        " buyer's payment, shipping and your payout.",
                        icon="payments",
                    )
                else:
                    empty_state(
                        f"No sales here: {FILTERS[str(show.value)].lower()}",
                        "Pick another filter to see the others.",
                        icon="filter_alt_off",
                    )
            for sale in rows:
                draw_sale(sale, env, own, load)

    async def refilter() -> None:
        pager.reset()
        await load()

    pager = Pager(PAGE_SIZE, load, "sales")
    show.on_value_change(refilter)
    sort.on_value_change(refilter)
    # The page's build may read as the viewer it was just authenticated as.
    draw(*await fetch(env.viewer))
