"""`Transaction.paymentClientSecret` reads the intent from the payment gateway: one read
per sale and request however many aliases or paths ask for it, and each read counts
against the buyer's payment budget (GAVEL_RATE_PAYMENT_USER).

Gateway reads are counted by a wrapper around the app's real gateway (the calls still go
to the emulator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gavel_app import create_app
from settings import Settings
from tests.api.settlement_steps import PAY, Sale, payload, sold
from tests.conftest import GQL


@pytest.fixture(scope="module")
async def tight(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose buyers may make 3 payment-gateway calls a minute."""
    update = {"rate_payment_user": "3/60", "run_scheduler": False, "run_settlement": False}
    app = create_app(settings.model_copy(update=update), fast_hash=True)
    async with app.router.lifespan_context(app):
        yield app


class Reads:
    count = 0


@pytest.fixture
def reads(app: FastAPI, tight: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    """Counts `retrieve_intent` calls of both apps' gateways."""
    counter = Reads()
    for application in (app, tight):
        gateway = application.state.deps.payments
        real = gateway.retrieve_intent

        async def counted(intent_id: str, real: Any = real) -> Any:
            counter.count += 1
            return await real(intent_id)

        monkeypatch.setattr(gateway, "retrieve_intent", counted)
    yield counter


async def awaiting_client(gql: GQL, app: FastAPI) -> Sale:
    """A sale the buyer paid without a saved card: an intent awaits the client."""
    sale = await sold(gql, app)
    paid = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert paid["errors"] == [] and paid["transaction"]["status"] == "PENDING", paid
    return sale


def secrets_doc(aliases: int) -> str:
    fields = " ".join(
        f"t{i}: transaction(id: $id) {{ status paymentClientSecret }}" for i in range(aliases)
    )
    purchases = "me { purchases(first: 5) { edges { node { paymentClientSecret } } } }"
    return f"query($id: ID!) {{ {fields} {purchases} }}"


async def test_aliased_client_secrets_make_one_gateway_read(gql, app, reads):
    sale = await awaiting_client(gql, app)
    reads.count = 0
    body = await gql(secrets_doc(25), {"id": sale.transaction_id}, token=sale.buyer.token)
    assert "errors" not in body, body
    secrets = {body["data"][f"t{i}"]["paymentClientSecret"] for i in range(25)}
    secrets |= {
        edge["node"]["paymentClientSecret"] for edge in body["data"]["me"]["purchases"]["edges"]
    }
    [secret] = secrets
    assert secret and secret.startswith("pi_"), secret
    assert reads.count == 1


async def test_client_secret_reads_count_against_the_payment_budget(gql, app, tight, reads):
    """3/60: paying took one call; two requests read the secret (one read each, five
    aliases apiece); the third is refused on that field alone, without a read."""
    sale = await sold(gql, app)
    transport = httpx.ASGITransport(app=tight, client=("10.78.1.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as c:
        buyer = GQL(c)
        paid = await buyer(PAY, {"id": sale.transaction_id}, token=sale.buyer.token)
        assert paid["data"]["payTransaction"]["errors"] == [], paid
        reads.count = 0
        for _ in range(2):
            body = await buyer(secrets_doc(5), {"id": sale.transaction_id}, token=sale.buyer.token)
            assert "errors" not in body, body
            assert body["data"]["t4"]["paymentClientSecret"]
        assert reads.count == 2
        body = await buyer(secrets_doc(5), {"id": sale.transaction_id}, token=sale.buyer.token)
    assert reads.count == 2
    assert {e["extensions"]["code"] for e in body["errors"]} == {"RATE_LIMITED"}, body
    for error in body["errors"]:
        assert error["extensions"]["retryAfter"] >= 1, error
        assert f"retry in {error['extensions']['retryAfter']} s" in error["message"], error
    for i in range(5):
        assert body["data"][f"t{i}"] == {"status": "PENDING", "paymentClientSecret": None}
