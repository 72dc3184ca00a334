"""Production's schema hides "Did you mean" hints on subscriptions too (WebSocket and SSE
run `Schema.subscribe`), and refuses introspection there with its code."""

from __future__ import annotations

import pytest

from schema.build import build_schema

SUBSCRIPTIONS = [
    'subscription { auctionUpdatd(auctionId: "1") { sequence } }',
    'subscription { auctionUpdated(auctionId: "1") { sequenc } }',
    'subscription { auctionFeed(categry: "x") { id } }',
]


async def _first_errors(schema, document: str) -> list[str]:
    results = await schema.subscribe(document)
    async for result in results:
        return [error.message for error in result.errors or []]
    raise AssertionError("no result")


@pytest.mark.parametrize("document", SUBSCRIPTIONS)
async def test_subscription_errors_suggest_nothing_when_hidden(document):
    shown = await _first_errors(build_schema(), document)
    assert any("Did you mean" in m for m in shown), shown
    hidden = await _first_errors(build_schema(introspection=False, suggestions=False), document)
    assert hidden and not any("Did you mean" in m for m in hidden), hidden


async def test_introspection_refusal_carries_its_code():
    schema = build_schema(introspection=False, suggestions=False)
    result = await schema.execute('query { a: __type(name: "Query") { name } __typename }')
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [{"code": "INTROSPECTION_DISABLED"}]
