"""GAVEL_ENV=production: refuses unsafe settings at start-up, and once running hides the
schema (no introspection, no "Did you mean" hints, no GraphiQL) and requires a verified
email to bid. Each behaviour is compared with the development app of the other tests."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gavel_app import create_app
from settings import ProductionConfigError, Settings, production_problems
from tests.conftest import GQL
from tests.helpers import BID, PUBLISH, create_auction, register


def _production(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "GAVEL_DATA_DIR": settings.data_dir,
        "GAVEL_ENV": "production",
        "GAVEL_JWT_SECRET": secrets.token_urlsafe(48),
        "GAVEL_ADMIN_STORAGE_SECRET": secrets.token_urlsafe(48),
        "STRIPE_API_KEY": "sk_live_" + secrets.token_hex(16),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(24),
        "GAVEL_RUN_SCHEDULER": False,
        "GAVEL_MIN_AUCTION_SECONDS": 2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"GAVEL_JWT_SECRET": None}, "GAVEL_JWT_SECRET"),
        ({"GAVEL_JWT_SECRET": ""}, "GAVEL_JWT_SECRET"),
        ({"GAVEL_JWT_SECRET": "short-secret"}, "GAVEL_JWT_SECRET"),
        ({"GAVEL_JWT_SECRET": "x" * 64}, "GAVEL_JWT_SECRET"),
        ({"GAVEL_JWT_SECRET": "CHANGE_ME" + secrets.token_hex(20)}, "GAVEL_JWT_SECRET"),
        ({"GAVEL_ADMIN_STORAGE_SECRET": None}, "GAVEL_ADMIN_STORAGE_SECRET"),
        ({"GAVEL_ADMIN_STORAGE_SECRET": "admin"}, "GAVEL_ADMIN_STORAGE_SECRET"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"STRIPE_API_KEY": None}, "STRIPE_API_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": None}, "STRIPE_WEBHOOK_SECRET"),
        ({"STRIPE_WEBHOOK_SECRET": "whsec_short"}, "STRIPE_WEBHOOK_SECRET"),
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(settings, overrides, named):
    with pytest.raises(ProductionConfigError, match=named):
        create_app(_production(settings, **overrides))


def test_production_refuses_the_secret_make_run_generated(settings, tmp_path: Path):
    # The dev runner keeps its generated secret in $GAVEL_DATA_DIR/jwt-secret.
    generated = secrets.token_urlsafe(48)
    (tmp_path / "jwt-secret").write_text(generated + "\n")
    with pytest.raises(ProductionConfigError, match="make run"):
        create_app(_production(settings, GAVEL_DATA_DIR=tmp_path, GAVEL_JWT_SECRET=generated))


def test_production_refuses_the_webhook_secret_make_run_generated(settings, tmp_path: Path):
    generated = "whsec_" + secrets.token_hex(24)
    (tmp_path / "stripe-webhook-secret").write_text(generated + "\n")
    with pytest.raises(ProductionConfigError, match=r"STRIPE_WEBHOOK_SECRET.*make run"):
        create_app(_production(settings, GAVEL_DATA_DIR=tmp_path, STRIPE_WEBHOOK_SECRET=generated))


def test_other_environments_need_no_secrets(settings):
    for env in ("development", "test"):
        unset = {"GAVEL_JWT_SECRET": None, "STRIPE_API_KEY": None, "STRIPE_WEBHOOK_SECRET": None}
        assert production_problems(_production(settings, GAVEL_ENV=env, **unset)) == []


@pytest.fixture(scope="module")
async def prod_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(_production(settings), fast_hash=True)
    lifespan = application.router.lifespan_context(application)
    await lifespan.__aenter__()
    yield application
    await asyncio.wait_for(lifespan.__aexit__(None, None, None), 10)


@pytest.fixture(scope="module")
async def prod_client(prod_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=prod_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as c:
        yield c


@pytest.fixture(scope="module")
def prod_gql(prod_client: httpx.AsyncClient) -> GQL:
    return GQL(prod_client)


INTROSPECTION = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Query") { name } }',
    "query { ...F } fragment F on Query { __schema { types { name } } }",
]


@pytest.mark.parametrize("document", INTROSPECTION)
async def test_production_refuses_introspection_with_a_code(gql, prod_gql, document):
    body = await prod_gql(document)
    assert body.get("data") is None, body
    codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
    assert codes == {"INTROSPECTION_DISABLED"}, body
    assert "errors" not in await gql(document)  # development answers it


async def test_production_still_answers_typename(prod_gql):
    assert await prod_gql("{ __typename }") == {"data": {"__typename": "Query"}}


SUGGESTING = [
    ("{ categorie }", {}),  # unknown field
    ("{ auctions(frist: 1) { edges { node { id } } } }", {}),  # unknown argument
    ("{ auctions(sort: ENDING_SON) { edges { node { id } } } }", {}),  # enum literal
    (
        "query($s: AuctionSort) { auctions(sort: $s) { edges { node { id } } } }",
        {"s": "ENDING_SON"},
    ),  # enum variable
    ("query($f: AuctionFiltr) { auctions(filter: $f) { edges { node { id } } } }", {}),
    ("{ auctions(filter: {statuss: [ACTIVE]}) { edges { node { id } } } }", {}),
]


@pytest.mark.parametrize(("document", "variables"), SUGGESTING)
async def test_production_errors_suggest_nothing(gql, prod_gql, document, variables):
    development = await gql(document, variables)
    assert any("Did you mean" in e["message"] for e in development["errors"]), development
    production = await prod_gql(document, variables)
    assert production["errors"], production
    assert not any("Did you mean" in e["message"] for e in production["errors"]), production


async def test_production_requires_a_verified_email_to_bid(prod_gql):
    seller = await register(prod_gql, seller=True)
    auction = await create_auction(prod_gql, seller)
    published = await prod_gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    bidder = await register(prod_gql)
    body = await prod_gql(BID, {"id": auction["id"], "amount": "100"}, token=bidder.token)
    assert body["data"]["placeBid"]["reason"] == "NOT_VERIFIED", body


async def test_production_serves_no_graphiql(client, prod_client):
    browser = {"Accept": "text/html,application/xhtml+xml"}
    assert (await client.get("/graphql", headers=browser)).status_code == 200
    page = await prod_client.get("/graphql", headers=browser)
    assert page.status_code != 200
    assert "graphiql" not in page.text.lower()
    assert (await prod_client.get("/graphiql/static/graphiql.min.js")).status_code == 404
