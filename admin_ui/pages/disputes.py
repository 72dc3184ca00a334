"""The disputes queue (admins) and a dispute's case file with its resolution.

`/disputes`: open disputes first, the one waiting longest on top (services/admin_money
.dispute_queue, paged by the server). `/disputes/{dispute_id}`: the sale, the story of
the dispute (its messages, the sale's audit history and ledger postings), the evidence
images (uploads behind short-lived signed URLs), and the resolution: a full refund, a
partial refund (an amount in the sale's currency, checked by the domain), or a release
to the seller (services/settlement/disputes.resolve_dispute). An admin who is the
sale's buyer or seller is refused by the use case, in its words.
"""

from __future__ import annotations

from typing import Any, cast

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money, when
from admin_ui.messages import empty_state, explain
from admin_ui.paged_table import clicked_id, page_and_size, requested_pagination
from admin_ui.pages.money import ledger_table, sale_status
from admin_ui.shell import PageEnv, admin_page
from domain.enums import DisputeStatus
from domain.errors import DomainError
from domain.money import to_minor
from domain.settlement import Resolution
from services import admin_money
from services.admin_money import (
    DisputeFile,
    DisputeRow,
    DisputeView,
    TimelineEvent,
    reason_words,
)
from services.settlement.disputes import resolve_dispute
from storage.tables import Dispute, User

STATUS_WORDS = {
    DisputeStatus.OPEN.value: "Waiting for the seller",
    DisputeStatus.SELLER_RESPONDED.value: "Seller responded",
    DisputeStatus.RESOLVED_REFUND.value: "Resolved: refund",
    DisputeStatus.RESOLVED_RELEASE.value: "Resolved: released",
}
RESOLUTION_WORDS = {
    Resolution.REFUND_FULL: "Full refund to the buyer",
    Resolution.REFUND_PARTIAL: "Partial refund, the rest to the seller",
    Resolution.RELEASE: "Release the money to the seller",
}
# The amount's name in the domain's refusals ("the refund amount must be ..."): words,
# as the page shows the refusal under the field.
AMOUNT_FIELD = "the refund amount"
VIEWS = {"open": "To decide", "resolved": "Resolved", "all": "All"}
PAGE_SIZES = [10, 20, 50]
COLUMNS: list[dict[str, Any]] = [
    {"name": "open", "label": "", "field": "id"},
    {"name": "opened", "label": "Opened", "field": "opened", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "reason", "label": "Reason", "field": "reason", "align": "left"},
    {"name": "title", "label": "Item", "field": "title", "align": "left"},
    {"name": "parties", "label": "Buyer → seller", "field": "parties", "align": "left"},
    {"name": "amount", "label": "Amount", "field": "amount", "align": "right"},
    {"name": "evidence", "label": "Images", "field": "evidence", "align": "right"},
]


def _row(row: DisputeRow, env: PageEnv) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "opened": when(row.created_at, env.zone),
        "status": STATUS_WORDS.get(row.status, row.status),
        "reason": reason_words(row.reason),
        "title": row.title,
        "parties": f"{row.buyer} → {row.seller}",
        "amount": money(row.amount, row.currency),
        "evidence": row.evidence,
    }


