"""Rate limits (SPEC section 8) with low rates: each limit triggers, answers RATE_LIMITED
with a retry-after, and a refused execution changes nothing.

A second app with low limits shares the suite's PostgreSQL and Redis; every test sends
from an address of its own (the ASGI scope's client), so buckets never collide.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from adapters.stripe_gateway import StripeGateway
from gavel_app import create_app
from settings import Settings
from tests.api.mfa_steps import enable_mfa
from tests.api.mfa_steps import login as mfa_login
from tests.api.settlement_steps import GOOD_CARD, PAY, SAVE_CARD, sold
from tests.conftest import GQL
from tests.helpers import BID, PASSWORD, PUBLISH, Account, create_auction, register

LOW_LIMITS = {
    "rate_bid_user": "4/60",
    "rate_bid_user_auction": "3/60",
    "rate_bid_ip": "6/60",
    "rate_login_account": "3/60",
    "rate_login_account_all": "6/60",
    "rate_login_ip": "4/60",
    "rate_register_ip": "2/3600",
    "rate_search_ip": "3/3600",
    "rate_payment_user": "6/60",
    "rate_card_user": "3/3600",
    "run_scheduler": False,
    "run_settlement": False,
}

# A document the compiled bid path answers (no `auction { … }`: tests/api/test_compiled_bid.py).
COMPILED_BID = """
mutation($id: ID!, $amount: Decimal!) {
  placeBid(auctionId: $id, amount: $amount) {
    ... on BidAccepted { leading bid { sequence } }
    ... on BidRejected { reason message }
  }
}"""

LOGIN = """
mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    accessToken errors { code message field retryAfter }
  }
}"""

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { accessToken errors { code message field retryAfter } }
}"""

STATE = "query($id: ID!) { auction(id: $id) { bidCount currentPrice { amount } } }"

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
async def limited(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=LOW_LIMITS), fast_hash=True)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_at(app: FastAPI, ip: str | None = None) -> AsyncIterator[GQL]:
    """GQL from one client address (a fresh one unless given)."""
    ip = ip or f"10.77.{next(_addresses)}.{uuid.uuid4().int % 250 + 1}"
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gavel.test") as c:
        yield GQL(c)


async def live_auction(gql: GQL, seller: Account) -> str:
    created = await create_auction(gql, seller)
    published = await gql(PUBLISH, {"id": created["id"]}, token=seller.token)
    assert published["data"]["publishAuction"]["auction"]["status"] == "ACTIVE", published
    return str(created["id"])


@pytest.fixture(scope="module")
async def seller(gql: GQL) -> Account:
    return await register(gql, seller=True)


async def state(gql: GQL, auction_id: str) -> dict[str, Any]:
    body = await gql(STATE, {"id": auction_id})
    result: dict[str, Any] = body["data"]["auction"]
    return result


def assert_rate_limited_bid(result: dict[str, Any]) -> int:
    assert result.get("reason") == "RATE_LIMITED", result
    match = re.search(r"retry in (\d+) s", result["message"])
    assert match, result
    return int(match[1])


def assert_rate_limited_payload(payload: dict[str, Any]) -> int:
    assert payload["accessToken"] is None, payload
    [error] = payload["errors"]
    assert error["code"] == "RATE_LIMITED", payload
    assert error["retryAfter"] >= 1, payload
    assert f"retry in {error['retryAfter']} s" in error["message"], payload
    retry_after: int = error["retryAfter"]
    return retry_after


async def test_bids_per_user_and_auction(limited, gql, seller):
    bidder = await register(gql)
    auction, other = await live_auction(gql, seller), await live_auction(gql, seller)
    compiled_before = limited.state.graphql.compiled_answers
    async with client_at(limited) as from_bidder:
        for amount in ("100.00", "110.00", "120.00"):
            body = await from_bidder(
                COMPILED_BID, {"id": auction, "amount": amount}, token=bidder.token
            )
            assert "bid" in body["data"]["placeBid"], body
        before = await state(gql, auction)
        body = await from_bidder(
            COMPILED_BID, {"id": auction, "amount": "500.00"}, token=bidder.token
        )
        assert_rate_limited_bid(body["data"]["placeBid"])
        assert await state(gql, auction) == before  # the refused bid changed nothing
        # The compiled path answered (the limit is inside the use case both paths call).
        assert limited.state.graphql.compiled_answers == compiled_before + 4
        # Another auction: this user's per-auction bucket is not that one's.
        body = await from_bidder(
            COMPILED_BID, {"id": other, "amount": "100.00"}, token=bidder.token
        )
        assert "bid" in body["data"]["placeBid"], body


