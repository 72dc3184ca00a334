"""Test fixtures: real PostgreSQL, Redis and the Stripe emulator (embedded, throwaway)
and the real ASGI app.

Set DATABASE_URL / REDIS_URL to run against servers of your own instead; the suite then
creates its own databases on that PostgreSQL server. STRIPE_API_KEY=sk_test_... runs the
payment tests against Stripe's test mode instead of the emulator.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI

from adapters.stripe_gateway import StripeGateway, build_gateway
from devservers.stack import StackUrls, embedded_stack
from gavel_app import create_app
from settings import Settings
from tests.helpers import STRIPE_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parent.parent

# The whole suite runs from one address, with hundreds of users bidding at once: the
# limits stay on (their script runs on every bid) but far above what tests do.
# tests/api/test_rate_limits.py tests each limit with low rates of its own.
# App servers the tests start in subprocesses inherit them through the environment.
GENEROUS_LIMITS: dict[str, Any] = {
    "GAVEL_RATE_BID_USER": "100000/1",
    "GAVEL_RATE_BID_USER_AUCTION": "100000/1",
    "GAVEL_RATE_BID_IP": "100000/1",
    "GAVEL_RATE_LOGIN_ACCOUNT": "100000/1",
    "GAVEL_RATE_LOGIN_IP": "100000/1",
    "GAVEL_RATE_REGISTER_IP": "100000/1",
    "GAVEL_RATE_WS_CONNECTIONS_IP": 100000,
    "GAVEL_RATE_WS_SUBSCRIBE": "100000/1",
    "GAVEL_RATE_LISTING_USER": "100000/1",
    "GAVEL_RATE_SEARCH_IP": "100000/1",
}
for _name, _value in GENEROUS_LIMITS.items():
    os.environ.setdefault(_name, str(_value))
# The fraud scorer would hold the suite's young, fast bidders; its own tests
# (tests/integration/test_fraud_*.py) run it against the same servers.
os.environ.setdefault("GAVEL_FRAUD_SCORER", "false")
# NiceGUI is one per process: the suite's many apps leave /admin off; the admin app's
# tests (tests/admin_ui/) run its pages in NiceGUI's user simulation, and its browser
# tests start a server process with GAVEL_ADMIN_UI=true.
os.environ.setdefault("GAVEL_ADMIN_UI", "false")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackUrls]:
    with (
        tempfile.TemporaryDirectory(prefix="gavel-test-") as tmp,
        embedded_stack(Path(tmp), durable=False) as urls,
        _stripe_environment(urls),
    ):
        yield urls


@contextmanager
def _stripe_environment(urls: StackUrls) -> Iterator[None]:
    """App servers the tests start in subprocesses use the session's emulator and webhook
    secret too, never the emulator of a developer's `make run` on the default port."""
    wanted = {"STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET}
    if urls.stripe is not None and urls.stripe_api_base:
        wanted["STRIPE_API_BASE"] = urls.stripe_api_base
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def create_database(server_url: str, name: str) -> str:
    """A fresh, empty database on the same server; returns its SQLAlchemy URL."""
    base, _, _ = server_url.rpartition("/")
    conn = await asyncpg.connect(_dsn(f"{base}/postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


async def migrate(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


@pytest.fixture(scope="session")
async def database_url(stack: StackUrls) -> str:
    url = await create_database(stack.database_url, f"gavel_test_{uuid.uuid4().hex[:8]}")
    await migrate(url)
    return url


@pytest.fixture(scope="session")
def settings(
    database_url: str, stack: StackUrls, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        REDIS_URL=stack.redis_url,
        GAVEL_JWT_SECRET=secrets.token_urlsafe(48),
        GAVEL_DATA_DIR=tmp_path_factory.mktemp("data"),
        # Short auctions let closing tests finish in seconds.
        GAVEL_MIN_AUCTION_SECONDS=2,
        # The session's Stripe emulator (None: STRIPE_API_KEY/STRIPE_API_BASE from the env).
        STRIPE_API_BASE=stack.stripe_api_base,
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        **GENEROUS_LIMITS,
    )


@pytest.fixture(scope="session")
def payment_gateway(settings: Settings) -> StripeGateway:
    """The Stripe adapter on the session's emulator (or Stripe test mode, see above);
    webhooks verify against STRIPE_WEBHOOK_SECRET."""
    return build_gateway(settings)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, fast_hash=True)
    lifespan = application.router.lifespan_context(application)
    await lifespan.__aenter__()
    yield application
    try:
        await asyncio.wait_for(lifespan.__aexit__(None, None, None), 10)
    except TimeoutError:
        for task in asyncio.all_tasks():
            task.print_stack()
        raise


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as c:
        yield c


class GQL:
    """Posts GraphQL documents to the app; `token` sends it as a bearer token."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session")
def gql(client: httpx.AsyncClient) -> GQL:
    return GQL(client)
