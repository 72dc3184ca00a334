"""The admin and seller app at /admin in real headless Chromium, on the seeded demo.

One app server for the module, started as `make run` starts it (its own uvicorn process,
GAVEL_ADMIN_UI=true) on a database of its own loaded with the demo seeds, and one
Debian chromium driven by Playwright (never its own browser downloads); every tab is a
fresh browser context in the viewer's zone (America/New_York) that may not reach any
host but this machine. The flows are the issue's: sign in as admin and as a seller,
create and publish a listing, a bid placed through GraphQL on the seller's live ticker
within a second, resolve a dispute, void a flagged bidder's bids and see the price
recomputed, sign out; plus the phone width (390 px: the drawer is a menu, nothing
scrolls sideways) and dark mode. Screenshots of every main page go to
test-artifacts/admin/; `make screenshots` also writes the README's set to docs/screenshots.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from devservers.app_server import app_server
from devservers.stack import StackUrls
from tests.conftest import GQL
from tests.e2e.admin_browser_kit import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    PHONE,
    AdminTab,
    browser_or_skip,
    require_pages,
    seeded_demo,
    served,
)
from tests.helpers import PASSWORD, own_redis_db, register

pytestmark = pytest.mark.slow

ADMIN_E2E_REDIS_DB = 11
ADMIN_PAGES = (
    "/overview",
    "/users",
    "/auctions",
    "/fraud",
    "/disputes",
    "/money",
    "/health",
    "/audit",
)
SELLER_PAGES = ("/listings", "/listings/new", "/live", "/analytics", "/sales")
MAIN_PAGES = ADMIN_PAGES + SELLER_PAGES  # its own live auctions: no other persister sweeps them


@dataclass
class Demo:
    base: str
    database_url: str
    seller_email: str


@pytest.fixture(scope="module")
async def demo(stack: StackUrls, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    browser_or_skip()
    env = {
        "REDIS_URL": own_redis_db(stack.redis_url, ADMIN_E2E_REDIS_DB),
        "GAVEL_DATA_DIR": str(tmp_path_factory.mktemp("admin-e2e")),
        "GAVEL_JWT_SECRET": "e2e-admin-" + "x" * 40,
        "GAVEL_ADMIN_UI": "true",
        "GAVEL_ADMIN_STORAGE_SECRET": "e2e-admin-storage-" + "y" * 30,
        "GAVEL_ADMIN_REFRESH_SECONDS": "1",
    }
    env["DATABASE_URL"] = await seeded_demo(stack.database_url, env)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "server.log").unlink(missing_ok=True)
    server = app_server(env, log_file=ARTIFACTS / "server.log")
    base = await asyncio.to_thread(server.__enter__)
    try:
        yield Demo(base, env["DATABASE_URL"], await _busiest_seller(env["DATABASE_URL"]))
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


async def _busiest_seller(database_url: str) -> str:
    """The seeded seller (not the admin) with the most sales: the fullest seller pages."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        email: str = await conn.fetchval(
            "SELECT u.email FROM users u LEFT JOIN transactions t ON t.seller_id = u.id"
            " WHERE u.email LIKE '%@gavel.test' AND 'SELLER' = ANY(u.roles)"
            " AND NOT 'ADMIN' = ANY(u.roles)"
            " GROUP BY u.id ORDER BY count(t.id) DESC, u.username LIMIT 1"
        )
    finally:
        await conn.close()
    return email


@pytest.fixture(scope="module")
async def browser(demo: Demo) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def tabs(browser: Any, demo: Demo) -> AsyncIterator[list[AdminTab]]:
    """The tabs a test opens (`tab` below); each closed after the test, and none may have
    asked another host or thrown an error in the page."""
    opened: list[AdminTab] = []
    yield opened
    for tab in opened:
        await tab.close()
    for tab in opened:
        assert tab.watch.outside == [], f"the page asked hosts off this machine: {tab.watch}"
        assert tab.watch.problems == [], tab.watch.problems


async def tab(
    tabs: list[AdminTab], browser: Any, demo: Demo, *, viewport: dict[str, int] | None = None
) -> AdminTab:
    opened = await AdminTab.open_new(browser, demo.base, viewport=viewport)
    tabs.append(opened)
    return opened


@pytest.fixture
async def gql(demo: Demo) -> AsyncIterator[GQL]:
    """GraphQL on the demo server (not the session's in-process app)."""
    async with httpx.AsyncClient(base_url=demo.base, timeout=10) as client:
        yield GQL(client)


# --- signing in and out -------------------------------------------------------------


async def test_anonymous_visitor_is_sent_to_sign_in(
    browser: Any, demo: Demo, tabs: list[AdminTab]
) -> None:
    anonymous = await tab(tabs, browser, demo)
    for path in ("/", *MAIN_PAGES):
        if not await served(demo.base, path):
            continue
        await anonymous.goto(path)
        assert anonymous.path.startswith("/login?next="), (path, anonymous.path)
        await anonymous.page.get_by_role("button", name="Sign in").wait_for()
    await anonymous.shoot("sign-in", readme=True)


