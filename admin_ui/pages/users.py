"""Users (admins): find accounts, see their standing, hold, ban and change roles.

The list searches, filters, sorts and pages in PostgreSQL (services/admin_catalog.py
`list_users`). A row opens the account's card: its roles, reputation, open fraud flags,
unpaid strikes, disputes lost, hold and ban, and the decisions, each with a reason and
through `act` (re-authenticated; the use case's refusal shown in words):
hold / release (services/moderation.py `set_hold`), ban (asked once more, naming the
account and what a ban does) / unban (`ban_user`, `unban_user`) and roles
(services/roles.py `set_roles`). `?q=` starts with a search.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from nicegui import ui

from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import when
from admin_ui.messages import empty_state
from admin_ui.paged_table import PagedTable
from admin_ui.shell import PageEnv, admin_page
from domain.enums import Role
from services import admin_catalog, moderation, roles
from services.admin_catalog import UserLine, UserQuery, UserSort
from storage.tables import User

STATES = {
    "all": "Everyone",
    "flagged": "With open fraud flags",
    "held": "On fraud hold",
    "banned": "Banned",
    "clean": "In good standing",
}
SORTS = ("joined", "username", "strikes", "disputes", "flags")
ROLE_FILTERS = {"": "Any role", "SELLER": "Sellers", "ADMIN": "Admins"}

COLUMNS: list[dict[str, Any]] = [
    {"name": "username", "label": "User", "field": "username", "sortable": True, "align": "left"},
    {"name": "email", "label": "Email", "field": "email", "align": "left"},
    {"name": "roles", "label": "Roles", "field": "roles", "align": "left"},
    {"name": "standing", "label": "Standing", "field": "standing", "align": "left"},
    {"name": "reputation", "label": "Reputation", "field": "reputation", "align": "right"},
    {"name": "flags", "label": "Open flags", "field": "flags", "sortable": True},
    {"name": "strikes", "label": "Unpaid strikes", "field": "strikes", "sortable": True},
    {"name": "disputes", "label": "Disputes lost", "field": "disputes", "sortable": True},
    {"name": "joined", "label": "Joined", "field": "joined_text", "sortable": True},
]


def standing(line: UserLine) -> str:
    """ "Banned", "On hold", "3 open flags" or "Good", as the list and the card say it."""
    user = line.user
    if user.banned_at is not None:
        return "Banned"
    if user.fraud_hold:
        return "On hold"
    if line.open_flags:
        return f"{line.open_flags} open flag{'s' if line.open_flags != 1 else ''}"
    return "Good"


def reputation_text(line: UserLine) -> str:
    rep = line.reputation
    if rep.count == 0:
        return "no ratings"
    return f"{rep.score:.2f} ★ ({rep.count})"


@admin_page("/users", title="Users", audience="admin", nav="Users", icon="group", order=20)
async def users_page(env: PageEnv) -> None:
    deps = admin_context().deps
    query: dict[str, Any] = {
        "text": env.request.query_params.get("q", "")[:254],
        "state": "all",
        "role": "",
    }

    with ui.row().classes("w-full items-center gap-2"):
        ui.label("Users").classes("text-2xl font-semibold")
        ui.space()
        total_label = ui.label("").classes("opacity-70").mark("users-total")
    with ui.row().classes("w-full items-end gap-2 flex-wrap"):
        search = (
            ui.input("Username or email starts with", value=query["text"])
            .props("outlined dense clearable")
            .classes("w-full sm:w-72")
            .mark("users-search")
        )
        state = (
            ui.select(STATES, value="all", label="Standing")
            .props("outlined dense")
            .classes("w-full sm:w-56")
            .mark("users-state")
        )
        role = (
            ui.select(ROLE_FILTERS, value="", label="Role")
            .props("outlined dense")
            .classes("w-full sm:w-40")
            .mark("users-role")
        )
        go = ui.button("Search", icon="search").props("unelevated").mark("users-go")
    nothing = ui.column().classes("w-full")

    async def fetch(
        limit: int, offset: int, sort: str | None, descending: bool
    ) -> tuple[list[dict[str, Any]], int] | None:
        wanted = UserQuery(
            text=query["text"] or None,
            state=query["state"],
            role=Role(query["role"]) if query["role"] else None,
            sort=cast(UserSort, sort if sort in SORTS else "joined"),
            descending=descending,
        )
        # Re-authenticated for every read: an open page outlives a ban, a lost role, a sign-out.
        page = await act(
            lambda viewer: admin_catalog.list_users(deps, viewer, wanted, limit, offset),
            audience="admin",
        )
        nothing.clear()
        if page is None:
            total_label.text = ""
            return None
        total_label.text = f"{page.total:,} account{'s' if page.total != 1 else ''}"
        if page.total == 0:
            with nothing:
                empty_state(
                    "No account matches",
                    "Try fewer letters of the name or email, or another standing or role.",
                    icon="person_search",
                )
        return [_row(line, env) for line in page.rows], page.total

    table = PagedTable(
        COLUMNS, fetch, sort_by="joined", marker="users-table", on_row=lambda row: show(row["id"])
    )

    async def apply() -> None:
        query["text"] = str(search.value or "").strip()
        query["state"] = state.value or "all"
        query["role"] = role.value or ""
        go.props("loading")
        try:
            await table.reload(first=True)
        finally:
            go.props(remove="loading")

    go.on_click(apply)
    search.on("keydown.enter", apply)
    state.on_value_change(apply)
    role.on_value_change(apply)

    with (
        ui.dialog().props("position=right full-height") as dialog,
        ui.card().classes("w-full sm:w-[28rem] h-full gap-3").mark("account-card"),
    ):
        card = ui.column().classes("w-full gap-3")

    async def show(user_id: str) -> None:
        async def read(viewer: User) -> tuple[UserLine | None]:
            # Wrapped: None from act means refused, a (None,) means the account is gone.
            return (await admin_catalog.user_line(deps, viewer, uuid.UUID(user_id)),)

        found = await act(read, audience="admin")
        card.clear()
        if found is None:
            dialog.close()
            return
        line = found[0]
        with card:
            if line is None:
                empty_state("This account is gone", "Reload the list.", icon="person_off")
            else:
                _account_card(line, env, after=lambda: changed(user_id))
        dialog.open()

    async def changed(user_id: str) -> None:
        await table.reload()
        await show(user_id)

    await table.load()


def _row(line: UserLine, env: PageEnv) -> dict[str, Any]:
    user = line.user
    return {
        "id": str(user.id),
        "username": user.username,
        "email": user.email,
        "roles": ", ".join(r.title() for r in user.roles),
        "standing": standing(line),
        "reputation": reputation_text(line),
        "flags": line.open_flags,
        "strikes": user.unpaid_strikes,
        "disputes": user.disputes_lost,
        "joined_text": when(user.created_at, env.zone),
    }


def _account_card(line: UserLine, env: PageEnv, *, after: Any) -> None:
    """The account's facts and the admin's decisions on it (each with the reason)."""
    deps = admin_context().deps
    user = line.user
    with ui.row().classes("w-full items-center gap-2"):
        ui.icon("account_circle").classes("text-4xl opacity-70")
        with ui.column().classes("gap-0 min-w-0"):
            ui.label(user.username).classes("text-lg font-semibold truncate").mark("card-username")
            ui.label(user.email).classes("opacity-70 truncate")
        ui.space()
        ui.chip(standing(line)).props(
            "color=negative text-color=white"
            if user.banned_at or user.fraud_hold
            else "color=warning"
            if line.open_flags
            else "color=positive text-color=white"
        ).mark("card-standing")
    with ui.grid(columns=2).classes("w-full gap-x-4 gap-y-1 text-sm"):
        for label, value in (
            ("Roles", ", ".join(r.title() for r in user.roles)),
            ("Reputation", reputation_text(line)),
            ("Open fraud flags", str(line.open_flags)),
            ("Unpaid strikes", str(user.unpaid_strikes)),
            ("Disputes lost", str(user.disputes_lost)),
            ("Email verified", "yes" if user.email_verified_at else "no"),
            ("Two-factor login", "on" if user.mfa_enabled else "off"),
            ("Joined", when(user.created_at, env.zone)),
            ("Banned since", when(user.banned_at, env.zone) if user.banned_at else "—"),
        ):
            ui.label(label).classes("opacity-70")
            ui.label(value)
    ui.link("Audit trail of this account", f"/audit?entity={user.id}").classes("text-sm")
    ui.separator()
    own = user.id == env.viewer.id
    colleague = not own and Role.ADMIN.value in user.roles
    if own:
        ui.label("This is your own account: other admins decide on it.").classes(
            "opacity-70 text-sm"
        )
    elif colleague:
        ui.label("An admin's account: remove the Admin role first to hold or ban it.").classes(
            "opacity-70 text-sm"
        )
    reason = (
        ui.textarea("Reason (kept in the audit log)")
        .props("outlined autogrow maxlength=500 counter")
        .classes("w-full")
        .mark("reason")
    )
    user_id = user.id

    async def run(button: Any, work: Any, done: str) -> None:
        button.props("loading")
        try:
            result = await act(work, audience="admin", done=done)
        finally:
            button.props(remove="loading")
        if result is not None:
            await after()

    def why() -> str:
        return str(reason.value or "")

    decisions = ui.row().classes("w-full gap-2 flex-wrap")
    # Refused for one's own and other admins' accounts (moderation.py): not offered.
    decisions.visible = not (own or colleague)
    with decisions:
        if user.fraud_hold:
            hold = ui.button("Release hold", icon="lock_open").props("outline").mark("release")
            hold.on_click(
                lambda: run(
                    hold,
                    lambda v: moderation.set_hold(deps, v, user_id, False, reason=why()),
                    "Hold released: the account may bid again.",
                )
            )
        else:
            hold = ui.button("Hold bids", icon="back_hand").props("outline color=warning")
            hold.mark("hold")
            hold.on_click(
                lambda: run(
                    hold,
                    lambda v: moderation.set_hold(deps, v, user_id, True, reason=why()),
                    "On hold: its bids are refused and its live bids voided.",
                )
            )
        if user.banned_at is not None:
            ban = ui.button("Unban", icon="how_to_reg").props("outline").mark("unban")
            ban.on_click(
                lambda: run(
                    ban,
                    lambda v: moderation.unban_user(deps, v, user_id, reason=why()),
                    "Unbanned: the account may sign in again.",
                )
            )
        else:
            ban = ui.button("Ban", icon="block").props("unelevated color=negative").mark("ban")
            # A ban ends sessions and voids bids at once: asked once more, naming the account.
            with ui.dialog() as confirm, ui.card().classes("gap-3").mark("ban-confirm"):
                ui.label(f"Ban {user.username}?").classes("text-lg font-semibold")
                ui.label(
                    f"{user.username} is signed out everywhere and every request of the"
                    " account is refused; its live bids on active auctions are voided and"
                    " those auctions recomputed; its open fraud flags are actioned. Unban"
                    " lets it sign in again, but voided bids stay void."
                ).classes("opacity-80 max-w-prose")
                with ui.row().classes("w-full justify-end gap-2"):
                    ui.button("Keep the account", on_click=confirm.close).props("flat").mark(
                        "keep-account"
                    )
                    # no-caps: the account's name as it is spelled, not in capitals.
                    sure = ui.button(f"Ban {user.username}", icon="block").props(
                        "unelevated no-caps color=negative"
                    )
                    sure.mark("confirm-ban")

            async def ban_it() -> None:
                confirm.close()
                await run(
                    ban,
                    lambda v: moderation.ban_user(deps, v, user_id, reason=why()),
                    "Banned: every session ended and its live bids voided.",
                )

            sure.on_click(ban_it)
            ban.on_click(confirm.open)
    ui.label("Roles").classes("font-semibold mt-2")
    with ui.row().classes("w-full items-center gap-4 flex-wrap"):
        ui.checkbox("Bidder", value=True).props("disable").tooltip("Every account bids.")
        seller = ui.checkbox("Seller", value=Role.SELLER.value in user.roles).mark("role-seller")
        admin = ui.checkbox("Admin", value=Role.ADMIN.value in user.roles).mark("role-admin")
        save = ui.button("Save roles", icon="badge").props("outline").mark("save-roles")

    def wanted() -> list[Role]:
        chosen = [Role.BIDDER]
        if seller.value:
            chosen.append(Role.SELLER)
        if admin.value:
            chosen.append(Role.ADMIN)
        return chosen

    save.on_click(
        lambda: run(
            save,
            lambda v: roles.set_roles(deps, v, user_id, wanted(), why()),
            "Roles saved: they apply to the account's next request.",
        )
    )
