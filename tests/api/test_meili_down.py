"""With MEILI_URL naming a server that is down, the app still starts and serves; search
answers UNAVAILABLE with a retry hint (never INTERNAL), and nothing else is affected."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from adapters.search.meilisearch import MeiliSearchIndex
from gavel_app import create_app
from settings import Settings

SEARCH = """query ($q: String) {
  searchAuctions(query: $q, first: 5) { totalCount edges { node { id } } }
}"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def meili_down(settings: Settings) -> AsyncIterator[FastAPI]:
    update = {
        "meili_url": f"http://127.0.0.1:{_closed_port()}",
        "meili_timeout_seconds": 1,
        "run_scheduler": False,
        "run_settlement": False,
        "run_notification_jobs": False,
        "fraud_scorer": False,
    }
    application = create_app(settings.model_copy(update=update), fast_hash=True)
    async with application.router.lifespan_context(application):
        yield application


async def test_search_down_answers_unavailable_and_the_rest_serves(meili_down: FastAPI):
    assert isinstance(meili_down.state.deps.search, MeiliSearchIndex)
    transport = httpx.ASGITransport(app=meili_down)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        body = await client.post("/graphql", json={"query": SEARCH, "variables": {"q": "x"}})
        answer = body.json()
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "UNAVAILABLE"
        assert error["extensions"]["retryAfter"] >= 1
        browse = await client.post("/graphql", json={"query": "{ categories }"})
        assert "errors" not in browse.json(), browse.json()
