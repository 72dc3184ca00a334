"""Who may scrape /metrics (GAVEL_METRICS_ENABLED, GAVEL_METRICS_ALLOWED_NETWORKS)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gavel_app import create_app
from settings import Settings


async def status(app: FastAPI, client: tuple[str, int], **headers: str) -> int:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as c:
        return (await c.get("/metrics", headers=headers)).status_code


async def test_loopback_and_private_networks_may_scrape_by_default(app: FastAPI):
    assert await status(app, ("127.0.0.1", 5000)) == 200
    assert await status(app, ("10.1.2.3", 5000)) == 200
    assert await status(app, ("203.0.113.9", 5000)) == 404


async def test_metrics_can_be_turned_off(settings: Settings):
    off = create_app(settings.model_copy(update={"metrics_enabled": False}), fast_hash=True)
    assert await status(off, ("127.0.0.1", 5000)) == 404


async def test_only_the_allowed_networks_scrape_as_the_proxies_name_them(settings: Settings):
    restricted = create_app(
        settings.model_copy(
            update={
                "metrics_allowed_networks": "192.0.2.0/24",
                "trusted_proxies": "127.0.0.1",
            }
        ),
        fast_hash=True,
    )
    assert await status(restricted, ("127.0.0.1", 5000)) == 404
    assert await status(restricted, ("198.51.100.7", 5000)) == 404
    forwarded = {"X-Forwarded-For": "192.0.2.44"}
    assert await status(restricted, ("127.0.0.1", 5000), **forwarded) == 200
    assert await status(restricted, ("198.51.100.7", 5000), **forwarded) == 404  # not a proxy
