"""Compiled placeBid/buyNow (schema/compiled_bid.py) answer exactly as the generic path.

Two auctions are set up alike; the same sequence of requests goes to one with the
compiled path on and to the other with it off. Bodies must be equal once what differs by
nature (the auction's own id, bid ids, timestamps) is normalized; the compiled path must
actually have answered the documents it supports, and none of the others."""

from __future__ import annotations

import re
import time
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


# Generated selection sets: every way to spell a selection of the result the compiler
# must either render exactly as graphql-core does or leave to the generic path.
MEMBERS = ("BidAccepted", "BidRejected")
LEAVES = {
    "BidAccepted": ["leading", "__typename"],
    "BidRejected": ["reason", "message", "__typename"],
    "Bid": ["id", "sequence", "placedAt", "__typename"],
    "Money": ["amount", "currency", "__typename"],
    "PlaceBidResult": ["__typename"],
}
OBJECTS = {
    "BidAccepted": [("bid", "Bid")],
    "BidRejected": [("minimumNextBid", "Money")],
    "Bid": [("amount", "Money")],
}
CONDITIONS = ["", "@skip(if: false)", "@include(if: true)", "@skip(if: true)"]
VARIABLE_CONDITIONS = ["@skip(if: $no)", "@include(if: $yes)", "@include(if: $no)"]


class Generator:
    """One random document: a placeBid mutation, its fragments, and whether the compiler
    must answer it (everything it understands) or leave it (variables in directives,
    unknown fields, fields the plans do not render)."""

    def __init__(self, seed: int) -> None:
        import random

        self.random = random.Random(seed)
        self.fragments: list[str] = []
        self.variables: set[str] = set()
        self.understood = True
        # A third of the documents may use what the compiler leaves to the generic path.
        self.wild = self.random.random() < 0.35

    def directive(self) -> str:
        if self.wild and self.random.random() < 0.15:
            chosen = self.random.choice(VARIABLE_CONDITIONS)
            self.variables.add("$yes" if "$yes" in chosen else "$no")
            self.understood = False
            return chosen
        return self.random.choice(CONDITIONS) if self.random.random() < 0.3 else ""

    def field(self, name: str) -> str:
        alias = (
            f"{name.strip('_')}_{self.random.randint(1, 2)}: " if self.random.random() < 0.3 else ""
        )
        return f"{alias}{name} {self.directive()}"

    def selections(self, type_name: str, depth: int) -> str:
        items = [self.item(type_name, depth) for _ in range(self.random.randint(1, 3))]
        return " ".join(items)

    def item(self, type_name: str, depth: int) -> str:
        roll = self.random.random()
        if (type_name == "PlaceBidResult" and depth < 3) or (roll < 0.25 and depth < 3):
            return self.fragment(type_name, depth)
        if roll < 0.55 and type_name in OBJECTS:
            name, child = self.random.choice(OBJECTS[type_name])
            return f"{self.field(name)} {{ {self.selections(child, depth + 1)} }}"
        if self.wild and roll < 0.6:
            self.understood = False  # invalid: the generic path reports it
            return "unknownField"
        if self.wild and roll < 0.65 and type_name == "BidAccepted":
            self.understood = False  # a field the plans do not render
            return "auction { id }"
        return self.field(self.random.choice(LEAVES[type_name]))

    def fragment(self, type_name: str, depth: int) -> str:
        """An inline or named fragment that applies in `type_name`."""
        if type_name == "PlaceBidResult" or type_name in MEMBERS:
            on = self.random.choice([*MEMBERS, "PlaceBidResult", type_name])
        else:
            on = type_name
        if type_name in MEMBERS and on in MEMBERS and on != type_name:
            on = type_name  # a spread that can never apply is invalid
        inner = "PlaceBidResult" if on == "PlaceBidResult" else on
        body = self.selections(inner, depth + 1)
        if self.random.random() < 0.4:
            name = f"F{len(self.fragments)}"
            self.fragments.append(f"fragment {name} on {on} {{ {body} }}")
            return f"...{name} {self.directive()}"
        omitted = on == type_name and self.random.random() < 0.3
        condition = "" if omitted else f"on {on}"
        return f"... {condition} {self.directive()} {{ {body} }}"

    def document(self) -> str:
        body = self.selections("PlaceBidResult", 0)
        declared = "".join(f", {v}: Boolean!" for v in sorted(self.variables))
        return (
            f"mutation Op($id: ID!, $a: Decimal!{declared}) {{"
            f" placeBid(auctionId: $id, amount: $a) {{ {body} }} }} " + " ".join(self.fragments)
        )