@admin_page(
    "/disputes", title="Disputes", audience="admin", nav="Disputes", icon="balance", order=50
)
async def disputes_page(env: PageEnv) -> None:
    deps = admin_context().deps
    first = await admin_money.dispute_queue(deps, env.viewer, view="open", limit=20)
    state: dict[str, Any] = {"asked": 0}
    with ui.row().classes("w-full items-center gap-2 flex-wrap"):
        ui.label("Open disputes first, the one waiting longest on top.").classes("opacity-70 grow")
        view = ui.toggle(VIEWS, value="open").props("no-caps").mark("dispute-view")
    nothing = ui.column().classes("w-full")
    with ui.element("div").classes("w-full overflow-x-auto") as holder:
        table = (
            ui.table(
                columns=COLUMNS,
                rows=[_row(r, env) for r in first.rows],
                row_key="id",
                pagination={"page": 1, "rowsPerPage": 20, "rowsNumber": first.total},
            )
            .props(f":rows-per-page-options='{PAGE_SIZES}' flat bordered dense")
            .classes("w-full cursor-pointer")
            .mark("disputes-table")
        )
    table.add_slot(
        "body-cell-open",
        '<q-td :props="props"><q-btn flat dense no-caps no-wrap color="primary" icon="open_in_new"'
        ' label="Open" @click.stop="() => $parent.$emit(\'open\', props.row)" /></q-td>',
    )

    def show_empty(total: int) -> None:
        nothing.clear()
        holder.visible = total > 0
        if total == 0:
            with nothing:
                if view.value == "open":
                    empty_state(
                        "No dispute to decide",
                        "A buyer can dispute a paid sale while its money is in escrow; the"
                        " dispute waits here for an admin's decision.",
                        icon="balance",
                    )
                else:
                    empty_state("No disputes here", "Pick another view.", icon="balance")

    show_empty(first.total)

    async def load(pagination: dict[str, Any]) -> None:
        page, size = page_and_size(pagination)
        chosen = cast(DisputeView, view.value if view.value in VIEWS else "open")
        state["asked"] += 1
        mine = state["asked"]
        table.props("loading")
        try:
            result = await act(
                lambda viewer: admin_money.dispute_queue(
                    deps, viewer, view=chosen, offset=(page - 1) * size, limit=size
                ),
                audience="admin",
            )
        finally:
            table.props(remove="loading")
        if result is None or mine != state["asked"]:
            return
        table.rows = [_row(r, env) for r in result.rows]
        table.pagination = {"page": page, "rowsPerPage": size, "rowsNumber": result.total}
        show_empty(result.total)

    async def on_request(event: Any) -> None:
        await load(requested_pagination(event))

    async def from_first_page() -> None:
        await load({**table.pagination, "page": 1})

    table.on("request", on_request)

    def open_dispute(event: Any) -> None:
        # Any id opens its page (which checks the viewer again); a forged
        # event carrying no id opens nothing.
        key = clicked_id(event)
        if key is not None:
            ui.navigate.to(f"/disputes/{key}")

    table.on("open", open_dispute)
    table.on("rowClick", open_dispute)
    view.on_value_change(from_first_page)


# -- one dispute ----------------------------------------------------------------------


@admin_page("/disputes/{dispute_id}", title="Dispute", audience="admin")
async def dispute_page(env: PageEnv, dispute_id: str) -> None:
    file = await admin_money.dispute_file(admin_context().deps, env.viewer, dispute_id)
    dispute, sale = file.dispute, file.sale
    with ui.row().classes("items-center gap-2 w-full"):
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/disputes")).props(
            "flat round dense"
        ).tooltip("All disputes")
        ui.label(f"Dispute: {reason_words(dispute.reason)}").classes("text-xl font-semibold").mark(
            "dispute-title"
        )
        ui.badge(STATUS_WORDS.get(dispute.status, dispute.status)).props("outline").mark(
            "dispute-status"
        )
    with (
        ui.card().classes("w-full").mark("dispute-sale"),
        ui.grid().classes("grid grid-cols-1 sm:grid-cols-2 lg:grid-cols-4 gap-x-6 gap-y-2 w-full"),
    ):
        for label, value in (
            ("Item", sale.title),
            ("Buyer", sale.buyer.username),
            ("Seller", sale.seller.username),
            ("Amount in escrow", money(sale.sale.amount, sale.sale.currency)),
            ("Sale", sale_status(sale.sale.status)),
            ("Opened", when(dispute.created_at, env.zone)),
            ("Shipped", when(sale.sale.shipped_at, env.zone)),
            (
                "Carrier · tracking",
                f"{sale.sale.carrier} · {sale.sale.tracking_number}" if sale.sale.carrier else "—",
            ),
        ):
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(label).classes("text-xs uppercase opacity-60")
                ui.label(value).classes("break-words")
    with ui.row().classes("gap-4"):
        ui.link("The sale's ledger", f"/money/{sale.sale.id}").mark("dispute-sale-link")
        ui.link("The auction", f"/auctions/{sale.sale.auction_id}")

    with ui.grid().classes("grid grid-cols-1 lg:grid-cols-3 gap-4 w-full"):
        with ui.column().classes("lg:col-span-2 gap-2 min-w-0"):
            ui.label("What happened").classes("text-lg font-semibold")
            timeline(file.timeline, env)
        with ui.column().classes("gap-4 min-w-0"):
            evidence(file)
            resolution_card(env, file)
    ledger_table(sale.ledger, env)


_ICONS = {"dispute": "forum", "audit": "history", "ledger": "receipt_long"}


def timeline(events: list[TimelineEvent], env: PageEnv) -> None:
    with ui.timeline(side="right").classes("w-full").mark("dispute-timeline"):
        for event in events:
            who = f" · {event.actor}" if event.actor else ""
            with ui.timeline_entry(
                subtitle=f"{when(event.at, env.zone)}{who}",
                icon=_ICONS.get(event.kind, "circle"),
                color="warning" if event.kind == "dispute" else None,
            ):
                ui.label(event.title).classes("font-semibold").mark("timeline-title")
                if event.detail:
                    ui.label(event.detail).classes("text-sm whitespace-pre-line break-words")


