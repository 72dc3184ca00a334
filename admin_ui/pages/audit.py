"""The audit log (admins): who did what to which entity, when and why.

Rows come newest first from services/admin_queries.py `list_audit_log` (exact filters on
action, actor, entity type and entity id; its keyset cursors page it: "Older" follows
the last row's cursor, "Newer" goes back). Each row reads as a sentence and opens to its
details: the reason, every changed field as it was and as it is, and the other facts as
JSON. Times are in the viewer's zone. `?entity=<id>` (and `?type=`, `?action=`,
`?actor=`) start with a filter: the Users and auction pages link here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import when
from admin_ui.messages import empty_state
from admin_ui.shell import PageEnv, admin_page
from services import admin_catalog, admin_queries
from services.admin_queries import AuditFilter
from services.paging import Page
from storage.tables import AuditLog, User

PAGE = 20
ENTITY_TYPES = {
    "": "Any entity",
    "user": "Accounts",
    "auction": "Auctions",
    "fraud_flag": "Fraud flags",
    "dispute": "Disputes",
    "transaction": "Sales",
}
KNOWN_ACTIONS = [
    "ban_user",
    "unban_user",
    "hold_account",
    "release_account",
    "set_roles",
    "dismiss_fraud_flag",
    "void_bids",
    "retract_bids",
    "auction.create",
    "auction.update",
    "auction.publish",
    "auction.cancel",
    "auction.feature",
    "auction.unfeature",
    "become_seller",
    "dispute.resolving",
    "dispute.resolved",
    "transaction.refunded",
    "transaction.released",
]


def changed_fields(details: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field the row's before/after name, as text."""
    before = details.get("before") if isinstance(details.get("before"), dict) else {}
    after = details.get("after") if isinstance(details.get("after"), dict) else {}
    assert isinstance(before, dict) and isinstance(after, dict)
    names = list(dict.fromkeys([*before, *after]))
    return [(n, _text(before.get(n, "—")), _text(after.get(n, "—"))) for n in names]