async def test_bids_per_user(limited, gql, seller):
    bidder = await register(gql)
    auctions = [await live_auction(gql, seller) for _ in range(3)]
    async with client_at(limited) as from_bidder:
        for auction_id, amount in [
            (auctions[0], "100.00"),
            (auctions[0], "110.00"),
            (auctions[1], "100.00"),
            (auctions[1], "110.00"),
        ]:
            body = await from_bidder(BID, {"id": auction_id, "amount": amount}, token=bidder.token)
            assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
        before = await state(gql, auctions[2])
        body = await from_bidder(BID, {"id": auctions[2], "amount": "100.00"}, token=bidder.token)
        assert_rate_limited_bid(body["data"]["placeBid"])
        assert await state(gql, auctions[2]) == before


async def test_bids_per_address(limited, gql, seller):
    bidders = [await register(gql) for _ in range(4)]
    auctions = [await live_auction(gql, seller) for _ in range(3)]
    async with client_at(limited) as shared, client_at(limited) as elsewhere:
        price = 100
        for who in bidders[:3]:
            for auction_id in auctions[:2]:
                price += 10
                body = await shared(
                    BID, {"id": auction_id, "amount": f"{price}.00"}, token=who.token
                )
                assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body
        before = await state(gql, auctions[2])
        body = await shared(BID, {"id": auctions[2], "amount": "100.00"}, token=bidders[3].token)
        assert_rate_limited_bid(body["data"]["placeBid"])
        assert await state(gql, auctions[2]) == before
        body = await elsewhere(BID, {"id": auctions[2], "amount": "100.00"}, token=bidders[3].token)
        assert body["data"]["placeBid"]["__typename"] == "BidAccepted", body


async def test_aliased_bids_count_each_execution(limited, gql, seller):
    bidder = await register(gql)
    auction = await live_auction(gql, seller)
    fields = " ".join(
        f'b{i}: placeBid(auctionId: $id, amount: "{100 + 10 * i}.00")'
        " { __typename ... on BidRejected { reason message } }"
        for i in range(10)
    )
    async with client_at(limited) as from_bidder:
        body = await from_bidder(
            f"mutation($id: ID!) {{ {fields} }}", {"id": auction}, token=bidder.token
        )
    answers = [body["data"][f"b{i}"] for i in range(10)]
    assert [a["__typename"] for a in answers[:3]] == ["BidAccepted"] * 3, answers
    for answer in answers[3:]:
        assert_rate_limited_bid(answer)
    assert (await state(gql, auction))["bidCount"] == 3


async def refresh_tokens(app: FastAPI, user_id: str) -> int:
    async with app.state.engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM refresh_tokens WHERE user_id = :u"), {"u": user_id}
        )
    return int(count)


async def login_from(gql: GQL, email: str, password: str) -> dict[str, Any]:
    body = await gql(LOGIN, {"email": email, "password": password})
    payload: dict[str, Any] = body["data"]["login"]
    return payload


