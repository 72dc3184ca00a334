"""System health (admin_ui/pages/health.py, services/admin_dashboard.py): every check,
a store that is down or hangs reported in words without breaking the page, this
process's figures, and who may see it."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator
from functools import partial

import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from nicegui.testing.user import User as SimulatedUser
from prometheus_client import CollectorRegistry, Counter, Histogram

from gavel_app import lag_readings
from services.admin_dashboard import process_figures
from settings import Settings
from tests.admin_ui.conftest import admin_context_of
from tests.admin_ui.simulation import admin_simulation
from tests.admin_ui.steps import sign_in
from tests.admin_ui.test_overview import element
from tests.api.settlement_steps import make_admin
from tests.conftest import GQL
from tests.helpers import register

CHECKS = ("postgresql", "redis", "search", "stripe", "persister-lag", "closer-lag")


async def test_admin_sees_every_check_and_this_process(
    ui_user: SimulatedUser, gql: GQL, app: FastAPI
) -> None:
    admin = await make_admin(gql, app)
    await sign_in(ui_user, admin, next_path="/health")
    for name in CHECKS:
        await ui_user.should_see(marker=f"check-{name}")
    for name in ("postgresql", "redis", "search", "stripe"):
        assert element(ui_user, f"check-{name}-state").text == "ok", name
    assert element(ui_user, "check-postgresql-summary").text.startswith("PostgreSQL ")
    assert "used" in element(ui_user, "check-redis-summary").text
    search = element(ui_user, "check-search-summary").text
    assert re.search(r": (1 document|[\d,]+ documents)$", search), search
    assert element(ui_user, "check-stripe-summary").text.startswith("emulator")
    await ui_user.should_see(marker="process-figures")
    for figure in ("Accepted", "WebSockets open", "Batches written", "Freshness lag, median"):
        await ui_user.should_see(figure)

    ui_user.find(marker="health-refresh").click()
    await ui_user.should_see(marker="check-postgresql")


@pytest.mark.parametrize("role", ["seller", "bidder"])
async def test_other_accounts_get_nothing_of_it(
    ui_user: SimulatedUser, gql: GQL, role: str
) -> None:
    account = await register(gql, seller=role == "seller")
    await sign_in(ui_user, account, next_path="/health")
    await ui_user.should_see("Not for this account")
    for name in CHECKS:
        await ui_user.should_not_see(marker=f"check-{name}")
    await ui_user.should_not_see(marker="process-figures")


async def test_anonymous_visitor_is_sent_to_sign_in(ui_user: SimulatedUser) -> None:
    await ui_user.open("/health")
    await ui_user.should_see(marker="sign-in")
    await ui_user.should_not_see(marker="process-figures")


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers (a store that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()


async def closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port


@pytest.mark.parametrize("kind", ["refused", "hanging"])
async def test_a_redis_that_is_down_is_reported_and_the_page_still_works(
    gql: GQL, app: FastAPI, settings: Settings, silent_server: int, kind: str
) -> None:
    """The page's Redis is one that refuses or never answers (the session's Redis keeps
    serving sign-in): Redis and the lags fail in words, PostgreSQL is still checked."""
    port = await closed_port() if kind == "refused" else silent_server
    broken = aioredis.from_url(f"redis://127.0.0.1:{port}", socket_connect_timeout=5)
    context = dataclasses.replace(
        admin_context_of(app, settings),
        redis=broken,
        lag_readings=partial(lag_readings, broken, settings),
    )
    admin = await make_admin(gql, app)
    try:
        async with admin_simulation(context) as user:
            started = time.perf_counter()
            await sign_in(user, admin, next_path="/health")
            await user.should_see(marker="check-redis", retries=50)
            assert time.perf_counter() - started < 6  # the checks' timeout, not a hang
            assert element(user, "check-redis-state").text == "failing"
            problem = element(user, "check-redis-problem").text
            expected = "cannot connect" if kind == "refused" else "no answer within 2 s"
            assert expected in problem, problem
            assert element(user, "check-persister-lag-state").text == "failing"
            assert element(user, "check-postgresql-state").text == "ok"
            await user.should_see("Failing: Redis, Persister lag, Closer lag")
    finally:
        await broken.aclose()


def test_process_figures_read_this_registry() -> None:
    registry = CollectorRegistry()
    seconds = Histogram(
        "gavel_bid_seconds", "bid time", ["outcome"], buckets=(0.001, 0.01), registry=registry
    )
    accepted = Counter("gavel_bids_accepted", "accepted", registry=registry)
    for value in (0.0005, 0.0005, 0.0005, 0.005):
        seconds.labels("accepted").observe(value)
        accepted.inc()
    seconds.labels("error").observe(0.5)
    figures = {f.label: f.value for f in process_figures(registry)}
    assert figures["Accepted"] == "4"
    assert figures["Failed (errors)"] == "1"
    assert figures["Decision time, median"] == "≤ 1 ms"
    assert figures["Decision time, 99th percentile"] == "≤ 10 ms"
    assert figures["WebSockets open"] == "0"
    assert figures["Freshness lag, median"] == "—"