async def test_admin_signs_in_and_lands_on_the_overview(
    browser: Any, demo: Demo, tabs: list[AdminTab]
) -> None:
    await require_pages(demo.base, "/overview")
    admin = await tab(tabs, browser, demo)
    await admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert admin.path == "/overview", admin.path
    assert "admin · ADMIN" in await _account_menu(admin)


async def test_seller_signs_in_and_lands_on_their_listings(
    browser: Any, demo: Demo, tabs: list[AdminTab]
) -> None:
    await require_pages(demo.base, "/listings")
    seller = await tab(tabs, browser, demo)
    await seller.sign_in(demo.seller_email, DEMO_PASSWORD)
    assert seller.path == "/listings", seller.path


async def test_sign_in_returns_to_the_page_asked_for(
    browser: Any, demo: Demo, tabs: list[AdminTab]
) -> None:
    await require_pages(demo.base, "/analytics")
    seller = await tab(tabs, browser, demo)
    await seller.goto("/analytics")
    assert seller.path.startswith("/login?next="), seller.path
    await seller.page.get_by_label("Email").fill(demo.seller_email)
    await seller.page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    await seller.page.get_by_role("button", name="Sign in").click()
    await seller.page.wait_for_url(lambda url: url.endswith("/admin/analytics"))


async def test_wrong_password_is_refused_in_words(
    browser: Any, demo: Demo, tabs: list[AdminTab]
) -> None:
    someone = await tab(tabs, browser, demo)
    await someone.goto("/login")
    await someone.page.get_by_label("Email").fill(ADMIN_EMAIL)
    await someone.page.get_by_label("Password", exact=True).fill("not the password")
    await someone.page.get_by_role("button", name="Sign in").click()
    await someone.page.get_by_text("The email or the password is wrong.").wait_for()
    assert someone.path == "/login"


async def test_seller_and_bidder_get_nothing_of_admin_pages(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    seller = await tab(tabs, browser, demo)
    await seller.sign_in(demo.seller_email, DEMO_PASSWORD)
    bidder_account = await register(gql)
    bidder = await tab(tabs, browser, demo)
    await bidder.sign_in(bidder_account.email, PASSWORD)
    await bidder.page.get_by_text("This app is for sellers and admins").wait_for()
    admin_pages = [p for p in ADMIN_PAGES if await served(demo.base, p)]
    if not admin_pages:
        pytest.skip("the admin app has no admin pages yet (helpers A, B and C)")
    for who in (seller, bidder):
        for path in admin_pages:
            await who.goto(path)
            await who.page.get_by_text("Not for this account").wait_for()
            assert who.path == path


async def test_sign_out_ends_the_session(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    bidder = await register(gql)
    someone = await tab(tabs, browser, demo)
    await someone.sign_in(bidder.email, PASSWORD)
    await someone.sign_out()
    assert someone.path.startswith("/login"), someone.path
    await someone.goto("/")
    assert someone.path.startswith("/login?next="), someone.path


# --- phone width and dark mode ------------------------------------------------------


async def test_the_drawer_is_a_menu_on_a_phone_and_nothing_scrolls_sideways(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    phone = await tab(tabs, browser, demo, viewport=PHONE)
    await phone.goto("/login")
    assert await phone.overflow_px() == 0, "the sign-in page scrolls sideways at 390 px"
    await _sign_in_to_a_framed_page(phone, demo, gql)
    assert not await phone.drawer_shown(), "the drawer covers the page at 390 px"
    await phone.open_menu()
    assert await phone.drawer_shown(), "the menu button does not open the drawer"
    wide = [path for path in MAIN_PAGES if await served(demo.base, path)]
    for path in wide:
        await phone.goto(path)
        assert await phone.overflow_px() == 0, f"{path} scrolls sideways at 390 px"


async def test_dark_mode_toggles_and_is_remembered(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    admin = await tab(tabs, browser, demo)
    await _sign_in_to_a_framed_page(admin, demo, gql)
    before = await admin.is_dark()
    await admin.toggle_dark()
    await admin.page.wait_for_function(DARK % ("false" if before else "true"))
    await admin.goto(admin.path)
    assert await admin.is_dark() is not before, "dark mode is forgotten on the next page"
    await admin.toggle_dark()
    await admin.page.wait_for_function(DARK % ("true" if before else "false"))


DARK = "() => document.body.classList.contains('body--dark') === %s"


async def _sign_in_to_a_framed_page(tab_: AdminTab, demo: Demo, gql: GQL) -> None:
    """Sign in and open a page drawn in the app's frame (header, drawer): the admin on
    the first main page the app serves, or, before there is one, a bidder on /."""
    for path in MAIN_PAGES:
        if await served(demo.base, path):
            await tab_.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, next_path=path)
            return
    bidder = await register(gql)
    await tab_.sign_in(bidder.email, PASSWORD)


async def _account_menu(tab_: AdminTab) -> str:
    await tab_.page.locator("header button").filter(has_text="account_circle").click()
    menu = tab_.page.locator(".q-menu").last
    await menu.wait_for()
    text: str = await menu.inner_text()
    await tab_.page.keyboard.press("Escape")
    return text
