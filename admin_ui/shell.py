"""Pages, their audience, and the frame every page is drawn in.

A page module declares its pages with `@admin_page(path, title=..., audience=...)` at
import time; `register_pages()` (called by admin_ui/mount.py, and again by each test's
simulation) turns every declared page into a NiceGUI page. A page's build function takes
a `PageEnv` first, then its path parameters as strings:

    @admin_page("/auctions/{auction_id}", title="Auction", audience="admin")
    async def auction_page(env: PageEnv, auction_id: str) -> None: ...

Access (SPEC §9, docs/admin-app.md): nobody signed in is sent to /login (and back
after); "admin" pages are for ADMIN accounts; "seller" pages for SELLER and ADMIN
accounts (each sees only their own listings, buyers and money: the services scope every
read to the viewer); "signed_in" pages for any account. Someone who may not see a page
gets a page that says so and nothing of its content.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import app, core, ui

from admin_ui import session
from admin_ui.formatting import TZ_COOKIE, zone_named
from admin_ui.messages import error_state, explain
from admin_ui.session_store import user_storage
from domain.errors import DomainError
from services.unavailable import Unavailable
from storage.tables import User

log = logging.getLogger("gavel.admin")

Audience = Literal["admin", "seller", "signed_in", "public"]
# A build function draws the page; it may instead return a Response (a redirect).
Build = Callable[..., Awaitable[Response | None]]

# Sets the viewer's timezone cookie on every page, so the next request carries it.
_TZ_SCRIPT = (
    "<script>try{document.cookie='" + TZ_COOKIE + "='+encodeURIComponent("
    "Intl.DateTimeFormat().resolvedOptions().timeZone)+';path=/;max-age=31536000;SameSite=Lax'"
    "}catch(e){}</script>"
)


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    audience: Audience
    build: Build
    nav: str | None = None  # the drawer's label; None: not in the drawer
    icon: str = "chevron_right"
    order: int = 100


@dataclass
class PageEnv:
    """What a page's build function gets: the signed-in `viewer` (re-read at this page
    load), the viewer's `zone`, and the HTTP `request` of the page load."""

    viewer: User
    zone: ZoneInfo
    request: Request

    @property
    def admin(self) -> bool:
        return session.is_admin(self.viewer)


REGISTRY: dict[str, PageSpec] = {}

_REFUSALS: dict[Audience, str] = {
    "admin": "This page is for admins. Your own listings and sales are under Selling.",
    "seller": "This page is for sellers. Become a seller in the Gavel app, then sign in again.",
    "signed_in": "Sign in to see this page.",
    "public": "",
}


def admin_page(
    path: str,
    *,
    title: str,
    audience: Audience,
    nav: str | None = None,
    icon: str = "chevron_right",
    order: int = 100,
) -> Callable[[Build], Build]:
    """Declare a page (see the module's docstring). `nav` puts it in the drawer, in
    `order`, for the viewers its audience admits."""

    def declare(build: Build) -> Build:
        if path in REGISTRY and REGISTRY[path].build is not build:
            raise ValueError(f"two admin pages declare {path!r}")
        REGISTRY[path] = PageSpec(path, title, audience, build, nav, icon, order)
        return build

    return declare


def admits(audience: Audience, viewer: User | None) -> bool:
    if audience == "public":
        return True
    if viewer is None:
        return False
    if audience == "admin":
        return session.is_admin(viewer)
    if audience == "seller":
        return session.is_seller(viewer) or session.is_admin(viewer)
    return True


def declared_pages() -> list[PageSpec]:
    """Every page of admin_ui.pages (importing its modules declares them)."""
    import admin_ui.pages as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return list(REGISTRY.values())


def register_pages() -> None:
    """Make each declared page a NiceGUI page."""
    from admin_ui.session import session_start

    # Plain HTTP: signing in gives the browser a new session cookie (admin_ui/session.py).
    core.app.add_route("/session/start", session_start, methods=["GET"])
    for spec in declared_pages():
        ui.page(spec.path, title=f"{spec.title} · Gavel")(_page_function(spec))