def failed(payload: dict[str, Any]) -> bool:
    return bool(payload["errors"]) and payload["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def guesses(gql: GQL, email: str) -> int:
    """Wrong passwords sent one by one until refused: how many were tried."""
    for tried in range(12):
        payload = await login_from(gql, email, "wrong")
        if not failed(payload):
            assert_rate_limited_payload(payload)
            return tried
    raise AssertionError("never refused")


async def test_logins_per_account_and_address(limited, gql):
    """3/60 per pair (account, address): right passwords cost one token each."""
    account = await register(gql)
    async with client_at(limited) as one, client_at(limited) as other:
        for _ in range(3):
            assert (await login_from(one, account.email, PASSWORD))["accessToken"]
        tokens = await refresh_tokens(limited, account.id)
        refused = await login_from(one, f"  {account.email.upper()} ", PASSWORD)
        assert_rate_limited_payload(refused)
        assert await refresh_tokens(limited, account.id) == tokens  # no session was opened
        # The same account from another address has a bucket of its own.
        assert (await login_from(other, account.email, PASSWORD))["accessToken"]


async def test_failures_from_one_address_do_not_lock_out_another(limited, gql):
    """Finding: wrong logins from one address locked the owner out everywhere (~96 min).
    Now they only slow their own pair (account, address)."""
    account = await register(gql)
    async with client_at(limited) as attacker, client_at(limited) as owner:
        assert await guesses(attacker, account.email) == 2
        retry_after = assert_rate_limited_payload(
            await login_from(attacker, account.email, PASSWORD)
        )
        assert retry_after <= (1 + 32) * 20  # the pair's bound: (1 + backoff max) intervals
        assert (await login_from(owner, account.email, PASSWORD))["accessToken"]


async def test_concurrent_guesses_get_no_more_than_sequential_ones(limited, gql):
    account = await register(gql)
    async with client_at(limited) as attacker:
        answers = await asyncio.gather(
            *(login_from(attacker, account.email, f"guess-{n}") for n in range(8))
        )
    # The backoff is paid on admission: 2 guesses of a burst of 3, as sequentially.
    assert sum(failed(a) for a in answers) == 2, answers
    for answer in answers:
        if not failed(answer):
            assert_rate_limited_payload(answer)


async def test_failed_logins_back_off(limited, gql):
    """3/60 s: three right passwords pass; after two wrong ones even the right password
    waits, longer than an emptied bucket's 20 s (failures cost 1, 2, 4, ... extra)."""
    account = await register(gql)
    async with client_at(limited) as attacker:
        for _ in range(2):
            assert failed(await login_from(attacker, account.email, "wrong password"))
        body = await login_from(attacker, account.email, PASSWORD)
        assert 20 < assert_rate_limited_payload(body) <= (1 + 32) * 20
        assert "on this account from this address" in body["errors"][0]["message"], body


@pytest.fixture(scope="module")
async def roomy(settings: Settings) -> AsyncIterator[FastAPI]:
    """A burst of 10 per pair (tokens every 6 s), the other login limits out of the way."""
    roomy_limits = {
        "rate_login_account": "10/60",
        "rate_login_account_all": "100/60",
        "rate_login_ip": "100/60",
        "run_scheduler": False,
    }
    app = create_app(settings.model_copy(update=roomy_limits), fast_hash=True)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_success_clears_only_its_pairs_backoff(roomy, gql):
    """Burst 10; the n-th failure in a row costs 1 + 2^(n-1). A fresh pair: 3 guesses.
    A success clears its pair's backoff (streak and the failures' penalties), not the
    failures' own tokens, and not another pair's backoff."""
    account = await register(gql)
    async with client_at(roomy) as here, client_at(roomy) as there:
        assert failed(await login_from(there, account.email, "wrong"))  # 2 tokens, streak 1
        for _ in range(2):
            assert failed(await login_from(here, account.email, "wrong"))  # 2 + 3 tokens
        assert (await login_from(here, account.email, PASSWORD))["accessToken"]
        # Backoff cleared: 3 tokens spent (one per attempt), guesses cost 2, 3, then 5
        # (admitted with room for one token): 3 guesses. Had only the streak been reset
        # (6 spent), 2; had nothing been cleared, 1.
        assert await guesses(here, account.email) == 3
        # There's streak survived: 8 tokens left, guesses cost 3 then 5 (2 guesses); had
        # it been reset, 2, 3 and 5 (3 guesses).
        assert await guesses(there, account.email) == 2


async def test_the_mfa_login_steps_do_not_pile_up_backoff(roomy, gql):
    """README's walkthrough: MFA_REQUIRED (the right password, no code yet) is no
    failure, and the login that finally gives the right code clears the wrong codes'
    backoff: afterwards the pair has its attempts back but for one token per attempt."""
    account = await register(gql)
    async with client_at(roomy) as elsewhere:  # its login limits' rates, another pair
        mfa = await enable_mfa(elsewhere, account)
    wrong = mfa.code_not_near_now(40)

    async with client_at(roomy) as here:
        steps = [
            await mfa_login(here, account),  # 1 token
            await mfa_login(here, account, wrong),  # 2 tokens, streak 1
            await mfa_login(here, account, wrong),  # 3 tokens, streak 2
        ]
        assert [p["errors"][0]["code"] for p in steps] == [
            "MFA_REQUIRED",
            "INVALID_OTP",
            "INVALID_OTP",
        ], steps
        assert (await mfa_login(here, account, mfa.code(1)))["errors"] == []
        # 4 tokens spent (one per attempt) of 10: six more first steps fit. Without the
        # clearing (7 spent) three would; had MFA_REQUIRED failed, fewer.
        first_steps = 0
        while first_steps < 12:
            answer = await mfa_login(here, account)
            if answer["errors"][0]["code"] != "MFA_REQUIRED":
                assert answer["errors"][0]["code"] == "RATE_LIMITED", answer
                break
            first_steps += 1
        assert first_steps >= 6, first_steps


async def test_the_account_limit_across_addresses(limited, gql):
    """6/60 per account over all addresses: a guesser spread over many addresses stops."""
    account = await register(gql)
    for _ in range(6):
        async with client_at(limited) as somewhere:
            assert failed(await login_from(somewhere, account.email, "guess"))
    tokens = await refresh_tokens(limited, account.id)
    async with client_at(limited) as fresh:
        refused = await login_from(fresh, account.email, PASSWORD)
        assert_rate_limited_payload(refused)
        assert "on this account from all addresses" in refused["errors"][0]["message"]
    assert await refresh_tokens(limited, account.id) == tokens


async def test_logins_per_address(limited, gql):
    account = await register(gql)
    async with client_at(limited) as shared, client_at(limited) as elsewhere:
        for n in range(4):
            body = await shared(LOGIN, {"email": f"nobody{n}-{uuid.uuid4()}@x.io", "password": "x"})
            assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS", body
        body = await shared(LOGIN, {"email": account.email, "password": PASSWORD})
        assert_rate_limited_payload(body["data"]["login"])
        assert "attempts from this address" in body["data"]["login"]["errors"][0]["message"]
        body = await elsewhere(LOGIN, {"email": account.email, "password": PASSWORD})
        assert body["data"]["login"]["accessToken"], body


async def test_aliased_logins_count_each_attempt(limited, gql):
    account = await register(gql)
    fields = " ".join(
        f'l{i}: login(email: $email, password: "guess-{i}") {{ accessToken errors {{ code }} }}'
        for i in range(20)
    )
    async with client_at(limited) as attacker:
        body = await attacker(f"mutation($email: String!) {{ {fields} }}", {"email": account.email})
    codes = [body["data"][f"l{i}"]["errors"][0]["code"] for i in range(20)]
    # Whether the fields run one by one or at once: two guesses (the pair's burst of 3).
    assert codes.count("INVALID_CREDENTIALS") == 2, codes
    assert codes.count("RATE_LIMITED") == 18, codes


async def test_registrations_per_address(limited, gql):
    async with client_at(limited) as shared, client_at(limited) as elsewhere:
        for _ in range(2):
            await register(shared)
        name = f"u{uuid.uuid4().hex[:10]}"
        new = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        body = await shared(REGISTER, {"input": new})
        assert_rate_limited_payload(body["data"]["register"])
        login = await gql(LOGIN, {"email": new["email"], "password": PASSWORD})
        assert login["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"  # no account
        await register(elsewhere)


# --- Searches (GAVEL_RATE_SEARCH_IP 3/3600): first pages per address --------------------

SEARCH = """
query($after: String) {
  searchAuctions(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } }
}"""


async def test_search_first_pages_per_address_later_pages_free(limited, gql, seller):
    for _ in range(2):  # a second page needs at least two matching auctions
        await live_auction(gql, seller)
    for _ in range(100):  # indexed (the indexer follows within a second)
        found = await gql(SEARCH)
        if found["data"]["searchAuctions"]["pageInfo"]["hasNextPage"]:
            break
        await asyncio.sleep(0.05)
    async with client_at(limited) as shared, client_at(limited) as elsewhere:
        pages = [await shared(SEARCH) for _ in range(3)]
        assert all("errors" not in p for p in pages), pages
        refused = await shared(SEARCH)
        assert refused["data"] is None, refused
        error = refused["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED", error
        assert error["extensions"]["retryAfter"] >= 1, error
        # Later pages read the first page's snapshot: not counted.
        cursor = pages[0]["data"]["searchAuctions"]["pageInfo"]["endCursor"]
        more = await shared(SEARCH, {"after": cursor})
        assert "errors" not in more and more["data"]["searchAuctions"]["totalCount"] >= 2, more
        assert "errors" not in await elsewhere(SEARCH)  # other addresses keep theirs


# --- Payment-gateway calls (GAVEL_RATE_PAYMENT_USER 6/60, GAVEL_RATE_CARD_USER 3/3600) ---

SETUP_FIELD = "createSetupIntent { setupIntentId errors { code message field retryAfter } }"


def assert_rate_limited_error(payload: dict[str, Any]) -> None:
    [error] = payload["errors"]
    assert error["code"] == "RATE_LIMITED", payload
    assert error["retryAfter"] >= 1, payload
    assert f"retry in {error['retryAfter']} s" in error["message"], payload


async def customer_of(app: FastAPI, user: Account) -> str | None:
    async with app.state.engine.connect() as conn:
        customer: str | None = await conn.scalar(
            text("SELECT stripe_customer_id FROM users WHERE id = :u"), {"u": user.id}
        )
    return customer


async def emulator_list(
    gateway: StripeGateway, resource: str, **params: Any
) -> list[dict[str, Any]]:
    """Every object of `resource` ("setup_intents", "payment_intents", ...) the emulator
    (or Stripe) holds, page by page: what Gavel really created there."""
    listing = getattr(gateway.client.v1, resource)
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = await listing.list_async(
            params={"limit": 100, **params, **({"starting_after": after} if after else {})}
        )
        out += [item.to_dict() for item in page.data]
        if not page.has_more or not page.data:
            return out
        after = page.data[-1].id


async def test_aliased_setup_intents_count_each_execution(limited, gql, payment_gateway):
    """The attack: 4 requests of 25 aliased createSetupIntent made 100 SetupIntents at
    Stripe for one user. Each execution is one attempt to save a card (3/3600)."""
    user = await register(gql)
    doc = "mutation { " + " ".join(f"s{i}: {SETUP_FIELD}" for i in range(25)) + " }"
    made: list[str] = []
    refused = 0
    async with client_at(limited) as attacker:
        for _ in range(4):
            body = await attacker(doc, token=user.token)
            for answer in body["data"].values():
                if answer["setupIntentId"]:
                    made.append(answer["setupIntentId"])
                else:
                    assert_rate_limited_error(answer)
                    refused += 1
    assert len(made) == 3 and refused == 97, (made, refused)
    customer = await customer_of(limited, user)
    at_stripe = await emulator_list(payment_gateway, "setup_intents")
    assert sorted(i["id"] for i in at_stripe if i.get("customer") == customer) == sorted(made)


async def test_saving_cards_is_limited_per_user(limited, gql, payment_gateway):
    """Over the card budget savePaymentMethod answers RATE_LIMITED before Stripe is
    called: no card is attached, none is kept. Another user is not affected."""
    user, other = await register(gql), await register(gql)
    async with client_at(limited) as tester:
        for _ in range(3):
            body = await tester(f"mutation {{ {SETUP_FIELD} }}", token=user.token)
            assert body["data"]["createSetupIntent"]["setupIntentId"], body
        customer = await customer_of(limited, user)
        assert customer is not None
        fields = " ".join(
            f'c{i}: savePaymentMethod(paymentMethodId: "{GOOD_CARD}")'
            " { ok errors { code message field retryAfter } }"
            for i in range(5)
        )
        body = await tester(f"mutation {{ {fields} }}", token=user.token)
        for answer in body["data"].values():
            assert answer["ok"] is not True
            assert_rate_limited_error(answer)
        cards = await emulator_list(
            payment_gateway, "payment_methods", customer=customer, type="card"
        )
        assert cards == []
        async with limited.state.engine.connect() as conn:
            kept = await conn.scalar(
                text("SELECT stripe_payment_method_id FROM users WHERE id = :u"), {"u": user.id}
            )
        assert kept is None
        body = await tester(SAVE_CARD, {"pm": GOOD_CARD}, token=other.token)
        assert body["data"]["savePaymentMethod"] == {"ok": True, "errors": []}, body


async def intents_of(gateway: StripeGateway, transaction_id: str) -> list[str]:
    return [
        intent["id"]
        for intent in await emulator_list(gateway, "payment_intents")
        if (intent.get("metadata") or {}).get("transaction_id") == transaction_id
    ]


async def test_payments_per_user(limited, gql, app, payment_gateway):
    """payTransaction without a card makes an intent, then each repeat reads it back:
    each execution counts (6/60), aliases too. Over budget: RATE_LIMITED, and paying
    another sale creates no intent at Stripe."""
    sale = await sold(gql, app)
    fields = " ".join(
        f'p{i}: payTransaction(transactionId: "{sale.transaction_id}")'
        " { transaction { status } errors { code message field retryAfter } }"
        for i in range(8)
    )
    async with client_at(limited) as buyer:
        body = await buyer(f"mutation {{ {fields} }}", token=sale.buyer.token)
        answers = [body["data"][f"p{i}"] for i in range(8)]
        for answer in answers[:6]:
            assert answer["errors"] == [] and answer["transaction"]["status"] == "PENDING"
        for answer in answers[6:]:
            assert answer["transaction"] is None
            assert_rate_limited_error(answer)
        assert len(await intents_of(payment_gateway, sale.transaction_id)) == 1
        second = await sold(gql, app, buyer=sale.buyer)
        body = await buyer(PAY, {"id": second.transaction_id}, token=sale.buyer.token)
        assert body["data"]["payTransaction"]["errors"][0]["code"] == "RATE_LIMITED", body
        assert await intents_of(payment_gateway, second.transaction_id) == []
