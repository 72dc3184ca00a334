"""Compiled placeBid/buyNow (schema/compiled_bid.py) answer exactly as the generic path.

Two auctions are set up alike; the same sequence of requests goes to one with the
compiled path on and to the other with it off. Bodies must be equal once what differs by
nature (the auction's own id, bid ids, timestamps) is normalized; the compiled path must
actually have answered the documents it supports, and none of the others."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import PUBLISH, Account, create_auction, register

FULL = """
mutation($id: ID!, $amount: Decimal!, $max: Decimal, $key: String) {
  placeBid(auctionId: $id, amount: $amount, maxAmount: $max, idempotencyKey: $key) {
    __typename
    ... on BidAccepted {
      leading bid { __typename id sequence placedAt amount { amount currency } }
    }
    ... on BidRejected { reason message minimumNextBid { amount currency __typename } }
  }
}"""

ALIASED = """
mutation Bid($id: ID!, $a: Decimal!) {
  b: placeBid(auctionId: $id, amount: $a) {
    t: __typename
    ... on BidAccepted { l: leading bid { s: sequence } }
    ... on BidRejected { r: reason n: minimumNextBid { a: amount } }
  }
}"""

MINIMAL = "mutation($id: ID!, $a: Decimal!) { placeBid(auctionId: $id, amount: $a) { __typename } }"

WITH_AUCTION = """
mutation($id: ID!, $a: Decimal!) {
  placeBid(auctionId: $id, amount: $a) {
    ... on BidAccepted { auction { bidCount currentPrice { amount } } }
  }
}"""

BUY = """
mutation($id: ID!) { buyNow(auctionId: $id) {
  __typename ... on BidAccepted { leading bid { sequence amount { amount } } }
  ... on BidRejected { reason message }
} }"""

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def literal(auction_id: str) -> str:
    return (
        f'mutation {{ placeBid(auctionId: "{auction_id}", amount: "130") '
        "{ __typename ... on BidRejected { reason } } }"
    )


def normalized(body: Any, auction_id: str) -> Any:
    text = repr(body).replace(auction_id, "<auction>")
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.+-]+", "<time>", text)
    return re.sub(r"\(line \d+, column \d+\)", "", text)


Step = tuple[str, Callable[[str], str], Callable[[str], dict[str, Any] | None], bool]
# (who: alice|bob|seller|nobody, document, variables, answered by the compiled path?)
STEPS: list[Step] = [
    ("alice", lambda a: FULL, lambda a: {"id": a, "amount": "100"}, True),
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "50"}, True),  # BID_TOO_LOW
    ("seller", lambda a: FULL, lambda a: {"id": a, "amount": "500"}, True),  # SELF_BIDDING
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "-1"}, True),  # INVALID_AMOUNT
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "1.001"}, True),  # precision
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "200", "max": "150"}, True),
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "200", "key": "k" * 500}, True),
    ("bob", lambda a: FULL, lambda a: {"id": UNKNOWN, "amount": "200"}, True),  # NOT_FOUND
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "120", "max": "300", "key": "k1"}, True),
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "120", "max": "300", "key": "k1"}, True),
    ("alice", lambda a: ALIASED, lambda a: {"id": a, "a": "130"}, True),
    ("alice", lambda a: MINIMAL, lambda a: {"id": a, "a": "900"}, True),
    ("bob", literal, lambda a: None, True),
    # The normal path: errors before the use case, and fields the plans do not know.
    ("nobody", lambda a: FULL, lambda a: {"id": a, "amount": "1000"}, False),
    ("bob", lambda a: FULL, lambda a: {"id": a, "amount": "abc"}, False),
    ("bob", lambda a: FULL, lambda a: {"id": "nope", "amount": "1000"}, False),
    ("bob", lambda a: FULL, lambda a: {"amount": "1000"}, False),
    ("bob", lambda a: WITH_AUCTION, lambda a: {"id": a, "a": "2000"}, False),
    ("bob", lambda a: BUY, lambda a: {"id": a}, True),  # buy-now is gone after bids
]
BUY_STEPS: list[Step] = [
    ("bob", lambda a: BUY, lambda a: {"id": a}, True),
    ("alice", lambda a: BUY, lambda a: {"id": a}, True),  # AUCTION_ENDED
    ("alice", lambda a: MINIMAL, lambda a: {"id": a, "a": "6000"}, True),
]


async def post(client: Any, who: Account | None, document: str, variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {who.token}"} if who else {}
    body: dict[str, Any] = {"query": document}
    if variables is not None:
        body["variables"] = variables
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


@pytest.fixture
async def accounts(gql: Any) -> dict[str, Account | None]:
    return {
        "seller": await register(gql, seller=True),
        "alice": await register(gql),
        "bob": await register(gql),
        "nobody": None,
    }


async def live(gql: Any, seller: Account) -> str:
    created = await create_auction(gql, seller, startingPrice="100.00", buyNowPrice="5000.00")
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return str(created["id"])


async def answers(app: Any, client: Any, gql: Any, accounts: Any, steps: list[Step]) -> list[str]:
    """Each step against one auction with the compiled path and one without; the normalized
    bodies must be equal. The compiled path's bodies, as text."""
    view = app.state.graphql
    compiler = view.compiler
    assert compiler is not None, "the compiled path is on by default"
    seller = accounts["seller"]
    compiled_auction, generic_auction = await live(gql, seller), await live(gql, seller)
    bodies = []
    for index, (who, document, variables, expect_compiled) in enumerate(steps):
        before = view.compiled_answers
        fast = await post(
            client, accounts[who], document(compiled_auction), variables(compiled_auction)
        )
        assert view.compiled_answers - before == int(expect_compiled), (index, fast)
        view.compiler = None
        try:
            slow = await post(
                client, accounts[who], document(generic_auction), variables(generic_auction)
            )
        finally:
            view.compiler = compiler
        assert normalized(fast, compiled_auction) == normalized(slow, generic_auction), index
        bodies.append(repr(fast))
    return bodies


async def test_compiled_answers_equal_the_generic_path(app, client, gql, accounts):
    bodies = await answers(app, client, gql, accounts, STEPS)
    seen = " ".join(bodies)  # the steps covered acceptance, refusals and errors
    for expected in ("BidAccepted", "BID_TOO_LOW", "SELF_BIDDING", "INVALID_AMOUNT"):
        assert expected in seen, expected
    for expected in ("NOT_FOUND", "AUCTION_NOT_ACTIVE", "INVALID_ID", "NOT_AUTHENTICATED"):
        assert expected in seen, expected
    assert "'INVALID_INPUT'" in bodies[14] and "'INVALID_INPUT'" in bodies[16]  # not INTERNAL
    assert bodies[8] == bodies[9]  # an idempotent retry: the first answer again


async def test_compiled_buy_now_equals_the_generic_path(app, client, gql, accounts):
    bodies = await answers(app, client, gql, accounts, BUY_STEPS)
    assert "BidAccepted" in bodies[0] and "AUCTION_ENDED" in bodies[1], bodies