def _page_function(spec: PageSpec) -> Callable[..., Awaitable[Any]]:
    params = [p for name, p in inspect.signature(spec.build).parameters.items() if name != "env"]

    async def page(request: Request, **path_params: str) -> Response | None:
        ui.add_head_html(_TZ_SCRIPT)
        # The script sends the zone URI-encoded ("America%2FNew_York").
        zone = zone_named(unquote(request.cookies.get(TZ_COOKIE) or ""))
        viewer = None if spec.audience == "public" else await _viewer_or_none()
        if spec.audience != "public" and viewer is None:
            return RedirectResponse(login_url(request))
        if spec.audience == "public":
            return await spec.build(PublicEnv(zone=zone, request=request), **path_params)
        assert viewer is not None
        env = PageEnv(viewer=viewer, zone=zone, request=request)
        with frame(env, spec):
            if not admits(spec.audience, viewer):
                error_state("Not for this account", _REFUSALS[spec.audience], icon="lock")
                return None
            try:
                answer = await spec.build(env, **path_params)
                if answer is not None:
                    return answer
            except DomainError as err:
                error_state("This page cannot be shown", explain(err), icon="error_outline")
            except Unavailable:
                error_state(
                    "Gavel's data stores are not answering",
                    "PostgreSQL or Redis is down or slow. Nothing was changed; reload the page"
                    " in a moment.",
                    icon="cloud_off",
                )
        return None

    page.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            *[p.replace(annotation=str) for p in params],
        ]
    )
    page.__name__ = spec.build.__name__
    page.__module__ = spec.build.__module__
    return page


@dataclass
class PublicEnv:
    """What a public page (sign-in) gets: no viewer."""

    zone: ZoneInfo
    request: Request


async def _viewer_or_none() -> User | None:
    try:
        return await session.signed_in_user()
    except Unavailable:
        return None


def prefix(request: Request) -> str:
    """Where the app is mounted ("/admin"; "" in the test simulation)."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def redirect(request: Request, path: str) -> RedirectResponse:
    """A redirect to `path` of this app ("/overview"), wherever the app is mounted."""
    return RedirectResponse(prefix(request) + path)


def login_url(request: Request) -> str:
    here = request.url.path
    root = prefix(request)
    inner = here[len(root) :] if root and here.startswith(root) else here
    if request.url.query:
        inner += "?" + request.url.query
    return f"{root}/login?next={quote(inner or '/', safe='')}"


def nav_entries(viewer: User) -> list[PageSpec]:
    return sorted(
        (s for s in REGISTRY.values() if s.nav and admits(s.audience, viewer)),
        key=lambda s: (s.order, s.nav or ""),
    )


class frame:
    """The frame around a page: header (menu, title, dark mode, account, sign out), a
    drawer with the pages the viewer may open (open on wide screens, a menu on phones),
    and the content column the page draws into."""

    def __init__(self, env: PageEnv, spec: PageSpec) -> None:
        self.env = env
        self.spec = spec
        self._content: Any = None

    def __enter__(self) -> Any:
        env, spec = self.env, self.spec
        # A `truncate` label in a card (a flex column that does not stretch its items)
        # would keep its full width and make a 390-px phone scroll sideways.
        ui.add_css(".truncate { max-width: 100%; }")
        dark = ui.dark_mode(value=app.storage.user.get("dark"))
        with ui.header(elevated=True).classes("items-center gap-2 px-3 py-2 bg-primary"):
            drawer_button = ui.button(icon="menu").props("flat round color=white dense")
            ui.link("Gavel", "/").classes("text-lg font-bold text-white no-underline")
            ui.label(spec.title).classes("text-white opacity-80 truncate")
            ui.space()

            async def toggle_dark() -> None:
                value = not bool(dark.value)
                dark.value = value
                (await user_storage())["dark"] = value

            ui.button(icon="dark_mode", on_click=toggle_dark).props(
                "flat round color=white dense"
            ).tooltip("Light or dark")
            account = ui.button(icon="account_circle").props("flat round color=white dense")
            with account, ui.menu():
                ui.menu_item(f"{env.viewer.username} · {', '.join(env.viewer.roles)}")
                ui.menu_item("Sign out", on_click=_sign_out).mark("sign-out")
        with ui.left_drawer(value=None, bordered=True).classes("p-2") as drawer:
            _nav(env.viewer, spec.path)
        drawer_button.on_click(drawer.toggle)
        self._content = ui.column().classes("w-full max-w-screen-xl mx-auto p-3 sm:p-4 gap-4")
        self._content.__enter__()
        return self._content

    def __exit__(self, *exc: object) -> None:
        self._content.__exit__(*exc)


def _nav(viewer: User, current: str) -> None:
    section = None
    for spec in nav_entries(viewer):
        heading = "Admin" if spec.audience == "admin" else "Selling"
        if heading != section:
            section = heading
            ui.label(heading).classes("text-xs uppercase opacity-60 mt-3 ml-2")
        with (
            ui.link(target=spec.path).classes("no-underline w-full"),
            ui.row().classes(
                "items-center gap-3 px-3 py-2 rounded w-full hover:bg-gray-500/10"
                + (" bg-primary/10 font-semibold" if spec.path == current else "")
            ),
        ):
            ui.icon(spec.icon).classes("text-lg")
            ui.label(spec.nav or spec.title)


async def _sign_out() -> None:
    await session.sign_out()
    ui.navigate.to("/login")
