"""The seller's listings: `/listings`, a table of the viewer's own listings.

Paged, sorted and filtered on the server (services/seller_listings.list_own, scoped to
the viewer there): status, type, and part of the title. Each row offers what its status
allows: edit (drafts and scheduled listings without bids), publish and schedule
(drafts), cancel with a reason (before the first bid: services/listings.cancel_auction
refuses after it, and its words are shown), and the live monitor (`/listings/{id}/live`).
Row actions arrive as table events carrying a row id from the browser: the use cases
check that the listing is the viewer's, so an id of another seller's listing changes
nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import events, ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import money, when
from admin_ui.listing_fields import (
    SHORT_TYPE,
    STATUS_COLORS,
    STATUS_LABELS,
    TYPE_LABELS,
    humanize,
    read_time,
)
from admin_ui.messages import empty_state, explain
from admin_ui.pages.listing_form import show_flash
from admin_ui.shell import PageEnv, admin_page
from domain.enums import AuctionStatus, AuctionType
from domain.errors import DomainError, ValidationFailed
from domain.listing import ListingChanges
from services import listings, seller_listings
from services.moderation import MAX_REASON_CHARS, check_reason
from services.seller_listings import ListingQuery, ListingRow
from storage.tables import User

PAGE_SIZE = 10
COLUMNS: list[dict[str, Any]] = [
    {"name": "title", "label": "Listing", "field": "title", "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "price", "label": "Price", "field": "price", "align": "right", "sortable": True},
    {"name": "bids", "label": "Bids", "field": "bids", "align": "right", "sortable": True},
    {"name": "watchers", "label": "Watching", "field": "watchers", "align": "right"},
    # Shown on wide screens only (Quasar's gt-md: above 1440 px); the sort menu keeps
    # "newest first" within reach everywhere.
    {
        "name": "starts",
        "label": "Starts",
        "field": "starts",
        "align": "left",
        "classes": "gt-md",
        "headerClasses": "gt-md",
    },
    {"name": "ends", "label": "Ends", "field": "ends", "align": "left", "sortable": True},
    {
        "name": "created",
        "label": "Created",
        "field": "created",
        "align": "left",
        "sortable": True,
        "classes": "gt-md",
        "headerClasses": "gt-md",
    },
    {"name": "actions", "label": "", "field": "id", "align": "right"},
]
# A column's name is the service's sort name.
SORTABLE = {c["name"] for c in COLUMNS if c.get("sortable")}
# The sort menu (phones scroll the table sideways; a menu is easier): label → (sort, desc).
SORT_CHOICES = {
    "Newest first": ("created", True),
    "Ending soonest": ("ends", False),
    "Ending last": ("ends", True),
    "Highest price": ("price", True),
    "Lowest price": ("price", False),
    "Most bids": ("bids", True),
}

_TITLE_CELL = """
<q-td :props="props">
  <div class="flex items-center no-wrap gap-3" style="min-width: 12rem">
    <q-avatar rounded size="44px" :color="props.row.thumbnail ? undefined : 'grey-4'">
      <img v-if="props.row.thumbnail" :src="props.row.thumbnail" style="object-fit: cover">
      <q-icon v-else name="image" color="grey-7" />
    </q-avatar>
    <div style="white-space: normal">
      <a class="font-medium cursor-pointer text-primary"
         @click="$parent.$emit('open', props.row)">{{ props.row.title }}</a>
      <div class="text-xs opacity-70">{{ props.row.type }}</div>
    </div>
  </div>
</q-td>
"""
_STATUS_CELL = """
<q-td :props="props">
  <q-badge :color="props.row.status_color" :label="props.row.status_label" />
  <div v-if="props.row.outcome" class="text-xs opacity-70">{{ props.row.outcome }}</div>
</q-td>
"""
_PRICE_CELL = """
<q-td :props="props" class="whitespace-nowrap">
  <div>{{ props.row.price }}</div>
  <div class="text-xs opacity-70">{{ props.row.price_note }}</div>
