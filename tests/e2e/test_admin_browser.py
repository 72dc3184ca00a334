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
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from devservers.app_server import app_server
from devservers.stack import StackUrls
from tests.api.mfa_steps import enable_mfa
from tests.api.settlement_steps import (
    DISPUTE,
    GOOD_CARD,
    PAY,
    PURCHASES,
    SAVE_CARD,
    SHIP,
    TRANSACTION,
)
from tests.conftest import GQL
from tests.e2e.admin_browser_kit import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    PHONE,
    ROOT,
    AdminTab,
    browser_or_skip,
    demo_bids,
    fetch,
    require_pages,
    seeded_demo,
    served,
)
from tests.helpers import (
    BID,
    BUY_NOW,
    PASSWORD,
    PUBLISH,
    Account,
    create_auction,
    own_redis_db,
    register,
)

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
    env: dict[str, str]
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
        "GAVEL_SETTLEMENT_INTERVAL": "0.5",  # a bought item's sale opens at once
    }
    env["DATABASE_URL"] = await seeded_demo(stack.database_url, env)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "server.log").unlink(missing_ok=True)
    server = app_server(env, log_file=ARTIFACTS / "server.log")
    base = await asyncio.to_thread(server.__enter__)
    try:
        yield Demo(base, env, await _busiest_seller(env["DATABASE_URL"]))
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)


async def _busiest_seller(database_url: str) -> str:
    """The seeded seller (not the admin) with live auctions and the most sales: the
    fullest seller pages."""
    rows = await fetch(
        database_url,
        "SELECT u.email FROM users u LEFT JOIN transactions t ON t.seller_id = u.id"
        " WHERE u.email LIKE '%@gavel.test' AND 'SELLER' = ANY(u.roles)"
        " AND NOT 'ADMIN' = ANY(u.roles) GROUP BY u.id"
        " ORDER BY EXISTS (SELECT 1 FROM auctions a WHERE a.seller_id = u.id"
        " AND a.status = 'ACTIVE') DESC, count(t.id) DESC, u.username LIMIT 1",
    )
    email: str = rows[0][0]
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
    await anonymous.shoot("sign-in")


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


