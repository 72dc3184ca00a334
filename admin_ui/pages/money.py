"""Money (admins): every sale, a sale's ledger and history, the ledger's balance check
and the reconciliation report with the payment gateway.

`/money`: the sales table (paged, sorted and filtered by the server:
services/admin_money.list_sales), the balance check and the reconciliation, each on a
button. `/money/{transaction_id}`: one sale, its ledger legs by posting, its history.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money, plural, when
from admin_ui.messages import empty_state
from admin_ui.paged_table import clicked_id, page_and_size, requested_pagination
from admin_ui.shell import PageEnv, admin_page
from domain.enums import TransactionStatus
from services import admin_money
from services.admin_money import BalanceCheck, Imbalance, SaleFile, SaleRow
from services.settlement.reconciliation import ReconciliationReport
from storage.tables import LedgerEntry

SALE_STATUS_WORDS = {
    TransactionStatus.PENDING.value: "Awaiting payment",
    TransactionStatus.AUTHORIZED.value: "Paid (card authorized)",
    TransactionStatus.CAPTURED.value: "Paid (captured)",
    TransactionStatus.RELEASED.value: "Released to the seller",
    TransactionStatus.REFUNDED.value: "Refunded",
    TransactionStatus.FAILED.value: "Failed",
}
SALE_STATUS_COLORS = {
    TransactionStatus.PENDING.value: "grey",
    TransactionStatus.AUTHORIZED.value: "info",
    TransactionStatus.CAPTURED.value: "primary",
    TransactionStatus.RELEASED.value: "positive",
    TransactionStatus.REFUNDED.value: "warning",
    TransactionStatus.FAILED.value: "negative",
}
PAGE_SIZES = [10, 20, 50, 100]
SALE_SORTS = ("created_at", "updated_at", "amount", "status")

COLUMNS: list[dict[str, Any]] = [
    {"name": "open", "label": "", "field": "id"},
    {"name": "created_at", "label": "Sold", "field": "created", "sortable": True, "align": "left"},
    {"name": "title", "label": "Item", "field": "title", "align": "left"},
    {"name": "parties", "label": "Buyer → seller", "field": "parties", "align": "left"},
    {"name": "amount", "label": "Amount", "field": "amount", "sortable": True, "align": "right"},
    {"name": "status", "label": "Status", "field": "status", "sortable": True, "align": "left"},
    {"name": "updated_at", "label": "Last change", "field": "updated", "sortable": True},
]


def sale_status(status: str) -> str:
    return SALE_STATUS_WORDS.get(status, status)


def status_badge(status: str) -> None:
    ui.badge(sale_status(status), color=SALE_STATUS_COLORS.get(status, "grey")).props("outline")


def _row(sale: SaleRow, env: PageEnv) -> dict[str, Any]:
    return {
        "id": str(sale.id),
        "created": when(sale.created_at, env.zone),
        "title": sale.title,
        "buyer": sale.buyer,
        "seller": sale.seller,
        "parties": f"{sale.buyer} → {sale.seller}",
        "amount": money(sale.amount, sale.currency)
        + (f" (refunded {money(sale.refunded, sale.currency)})" if sale.refunded else ""),
        "status": sale_status(sale.status) + (" · in progress" if sale.pending_step else ""),
        "updated": when(sale.updated_at, env.zone),
    }


@admin_page(
    "/money", title="Money", audience="admin", nav="Money", icon="account_balance", order=60
)
async def money_page(env: PageEnv) -> None:
    deps = admin_context().deps
    with ui.grid().classes("grid grid-cols-1 md:grid-cols-2 gap-4 w-full"):
        _balance_card(env)
        _reconciliation_card(env)

    ui.label("Sales").classes("text-lg font-semibold mt-2")
    with ui.row().classes("w-full items-end gap-2 flex-wrap"):
        search = (
            ui.input("Search: item, buyer, seller or an id")
            .props("outlined dense clearable")
            .classes("grow min-w-[14rem]")
            .mark("sale-search")
        )
        status = (
            ui.select({"": "Any status", **SALE_STATUS_WORDS}, value="", label="Status")
            .props("outlined dense")
            .classes("min-w-[12rem]")
            .mark("sale-status")
        )
        go = ui.button("Search", icon="search").props("unelevated").mark("sale-search-go")

    state: dict[str, Any] = {
        "page": 1,
        "rowsPerPage": 20,
        "sortBy": "created_at",
        "descending": True,
        "rowsNumber": 0,
        "asked": 0,
    }
    first = await admin_money.list_sales(deps, env.viewer, limit=20)
    state["rowsNumber"] = first.total
    nothing = ui.column().classes("w-full")
    with ui.element("div").classes("w-full overflow-x-auto") as holder:
        table = (
            ui.table(
                columns=COLUMNS,
                rows=[_row(s, env) for s in first.rows],
                row_key="id",
                pagination={k: v for k, v in state.items() if k != "asked"},
            )
            .props(f":rows-per-page-options='{PAGE_SIZES}' flat bordered dense")
            .classes("w-full cursor-pointer")
            .mark("sales-table")
        )
    table.add_slot(
        "body-cell-open",
        '<q-td :props="props"><q-btn flat dense no-caps no-wrap color="primary" icon="receipt_long"'
        ' label="Ledger" @click.stop="() => $parent.$emit(\'open\', props.row)" /></q-td>',
    )
    table.add_slot(
        "no-data",
        '<div class="w-full text-center p-6 opacity-70">No sale matches this search.'
        " Clear the search or pick another status.</div>",
    )

    def show_empty(total: int, filtered: bool) -> None:
        nothing.clear()
        holder.visible = total > 0 or filtered
        if total == 0 and not filtered:
            with nothing:
                empty_state(
                    "No sales yet",
                    "A sale appears here when an auction ends sold or someone buys it now.",
                    icon="point_of_sale",
                )

    show_empty(first.total, False)

    async def load(pagination: dict[str, Any]) -> None:
        page, size = page_and_size(pagination)
        sort = pagination.get("sortBy")
        sort = sort if sort in SALE_SORTS else "created_at"
        descending = bool(pagination.get("descending", True))
        wanted = status.value or None
        text = (search.value or "").strip() or None
        state["asked"] += 1
        mine = state["asked"]
        table.props("loading")
        try:
            result = await act(
                lambda viewer: admin_money.list_sales(
                    deps,
                    viewer,
                    status=wanted,
                    query=text,
                    sort=sort,
                    descending=descending,
                    offset=(page - 1) * size,
                    limit=size,
                ),
                audience="admin",
            )
        finally:
            table.props(remove="loading")
        if result is None or mine != state["asked"]:
            return  # refused, or a later request (a click, a sort) has the last word
        table.rows = [_row(s, env) for s in result.rows]
        table.pagination = {
            "page": page,
            "rowsPerPage": size,
            "sortBy": sort,
            "descending": descending,
            "rowsNumber": result.total,
        }
        show_empty(result.total, bool(wanted or text))

    async def on_request(event: Any) -> None:
        await load(requested_pagination(event))

    async def from_first_page() -> None:
        await load({**table.pagination, "page": 1})

    table.on("request", on_request)

    def open_sale(event: Any) -> None:
        # Any sale's id opens its page (the page checks the viewer again); a forged
        # event carrying no id opens nothing.
        key = clicked_id(event)
        if key is not None:
            ui.navigate.to(f"/money/{key}")

    table.on("open", open_sale)
    table.on("rowClick", open_sale)
    search.on("keydown.enter", from_first_page)
    status.on_value_change(from_first_page)
    go.on_click(from_first_page)


def _balance_card(env: PageEnv) -> None:
    deps = admin_context().deps
    with ui.card().classes("w-full gap-2").mark("balance-card"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("balance").classes("text-2xl text-primary")
            ui.label("Ledger balance").classes("text-lg font-semibold")
        ui.label(
            "Every posting, every sale and each currency's ledger must sum to zero, and"
            " escrow must hold what each sale's state says."
        ).classes("text-sm opacity-70")
        result = ui.column().classes("w-full gap-1").mark("balance-result")
        button = ui.button("Check balances", icon="fact_check").props("unelevated")
        button.mark("check-balances")

        async def run() -> None:
            button.props("loading")
            try:
                check = await act(
                    lambda viewer: admin_money.check_balances(deps, viewer), audience="admin"
                )
            finally:
                button.props(remove="loading")
            if check is not None:
                result.clear()
                with result:
                    _show_balance(check)

        button.on_click(run)


def _show_balance(check: BalanceCheck) -> None:
    volume = ", ".join(money(v, c) for c, v in sorted(check.volume.items())) or "nothing yet"
    counted = (
        f"{plural(check.postings, 'posting')} in {plural(check.sales, 'sale')} checked;"
        f" volume {volume}."
    )
    if check.balanced:
        with ui.row().classes("items-center gap-2 text-positive"):
            ui.icon("check_circle")
            ui.label("The ledger balances.").mark("ledger-balanced")
        ui.label(counted).classes("text-sm opacity-70")
        return
    with ui.row().classes("items-center gap-2 text-negative"):
        ui.icon("error")
        ui.label(f"{plural(len(check.problems), 'problem')} found.").mark("ledger-unbalanced")
    ui.label(counted).classes("text-sm opacity-70")
    for problem in check.problems[:50]:
        with ui.row().classes("items-start gap-2 w-full no-wrap"):
            ui.icon("chevron_right").classes("opacity-60")
            ui.label(imbalance_words(problem)).classes("text-sm").mark("imbalance")
            if problem.transaction_id is not None:
                ui.link("Open the sale", f"/money/{problem.transaction_id}").classes("text-sm")


def imbalance_words(problem: Imbalance) -> str:
    """A sentence for one thing the balance check found."""
    if problem.currency == "mixed":
        return f"Posting {problem.posting} mixes currencies: a posting is in one currency."
    amount = money(problem.amount, problem.currency)
    if problem.where == "posting":
        return f"Posting {problem.posting} sums to {amount}, not zero."
    if problem.where == "sale":
        return (
            f"A sale's {problem.currency} legs sum to {amount}, not zero, or are not in the"
            " sale's currency."
        )
    if problem.where == "ledger":
        return f"The whole {problem.currency} ledger sums to {amount}, not zero."
    return (
        f"Escrow holds {amount} for a sale whose state says"
        f" {money(problem.expected, problem.currency)}."
    )


def _reconciliation_card(env: PageEnv) -> None:
    deps = admin_context().deps
    with ui.card().classes("w-full gap-2").mark("reconciliation-card"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("sync_alt").classes("text-2xl text-primary")
            ui.label("Reconciliation with the payment gateway").classes("text-lg font-semibold")
        ui.label(
            "Compares open and recently settled sales with the gateway's payment intents."
            " Nothing is changed: differences are listed for you to look at."
        ).classes("text-sm opacity-70")
        result = ui.column().classes("w-full gap-1").mark("reconciliation-result")
        button = ui.button("Run reconciliation", icon="play_arrow").props("unelevated")
        button.mark("run-reconciliation")

        async def run() -> None:
            button.props("loading")
            result.clear()
            with result:
                ui.spinner(size="lg")
            try:
                report = await act(
                    lambda viewer: admin_money.run_reconciliation(deps, viewer), audience="admin"
                )
            finally:
                button.props(remove="loading")
            result.clear()
            if report is not None:
                with result:
                    _show_report(report, env)

        button.on_click(run)


def _show_report(report: ReconciliationReport, env: PageEnv) -> None:
    if report.clean:
        with ui.row().classes("items-center gap-2 text-positive"):
            ui.icon("check_circle")
            agree = "agrees" if report.checked == 1 else "agree"
            ui.label(
                f"No differences: {plural(report.checked, 'sale')} {agree} with the gateway."
            ).mark("reconciliation-clean")
        return
    with ui.row().classes("items-center gap-2 text-warning"):
        ui.icon("warning")
        ui.label(
            f"{plural(len(report.differences), 'difference')} in"
            f" {plural(report.checked, 'sale')} checked."
        ).mark("reconciliation-differences")
    for difference in report.differences[:50]:
        where = (
            "The whole ledger"
            if difference.transaction_id == "*"
            else f"Sale {difference.transaction_id[:8]}"
        )
        intent = f" (payment intent {difference.intent_id})" if difference.intent_id else ""
        with ui.row().classes("items-start gap-2 w-full no-wrap"):
            ui.icon("chevron_right").classes("opacity-60")
            ui.label(f"{where}{intent}: {difference.problem}.").classes("text-sm").mark(
                "difference"
            )
            if _is_id(difference.transaction_id):
                ui.link("Open", f"/money/{difference.transaction_id}").classes("text-sm")


def _is_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# -- one sale -------------------------------------------------------------------------


@admin_page("/money/{transaction_id}", title="Sale", audience="admin")
async def sale_page(env: PageEnv, transaction_id: str) -> None:
    file = await admin_money.sale_file(admin_context().deps, env.viewer, transaction_id)
    with ui.row().classes("items-center gap-2"):
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/money")).props(
            "flat round dense"
        ).tooltip("All sales")
        ui.label(file.title).classes("text-xl font-semibold").mark("sale-title")
        status_badge(file.sale.status)
    sale_summary(file, env)
    if file.dispute is not None:
        with ui.row().classes("items-center gap-2"):
            ui.icon("gavel").classes("text-warning")
            ui.label("This sale is disputed.")
            ui.link("Open the dispute", f"/disputes/{file.dispute.id}").mark("sale-dispute-link")
    ledger_table(file.ledger, env)
    history_list(file, env)


def sale_summary(file: SaleFile, env: PageEnv) -> None:
    """The sale's parties, amounts and dates, in a grid that folds on phones."""
    sale = file.sale
    cur = sale.currency
    facts = [
        ("Buyer", f"{file.buyer.username} · {file.buyer.email}"),
        ("Seller", f"{file.seller.username} · {file.seller.email}"),
        ("Amount paid", money(sale.amount, cur)),
        ("Price", money(sale.price, cur)),
        ("Buyer's premium", money(sale.buyer_premium, cur)),
        ("Platform fee", money(sale.platform_fee, cur)),
        ("Refunded", money(sale.refunded_amount, cur)),
        ("Status", sale_status(sale.status)),
        ("Step in progress", sale.pending_step or "—"),
        ("Sold", when(sale.created_at, env.zone)),
        ("Pay by", when(sale.pay_by, env.zone)),
        ("Shipped", when(sale.shipped_at, env.zone)),
        ("Carrier · tracking", f"{sale.carrier} · {sale.tracking_number}" if sale.carrier else "—"),
        ("Released", when(sale.released_at, env.zone)),
        ("Refunded at", when(sale.refunded_at, env.zone)),
        ("Payment intent", sale.stripe_payment_intent_id or "—"),
    ]
    with (
        ui.card().classes("w-full").mark("sale-summary"),
        ui.grid().classes("grid grid-cols-1 sm:grid-cols-2 lg:grid-cols-4 gap-x-6 gap-y-2 w-full"),
    ):
        for label, value in facts:
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(label).classes("text-xs uppercase opacity-60")
                ui.label(value).classes("break-words")