def generated(count: int) -> list[Step]:
    steps: list[Step] = []
    for seed in range(count):
        generator = Generator(seed)
        document = generator.document()
        # Alternately a bid that is accepted and one that is too low.
        amount = str(100 + 10 * seed) if seed % 2 == 0 else "1"
        variables = {"a": amount, "yes": True, "no": False}

        def bind(a: str, v: dict[str, Any] = variables, d: str = document) -> dict[str, Any]:
            names = {"id", "a"} | {n for n in ("yes", "no") if f"${n}" in d}
            return {k: val for k, val in {**v, "id": a}.items() if k in names}

        def text(a: str, d: str = document) -> str:
            return d

        who = "alice" if seed % 4 < 2 else "bob"
        steps.append((who, text, bind, generator.understood))
    return steps


async def test_generated_selections_answer_as_the_generic_path(app, client, gql, accounts):
    steps = generated(120)
    compiled = sum(1 for step in steps if step[3])
    assert 40 < compiled < 110, compiled  # both paths are exercised
    bodies = await answers(app, client, gql, accounts, steps)
    seen = " ".join(bodies)
    for expected in ("BidAccepted", "BidRejected", "BID_TOO_LOW", "unknownField"):
        assert expected in seen, expected


async def test_typename_in_a_fragment_on_the_union_is_kept(app, client, gql, accounts):
    document = (
        "mutation($id: ID!, $a: Decimal!) { placeBid(auctionId: $id, amount: $a) {"
        " ... on PlaceBidResult { __typename } ... on BidRejected { reason } } }"
    )
    steps: list[Step] = [
        ("alice", lambda a: document, lambda a: {"id": a, "a": "100"}, True),
        ("bob", lambda a: document, lambda a: {"id": a, "a": "1"}, True),
    ]
    bodies = await answers(app, client, gql, accounts, steps)
    assert "'__typename': 'BidAccepted'" in bodies[0], bodies[0]
    assert "'__typename': 'BidRejected'" in bodies[1] and "BID_TOO_LOW" in bodies[1], bodies[1]


