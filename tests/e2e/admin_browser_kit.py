"""The admin app in a real browser: the seeded demo served as `make run` serves it, and
Debian's chromium driven by Playwright (tests/e2e/test_admin_browser.py).

- `seeded_demo`: a database of its own with the demo seeds loaded the way `make run`
  loads them (`python -m seeds`: rows, demo sales through the Stripe emulator, the
  search index), so other tests' counts never see the demo rows.
- `AdminTab`: one browser tab on /admin, with the steps people take (sign in, open a
  page, toggle dark mode, open the drawer) and the checks the issue asks for (no
  horizontal overflow at 390 px), and `shoot` for the screenshots.

Screenshots go to `test-artifacts/admin/` (git-ignored). With GAVEL_SCREENSHOTS_DIR set
(`make screenshots` sets docs/screenshots), the README's set is written there as well.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import create_database, migrate

# Chromium is launched as the GraphiQL browser test launches it (Debian's, by path; its
# own background traffic off: the machine may have no network).
from tests.e2e.test_graphiql_browser import CHROMIUM as CHROMIUM
from tests.e2e.test_graphiql_browser import CHROMIUM_ARGS as CHROMIUM_ARGS
from tests.e2e.test_graphiql_browser import LOCAL_HOSTS as LOCAL_HOSTS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "admin"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The viewer's zone: not the server's (UTC), so dates shown in it are visibly converted.
VIEWER_ZONE = "America/New_York"

# The seeded demo's accounts (seeds/builder.py; the README lists them).
ADMIN_EMAIL = "admin@gavel.test"
ADMIN_PASSWORD = "gavel-admin-password"
DEMO_PASSWORD = "gavel-demo-password"


def browser_or_skip() -> None:
    """Skip (saying why) only when chromium is missing and cannot be installed here."""
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        pytest.fail("chromium is missing: `make test` (its `browser` step) installs it")
    pytest.skip("Debian's chromium is not installed and apt-get cannot install it here")


async def seeded_demo(server_url: str, env: dict[str, str]) -> str:
    """A new database on the session's PostgreSQL server, migrated and seeded with
    `python -m seeds` (as `make run` does) under `env` (its REDIS_URL, Stripe); returns
    its URL."""
    url = await create_database(server_url, f"gavel_admin_e2e_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    started = time.monotonic()
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "seeds"],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "seeds.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"the demo seeds did not load:\n{result.stdout}\n{result.stderr}")
    print(f"demo seeded in {time.monotonic() - started:.1f}s")
    return url


# Which helper of issue 17 builds each page (their branches are merged into this one).
BUILDERS = {
    "/overview": "A",
    "/health": "A",
    "/users": "B",
    "/auctions": "B",
    "/audit": "B",
    "/fraud": "C",
    "/disputes": "C",
    "/money": "C",
    "/listings": "D",
    "/listings/new": "D",
    "/live": "E",
    "/analytics": "E",
    "/sales": "E",
}


async def served(base: str, path: str) -> bool:
    """Whether the app serves `path` (anonymous: a page it serves sends to sign in; one
    it lacks answers 404)."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        answer = await client.get(f"/admin{path}", follow_redirects=False)
    return answer.status_code != 404


async def require_pages(base: str, *paths: str) -> None:
    """Skip, naming the missing page, when the app does not serve one of `paths` yet."""
    for path in paths:
        if not await served(base, path):
            who = BUILDERS.get(path)
            by = f" (helper {who}'s branch i17-{who.lower()})" if who else ""
            pytest.skip(f"the admin app has no page {path} yet{by}")


def screenshot_dirs() -> list[Path]:
    dirs = [ARTIFACTS]
    if extra := os.environ.get("GAVEL_SCREENSHOTS_DIR", "").strip():
        path = Path(extra)
        dirs.append(path if path.is_absolute() else ROOT / path)
    return dirs


@dataclass
class Watch:
    """What a tab did that it should not: errors in the page, requests off this machine."""

    outside: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_TOO_WIDE = """() => {
  const width = window.innerWidth, found = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    if (el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1) continue;
    const text = (el.innerText || '').trim().split('\\n')[0].slice(0, 40);
    const tag = `<${el.tagName.toLowerCase()} class="${el.className}">`;
    found.push(`${tag} ${text} (to ${Math.round(box.right)} px)`);
  }
  return found.slice(0, 5);
}"""


