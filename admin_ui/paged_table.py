"""A table whose rows come from the server a page at a time (the admin app's UX rule:
tables paginate, sort and filter on the server).

    table = PagedTable(columns, fetch, sort_by="joined", marker="users-table")
    await table.load()            # the first page
    await table.reload(first=True)  # after a filter changed

`fetch(limit, offset, sort_by, descending)` returns `(rows, total)`, or None when the
viewer was refused (it re-authenticates through `act`: the table then empties); the table is
Quasar's in server mode (`pagination.rowsNumber` set): the browser asks for a page, a
page size or a sort with a `request` event and shows only what comes back. Columns with
`sortable: True` sort by their `name`, which `fetch` maps to a service sort. The table
sits in a horizontally scrolling box so it works on a phone, with a hint that says so
above a table of more than `PHONE_COLUMNS` columns on a small screen (`sm:hidden`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

Fetch = Callable[[int, int, str | None, bool], Awaitable[tuple[list[dict[str, Any]], int] | None]]

PAGE_SIZES = [10, 20, 50, 100]
# About this many columns fit a 390-px phone; a wider table says that it scrolls.
PHONE_COLUMNS = 3
# No list in the admin app reaches a million rows; a forged page number beyond this is
# clamped here, before it becomes an OFFSET PostgreSQL would refuse (int64 overflow).
MAX_OFFSET = 1_000_000


def whole(value: Any, default: int) -> int:
    """`value` as an int when the browser sent a plain whole number, else `default`
    (a forged `request` event carries anything: "x", "all", 1e20, None)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    return default


def page_and_size(wanted: dict[str, Any], *, default_size: int = 20) -> tuple[int, int]:
    """(page, size) from a table's pagination: the size one of PAGE_SIZES, the page at
    least 1 and small enough that its offset stays under MAX_OFFSET."""
    size = whole(wanted.get("rowsPerPage"), default_size)
    size = size if size in PAGE_SIZES else default_size
    page = whole(wanted.get("page"), 1)
    page = min(max(1, page), MAX_OFFSET // size + 1)
    return page, size


def requested_pagination(event: Any) -> dict[str, Any]:
    """The `pagination` a table's `request` event asks for; {} when the event carries
    anything else (a forged one may send a list, a string or nothing)."""
    args = getattr(event, "args", None)
    if isinstance(args, list):
        args = args[0] if args else {}
    pagination = args.get("pagination") if isinstance(args, dict) else None
    return pagination if isinstance(pagination, dict) else {}


def clicked_id(event: Any) -> str | None:
    """The id (a UUID, as text) of the row a `rowClick` (args [event, row, index]) or a
    slot's event (args the row) names; None when a forged event carries anything else."""
    args = getattr(event, "args", None)
    row = args[1] if isinstance(args, list) and len(args) > 1 else args
    value = row.get("id") if isinstance(row, dict) else None
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def clicked_row(event: Any, rows: list[dict[str, Any]], key: str = "id") -> dict[str, Any] | None:
    """The row of `rows` a `rowClick` (args [event, row, index]) or a slot's event (args
    the row) names; None for a row the table did not show (a forged event)."""
    args = getattr(event, "args", None)
    row = args[1] if isinstance(args, list) and len(args) > 1 else args
    if not isinstance(row, dict):
        return None
    return next((r for r in rows if r.get(key) == row.get(key)), None)


def scroll_hint(rows_open: bool) -> str:
    """What a phone's reader is told above a wide table."""
    hint = "Swipe the table sideways to see every column"
    return hint + ("; tap a row to open it." if rows_open else ".")


class PagedTable:
    def __init__(
        self,
        columns: list[dict[str, Any]],
        fetch: Fetch,
        *,
        sort_by: str | None = None,
        descending: bool = True,
        rows_per_page: int = 20,
        marker: str | None = None,
        row_key: str = "id",
        on_row: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
        no_data: str = "Nothing here.",
    ) -> None:
        self.fetch = fetch
        self.default_sort = sort_by
        self.on_row = on_row
        if len(columns) > PHONE_COLUMNS:
            # On a phone only the first columns fit: say the table scrolls (hidden from
            # the `sm` breakpoint up, where the columns fit or the scrollbar shows).
            ui.label(scroll_hint(on_row is not None)).classes(
                "sm:hidden text-xs opacity-70 w-full"
            ).mark("table-scroll-hint")
        with ui.element("div").classes("w-full overflow-x-auto"):
            self.table = ui.table(
                rows=[],
                columns=columns,
                row_key=row_key,
                pagination={
                    "page": 1,
                    "rowsPerPage": rows_per_page,
                    "sortBy": sort_by,
                    "descending": descending,
                    "rowsNumber": 0,
                },
            ).classes("w-full")
        self.table.props("flat bordered")
        self.table.props["rows-per-page-options"] = PAGE_SIZES
        self.table.props["no-data-label"] = no_data
        if on_row is not None:
            self.table.props("row-class=cursor-pointer")
        if marker:
            self.table.mark(marker)
        self.table.on("request", self._requested)
        self.table.on("rowClick", self._clicked)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.table.rows

    async def load(self, pagination: dict[str, Any] | None = None) -> None:
        """Fetch the page `pagination` asks for (default: the current one) and show it."""
        wanted = {**self.table.pagination, **(pagination or {})}
        page, size = page_and_size(wanted)
        sort_by = wanted.get("sortBy")
        # Only a column this table offers to sort by: a forged name sorts by the default.
        sortable = {c["name"] for c in self.table.columns if c.get("sortable")}
        sortable.add(self.default_sort or "")
        sort_by = sort_by if isinstance(sort_by, str) and sort_by in sortable else None
        descending = bool(wanted.get("descending"))
        self.table.props("loading")
        try:
            fetched = await self.fetch(size, (page - 1) * size, sort_by, descending)
        finally:
            self.table.props(remove="loading")
        if fetched is None:
            # Refused (signed out, banned, the role gone): show nothing more.
            self.table.rows = []
            self.table.update()
            return
        rows, total = fetched
        last = max(1, -(-total // size))
        if page > last and total:
            # The list shrank under the viewer (a filter, a ban): show its last page.
            await self.load({**wanted, "page": last})
            return
        self.table.rows = rows
        self.table.pagination = {
            "page": page,
            "rowsPerPage": size,
            "sortBy": sort_by,
            "descending": descending,
            "rowsNumber": total,
        }
        self.table.update()

    async def reload(self, *, first: bool = False) -> None:
        """The current page again (after an action), or the first (after a new filter)."""
        await self.load({"page": 1} if first else None)

    async def _requested(self, event: Any) -> None:
        await self.load(requested_pagination(event))

    async def _clicked(self, event: Any) -> None:
        if self.on_row is None:
            return
        # Only rows this table showed: a forged event names nothing else.
        shown = clicked_row(event, self.table.rows, self.table.row_key)
        if shown is None:
            return
        result = self.on_row(shown)
        if result is not None:
            await result
