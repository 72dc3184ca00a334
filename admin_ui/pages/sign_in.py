"""Sign in and out, and the app's front door.

`/login` takes a Gavel account's email and password (and its MFA code when the account
has MFA on), through the API's login use case: the same rate limits and backoff apply,
and the same refusals are shown. `?next=` returns to the page asked for (only paths of
this app: never another site). `/` sends admins to the overview, sellers to their
listings, and tells other accounts what the app is for.
"""

from __future__ import annotations

from urllib.parse import unquote

from fastapi.responses import Response
from nicegui import ui

from adapters.client_address import client_ip
from admin_ui import session
from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.messages import explain
from admin_ui.shell import PageEnv, PublicEnv, admin_page, redirect
from domain.errors import DomainError
from services import accounts
from services.unavailable import Unavailable
from storage.tables import User


def safe_next(raw: str | None) -> str:
    """`next` if it is a path of this app ("/auctions?x=1"), else "/": a link such as
    `?next=//evil.example` or `?next=https://...` never leads off the app."""
    target = unquote(raw or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@admin_page("/login", title="Sign in", audience="public")
async def sign_in_page(env: PublicEnv) -> None:
    ip = client_ip(env.request.scope, admin_context().deps.trusted_proxies)
    target = safe_next(env.request.query_params.get("next"))
    ui.dark_mode(value=None)
    with ui.column().classes("absolute-center items-stretch w-full max-w-sm p-4 gap-3"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("gavel").classes("text-3xl text-primary")
            ui.label("Gavel").classes("text-2xl font-bold")
        ui.label("Sign in to manage auctions and sales.").classes("opacity-70")
        email = (
            ui.input("Email")
            .props("outlined autocomplete=username type=email autofocus")
            .mark("email")
        )
        password = (
            ui.input("Password", password=True, password_toggle_button=True)
            .props("outlined autocomplete=current-password")
            .mark("password")
        )
        code = (
            ui.input("Authentication code")
            .props("outlined autocomplete=one-time-code inputmode=numeric")
            .mark("otp")
        )
        code.visible = False
        problem = ui.label("").classes("text-negative").mark("sign-in-problem")
        problem.visible = False
        button = ui.button("Sign in").props("unelevated size=lg").classes("w-full").mark("sign-in")

        async def submit() -> None:
            problem.visible = False
            button.props("loading")
            try:
                start = await session.sign_in(
                    str(email.value or ""),
                    str(password.value or ""),
                    code.value or None,
                    ip,
                    then=target,
                )
            except DomainError as err:
                if err.code in ("MFA_REQUIRED", "INVALID_OTP"):
                    code.visible = True
                problem.text = explain(err)
                problem.visible = True
                return
            except Unavailable:
                problem.text = "Gavel's data stores are not answering: try again in a moment."
                problem.visible = True
                return
            finally:
                button.props(remove="loading")
            ui.navigate.to(start)

        button.on_click(submit)
        password.on("keydown.enter", submit)
        code.on("keydown.enter", submit)


@admin_page("/", title="Home", audience="signed_in")
async def home_page(env: PageEnv) -> Response | None:
    if session.is_admin(env.viewer):
        return redirect(env.request, "/overview")
    if session.is_seller(env.viewer):
        return redirect(env.request, "/listings")
    with ui.card().classes("w-full p-8 items-center text-center gap-2").mark("bidder-home"):
        ui.icon("storefront").classes("text-5xl opacity-60")
        ui.label("This app is for sellers and admins").classes("text-xl font-semibold")
        ui.label(
            "Your account bids. Become a seller to list items here: it takes one click,"
            " and your bids and purchases stay as they are."
        ).classes("opacity-70 max-w-prose")

        async def seller_now(viewer: User) -> bool:
            await accounts.become_seller(admin_context().deps, viewer)
            return True

        async def become_seller() -> None:
            if await act(seller_now, audience="signed_in", done="You are a seller now."):
                ui.navigate.to("/listings")

        ui.button("Become a seller", icon="storefront", on_click=become_seller).props(
            "unelevated"
        ).mark("become-seller")
    return None