def facts(details: dict[str, Any]) -> dict[str, Any]:
    """The row's other facts (not before, after or reason)."""
    return {k: v for k, v in details.items() if k not in ("before", "after", "reason")}


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@admin_page("/audit", title="Audit log", audience="admin", nav="Audit log", icon="policy", order=90)
async def audit_page(env: PageEnv) -> None:
    deps = admin_context().deps
    params = env.request.query_params
    state: dict[str, Any] = {"cursors": [None], "where": AuditFilter()}

    ui.label("Audit log").classes("text-2xl font-semibold")
    ui.label(
        "Every admin decision and every change to money or bids outside the normal flow,"
        " newest first. Rows cannot be edited or deleted."
    ).classes("opacity-70 text-sm")
    with ui.row().classes("w-full items-end gap-2 flex-wrap"):
        action = (
            ui.input("Action", value=params.get("action", "")[:64], autocomplete=KNOWN_ACTIONS)
            .props("outlined dense clearable")
            .classes("w-full sm:w-52")
            .mark("audit-action")
        )
        actor = (
            ui.input("Done by (username or id)", value=params.get("actor", "")[:64])
            .props("outlined dense clearable")
            .classes("w-full sm:w-56")
            .mark("audit-actor")
        )
        kind = (
            ui.select(
                ENTITY_TYPES,
                value=params.get("type", "") if params.get("type", "") in ENTITY_TYPES else "",
                label="Entity",
            )
            .props("outlined dense")
            .classes("w-full sm:w-40")
            .mark("audit-type")
        )
        entity = (
            ui.input("Entity id", value=params.get("entity", "")[:64])
            .props("outlined dense clearable")
            .classes("w-full sm:w-80")
            .mark("audit-entity")
        )
        go = ui.button("Filter", icon="filter_alt").props("unelevated").mark("audit-go")
    summary = ui.label("").classes("opacity-70 text-sm").mark("audit-summary")
    rows = ui.column().classes("w-full gap-2").mark("audit-rows")
    with ui.row().classes("w-full items-center justify-between"):
        newer = ui.button("Newer", icon="chevron_left").props("flat").mark("audit-newer")
        older = ui.button("Older", icon="chevron_right").props("flat").mark("audit-older")

    async def show(index: int) -> None:
        cursors: list[str | None] = state["cursors"]

        async def read(viewer: User) -> tuple[Page[AuditLog], dict[uuid.UUID, str]]:
            page = await admin_queries.list_audit_log(
                deps, viewer, state["where"], PAGE, cursors[index]
            )
            actors = [r.actor_id for r in page.rows if r.actor_id is not None]
            return page, await admin_catalog.usernames(deps, viewer, actors)

        # Re-authenticated for every read: an open page outlives a ban, a lost role, a
        # sign-out; a refused filter (a NUL byte) is said in words.
        found = await act(read, audience="admin")
        if found is None:
            rows.clear()
            summary.text = ""
            newer.set_enabled(False)
            older.set_enabled(False)
            return
        page, names = found
        del cursors[index + 1 :]
        if page.has_next and page.cursors:
            cursors.append(page.cursors[-1])
        state["index"] = index
        first = index * PAGE + 1
        summary.text = (
            f"{first:,} to {first + len(page.rows) - 1:,} of {page.total:,}"
            if page.rows
            else f"0 of {page.total:,}"
        )
        newer.set_enabled(index > 0)
        older.set_enabled(page.has_next)
        rows.clear()
        with rows:
            if not page.rows:
                empty_state(
                    "Nothing recorded matches",
                    "Action, entity type and ids must match exactly; clear a filter to see more.",
                    icon="policy",
                )
            for row in page.rows:
                _entry(row, names, env)

    async def apply() -> None:
        who = str(actor.value or "").strip()
        actor_id: uuid.UUID | None = None
        if who:

            async def named(viewer: User) -> tuple[User | None]:
                # Wrapped: None from act means refused, a (None,) means no such account.
                return (await admin_catalog.user_by_name_or_id(deps, viewer, who),)

            answer = await act(named, audience="admin")
            found = answer[0] if answer is not None else None
            if found is None:
                state["where"] = None
                rows.clear()
                summary.text = ""
                newer.set_enabled(False)
                older.set_enabled(False)
                if answer is None:
                    return  # refused: act said why
                with rows:
                    empty_state(
                        f"No account is called {who!r}",
                        "Type a username as it is written, or an account's id.",
                        icon="person_search",
                    )
                return
            actor_id = found.id
        state["where"] = AuditFilter(
            action=str(action.value or "").strip() or None,
            actor_id=actor_id,
            entity_type=kind.value or None,
            entity_id=str(entity.value or "").strip() or None,
        )
        state["cursors"] = [None]
        go.props("loading")
        try:
            await show(0)
        finally:
            go.props(remove="loading")

    async def step(delta: int) -> None:
        if state["where"] is not None:
            await show(max(0, state.get("index", 0) + delta))

    go.on_click(apply)
    for field in (action, actor, entity):
        field.on("keydown.enter", apply)
    kind.on_value_change(apply)
    newer.on_click(lambda: step(-1))
    older.on_click(lambda: step(1))
    await apply()


def _entry(row: AuditLog, names: dict[uuid.UUID, str], env: PageEnv) -> None:
    details = row.details if isinstance(row.details, dict) else {}
    who = "the system" if row.actor_id is None else names.get(row.actor_id, str(row.actor_id))
    reason = details.get("reason")
    title = f"{row.action} · {row.entity_type} {row.entity_id[:8]} · by {who}"
    with (
        ui.expansion(title, caption=when(row.at, env.zone, seconds=True), icon="history")
        .classes("w-full border rounded")
        .props("dense")
        .mark("audit-row"),
        ui.column().classes("w-full gap-2 text-sm"),
    ):
        ui.label(f"Entity: {row.entity_type} {row.entity_id}").classes("break-all")
        if isinstance(reason, str):
            ui.label(f"Reason: {reason}").classes("font-medium").mark("audit-reason")
        changes = changed_fields(details)
        if changes:
            with (
                ui.element("div").classes("w-full overflow-x-auto"),
                ui.grid(columns=3).classes("gap-x-4 gap-y-1 min-w-max"),
            ):
                for heading in ("Field", "Before", "After"):
                    ui.label(heading).classes("text-xs uppercase opacity-60")
                for name, before, after in changes:
                    ui.label(name).classes("font-mono")
                    ui.label(before).classes("break-all")
                    ui.label(after).classes("break-all")
        extra = facts(details)
        if extra:
            ui.code(json.dumps(extra, indent=2, ensure_ascii=False), language="json").classes(
                "w-full"
            )
