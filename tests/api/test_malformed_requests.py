"""A client's malformed request over HTTP: a JSON GraphQL error with a stable code, never
INTERNAL, never text/plain (issue 12, item 2). The same corpus runs over every transport
against a real server in tests/e2e/test_malformed_corpus.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import register
from tests.malformed import CORPUS, GET, NO_SUCH_AUCTION, POST, Case, unmet

REFUSALS = {"BAD_REQUEST", "OPERATION_NOT_FOUND", "OPERATION_NAME_REQUIRED"}


def codes_of(response: httpx.Response) -> list[Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict) and body.get("errors"), body
    return [e.get("extensions", {}).get("code") for e in body["errors"]]


def skip_unmet(case: Case) -> None:
    reason = unmet(case)
    if reason:
        pytest.skip(reason)


def expected_status(code: str) -> int:
    return 400 if code in REFUSALS else 200


@pytest.mark.parametrize("case", [c for c in CORPUS if POST in c.transports], ids=lambda c: c.name)
async def test_malformed_post(client, app, case):
    skip_unmet(case)
    response = await client.post("/graphql", json=case.request)
    codes = codes_of(response)
    assert all(case.accepts(code) for code in codes), (codes, response.text)
    assert response.status_code == expected_status(codes[0]), response.text


@pytest.mark.parametrize("case", [c for c in CORPUS if GET in c.transports], ids=lambda c: c.name)
async def test_malformed_get(client, app, case):
    skip_unmet(case)
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in case.request.items()}
    response = await client.get("/graphql", params=params)
    codes = codes_of(response)
    assert all(case.accepts(code) for code in codes), (codes, response.text)
    assert response.status_code == expected_status(codes[0]), response.text


async def test_malformed_with_a_token_takes_the_same_answers(client, gql):
    """An authenticated bid document may take the compiled fast path: same answers."""
    account = await register(gql)
    for case in CORPUS:
        if POST not in case.transports or unmet(case):
            continue
        response = await client.post(
            "/graphql", json=case.request, headers={"Authorization": f"Bearer {account.token}"}
        )
        codes = codes_of(response)
        assert all(case.accepts(code) for code in codes), (case.name, codes, response.text)


SUBSCRIPTION = f'subscription {{ auctionUpdated(auctionId: "{NO_SUCH_AUCTION}") {{ kind }} }}'
MUTATION = "mutation { becomeSeller { ok } }"


async def test_subscription_over_a_plain_post_is_refused(client):
    response = await client.post("/graphql", json={"query": SUBSCRIPTION})
    assert codes_of(response) == ["OPERATION_NOT_SUPPORTED"]
    assert response.status_code == 400
    assert "text/event-stream" in response.json()["errors"][0]["message"]


async def test_subscription_over_get_is_refused(client):
    response = await client.get("/graphql", params={"query": SUBSCRIPTION})
    assert codes_of(response) == ["OPERATION_NOT_SUPPORTED"]
    assert response.status_code == 405


async def test_mutation_over_get_is_405_with_allow_post(client):
    """GraphQL over HTTP: a mutation over GET is refused with 405 Method Not Allowed."""
    response = await client.get("/graphql", params={"query": MUTATION})
    assert codes_of(response) == ["OPERATION_NOT_SUPPORTED"]
    assert response.status_code == 405 and response.headers["allow"] == "POST"


async def test_two_operations_run_the_chosen_one(client):
    document = "query A { a: categories } query B { b: categories }"
    response = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert response.status_code == 200 and list(response.json()["data"]) == ["b"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"query": "{ categories }"', "application/json"),
        (b"\xff\xfe\x00{", "application/json"),  # not UTF-8
        (b"5", "application/json"),
        (b'"{ categories }"', "application/json"),
        (b"null", "application/json"),
        (b"[]", "application/json"),  # batching is off
        (b'[{"query": "{ categories }"}]', "application/json"),
        (b"", "application/json"),
        (b'{"query": "{ categories }", "variables": ' + b"[" * 100_000, "application/json"),
    ],
)
async def test_bodies_that_are_no_graphql_request(client, body, content_type):
    response = await client.post("/graphql", content=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert codes_of(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"query": "{ categories }"}', "text/plain"),
        (b"query=%7B+categories+%7D", "application/x-www-form-urlencoded"),
    ],
)
async def test_body_types_a_browser_sends_unasked_are_refused(client, body, content_type):
    # Without a preflight-forcing header these are cross-site forgeries to refuse; with
    # one they are still no GraphQL request type the server reads.
    plain = await client.post("/graphql", content=body, headers={"content-type": content_type})
    assert plain.status_code == 400, plain.text
    assert codes_of(plain) == ["CSRF_PREFLIGHT_REQUIRED"]
    preflighted = await client.post(
        "/graphql",
        content=body,
        headers={"content-type": content_type, "apollo-require-preflight": "true"},
    )
    assert preflighted.status_code == 415, preflighted.text
    assert codes_of(preflighted) == ["UNSUPPORTED_CONTENT_TYPE"]


async def test_get_with_variables_that_are_not_json(client):
    response = await client.get(
        "/graphql", params={"query": "query($n: Int) { categories }", "variables": "{n: 1"}
    )
    assert response.status_code == 400
    assert codes_of(response) == ["BAD_REQUEST"]


async def test_get_without_a_query(client):
    response = await client.get("/graphql", headers={"accept": "application/json"})
    assert response.status_code == 400
    assert codes_of(response) == ["BAD_REQUEST"]


async def test_the_server_still_answers_after_the_corpus(client):
    response = await client.post("/graphql", json={"query": "{ categories }"})
    assert response.status_code == 200 and "cameras" in response.json()["data"]["categories"]


async def test_the_compiled_bid_path_never_answers_text_plain(client):
    """Whatever the bid fast path meets, the answer is JSON with a code (once the limiters
    tolerate unknown fragments, the corpus above checks it is GRAPHQL_VALIDATION_FAILED)."""
    for case in CORPUS:
        if case.needs != "tolerant limiters":
            continue
        response = await client.post("/graphql", json=case.request)
        assert all(isinstance(code, str) for code in codes_of(response)), response.text
