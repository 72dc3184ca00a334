"""The logs, as JSON lines (GAVEL_LOG_FORMAT=json): the dev mailer's link at INFO, a
request id on every line of a request (the one its X-Request-ID header answers), one
line without a traceback per client error, and the traceback of an unexpected error
under the id its client was told."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL

from adapters.logging_setup import configure_logging
from adapters.request_id import RequestIdMiddleware
from schema.errors import GavelMaskErrors
from schema.request_errors import GavelSchema
from tests.helpers import BID, PASSWORD, register

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs() -> Iterator[Lines]:
    """The app's JSON lines logged since the test began (each must parse)."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)

    def lines() -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
        # The test's own HTTP client logs each call, after the app answered it in the
        # same task (the ASGI transport), so still in that request's context.
        return [line for line in parsed if line["logger"] != "httpx"]

    try:
        yield lines
    finally:
        configure_logging()


def _of_request(lines: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("request_id") == request_id]


async def test_the_dev_mailer_logs_the_verification_link_at_info(gql, json_logs: Lines):
    account = await register(gql)
    mails = [line for line in json_logs() if line["logger"] == "gavel.mail"]
    assert len(mails) == 1, mails
    mail = mails[0]
    assert mail["level"] == "info" and mail["mail_to"] == account.email
    assert re.search(r"/verify-email\?token=[\w.-]+", mail["event"])
    assert re.search(r'verifyEmail\(token: "[\w.-]+"\)', mail["event"])


async def test_every_line_of_a_request_carries_its_request_id(client, json_logs: Lines):
    name = f"u{uuid.uuid4().hex[:10]}"
    variables = {"input": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}}
    # A request of several lines: the mail, then a client error of the same document.
    document = """mutation($input: RegisterInput!) {
      register(input: $input) { errors { code } }
      becomeSeller { ok }
    }"""
    sent = "req-42.abc:1_Z"
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"X-Request-ID": sent},
    )
    assert response.headers["x-request-id"] == sent
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"  # becomeSeller
    lines = json_logs()
    assert {line["logger"] for line in lines} >= {"gavel.mail", "gavel.graphql"}
    assert [line.get("request_id") for line in lines] == [sent] * len(lines)


async def test_a_request_id_is_made_when_none_or_an_unusable_one_is_sent(client, json_logs):
    query = {"query": "mutation { becomeSeller { ok } }"}  # NOT_AUTHENTICATED: one line
    ids = []
    for headers in ({}, {"X-Request-ID": "has space"}, {"X-Request-ID": "x" * 65}):
        response = await client.post("/graphql", json=query, headers=headers)
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
        ids.append(request_id)
    assert len(set(ids)) == 3
    lines = json_logs()
    assert [line["request_id"] for line in lines] == ids, lines  # one line each, no warning
    # Refusals before GraphQL runs carry it too.
    refused = await client.post("/graphql", content=b"{", headers={"X-Request-ID": "r1"})
    assert refused.status_code == 400 and refused.headers["x-request-id"] == "r1"


@pytest.mark.parametrize(
    ("document", "variables", "code"),
    [
        ("mutation { becomeSeller { ok } }", {}, "NOT_AUTHENTICATED"),
        ("{ nope }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ categories ", {}, "GRAPHQL_PARSE_FAILED"),
        ("query($n: Int!) { auctions(first: $n) { totalCount } }", {"n": "x"}, "INVALID_INPUT"),
        ('{ trendingAuctions(category: "nope") { id } }', {}, "UNKNOWN_CATEGORY"),
        ("query A { categories } query B { categories }", {}, "OPERATION_NAME_REQUIRED"),
    ],
)
async def test_a_client_error_logs_one_line_without_traceback(
    client, json_logs: Lines, document, variables, code
):
    response = await client.post("/graphql", json={"query": document, "variables": variables})
    assert response.json()["errors"][0]["extensions"]["code"] == code
    lines = _of_request(json_logs(), response.headers["x-request-id"])
    assert len(lines) == 1, lines
    (line,) = lines
    assert line["level"] == "info" and line["code"] == code, line
    assert "exception" not in line and "Traceback" not in json.dumps(line)


@strawberry.type
class BrokenQuery:
    @strawberry.field
    def broken(self) -> int:
        raise RuntimeError("a bug of ours")


@pytest.fixture
async def broken_client() -> Any:
    """Our schema class, error masking and request ids, around a field that fails."""
    schema = GavelSchema(query=BrokenQuery, extensions=[GavelMaskErrors])
    graphql: Any = GraphQL(schema)
    app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
    app.add_middleware(RequestIdMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as client:
        yield client


async def test_an_unexpected_error_logs_its_traceback_under_the_id_the_client_saw(
    broken_client, json_logs: Lines
):
    response = await broken_client.post("/graphql", json={"query": "{ broken }"})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL"
    error_id = error["extensions"]["errorId"]
    assert error_id in error["message"] and "a bug of ours" not in error["message"]
    lines = _of_request(json_logs(), response.headers["x-request-id"])
    assert len(lines) == 1, lines  # once: not again by strawberry's own error logger
    (line,) = lines
    assert line["level"] == "error" and line["error_id"] == error_id
    assert error_id in line["event"]
    assert "Traceback" in line["exception"] and "RuntimeError: a bug of ours" in line["exception"]


async def test_lines_of_a_bid_name_their_auction(gql, client, json_logs: Lines):
    bidder = await register(gql)
    auction_id = str(uuid.uuid4())
    variables = {"id": auction_id, "amount": "10.00", "key": "k" * 101}  # a key too long
    for compiled in (True, False):  # the compiled bid path, and graphql-core's
        response = await client.post(
            "/graphql",
            json={
                "query": BID if compiled else BID.replace("__typename", "__typename\n"),
                "variables": variables,
                **({} if compiled else {"extensions": {"x": 1}}),
            },
            headers={"Authorization": f"Bearer {bidder.token}"},
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        lines = _of_request(json_logs(), response.headers["x-request-id"])
        assert len(lines) == 1 and lines[0]["auction_id"] == auction_id, lines