def chain(levels: int, on: str, leaf: str) -> str:
    """Fragments F0..F<levels>, each spreading the previous one twice."""
    parts = [f"fragment F0 on {on} {{ {leaf} }}"]
    parts += [f"fragment F{i} on {on} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return " ".join(parts)


BID_ARGS = "placeBid(auctionId: $id, amount: $a)"
OP = "mutation($id: ID!, $a: Decimal!)"


def bid(selection: str, op: str = OP, field: str = BID_ARGS) -> str:
    return f"{op} {{ {field} {{ {selection} }} }}"


NAMED = "mutation M($id: ID!, $a: Decimal!)"
ALIASES = " ".join(f"t{i}: __typename" for i in range(31))
# Malformed placeBid/buyNow documents: the compiled path must leave every one of them to
# the generic path, whose answer (status, type, body) is then the same with it on or off.
MALFORMED: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("unknown fragment", bid("__typename ...Nope"), {}, None),
    (
        "unknown fragment in buyNow",
        bid("...Nope", "mutation($id: ID!)", "buyNow(auctionId: $id)"),
        {},
        None,
    ),
    (
        "undefined variable",
        bid("__typename", field="placeBid(auctionId: $id, amount: $x)"),
        {},
        None,
    ),
    ("unused variable", bid("__typename", "mutation($id: ID!, $a: Decimal!, $b: Int)"), {}, None),
    ("bad variable type", bid("__typename", "mutation($id: ID!, $a: Int!)"), {}, None),
    ("unknown operationName", bid("__typename", NAMED), {}, "Other"),
    ("name for an anonymous operation", bid("__typename"), {}, "M"),
    (
        "two operations without operationName",
        bid("__typename", NAMED) + " " + bid("__typename", "mutation N($id: ID!, $a: Decimal!)"),
        {},
        None,
    ),
    (
        "literal amount abc",
        bid("__typename", field='placeBid(auctionId: $id, amount: "abc")'),
        {"variables": {"id": "x"}},
        None,
    ),
    (
        "unknown argument",
        bid("__typename", field="placeBid(auctionId: $id, amount: $a, nope: 1)"),
        {},
        None,
    ),
    ("unknown field", bid("... on BidRejected { nope }"), {}, None),
    ("conflicting aliases", bid("... on BidRejected { x: reason x: message }"), {}, None),
    ("too many aliases", bid(ALIASES), {}, None),
    ("fragment chain", bid("...F40") + " " + chain(40, "PlaceBidResult", "__typename"), {}, None),
    ("syntax error", bid("__typename")[:-2], {}, None),
    ("variables not an object", bid("__typename"), {"variables": [1]}, None),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[case[0] for case in MALFORMED])
async def test_malformed_documents_are_left_to_the_generic_path(app, client, gql, accounts, case):
    _, document, extra, operation_name = case
    view = app.state.graphql
    compiler = view.compiler
    headers = {"Authorization": f"Bearer {accounts['bob'].token}"}

    async def send(auction_id: str) -> Any:
        body: dict[str, Any] = {"query": document, "variables": {"id": auction_id, "a": "100"}}
        body |= extra
        if operation_name is not None:
            body["operationName"] = operation_name
        return await client.post("/graphql", json=body, headers=headers)

    compiled_auction, generic_auction = (
        await live(gql, accounts["seller"]),
        await live(gql, accounts["seller"]),
    )
    before = view.compiled_answers
    started = time.perf_counter()
    fast = await send(compiled_auction)
    elapsed = time.perf_counter() - started
    assert view.compiled_answers == before
    view.compiler = None
    try:
        slow = await send(generic_auction)
    finally:
        view.compiler = compiler
    assert fast.status_code < 500, fast.text
    assert (fast.status_code, fast.headers["content-type"]) == (
        slow.status_code,
        slow.headers["content-type"],
    )
    assert normalized(fast.text, compiled_auction) == normalized(slow.text, generic_auction)
    assert elapsed < 1.0, elapsed  # the fragment chain once took forever to validate
    if fast.status_code != 200 or "errors" in fast.json():
        query = "query($id: ID!) { auction(id: $id) { bidCount } }"
        state = await gql(query, {"id": compiled_auction})
        assert state["data"]["auction"]["bidCount"] == 0, state  # refused: nothing happened


async def test_limit_errors_carry_codes_on_both_paths(app, client, gql, accounts):
    view = app.state.graphql
    auction_id = await live(gql, accounts["seller"])
    headers = {"Authorization": f"Bearer {accounts['bob'].token}"}
    # (The result types nest three levels: no placeBid document is too deep.)
    cases = {"TOO_MANY_ALIASES": bid(ALIASES), "QUERY_TOO_COMPLEX": MALFORMED[13][1]}
    for code, document in cases.items():
        before = view.compiled_answers
        response = await client.post(
            "/graphql",
            json={"query": document, "variables": {"id": auction_id, "a": "100"}},
            headers=headers,
        )
        assert view.compiled_answers == before
        errors = response.json()["errors"]
        assert [e["extensions"]["code"] for e in errors] == [code], errors