</q-td>
"""
# What a row offers, in a menu behind one button (a row with four icon buttons was clipped
# at 1280 px and phones): each entry has its icon and its words. (flag, event, icon, label,
# colour)
ROW_ACTIONS = (
    ("editable", "edit", "edit", "Edit", ""),
    ("publishable", "publish", "rocket_launch", "Publish now", "primary"),
    ("publishable", "schedule", "event", "Schedule…", ""),
    ("monitor", "monitor", "sensors", "Live monitor", ""),
    ("cancellable", "cancel", "block", "Cancel listing…", "negative"),
)
_ACTION_ITEM = """
      <q-item v-if="props.row.{flag}" clickable @click="$parent.$emit('{event}', props.row)">
        <q-item-section avatar><q-icon name="{icon}"{color} /></q-item-section>
        <q-item-section>{label}</q-item-section>
      </q-item>"""
_ACTIONS_CELL = (
    """
<q-td :props="props">
  <q-btn flat round dense icon="more_vert" aria-label="Actions for this listing">
    <q-tooltip>Actions</q-tooltip>
    <q-menu auto-close anchor="bottom right" self="top right">
      <q-list dense style="min-width: 12rem">"""
    + "".join(
        _ACTION_ITEM.format(
            flag=flag,
            event=event,
            icon=icon,
            label=label,
            color=f' color="{color}"' if color else "",
        )
        for flag, event, icon, label, color in ROW_ACTIONS
    )
    + """
      </q-list>
    </q-menu>
  </q-btn>
</q-td>
"""
)


def row_of(row: ListingRow, zone: Any) -> dict[str, Any]:
    """A listing as the table's cells show it: every value already formatted."""
    if row.type.sealed and row.status is not AuctionStatus.ENDED:
        price, note = money(row.starting_price, row.currency), "sealed: opening price"
    elif row.status is AuctionStatus.ENDED and row.price is not None:
        price, note = money(row.price, row.currency), "final"
    elif row.status is AuctionStatus.ACTIVE and row.price is not None:
        clock = row.type is AuctionType.DUTCH
        price, note = money(row.price, row.currency), "clock" if clock else "current bid"
    else:
        price, note = money(row.starting_price, row.currency), "starting price"
    return {
        "id": str(row.id),
        "title": row.title,
        "thumbnail": row.thumbnail,
        "type": SHORT_TYPE[row.type],
        "status": row.status.value,
        "status_label": STATUS_LABELS[row.status],
        "status_color": STATUS_COLORS[row.status],
        "outcome": (row.outcome or "").capitalize(),
        "price": price,
        "price_note": note,
        "bids": row.bid_count,
        "watchers": row.watchers,
        "starts": when(row.starts_at, zone) if row.starts_at else "On publishing",
        "ends": when(row.ends_at, zone),
        "created": when(row.created_at, zone),
        "editable": row.editable,
        "publishable": row.publishable,
        "cancellable": row.cancellable,
        "monitor": row.status is not AuctionStatus.DRAFT,
    }


_STATUSES = {s.value for s in AuctionStatus}
_TYPES = {t.value for t in AuctionType}


