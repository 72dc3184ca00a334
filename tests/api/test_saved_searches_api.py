"""Saved searches over GraphQL: save, list and delete the viewer's own; another user can
neither list nor delete them (NOT_FOUND, as for a search that does not exist); the filter
is validated as searchAuctions's and bad input stores nothing; the per-user limit holds
under concurrent saves."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import GQL
from tests.helpers import Account, register

SAVE = """
mutation($input: SaveSearchInput!) {
  saveSearch(input: $input) {
    savedSearch { id name query createdAt
      filter { category types statuses conditions minPrice maxPrice sellerId
               endingWithinSeconds hasBuyNow reserveMet } }
    errors { code field message }
  }
}"""
LIST = "{ savedSearches { id name query filter { category minPrice } } }"
DELETE = """mutation($id: ID!) { deleteSavedSearch(id: $id) { ok errors { code field } } }"""


@pytest.fixture(autouse=True)
async def _forget_this_tests_saved_searches(app: FastAPI):
    """Most searches saved here match everything: left behind, they would notify (and
    mail) on every listing the rest of the session publishes."""
    async with app.state.engine.connect() as conn:
        started = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
    yield
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM saved_searches WHERE created_at >= :t"), {"t": started}
        )


async def _save(gql: GQL, account: Account, **fields: Any) -> dict[str, Any]:
    body = await gql(SAVE, {"input": {"name": "mine", **fields}}, token=account.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["saveSearch"]
    return payload


async def _list(gql: GQL, account: Account) -> list[dict[str, Any]]:
    body = await gql(LIST, token=account.token)
    assert "errors" not in body, body
    found: list[dict[str, Any]] = body["data"]["savedSearches"]
    return found


async def test_save_list_and_delete_own(gql: GQL):
    alice = await register(gql)
    seller = str(uuid.uuid4())
    saved = await _save(
        gql,
        alice,
        name="  Walnut turntables  ",
        query=" walnut turntable ",
        filter={
            "category": "Music",
            "types": ["ENGLISH"],
            "statuses": ["ACTIVE"],
            "conditions": ["USED", "REFURBISHED"],
            "minPrice": "10.5",
            "maxPrice": "300",
            "sellerId": seller,
            "endingWithinSeconds": 86400,
            "hasBuyNow": True,
            "reserveMet": False,
        },
    )
    assert saved["errors"] == []
    search = saved["savedSearch"]
    assert (search["name"], search["query"]) == ("Walnut turntables", "walnut turntable")
    assert search["filter"] == {
        "category": "music",
        "types": ["ENGLISH"],
        "statuses": ["ACTIVE"],
        "conditions": ["USED", "REFURBISHED"],
        "minPrice": "10.5",
        "maxPrice": "300",
        "sellerId": seller,
        "endingWithinSeconds": 86400,
        "hasBuyNow": True,
        "reserveMet": False,
    }
    plain = (await _save(gql, alice, name="anything"))["savedSearch"]
    assert plain["query"] is None and plain["filter"]["category"] is None

    listed = await _list(gql, alice)
    assert [s["id"] for s in listed] == [plain["id"], search["id"]]  # newest first

    body = await gql(DELETE, {"id": search["id"]}, token=alice.token)
    assert body["data"]["deleteSavedSearch"] == {"ok": True, "errors": []}
    assert [s["id"] for s in await _list(gql, alice)] == [plain["id"]]
    again = await gql(DELETE, {"id": search["id"]}, token=alice.token)
    assert again["data"]["deleteSavedSearch"]["errors"][0]["code"] == "NOT_FOUND"


async def test_another_user_can_neither_list_nor_delete_them(gql: GQL):
    alice, mallory = await register(gql), await register(gql)
    mine = (await _save(gql, alice, query="leica"))["savedSearch"]
    assert await _list(gql, mallory) == []

    theirs = await gql(DELETE, {"id": mine["id"]}, token=mallory.token)
    missing = await gql(DELETE, {"id": str(uuid.uuid4())}, token=mallory.token)
    # The same answer as for an id that does not exist: nothing tells it exists.
    assert theirs["data"]["deleteSavedSearch"] == missing["data"]["deleteSavedSearch"]
    assert theirs["data"]["deleteSavedSearch"] == {
        "ok": False,
        "errors": [{"code": "NOT_FOUND", "field": "id"}],
    }
    assert [s["id"] for s in await _list(gql, alice)] == [mine["id"]]


async def test_anonymous_callers_are_refused(gql: GQL):
    for document, variables in (
        (LIST, None),
        (SAVE, {"input": {"name": "x"}}),
        (DELETE, {"id": str(uuid.uuid4())}),
    ):
        body = await gql(document, variables)
        assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED", body


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"filter": {"category": "no-such"}}, "UNKNOWN_CATEGORY", "category"),
        ({"filter": {"minPrice": "-1"}}, "INVALID_AMOUNT", "minPrice"),
        ({"filter": {"maxPrice": "-0.01"}}, "INVALID_AMOUNT", "maxPrice"),
        ({"filter": {"statuses": ["ACTIVE", "DRAFT"]}}, "NOT_SEARCHABLE", "statuses"),
        ({"filter": {"endingWithinSeconds": -5}}, "INVALID_INPUT", "endingWithinSeconds"),
        ({"filter": {"sellerId": "not-an-id"}}, "INVALID_ID", "sellerId"),
        ({"query": "x" * 201}, "QUERY_TOO_LONG", "query"),
        ({"name": "   "}, "INVALID_INPUT", "name"),
        ({"name": "n" * 101}, "INVALID_INPUT", "name"),
        ({"name": "two\nlines"}, "INVALID_INPUT", "name"),
        ({"query": "tab\there"}, "INVALID_INPUT", "query"),
    ],
)
async def test_bad_input_is_refused_with_its_code_and_stores_nothing(gql: GQL, fields, code, field):
    alice = await register(gql)
    payload = await _save(gql, alice, **fields)
    assert payload["savedSearch"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    assert await _list(gql, alice) == []


async def test_malformed_id_on_delete(gql: GQL):
    alice = await register(gql)
    body = await gql(DELETE, {"id": "nope"}, token=alice.token)
    assert body["data"]["deleteSavedSearch"]["errors"] == [{"code": "INVALID_ID", "field": "id"}]


async def test_the_per_user_limit_holds_under_concurrent_saves(gql: GQL, app: FastAPI):
    deps = app.state.deps
    alice, bob = await register(gql), await register(gql)
    before = deps.saved_search_limit
    deps.saved_search_limit = 3
    try:
        results = await asyncio.gather(*(_save(gql, alice, name=f"s{i}") for i in range(8)))
        codes = sorted(r["errors"][0]["code"] if r["errors"] else "OK" for r in results)
        assert codes == ["LIMIT_REACHED"] * 5 + ["OK"] * 3
        assert len(await _list(gql, alice)) == 3
        assert (await _save(gql, bob))["errors"] == []  # the limit is per user
        # Deleting one makes room again.
        first = (await _list(gql, alice))[0]["id"]
        await gql(DELETE, {"id": first}, token=alice.token)
        assert (await _save(gql, alice))["errors"] == []
    finally:
        deps.saved_search_limit = before