class AdminTab:
    """One browser context and tab on the admin app at `base` + /admin."""

    def __init__(self, page: Any, base: str, watch: Watch) -> None:
        self.page = page
        self.base = base
        self.watch = watch

    @classmethod
    async def open_new(
        cls,
        browser: Any,
        base: str,
        *,
        viewport: dict[str, int] | None = None,
        dark: bool = False,
    ) -> AdminTab:
        context = await browser.new_context(
            viewport=viewport or DESKTOP,
            timezone_id=VIEWER_ZONE,
            locale="en-US",
            color_scheme="dark" if dark else "light",
            device_scale_factor=1,
        )
        watch = Watch()

        async def only_this_machine(route: Any) -> None:
            if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
                await route.continue_()
            else:
                watch.outside.append(route.request.url)
                await route.abort("internetdisconnected")

        await context.route("**/*", only_this_machine)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: watch.problems.append(f"page error: {exc}"))
        return cls(page, base, watch)

    async def close(self) -> None:
        await self.page.context.close()

    def url(self, path: str) -> str:
        return f"{self.base}/admin{path}"

    @property
    def path(self) -> str:
        """The current page's path inside the app ("/overview"), query included."""
        parts = urlsplit(self.page.url)
        inner = parts.path.removeprefix("/admin") or "/"
        return inner + (f"?{parts.query}" if parts.query else "")

    async def goto(self, path: str) -> Any:
        """Open `path` of the app and wait until NiceGUI's page is connected."""
        answer = await self.page.goto(self.url(path))
        await self.settled()
        return answer

    async def settled(self) -> None:
        """The page drew its content and its socket is connected (NiceGUI updates flow)."""
        await self.page.wait_for_load_state("load")
        await self.page.wait_for_function("() => window.did_handshake === true", timeout=15_000)
        await self.page.wait_for_load_state("networkidle")

    async def sign_in(self, email: str, password: str, *, next_path: str = "/") -> None:
        """Sign in through the form of /login, as a person does; waits to leave /login."""
        await self.goto(f"/login?next={next_path}")
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password", exact=True).fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url(lambda url: "/admin/login" not in url, timeout=15_000)
        await self.settled()

    async def sign_out(self) -> None:
        await self.page.locator("header button").filter(has_text="account_circle").click()
        await self.page.get_by_text("Sign out").click()
        await self.page.wait_for_url(lambda url: "/admin/login" in url, timeout=15_000)
        await self.settled()

    async def toggle_dark(self) -> None:
        await self.page.locator("header button").filter(has_text="dark_mode").click()

    async def is_dark(self) -> bool:
        dark: bool = await self.page.evaluate(
            "() => document.body.classList.contains('body--dark')"
        )
        return dark

    def drawer(self) -> Any:
        return self.page.locator(".q-drawer").first

    async def drawer_shown(self) -> bool:
        """The drawer is on screen (Quasar slides it out of view when closed)."""
        box = await self.drawer().bounding_box()
        if box is None:
            return False
        width: int = await self.page.evaluate("() => window.innerWidth")
        return bool(box["x"] + box["width"] > 1 and box["x"] < width)

    async def open_menu(self) -> None:
        await self.page.locator("header button").filter(has_text="menu").first.click()
        await self.page.wait_for_timeout(400)  # Quasar's slide-in transition

    async def overflow_px(self) -> int:
        """How far the page is wider than the window (0: no horizontal scrolling)."""
        extra: int = await self.page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
        return max(0, extra)

    async def too_wide(self) -> list[str]:
        """The outermost elements that reach past the window's right edge (what makes a
        page scroll sideways), for the failure's message."""
        found: list[str] = await self.page.evaluate(_TOO_WIDE)
        return found

    async def shoot(self, name: str, *, readme: bool = False) -> Path:
        """Screenshot the page as `name`.png in test-artifacts/admin/ (and, for the
        README's set, in GAVEL_SCREENSHOTS_DIR when it is set)."""
        await self.page.wait_for_load_state("networkidle")
        # No tooltip of the last button clicked; charts animate in, notifications settle.
        size = self.page.viewport_size or DESKTOP
        await self.page.mouse.move(size["width"] - 2, size["height"] - 2)
        await self.page.wait_for_timeout(400)
        dirs = screenshot_dirs() if readme else [ARTIFACTS]
        first = dirs[0] / f"{name}.png"
        for folder in dirs:
            folder.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(first), full_page=False)
        for folder in dirs[1:]:
            shutil.copyfile(first, folder / f"{name}.png")
        return first

    async def text(self) -> str:
        body: str = await self.page.locator("body").inner_text()
        return body


# --- the seeded demo's rows the screenshots open ---------------------------------------


async def fetch(database_url: str, query: str, *args: Any) -> list[Any]:
    """Rows of `query` on the demo database (reads only: the tests change nothing
    behind the app's back)."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


SEEDED_LIVE_ENGLISH = """
SELECT a.id::text FROM auctions a JOIN users u ON u.id = a.seller_id
WHERE u.email LIKE '%@gavel.test' AND a.status = 'ACTIVE' AND a.type = 'ENGLISH'
ORDER BY a.ends_at LIMIT 12"""
MINIMUM = "query($id: ID!) { auction(id: $id) { minimumNextBid { amount } } }"
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken } }"""
PLACE_BID = """mutation($a: ID!, $amount: Decimal!) { placeBid(auctionId: $a, amount: $amount) {
  __typename } }"""


async def demo_bids(gql: Any, database_url: str, count: int) -> int:
    """`count` bids by seeded bidders on seeded live English auctions, at each one's
    minimum next bid, through GraphQL (as `make run`'s demo activity places them), so
    the overview's chart and the tickers have something live to show. Returns how many
    were accepted."""
    auctions = [row[0] for row in await fetch(database_url, SEEDED_LIVE_ENGLISH)]
    bidders = [
        row[0]
        for row in await fetch(
            database_url,
            "SELECT email FROM users WHERE roles = '{BIDDER}' AND email LIKE '%@gavel.test'"
            " AND banned_at IS NULL AND NOT fraud_hold ORDER BY email LIMIT 8",
        )
    ]
    tokens = []
    for email in bidders:
        login = await gql(LOGIN, {"email": email, "password": DEMO_PASSWORD})
        if token := (login.get("data") or {}).get("login", {}).get("accessToken"):
            tokens.append(token)
    accepted = 0
    for i in range(count):
        if not auctions or not tokens:
            break
        auction = auctions[i % len(auctions)]
        state = await gql(MINIMUM, {"id": auction})
        minimum = (((state.get("data") or {}).get("auction") or {}).get("minimumNextBid")) or {}
        if "amount" not in minimum:
            continue
        bid = await gql(
            PLACE_BID, {"a": auction, "amount": minimum["amount"]}, token=tokens[i % len(tokens)]
        )
        accepted += (bid.get("data") or {}).get("placeBid", {}).get("__typename") == "BidAccepted"
    return accepted