async def test_an_account_with_mfa_signs_in_with_its_code(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    account = await register(gql)
    mfa = await enable_mfa(gql, account)
    someone = await tab(tabs, browser, demo)
    await someone.goto("/login")
    page = someone.page
    await page.get_by_label("Email").fill(account.email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("This account uses two-factor authentication").wait_for()
    code = page.get_by_label("Authentication code")
    await code.fill(mfa.code_not_near_now(10))
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("That code is wrong or was already used").wait_for()
    assert someone.path == "/login"
    await code.fill(mfa.code(1))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/admin/login" not in url)
    await page.get_by_text("This app is for sellers and admins").wait_for()


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


async def test_a_seller_gets_nothing_of_another_sellers_listing(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    pages = ("/listings/{}/live", "/listings/{}/edit", "/auctions/{}")
    for path in pages:
        await require_pages(demo.base, path.format(NO_ID))
    other = await register(gql, seller=True)
    title = f"Someone else's gramophone {uuid.uuid4().hex[:6]}"
    auction = await create_auction(gql, other, title=title)
    published = await gql(PUBLISH, {"id": auction["id"]}, token=other.token)
    assert published["data"]["publishAuction"]["errors"] == [], published

    seller = await tab(tabs, browser, demo)
    await seller.sign_in(demo.seller_email, DEMO_PASSWORD)
    for path in pages:
        await seller.goto(path.format(auction["id"]))
        shown = await seller.text()
        assert title not in shown, f"{path} showed another seller's listing"
        assert "$100.00" not in shown, f"{path} showed another seller's price"
    await seller.goto("/listings")
    assert title not in await seller.text()


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


async def test_a_cookie_planted_before_sign_in_stays_signed_out(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    """Session fixation: an attacker takes a signed cookie from /admin/login and plants it
    in the victim's browser; the victim signs in with it; the attacker's copy must still be
    nobody's (signing in starts a new session: admin_ui/session.py)."""
    async with httpx.AsyncClient(base_url=demo.base, timeout=10) as attacker:
        first = await attacker.get("/admin/login")
        planted = attacker.cookies.get("gavel_admin_session")
        assert planted, dict(attacker.cookies)
        flags = first.headers.get("set-cookie", "").lower()
        assert "httponly" in flags and "samesite=lax" in flags, flags
        victim = await register(gql, seller=True)
        victim_tab = await tab(tabs, browser, demo)
        await victim_tab.page.context.add_cookies(
            [{"name": "gavel_admin_session", "value": planted, "url": demo.base}]
        )
        await victim_tab.sign_in(victim.email, PASSWORD, next_path="/listings")
        assert victim_tab.path.startswith("/listings"), victim_tab.path
        page = await attacker.get("/admin/listings", follow_redirects=False)
    assert page.status_code == 307 and "/login" in page.headers["location"]


# --- several processes (docs/admin-app.md "Running several processes") --------------


async def test_a_browser_signed_in_on_one_process_is_signed_in_on_another(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    """The session storage is in Redis: a second admin process with the same secret and
    Redis knows the browser (cookies are per host, not per port, so the tab sends the
    same cookie to both)."""
    someone = await tab(tabs, browser, demo)
    await _sign_in_to_a_framed_page(someone, demo, gql)
    signed_in_at = someone.path
    second = app_server(demo.env, log_file=ARTIFACTS / "server-2.log")
    other = await asyncio.to_thread(second.__enter__)
    try:
        await someone.page.goto(f"{other}/admin{signed_in_at}")
        await someone.settled()
        assert someone.page.url == f"{other}/admin{signed_in_at}", someone.page.url
        await someone.page.locator("header").get_by_text("Gavel", exact=True).wait_for()
        await someone.sign_out()  # on the second process: the first forgets it too
    finally:
        await asyncio.to_thread(second.__exit__, None, None, None)
    await someone.goto(signed_in_at)
    assert someone.path.startswith("/login?next="), someone.path


async def test_a_process_with_the_admin_app_off_says_so(client: httpx.AsyncClient) -> None:
    """GAVEL_ADMIN_UI=false (the test session's app): /admin is another process's."""
    for path in ("/admin", "/admin/", "/admin/login", "/admin/overview"):
        answer = await client.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.text == "The admin app is not served by this process."


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
    ids = await _demo_ids(demo)
    pages = [path for path in MAIN_PAGES if await served(demo.base, path)]
    for template in DETAIL_PAGES:
        if await served(demo.base, _pattern_of(template)):
            pages.append(template.format(**ids))
    for path in pages:
        await phone.goto(path)
        assert await phone.overflow_px() == 0, (
            f"{path} scrolls sideways at 390 px: {await phone.too_wide()}"
        )


# Pages of one object an admin opens (filled in from the seeded demo by `_demo_ids`).
DETAIL_PAGES = (
    "/auctions/{auction}",
    "/disputes/{dispute}",
    "/money/{sale}",
    "/listings/{own_auction}/live",
)


async def test_dark_mode_toggles_and_is_remembered(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    admin = await tab(tabs, browser, demo)
    await _sign_in_to_a_framed_page(admin, demo, gql)
    assert await admin.drawer_shown(), "the drawer is not open beside the page at 1280 px"
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


# --- screenshots of every main page ---------------------------------------------------


@dataclass(frozen=True)
class Shot:
    name: str  # the file's name, without .png
    path: str  # the page; "{auction}", "{dispute}", "{own_auction}", "{draft}" are filled in
    readme: bool = False  # also one of the README's (GAVEL_SCREENSHOTS_DIR)


ADMIN_SHOTS = (
    Shot("admin-overview", "/overview", readme=True),
    Shot("admin-users", "/users", readme=True),
    Shot("admin-auctions", "/auctions"),
    Shot("admin-auction", "/auctions/{auction}", readme=True),
    Shot("admin-fraud", "/fraud", readme=True),
    Shot("admin-disputes", "/disputes"),
    Shot("admin-dispute", "/disputes/{dispute}", readme=True),
    Shot("admin-money", "/money"),
    Shot("admin-sale", "/money/{sale}"),
    Shot("admin-health", "/health", readme=True),
    Shot("admin-audit", "/audit"),
)
SELLER_SHOTS = (
    Shot("seller-listings", "/listings", readme=True),
    Shot("seller-listing-form", "/listings/new", readme=True),
    Shot("seller-listing-edit", "/listings/{draft}/edit"),
    Shot("seller-live", "/live"),
    Shot("seller-monitor", "/listings/{own_auction}/live", readme=True),
    Shot("seller-analytics", "/analytics", readme=True),
    Shot("seller-sales", "/sales", readme=True),
)
PHONE_ADMIN_SHOTS = (
    Shot("phone-overview", "/overview", readme=True),
    Shot("phone-fraud", "/fraud"),
    Shot("phone-users", "/users"),
)
PHONE_SELLER_SHOTS = (
    Shot("phone-monitor", "/listings/{own_auction}/live", readme=True),
    Shot("phone-listings", "/listings"),
)
# What a page says when it could not be drawn (admin_ui/shell.py, admin_ui/messages.py).
BROKEN = ("This page cannot be shown", "Gavel's data stores are not answering", "Not for this")


async def _demo_ids(demo: Demo) -> dict[str, str]:
    """The seeded rows the screenshots open: the busiest live auction, the open dispute,
    the seller's busiest live auction and one of their drafts."""
    url = demo.env["DATABASE_URL"]
    ids: dict[str, str] = {}
    for key, query, args in (
        (
            "auction",
            "SELECT a.id::text FROM auctions a WHERE a.status = 'ACTIVE'"
            " ORDER BY (SELECT count(*) FROM bids b WHERE b.auction_id = a.id) DESC LIMIT 1",
            (),
        ),
        (
            "dispute",
            "SELECT id::text FROM disputes ORDER BY status = 'OPEN' DESC, created_at LIMIT 1",
            (),
        ),
        (
            "sale",
            "SELECT transaction_id::text FROM disputes"
            " ORDER BY status = 'OPEN' DESC, created_at LIMIT 1",
            (),
        ),
        (
            "own_auction",
            "SELECT a.id::text FROM auctions a JOIN users u ON u.id = a.seller_id"
            " WHERE u.email = $1 AND a.status = 'ACTIVE'"
            " ORDER BY (SELECT count(*) FROM bids b WHERE b.auction_id = a.id) DESC LIMIT 1",
            (demo.seller_email,),
        ),
        (
            "draft",
            "SELECT a.id::text FROM auctions a JOIN users u ON u.id = a.seller_id"
            " WHERE u.email = $1 AND a.status IN ('DRAFT', 'SCHEDULED') LIMIT 1",
            (demo.seller_email,),
        ),
    ):
        rows = await fetch(url, query, *args)
        if rows:
            ids[key] = rows[0][0]
    return ids


async def _shoot_all(
    who: AdminTab, demo: Demo, shots: tuple[Shot, ...], ids: dict[str, str], missing: list[str]
) -> None:
    for shot in shots:
        try:
            path = shot.path.format(**ids)
        except KeyError as absent:
            missing.append(f"{shot.path} (the demo has no {absent.args[0]})")
            continue
        if not await served(demo.base, _pattern_of(shot.path)):
            missing.append(shot.path)
            continue
        await who.goto(path)
        shown = await who.text()
        broken = [words for words in BROKEN if words in shown]
        assert not broken, f"{path} drew {broken}: {shown[:500]}"
        if who.page.viewport_size["width"] <= PHONE["width"]:
            assert await who.overflow_px() == 0, (
                f"{path} scrolls sideways at 390 px: {await who.too_wide()}"
            )
        await who.shoot(shot.name, readme=shot.readme)


def _pattern_of(path: str) -> str:
    """A path `served` can ask anonymously: ids made up (the page exists or it does not)."""
    return re.sub(r"\{[a-z_]+\}", NO_ID, path)


NO_ID = "00000000-0000-0000-0000-000000000000"


async def test_screenshots_of_every_main_page(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    """Every main page, drawn without an error state from the seeded demo, at 1280x800
    (admin and seller), a few at 390x844, and the overview in dark mode too."""
    ids = await _demo_ids(demo)
    assert await demo_bids(gql, demo.env["DATABASE_URL"], 12) > 0  # the overview's chart moves
    missing: list[str] = []

    admin = await tab(tabs, browser, demo)
    await admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/")
    await _shoot_all(admin, demo, ADMIN_SHOTS, ids, missing)
    if await served(demo.base, "/overview"):
        await admin.goto("/overview")
        await admin.toggle_dark()
        await admin.page.wait_for_function(DARK % "true")
        await admin.shoot("admin-overview-dark", readme=True)
        await admin.toggle_dark()

    seller = await tab(tabs, browser, demo)
    await seller.sign_in(demo.seller_email, DEMO_PASSWORD, next_path="/")
    await _shoot_all(seller, demo, SELLER_SHOTS, ids, missing)

    phone_admin = await tab(tabs, browser, demo, viewport=PHONE)
    await phone_admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/")
    await _shoot_all(phone_admin, demo, PHONE_ADMIN_SHOTS, ids, [])
    phone_seller = await tab(tabs, browser, demo, viewport=PHONE)
    await phone_seller.sign_in(demo.seller_email, DEMO_PASSWORD, next_path="/")
    await _shoot_all(phone_seller, demo, PHONE_SELLER_SHOTS, ids, [])

    if missing:
        pytest.skip(f"no screenshot of pages the app does not serve yet: {', '.join(missing)}")


# --- the seller's live monitor --------------------------------------------------------


async def test_a_bid_placed_through_graphql_is_on_the_sellers_ticker_within_a_second(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    await require_pages(demo.base, f"/listings/{NO_ID}/live")
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller, startingPrice="100.00")
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    bidder = await register(gql)

    monitor = await tab(tabs, browser, demo)
    await monitor.sign_in(seller.email, PASSWORD, next_path=f"/listings/{auction['id']}/live")
    ticker = monitor.page.locator(".q-card").filter(has_text="Bid ticker")
    await ticker.get_by_text("No bids yet").wait_for()
    # Times in the viewer's zone (the tab's: America/New_York), not the server's UTC.
    await monitor.page.get_by_text(re.compile(r"^Ends .* E[SD]T$")).wait_for()

    started = time.monotonic()
    placed = await gql(BID, {"id": auction["id"], "amount": "137.00"}, token=bidder.token)
    assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed
    await ticker.get_by_text("137.00").first.wait_for(timeout=5_000)
    elapsed = time.monotonic() - started
    print(f"a GraphQL bid reached the seller's ticker in {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0, f"the bid reached the ticker after {elapsed:.2f}s"
    await monitor.shoot("seller-monitor-after-bid")


# --- the admin's queues ---------------------------------------------------------------


async def test_admin_voids_a_flagged_bidders_bids_and_sees_the_price_recomputed(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    await require_pages(demo.base, "/fraud")
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller, startingPrice="100.00")
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    honest, shill = await register(gql), await register(gql)
    for who, amount in ((honest, "120.00"), (shill, "150.00")):
        placed = await gql(BID, {"id": auction["id"], "amount": amount}, token=who.token)
        assert placed["data"]["placeBid"]["__typename"] == "BidAccepted", placed
    before = await _price(gql, auction["id"])
    await add_flag(demo, shill.id, auction["id"])

    admin = await tab(tabs, browser, demo)
    await admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/fraud")
    card = admin.page.locator(".q-card").filter(has_text=shill.username)
    await card.get_by_text("Signals that fired").wait_for()
    await card.get_by_role("button", name="Void bids").click()
    dialog = admin.page.locator(".q-dialog")
    await dialog.get_by_label("Reason (kept in the audit log)").fill("Shill bidding for the seller")
    await dialog.get_by_role("button", name="Void bids").click()
    report = admin.page.locator(".q-card").filter(has_text=" voided on ")
    await report.wait_for()
    after = await _price(gql, auction["id"])
    assert after != before, (before, after)
    assert f"Price ${before} → ${after}" in await report.inner_text()
    await admin.shoot("admin-fraud-after-void")


async def test_admin_resolves_a_dispute_with_a_partial_refund(
    browser: Any, demo: Demo, tabs: list[AdminTab], gql: GQL
) -> None:
    await require_pages(demo.base, "/disputes", f"/disputes/{NO_ID}")
    sale = await _disputed_sale(gql)

    admin = await tab(tabs, browser, demo)
    await admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, next_path="/disputes")
    row = admin.page.locator("tr").filter(has_text=sale.buyer.username)
    await row.get_by_role("button", name="Open").click()
    await admin.page.wait_for_url(lambda url: "/admin/disputes/" in url)
    await admin.settled()
    await admin.page.get_by_text("What happened").wait_for()
    await admin.page.get_by_text("Partial refund, the rest to the seller").click()
    amount = admin.page.get_by_label("Refund amount (USD)")
    # More than the buyer paid: the domain's refusal is shown under the field.
    await amount.fill("500.00")
    await admin.page.get_by_role("button", name="Resolve the dispute").click()
    field = admin.page.locator(".q-field").filter(has=amount)
    await field.locator(".q-field__messages").filter(has_text=re.compile(r"\S")).wait_for()
    await amount.fill("30.00")
    await admin.page.get_by_role("button", name="Resolve the dispute").click()
    await admin.page.get_by_text("Refunded $30.00 to the buyer.").wait_for()
    txn = await _transaction(gql, sale)
    assert txn["dispute"]["resolution"] == "REFUND_PARTIAL", txn["dispute"]
    assert txn["dispute"]["refundAmount"] == {"amount": "30.00"}, txn["dispute"]
    await admin.shoot("admin-dispute-resolved")


PRICE = "query($id: ID!) { auction(id: $id) { currentPrice { amount } } }"


async def _price(gql: GQL, auction_id: str) -> str:
    body = await gql(PRICE, {"id": auction_id})
    amount: str = body["data"]["auction"]["currentPrice"]["amount"]
    return amount


async def add_flag(demo: Demo, user_id: str, auction_id: str) -> None:
    """A fraud flag as the fraud rules store one (tests/api/admin_steps.py's shape); the
    demo server runs no scorer, so the test raises it."""
    details = (
        '{"signals": [{"name": "bidder_tendency", "value": 0.9, "weight": 30, '
        '"explanation": "90% of their bids go to one seller"}]}'
    )
    await fetch(
        demo.env["DATABASE_URL"],
        "INSERT INTO fraud_flags (id, user_id, auction_id, rule, score, details, status,"
        " created_at) VALUES (gen_random_uuid(), $1::uuid, $2::uuid, 'shill_bidding', 95,"
        " $3::jsonb, 'OPEN', now())",
        user_id,
        auction_id,
        details,
    )


@dataclass
class DisputedSale:
    buyer: Account
    transaction_id: str


async def _disputed_sale(gql: GQL) -> DisputedSale:
    """A sale of its own, made as people make one through GraphQL: bought now, paid with
    the emulator's test card, shipped, then disputed by the buyer."""
    seller, buyer = await register(gql, seller=True), await register(gql)
    auction = await create_auction(gql, seller, buyNowPrice="120.00")
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["errors"] == [], published
    bought = await gql(BUY_NOW, {"id": auction["id"]}, token=buyer.token)
    assert bought["data"]["buyNow"]["__typename"] == "BidAccepted", bought
    txn_id = None
    for _ in range(100):  # the settlement worker opens the sale (GAVEL_SETTLEMENT_INTERVAL)
        body = await gql(PURCHASES, token=buyer.token)
        edges = body["data"]["me"]["purchases"]["edges"]
        if edges:
            txn_id = edges[0]["node"]["id"]
            break
        await asyncio.sleep(0.2)
    assert txn_id, "the sale was never opened"
    for doc, variables, who in (
        (SAVE_CARD, {"pm": GOOD_CARD}, buyer),
        (PAY, {"id": txn_id}, buyer),
        (SHIP, {"id": txn_id, "carrier": "UPS", "tracking": "1Z999AA10123456784"}, seller),
        (
            DISPUTE,
            {"id": txn_id, "reason": "NOT_AS_DESCRIBED", "message": "The lens is scratched."},
            buyer,
        ),
    ):
        body = await gql(doc, variables, token=who.token)
        result = next(iter(body["data"].values()))
        assert result["errors"] == [], (doc, result)
    return DisputedSale(buyer, txn_id)


async def _transaction(gql: GQL, sale: DisputedSale) -> dict[str, Any]:
    body = await gql(TRANSACTION, {"id": sale.transaction_id}, token=sale.buyer.token)
    txn: dict[str, Any] = body["data"]["transaction"]
    return txn


# --- the seller's listings ------------------------------------------------------------


async def test_seller_creates_and_publishes_a_dutch_listing_with_an_image(
    browser: Any, demo: Demo, tabs: list[AdminTab], tmp_path: Path
) -> None:
    await require_pages(demo.base, "/listings", "/listings/new")
    title = f"Brass ship's clock {uuid.uuid4().hex[:6]}"
    picture = tmp_path / "clock.png"
    Image.new("RGB", (640, 480), color=(181, 137, 61)).save(picture, "PNG")

    seller = await tab(tabs, browser, demo)
    await seller.sign_in(demo.seller_email, DEMO_PASSWORD, next_path="/listings/new")
    page = seller.page
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Description").fill("Chelsea ship's bell clock, 1950s, keeps time.")
    await _pick(page, "Auction type", "Dutch (descending clock)")
    # The English terms are gone, the Dutch clock's are there.
    await page.get_by_label("Floor price").wait_for()
    assert not await page.get_by_label("Buy-now price").is_visible()
    await page.get_by_label("Starting price").fill("200.00")
    await page.get_by_label("Floor price").fill("250.00")
    await page.get_by_label("Price step").fill("10.00")
    await page.get_by_label("Step every (seconds)").fill("60")
    await page.locator("input[type=file]").set_input_files(str(picture))
    await page.locator("img[src^='data:image/png']").wait_for()  # the preview

    # A floor above the start: the domain's refusal appears next to the floor.
    await page.get_by_role("button", name="Publish").click()
    floor = page.locator(".q-field--error").filter(has=page.get_by_label("Floor price"))
    await floor.get_by_text("Floor price must be below").wait_for()
    await page.get_by_label("Floor price").fill("50.00")
    await page.get_by_role("button", name="Publish").click()
    await page.wait_for_url(lambda url: url.endswith("/admin/listings"))
    await seller.settled()
    await page.get_by_text("Published: bidding is open.").wait_for()
    row = page.locator("tr").filter(has_text=title)
    await row.wait_for()
    assert "Live" in await row.inner_text()

    rows = await fetch(
        demo.env["DATABASE_URL"],
        "SELECT a.type, a.status, a.starting_price, a.dutch_floor,"
        " (SELECT count(*) FROM item_images m WHERE m.item_id = i.id)"
        " FROM auctions a JOIN items i ON i.id = a.item_id WHERE i.title = $1",
        title,
    )
    assert [tuple(r) for r in rows] == [("DUTCH", "ACTIVE", 20000, 5000, 1)], rows
    await seller.shoot("seller-listings-after-publish")


async def test_a_listing_rows_actions_are_a_menu_that_fits(
    browser: Any, demo: Demo, tabs: list[AdminTab]
) -> None:
    """At 1280 px the actions column is inside the table (one ⋮ button a row); its menu
    names each action, and choosing one does it."""
    await require_pages(demo.base, "/listings")
    seller = await tab(tabs, browser, demo)
    await seller.sign_in(demo.seller_email, DEMO_PASSWORD, next_path="/listings")
    page = seller.page
    table = page.locator(".q-table__container").first
    await table.wait_for()
    button = page.get_by_role("button", name="Actions for this listing").first
    edge = await table.bounding_box()
    box = await button.bounding_box()
    assert edge is not None and box is not None
    assert box["x"] + box["width"] <= edge["x"] + edge["width"], (box, edge)
    await button.click()
    menu = page.locator(".q-menu").last
    await menu.get_by_text("Live monitor").wait_for()
    await menu.get_by_text("Live monitor").click()
    await page.wait_for_url(lambda url: url.endswith("/live"))


async def _pick(page: Any, label: str, option: str) -> None:
    """Choose `option` in the Quasar select labelled `label`, as a person does."""
    await page.get_by_label(label).click()
    await page.locator(".q-menu .q-item").filter(has_text=option).click()


def test_the_readme_shows_the_screenshots_these_tests_make() -> None:
    """Every screenshot the README shows is committed and is one `make screenshots`
    writes, so refreshing them never leaves one behind."""
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"docs/screenshots/([a-z0-9-]+)\.png", readme))
    made = {
        shot.name
        for shot in ADMIN_SHOTS + SELLER_SHOTS + PHONE_ADMIN_SHOTS + PHONE_SELLER_SHOTS
        if shot.readme
    } | {"admin-overview-dark"}
    assert shown, "the README shows no screenshot of the admin app"
    assert shown <= made, f"the README shows screenshots no test makes: {shown - made}"
    missing = [
        name for name in sorted(shown) if not (ROOT / f"docs/screenshots/{name}.png").exists()
    ]
    assert not missing, f"run `make screenshots`: missing {missing}"