LEDGER_COLUMNS: list[dict[str, Any]] = [
    {"name": "at", "label": "When", "field": "at", "align": "left"},
    {"name": "step", "label": "Step", "field": "step", "align": "left"},
    {"name": "account", "label": "Account", "field": "account", "align": "left"},
    {"name": "amount", "label": "Amount", "field": "amount", "align": "right"},
    {"name": "memo", "label": "Memo", "field": "memo", "align": "left"},
]


def ledger_table(legs: list[LedgerEntry], env: PageEnv) -> None:
    """A sale's ledger legs in posting order, and whether they balance per currency."""
    ui.label("Ledger").classes("text-lg font-semibold mt-2")
    if not legs:
        empty_state(
            "Nothing posted yet",
            "Legs are posted when the buyer pays, and at release, refund or payout.",
            icon="receipt_long",
        )
        return
    sums: dict[str, int] = defaultdict(int)
    for leg in legs:
        sums[leg.currency] += leg.amount
    rows = [
        {
            "id": leg.id,
            "at": when(leg.created_at, env.zone, seconds=True),
            "step": leg.posting_key.replace("_", " "),
            "account": admin_money.account_words(leg.account),
            "amount": ("+" if leg.amount > 0 else "") + money(leg.amount, leg.currency),
            "memo": leg.memo or "",
        }
        for leg in legs
    ]
    with ui.element("div").classes("w-full overflow-x-auto"):
        ui.table(columns=LEDGER_COLUMNS, rows=rows, row_key="id").props("flat bordered").classes(
            "w-full"
        ).mark("ledger-table")
    for currency, total in sorted(sums.items()):
        if total == 0:
            ui.label(f"The {currency} legs sum to zero: balanced.").classes(
                "text-sm text-positive"
            ).mark("sale-balanced")
        else:
            ui.label(
                f"The {currency} legs sum to {money(total, currency)}, not zero: unbalanced."
            ).classes("text-sm text-negative").mark("sale-unbalanced")


def history_list(file: SaleFile, env: PageEnv) -> None:
    """The sale's (and its dispute's) audit rows, oldest first."""
    ui.label("History").classes("text-lg font-semibold mt-2")
    if not file.history:
        empty_state("No history yet", "Each step of the sale is written here.", icon="history")
        return
    with ui.timeline(side="right").classes("w-full").mark("sale-history"):
        for entry in file.history:
            reason = entry.details.get("reason")
            with ui.timeline_entry(
                subtitle=f"{when(entry.at, env.zone)} · {entry.actor or 'Gavel'}"
            ):
                ui.label(admin_money.action_words(entry.action)).classes("font-semibold")
                if reason:
                    ui.label(str(reason)).classes("text-sm opacity-80")
