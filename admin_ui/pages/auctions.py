"""Auctions (admins): every seller's auctions, found, sorted and paged in PostgreSQL
(services/admin_catalog.py `list_auctions`), with the admin's decisions on one: feature
or stop featuring it (services/featuring.py) and cancel it with a reason
(services/listings.py `cancel_auction`: an admin cancels any open auction, its bids
voided and its bidders notified). A row opens a panel with those decisions and a link to
the auction's own page (admin_ui/pages/auction_detail.py). Prices follow the API's
rules: a sealed auction's price is "sealed" until it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money, when
from admin_ui.messages import empty_state
from admin_ui.paged_table import PagedTable
from admin_ui.shell import PageEnv, admin_page
from domain.enums import AuctionStatus, AuctionType
from domain.public_state import PublicState
from services import admin_catalog, featuring, listings
from services.admin_catalog import AuctionLine, AuctionQuery, AuctionSortName
from services.moderation import check_reason
from storage.tables import Auction, User

STATUS_NAMES = {s.value: s.value.title() for s in AuctionStatus}
TYPE_NAMES = {
    AuctionType.ENGLISH.value: "English",
    AuctionType.DUTCH.value: "Dutch",
    AuctionType.SEALED_FIRST_PRICE.value: "Sealed, first price",
    AuctionType.SEALED_SECOND_PRICE.value: "Sealed, second price",
}
SORTS = ("ends", "created", "price", "bids", "title")
OPEN = (AuctionStatus.DRAFT.value, AuctionStatus.SCHEDULED.value, AuctionStatus.ACTIVE.value)
# Only these are put forward (services/featuring.py): a cancelled or ended auction shows no
# star and no feature controls, whatever its `featured` flag still says.
FEATURABLE = (AuctionStatus.SCHEDULED.value, AuctionStatus.ACTIVE.value)

COLUMNS: list[dict[str, Any]] = [
    {
        "name": "title",
        "label": "Title",
        "field": "title",
        "sortable": True,
        "align": "left",
        # Long titles wrap rather than push the other columns out of sight.
        "style": "white-space: normal; min-width: 12rem; max-width: 22rem",
    },
    {"name": "seller", "label": "Seller", "field": "seller", "align": "left"},
    {"name": "type", "label": "Type", "field": "type", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "price", "label": "Price", "field": "price", "sortable": True, "align": "right"},
    {"name": "bids", "label": "Bids", "field": "bids", "sortable": True},
    {"name": "ends", "label": "Ends", "field": "ends", "sortable": True, "align": "left"},
    {"name": "created", "label": "Listed", "field": "created", "sortable": True, "align": "left"},
]


def price_text(auction: Auction, state: PublicState) -> str:
    """The price as the API shows it: "sealed" while a sealed auction is open."""
    if state.bid_amounts_hidden:
        return "sealed"
    price = state.current_price
    return money(price if price is not None else auction.starting_price, auction.currency)


def status_text(auction: Auction, state: PublicState) -> str:
    status = state.status.value.title()
    if state.outcome is not None:
        status += f" · {state.outcome.value.lower()}"
    return status


@admin_page("/auctions", title="Auctions", audience="admin", nav="Auctions", icon="gavel", order=30)
async def auctions_page(env: PageEnv) -> None:
    deps = admin_context().deps
    params = env.request.query_params
    query: dict[str, Any] = {
        "text": params.get("q", "")[:254],
        "seller": params.get("seller", "")[:254],
        "statuses": [s for s in params.getlist("status") if s in STATUS_NAMES],
        "types": [],
        "featured": False,
    }

    with ui.row().classes("w-full items-center gap-2"):
        ui.label("Auctions").classes("text-2xl font-semibold")
        ui.space()
        total_label = ui.label("").classes("opacity-70").mark("auctions-total")
    with ui.row().classes("w-full items-end gap-2 flex-wrap"):
        text = (
            ui.input("Title contains", value=query["text"])
            .props("outlined dense clearable")
            .classes("w-full sm:w-64")
            .mark("auctions-search")
        )
        seller = (
            ui.input("Seller starts with", value=query["seller"])
            .props("outlined dense clearable")
            .classes("w-full sm:w-48")
            .mark("auctions-seller")
        )
        statuses = (
            ui.select(STATUS_NAMES, value=query["statuses"], multiple=True, label="Status")
            .props("outlined dense use-chips clearable")
            .classes("w-full sm:w-56")
            .mark("auctions-status")
        )
        types = (
            ui.select(TYPE_NAMES, value=[], multiple=True, label="Type")
            .props("outlined dense use-chips clearable")
            .classes("w-full sm:w-56")
            .mark("auctions-type")
        )
        featured = ui.switch("Featured only").mark("auctions-featured")
        go = ui.button("Search", icon="search").props("unelevated").mark("auctions-go")
    nothing = ui.column().classes("w-full")

    async def fetch(
        limit: int, offset: int, sort: str | None, descending: bool
    ) -> tuple[list[dict[str, Any]], int] | None:
        wanted = AuctionQuery(
            text=query["text"] or None,
            seller=query["seller"] or None,
            statuses=[AuctionStatus(s) for s in query["statuses"]],
            types=[AuctionType(t) for t in query["types"] if t in TYPE_NAMES],
            featured=query["featured"],
            sort=cast(AuctionSortName, sort if sort in SORTS else "created"),
            descending=descending,
        )
        # Re-authenticated for every read: an open page outlives a ban, a lost role, a
        # sign-out. A refused filter (NUL in `?seller=`) is said in words, not raised.
        page = await act(
            lambda viewer: admin_catalog.list_auctions(deps, viewer, wanted, limit, offset),
            audience="admin",
        )
        nothing.clear()
        if page is None:
            total_label.text = ""
            return None
        total_label.text = f"{page.total:,} auction{'s' if page.total != 1 else ''}"
        if page.total == 0:
            with nothing:
                empty_state(
                    "No auction matches",
                    "Try another word of the title, another seller, or fewer statuses.",
                    icon="search_off",
                )
        return [_row(line, env) for line in page.rows], page.total

    async def apply() -> None:
        query["text"] = str(text.value or "").strip()
        query["seller"] = str(seller.value or "").strip()
        query["statuses"] = list(statuses.value or [])
        query["types"] = list(types.value or [])
        query["featured"] = bool(featured.value)
        go.props("loading")
        try:
            await table.reload(first=True)
        finally:
            go.props(remove="loading")

    with (
        ui.dialog().props("position=right full-height") as dialog,
        ui.card().classes("w-full sm:w-[28rem] h-full gap-3").mark("auction-panel"),
    ):
        panel = ui.column().classes("w-full gap-3")

    async def show(row: dict[str, Any]) -> None:
        async def read(viewer: User) -> tuple[Auction | None]:
            # Wrapped: None from act means refused, a (None,) means the auction is gone.
            return (await admin_catalog.reread(deps, viewer, uuid.UUID(row["id"])),)

        found = await act(read, audience="admin")
        panel.clear()
        if found is None:
            dialog.close()
            return
        auction = found[0]
        with panel:
            if auction is None:
                empty_state("This auction is gone", "Reload the list.", icon="search_off")
            else:
                ui.label(row["title"]).classes("text-lg font-semibold").mark("panel-title")
                ui.label(
                    f"{row['type']} · {STATUS_NAMES[auction.status]} · by {row['seller']}"
                ).classes("opacity-70")
                ui.link("Open the auction's page", f"/auctions/{auction.id}").mark("panel-open")
                ui.separator()
                auction_actions(auction, after=lambda: changed(row))
        dialog.open()

    async def changed(row: dict[str, Any]) -> None:
        await table.reload()
        await show(row)

    table = PagedTable(COLUMNS, fetch, sort_by="created", marker="auctions-table", on_row=show)
    go.on_click(apply)
    text.on("keydown.enter", apply)
    seller.on("keydown.enter", apply)
    statuses.on_value_change(apply)
    types.on_value_change(apply)
    featured.on_value_change(apply)
    await table.load()


def _row(line: AuctionLine, env: PageEnv) -> dict[str, Any]:
    auction, state = line.auction, line.state
    return {
        "id": str(auction.id),
        "title": ("★ " if shown_featured(auction) else "") + line.title,
        "seller": line.seller,
        "type": TYPE_NAMES[auction.type],
        "status": status_text(auction, state),
        "price": price_text(auction, state),
        "bids": state.bid_count,
        "ends": when(state.ends_at, env.zone),
        "created": when(auction.created_at, env.zone),
        "featured": shown_featured(auction),
    }


def shown_featured(auction: Auction) -> bool:
    """Featured as people see it: flagged, and still open to bids or about to be."""
    return auction.featured and auction.status in FEATURABLE


def auction_actions(auction: Auction, *, after: Callable[[], Awaitable[None]]) -> None:
    """An admin's decisions on an auction, each with the reason the audit log keeps:
    feature or stop featuring it, and cancel it (asked once more: bids are voided)."""
    deps = admin_context().deps
    auction_id = auction.id
    featurable = auction.status in FEATURABLE
    if auction.status not in OPEN:
        ui.label(
            f"Nothing to decide: the auction is {auction.status.lower()}. Its trail is in"
            " the audit log."
        ).classes("opacity-70").mark("no-decisions")
        return
    reason = (
        ui.textarea("Reason (kept in the audit log)")
        .props("outlined autogrow maxlength=500 counter")
        .classes("w-full")
        .mark("reason")
    )

    def why() -> str:
        return str(reason.value or "")

    async def run(button: Any, work: Any, done: str) -> None:
        button.props("loading")
        try:
            result = await act(work, audience="admin", done=done)
        finally:
            button.props(remove="loading")
        if result is not None:
            await after()

    with ui.row().classes("w-full gap-2 flex-wrap"):
        if featurable and auction.featured:
            star = ui.button("Stop featuring", icon="star_outline").props("outline")
            star.mark("unfeature")
        elif featurable:
            star = ui.button("Feature", icon="star").props("outline color=amber-8").mark("feature")
        wanted = not auction.featured
        if featurable:
            star.on_click(
                lambda: run(
                    star,
                    lambda v: featuring.set_featured(deps, v, auction_id, wanted, why()),
                    "Featured." if wanted else "No longer featured.",
                )
            )
        if auction.status in OPEN:
            cancel = ui.button("Cancel auction", icon="cancel").props("unelevated color=negative")
            cancel.mark("cancel")

            with ui.dialog() as confirm, ui.card().classes("gap-3").mark("cancel-confirm"):
                ui.label("Cancel this auction?").classes("text-lg font-semibold")
                ui.label(
                    "Bidding stops at once, every bid is voided and its bidders are told."
                    " This cannot be undone."
                ).classes("opacity-80 max-w-prose")
                with ui.row().classes("w-full justify-end gap-2"):
                    ui.button("Keep it", on_click=confirm.close).props("flat")
                    sure = ui.button("Cancel auction").props("unelevated color=negative")
                    sure.mark("confirm-cancel")

            async def cancel_it() -> None:
                confirm.close()

                async def work(viewer: Any) -> Auction:
                    return await listings.cancel_auction(
                        deps, viewer, auction_id, check_reason(why())
                    )

                await run(cancel, work, "Cancelled: its bids are voided and its bidders told.")

            sure.on_click(cancel_it)
            cancel.on_click(confirm.open)
