"""GraphiQL in a real browser with no internet: Debian's chromium, driven by Playwright.

The app runs in its own uvicorn process, as `make run` starts it. Every request the page
makes to a host other than this machine is refused (and recorded), so the page can only
work from what the app serves. Through GraphiQL's own editors the test sets an
Authorization header, runs a query that needs it, and subscribes to `auctionUpdated`
over graphql-transport-ws, seeing a bid placed from the test arrive.

Chromium comes from Debian (`make test` installs it where apt-get is available); without
it, and without a way to install it, the test skips and says why. Playwright only drives
the browser: its own browser downloads are never used.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from devservers.app_server import app_server
from schema.graphiql_assets import present
from settings import Settings
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, create_auction, register

CHROMIUM = Path("/usr/bin/chromium")
# Chromium's own background traffic (updates, sync, ...) is off: this machine has no
# network, and the test is about what the page itself asks for.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

ME = "query Me { me { email user { username } } }"
SUBSCRIBE = """subscription Live {
  auctionUpdated(auctionId: "%s", sinceSequence: 0) { sequence kind currentPrice { amount } }
}"""


def _browser_or_skip() -> None:
    if not CHROMIUM.exists():
        if shutil.which("apt-get") and os.geteuid() == 0:
            pytest.fail("chromium is missing: `make test` (its `browser` step) installs it")
        pytest.skip("Debian's chromium is not installed and apt-get cannot install it here")
    if not present():
        if shutil.which("npm"):
            pytest.fail("GraphiQL's assets are missing: run `make venv`")
        pytest.skip("GraphiQL's assets are missing and npm, which fetches them, is not installed")


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    _browser_or_skip()
    env = {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "GAVEL_JWT_SECRET": "e2e-graphiql-" + "x" * 40,
        "GAVEL_DATA_DIR": str(settings.data_dir),
        "GAVEL_RATE_LIMITS": "false",
    }
    with app_server(env) as base:
        yield base


@pytest.fixture
async def gql(server: str) -> AsyncIterator[GQL]:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield GQL(client)


class GraphiQLPage:
    """GraphiQL's editors, reached the way its own UI changes them (CodeMirror's API on the
    editor a user types into; GraphiQL listens to the editor's changes)."""

    def __init__(self, page: Any) -> None:
        self.page = page

    async def _editor(self, selector: str) -> Any:
        editor = self.page.locator(selector).first
        await editor.wait_for(state="visible", timeout=15_000)
        return editor

    async def ready(self) -> None:
        await self._editor(".graphiql-query-editor .CodeMirror")

    async def set_query(self, text: str) -> None:
        editor = await self._editor(".graphiql-query-editor .CodeMirror")
        await editor.evaluate("(el, text) => el.CodeMirror.setValue(text)", text)
        # GraphiQL re-parses the query (its operation name) 100 ms after an edit, debounced.
        await self.page.wait_for_timeout(500)

    async def set_headers(self, headers: dict[str, str]) -> None:
        await self.page.get_by_role("button", name="Headers", exact=True).click()
        editor = await self._editor(
            ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
        )
        await editor.evaluate("(el, text) => el.CodeMirror.setValue(text)", json.dumps(headers))

    async def run(self) -> None:
        await self.page.locator(".graphiql-execute-button").click()

    async def response(self) -> str:
        editor = await self._editor(".graphiql-response .CodeMirror")
        text: str = await editor.evaluate("el => el.CodeMirror.getValue()")
        return text

    async def wait_for_response(self, predicate: Any, polls: int = 150) -> dict[str, Any]:
        """The response pane's JSON, once `predicate` holds for it (polled every 0.1 s)."""
        text = ""
        for _ in range(polls):
            text = await self.response()
            try:
                body: dict[str, Any] = json.loads(text) if text.strip() else {}
            except json.JSONDecodeError:
                body = {}
            if body and predicate(body):
                return body
            await self.page.wait_for_timeout(100)
        raise AssertionError(f"GraphiQL's response pane never matched: {text!r}")


async def test_graphiql_works_offline_with_auth_and_live_subscriptions(
    server: str, gql: GQL, tmp_path: Path
) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright

    seller = await register(gql, seller=True)
    alice, bob = await register(gql), await register(gql)
    auction = await create_auction(gql, seller)
    published = await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    first = await gql(BID, {"id": auction["id"], "amount": "100"}, token=alice.token)
    assert first["data"]["placeBid"]["__typename"] == "BidAccepted", first

    outside: list[str] = []
    problems: list[str] = []
    sent_frames: list[str] = []

    async def only_this_machine(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    def record_console(kind: str, text: str) -> None:
        if kind == "error":
            problems.append(f"console error: {text}")

    def record_frame(payload: str | bytes) -> None:
        sent_frames.append(payload if isinstance(payload, str) else payload.decode())

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            await context.route("**/*", only_this_machine)
            page = await context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: record_console(msg.type, msg.text))
            page.on("websocket", lambda ws: ws.on("framesent", record_frame))
            answer = await page.goto(server + "/graphql")
            assert answer is not None and answer.status == 200
            graphiql = GraphiQLPage(page)
            try:
                await graphiql.ready()
            except PlaywrightTimeout:
                raise AssertionError(
                    f"GraphiQL never rendered; requests refused for leaving this machine:"
                    f" {outside}; {problems}"
                ) from None

            # A query that needs the Authorization header set in the Headers editor.
            await graphiql.set_headers({"Authorization": f"Bearer {alice.token}"})
            await graphiql.set_query(ME)
            await graphiql.run()
            body = await graphiql.wait_for_response(lambda b: "data" in b or "errors" in b)
            assert body == {
                "data": {"me": {"email": alice.email, "user": {"username": alice.username}}}
            }

            # A subscription: the replayed first bid, then a bid placed now, live.
            await graphiql.set_query(SUBSCRIBE % auction["id"])
            await graphiql.run()
            replayed = await graphiql.wait_for_response(lambda b: "data" in b or "errors" in b)
            assert replayed["data"]["auctionUpdated"]["sequence"] == 1, replayed
            second = await gql(BID, {"id": auction["id"], "amount": "150"}, token=bob.token)
            assert second["data"]["placeBid"]["__typename"] == "BidAccepted", second
            live = await graphiql.wait_for_response(
                lambda b: b.get("data", {}).get("auctionUpdated", {}).get("sequence") == 2
            )
            assert live["data"]["auctionUpdated"] == {
                "sequence": 2,
                "kind": "BID_ACCEPTED",
                "currentPrice": {"amount": "150.00"},
            }
        finally:
            await context.close()

    # The socket was opened by GraphiQL with the header editor's JSON as its payload.
    inits = [json.loads(f) for f in sent_frames if '"connection_init"' in f]
    assert inits and inits[0]["payload"] == {"Authorization": f"Bearer {alice.token}"}, inits
    assert outside == [], f"the page asked hosts other than this machine: {outside}"
    # Nothing the page ran broke its Content-Security-Policy (a violation is a console
    # error): scripts from the app and one inline script, allowed by its nonce.
    assert problems == [], problems
    assert "script-src 'self' 'nonce-" in answer.headers["content-security-policy"]