def _whole(value: Any, default: int) -> int:
    """A whole number from the browser, or `default` for anything else ("x", 1.5, None)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return default
    try:
        return int(str(value)[:12])
    except ValueError:
        return default


def _row_id(e: events.GenericEventArguments) -> uuid.UUID | None:
    args = e.args if isinstance(e.args, dict) else {}
    try:
        return uuid.UUID(str(args.get("id")))
    except ValueError:
        return None


class ListingsTable:
    """The table, its filters and its page, all read from the server on each change."""

    def __init__(self, env: PageEnv) -> None:
        self.env = env
        self.deps = admin_context().deps
        self.statuses: list[str] = []
        self.types: list[str] = []
        self.text = ""
        self.pagination: dict[str, Any] = {
            "sortBy": "created",
            "descending": True,
            "page": 1,
            "rowsPerPage": PAGE_SIZE,
            "rowsNumber": 0,
        }
        self.table: ui.table | None = None
        self.sort_menu: ui.select | None = None
        self.syncing = False  # the sort menu follows a header click without a reload
        self.asked = 0
        self.titles: dict[str, str] = {}

    def query(self) -> ListingQuery:
        """The table's state as the service's query. The pagination comes from the browser
        (a forged `request` may hold anything): unreadable or out-of-range values fall back
        to the defaults and the offset is capped, so nothing here raises."""
        p = self.pagination
        size = _whole(p.get("rowsPerPage"), PAGE_SIZE)
        size = size if 1 <= size <= seller_listings.MAX_PAGE else PAGE_SIZE
        page = min(max(1, _whole(p.get("page"), 1)), seller_listings.MAX_OFFSET // size + 1)
        sort = p.get("sortBy") if p.get("sortBy") in SORTABLE else "created"
        return ListingQuery(
            statuses=[AuctionStatus(s) for s in self.statuses if s in _STATUSES],
            types=[AuctionType(t) for t in self.types if t in _TYPES],
            text=self.text[: seller_listings.MAX_TEXT],
            sort=str(sort),
            descending=p.get("descending") is True,
            offset=(page - 1) * size,
            limit=size,
        )

    async def fetch(self, viewer: User) -> seller_listings.ListingPage:
        return await seller_listings.list_own(self.deps, viewer, self.query())

    async def reload(self) -> None:
        """Read the current page again (after a filter change or an action), as the viewer
        signed in now: a seller banned or signed out meanwhile reads nothing more."""
        assert self.table is not None
        # Reads overlap (a sort, then a filter, typed fast): only the latest is shown.
        self.asked += 1
        ticket = self.asked

        async def work(viewer: User) -> seller_listings.ListingPage:
            page = await self.fetch(viewer)
            if not page.rows and page.offset and page.total:  # the page emptied: go back
                self.pagination["page"] = max(1, (page.total - 1) // page.limit + 1)
                page = await self.fetch(viewer)
            return page

        page = await act(work, audience="seller")
        if ticket != self.asked:
            return
        if page is None:  # refused (the reason was shown): show nothing stale
            self.clear()
        else:
            self.show(page)

    def clear(self) -> None:
        assert self.table is not None
        self.titles = {}
        self.table.rows = []
        self.table.update()

    def show(self, page: seller_listings.ListingPage) -> None:
        assert self.table is not None
        self.titles = {str(r.id): r.title for r in page.rows}
        self.table.rows = [row_of(r, self.env.zone) for r in page.rows]
        self.pagination = {**self.pagination, "rowsNumber": page.total}
        self.table.pagination = self.pagination
        self.table.update()

    async def on_request(self, e: events.GenericEventArguments) -> None:
        asked = e.args if isinstance(e.args, dict) else {}
        self.pagination = {
            **self.pagination,
            **{k: asked[k] for k in ("page", "rowsPerPage", "sortBy", "descending") if k in asked},
        }
        chosen = (self.pagination.get("sortBy"), bool(self.pagination.get("descending")))
        label = next((k for k, v in SORT_CHOICES.items() if v == chosen), None)
        if self.sort_menu is not None and label is not None:
            self.syncing = True
            self.sort_menu.value = label
            self.syncing = False
        await self.reload()

    async def filter_changed(self) -> None:
        self.pagination["page"] = 1
        await self.reload()

    async def sort_chosen(self, label: str) -> None:
        sort, descending = SORT_CHOICES.get(label, ("created", True))
        self.pagination = {**self.pagination, "sortBy": sort, "descending": descending}
        await self.filter_changed()


@admin_page(
    "/listings",
    title="Listings",
    audience="seller",
    nav="Listings",
    icon="inventory_2",
    order=110,
)
async def listings_page(env: PageEnv) -> None:
    view = ListingsTable(env)
    first = await view.fetch(env.viewer)
    show_flash()
    with ui.row().classes("w-full items-center justify-between gap-2"):
        with ui.column().classes("gap-0"):
            ui.label("Your listings").classes("text-2xl font-semibold")
            ui.label("Drafts, scheduled, live and past auctions you sell.").classes("opacity-70")
        ui.button(
            "New listing", icon="add", on_click=lambda: ui.navigate.to("/listings/new")
        ).props("unelevated").mark("create-listing")
    if first.total == 0:
        empty_state(
            "No listings yet",
            "Create your first listing: describe the item, pick how it sells (English, Dutch"
            " or sealed bids), add photos, then publish it or schedule its start.",
            icon="inventory_2",
        )
        ui.button(
            "Create a listing", icon="add", on_click=lambda: ui.navigate.to("/listings/new")
        ).props("unelevated size=lg").classes("self-center").mark("create-first-listing")
        return
    with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 lg:grid-cols-4 gap-3 w-full"):
        search = (
            ui.input("Search titles", on_change=lambda e: _set(view, "text", e.value or ""))
            .props("outlined dense clearable debounce=350")
            .mark("filter-text")
        )
        search.classes("w-full")
        ui.select(
            {s.value: label for s, label in STATUS_LABELS.items()},
            label="Status",
            multiple=True,
            value=[],
            on_change=lambda e: _set(view, "statuses", list(e.value or [])),
        ).props("outlined dense clearable use-chips").classes("w-full").mark("filter-status")
        ui.select(
            {t.value: label for t, label in TYPE_LABELS.items()},
            label="Type",
            multiple=True,
            value=[],
            on_change=lambda e: _set(view, "types", list(e.value or [])),
        ).props("outlined dense clearable use-chips").classes("w-full").mark("filter-type")
        view.sort_menu = (
            ui.select(
                list(SORT_CHOICES),
                label="Sort",
                value="Newest first",
                # Checked when the value changes, not when the reload runs.
                on_change=lambda e: None if view.syncing else view.sort_chosen(str(e.value)),
            )
            .props("outlined dense")
            .classes("w-full")
            .mark("sort")
        )
    with ui.element("div").classes("w-full overflow-x-auto"):
        table = (
            ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=view.pagination)
            .props(
                'flat bordered binary-state-sort no-data-label="No listings match these'
                ' filters." rows-per-page-label="Per page"'
                " :rows-per-page-options=[10,25,50,100]"
            )
            .classes("w-full")
            .mark("listings-table")
        )
    view.table = table
    table.add_slot("body-cell-title", _TITLE_CELL)
    table.add_slot("body-cell-status", _STATUS_CELL)
    table.add_slot("body-cell-price", _PRICE_CELL)
    table.add_slot("body-cell-actions", _ACTIONS_CELL)
    # Only the pagination object travels: Quasar's request also holds a function.
    table.on("request", view.on_request, js_handler="(request) => emit(request.pagination)")
    view.show(first)
    _row_actions(view, table)


async def _set(view: ListingsTable, name: str, value: Any) -> None:
    setattr(view, name, value)
    await view.filter_changed()


def _row_actions(view: ListingsTable, table: ui.table) -> None:
    deps = view.deps
    env = view.env

    def edit(e: events.GenericEventArguments) -> None:
        if (listing_id := _row_id(e)) is not None:
            ui.navigate.to(f"/listings/{listing_id}/edit")

    def monitor(e: events.GenericEventArguments) -> None:
        if (listing_id := _row_id(e)) is not None:
            ui.navigate.to(f"/listings/{listing_id}/live")

    async def publish(e: events.GenericEventArguments) -> None:
        if (listing_id := _row_id(e)) is None:
            return
        row = await act(
            lambda viewer: listings.publish_auction(deps, viewer, listing_id), audience="seller"
        )
        if row is not None:
            ui.notify(
                f"Scheduled: bidding opens {when(row.starts_at, env.zone)}."
                if row.status == AuctionStatus.SCHEDULED.value
                else "Published: bidding is open.",
                type="positive",
            )
        await view.reload()

    table.on("edit", edit)
    table.on("open", edit)
    table.on("monitor", monitor)
    table.on("publish", publish)
    table.on("schedule", lambda e: _schedule_dialog(view, _row_id(e)))
    table.on("cancel", lambda e: _cancel_dialog(view, _row_id(e)))


def _schedule_dialog(view: ListingsTable, listing_id: uuid.UUID | None) -> None:
    """Schedule a draft: set a start in the future, then publish it (the use case makes a
    draft with a future start SCHEDULED: domain/lifecycle.py status_on_publish)."""
    if listing_id is None:
        return
    deps, env = view.deps, view.env
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-md").mark("schedule-dialog"):
        ui.label("Schedule the start").classes("text-lg font-semibold")
        ui.label(view.titles.get(str(listing_id), "")).classes("opacity-70")
        start = (
            ui.input("Bidding opens")
            .props(f'outlined type=datetime-local stack-label suffix="{env.zone.key}"')
            .classes("w-full")
            .mark("schedule-at")
        )

        async def confirm() -> None:
            start.error = None
            try:
                moment = read_time(start.value, env.zone, "startsAt")
                if moment is None or moment <= deps.clock():
                    raise ValidationFailed("Pick a moment in the future", field="startsAt")
            except ValidationFailed as err:
                start.error = humanize(explain(err))
                return

            async def work(viewer: User) -> Any:
                try:
                    changes = ListingChanges(starts_at=moment)
                    await listings.update_auction(deps, viewer, listing_id, changes)
                    return await listings.publish_auction(deps, viewer, listing_id)
                except DomainError as err:
                    start.error = humanize(explain(err))
                    raise

            button.props("loading")
            row = await act(work, audience="seller")
            button.props(remove="loading")
            if row is not None:
                ui.notify(f"Scheduled: bidding opens {when(row.starts_at, env.zone)}.")
                dialog.close()
                await view.reload()

        with ui.row().classes("w-full justify-end"):
            ui.button("Back", on_click=dialog.close).props("flat")
            button = ui.button("Schedule", icon="event", on_click=confirm).mark("confirm-schedule")
    dialog.open()


def _cancel_dialog(view: ListingsTable, listing_id: uuid.UUID | None) -> None:
    """Cancel with a reason (required, kept in the audit log); the use case refuses once a
    bid came (its words shown)."""
    if listing_id is None:
        return
    deps = view.deps
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-md").mark("cancel-dialog"):
        ui.label("Cancel this listing?").classes("text-lg font-semibold")
        ui.label(view.titles.get(str(listing_id), "")).classes("opacity-70")
        ui.label(
            "Watchers are told it was cancelled. This cannot be undone; sellers can cancel"
            " only before the first bid."
        ).classes("text-sm")
        reason = (
            ui.textarea("Reason (kept in the audit log)")
            .props(f"outlined counter maxlength={MAX_REASON_CHARS} autogrow")
            .classes("w-full")
            .mark("cancel-reason")
        )
        problem = ui.label("").classes("text-negative").mark("cancel-problem")
        problem.visible = False

        async def confirm() -> None:
            problem.visible = False
            reason.error = None
            # The same rule as an admin's cancel (services/moderation.check_reason): a
            # reason of 1-500 characters, checked here, on the server, before the use case.
            try:
                why = check_reason(str(reason.value or ""))
            except ValidationFailed:
                reason.error = (
                    f"Say why you cancel (up to {MAX_REASON_CHARS} characters):"
                    " it is kept in the audit log."
                )
                return

            async def work(viewer: User) -> Any:
                try:
                    return await listings.cancel_auction(deps, viewer, listing_id, why)
                except DomainError as err:
                    problem.text = humanize(explain(err))
                    problem.visible = True
                    raise

            button.props("loading")
            row = await act(work, audience="seller", done="Listing cancelled.")
            button.props(remove="loading")
            if row is not None:
                dialog.close()
            await view.reload()

        with ui.row().classes("w-full justify-end"):
            ui.button("Keep it", on_click=dialog.close).props("flat")
            button = (
                ui.button("Cancel listing", icon="block", on_click=confirm)
                .props("color=negative unelevated")
                .mark("confirm-cancel")
            )
    dialog.open()
