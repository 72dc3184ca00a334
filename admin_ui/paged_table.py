"""A table whose rows come from the server a page at a time (the admin app's UX rule:
tables paginate, sort and filter on the server).

    table = PagedTable(columns, fetch, sort_by="joined", marker="users-table")
    await table.load()            # the first page
    await table.reload(first=True)  # after a filter changed

`fetch(limit, offset, sort_by, descending)` returns `(rows, total)`; the table is
Quasar's in server mode (`pagination.rowsNumber` set): the browser asks for a page, a
page size or a sort with a `request` event and shows only what comes back. Columns with
`sortable: True` sort by their `name`, which `fetch` maps to a service sort. The table
sits in a horizontally scrolling box so it works on a phone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

Fetch = Callable[[int, int, str | None, bool], Awaitable[tuple[list[dict[str, Any]], int]]]

PAGE_SIZES = [10, 20, 50, 100]


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
        self.on_row = on_row
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
        size = int(wanted.get("rowsPerPage") or 20)
        size = size if size in PAGE_SIZES else 20
        page = max(1, int(wanted.get("page") or 1))
        sort_by = wanted.get("sortBy") or None
        descending = bool(wanted.get("descending"))
        self.table.props("loading")
        try:
            rows, total = await self.fetch(size, (page - 1) * size, sort_by, descending)
        finally:
            self.table.props(remove="loading")
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
        args = event.args
        if isinstance(args, list):
            args = args[0] if args else {}
        pagination = args.get("pagination") if isinstance(args, dict) else None
        await self.load(pagination if isinstance(pagination, dict) else None)

    async def _clicked(self, event: Any) -> None:
        if self.on_row is None:
            return
        args = event.args
        row = args[1] if isinstance(args, list) and len(args) > 1 else args
        if not isinstance(row, dict):
            return
        # Only rows this table showed: a forged event names nothing else.
        key = self.table.row_key
        shown = next((r for r in self.table.rows if r.get(key) == row.get(key)), None)
        if shown is None:
            return
        result = self.on_row(shown)
        if result is not None:
            await result