def evidence(file: DisputeFile) -> None:
    with ui.card().classes("w-full gap-2").mark("dispute-evidence"):
        ui.label("Evidence").classes("text-lg font-semibold")
        if not file.evidence_urls:
            ui.label("The buyer sent no pictures.").classes("text-sm opacity-70")
            return
        ui.label(
            "Uploads open through links that expire in minutes: reload for fresh ones."
        ).classes("text-xs opacity-60")
        with ui.row().classes("gap-2 flex-wrap"):
            for number, url in enumerate(file.evidence_urls, start=1):
                # Plain elements: NiceGUI would put the app's /admin prefix before a
                # ui.image's or ui.link's absolute path, and media are served at /media.
                with ui.element("a").props(f'href="{url}" target="_blank" rel="noreferrer"'):
                    ui.element("img").props(
                        f'src="{url}" alt="Evidence image {number}" loading="lazy"'
                    ).classes("w-28 h-28 object-cover rounded border border-gray-500/30").mark(
                        "evidence-image"
                    )


def resolution_card(env: PageEnv, file: DisputeFile) -> None:
    dispute, sale = file.dispute, file.sale.sale
    currency = sale.currency
    with ui.card().classes("w-full gap-3").mark("resolve-card"):
        ui.label("Decision").classes("text-lg font-semibold")
        if dispute.status not in admin_money.OPEN_STATES:
            resolved_words(dispute, currency, env)
            return
        if dispute.resolution is not None:
            ui.label(
                f"Being resolved: {RESOLUTION_WORDS.get(dispute.resolution, dispute.resolution)}."
                " The payment step finishes in the background; reload in a moment."
            ).mark("resolve-in-progress")
            return
        choice = ui.radio(
            {key: words for key, words in RESOLUTION_WORDS.items()}, value=Resolution.REFUND_FULL
        ).mark("resolution")
        amount = (
            ui.input(f"Refund amount ({currency})", placeholder="e.g. 25.00")
            .props(f'outlined dense inputmode=decimal suffix="{currency}"')
            .classes("w-full")
            .mark("refund-amount")
        )
        amount.bind_visibility_from(choice, "value", value=Resolution.REFUND_PARTIAL)
        ui.label(
            f"Up to {money(sale.amount, currency)} is in escrow. A full refund returns all of it;"
            " a release pays the seller less the platform fee."
        ).classes("text-sm opacity-70")
        problem = ui.label("").classes("text-negative").mark("resolve-problem")
        problem.visible = False
        button = ui.button("Resolve the dispute", icon="gavel").props("unelevated").mark("resolve")

        async def resolve() -> None:
            amount.error = None
            problem.visible = False
            picked = str(choice.value)
            typed = str(amount.value or "").strip()

            async def attempt(viewer: User) -> Dispute | None:
                try:
                    minor = (
                        to_minor(typed, currency, field=AMOUNT_FIELD)
                        if picked == Resolution.REFUND_PARTIAL
                        else None
                    )
                    return await resolve_dispute(
                        admin_context().deps, viewer, dispute.id, picked, minor
                    )
                except DomainError as err:
                    if err.field in ("refundAmount", AMOUNT_FIELD):
                        amount.error = explain(err)
                        return None
                    problem.text = explain(err)
                    problem.visible = True
                    raise

            button.props("loading")
            try:
                done = await act(attempt, audience="admin")
            finally:
                button.props(remove="loading")
            if done is None:
                return
            ui.notify(
                f"Dispute resolved: {RESOLUTION_WORDS.get(picked, picked).lower()}.",
                type="positive",
            )
            ui.navigate.to(f"/disputes/{dispute.id}")

        button.on_click(resolve)


def resolved_words(dispute: Dispute, currency: str, env: PageEnv) -> None:
    what = RESOLUTION_WORDS.get(dispute.resolution or "", "Resolved")
    with ui.row().classes("items-center gap-2"):
        ui.icon("task_alt").classes("text-positive text-2xl")
        ui.label(what).classes("font-semibold").mark("resolved")
    if dispute.refund_amount:
        ui.label(f"Refunded {money(dispute.refund_amount, currency)} to the buyer.")
    ui.label(f"Decided {when(dispute.resolved_at, env.zone)}").classes("text-sm opacity-70")
