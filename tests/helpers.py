"""Shared GraphQL documents and small builders for API tests."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import stripe

from adapters.stripe_gateway import StripeGateway
from realtime.slot_seeding import seed_for
from realtime.slots import SlotSeed
from storage.tables import Auction, Item

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken user { id username roles }
    errors { code message field }
  }
}"""

LOGIN = """
mutation($email: String!, $password: String!, $otp: String) {
  login(email: $email, password: $password, otp: $otp) {
    accessToken refreshToken user { id } errors { code message field }
  }
}"""

BECOME_SELLER = "mutation { becomeSeller { ok errors { code message } } }"

CREATE = """
mutation($input: CreateAuctionInput!) {
  createAuction(input: $input) {
    auction { id status type startingPrice { amount currency } reserveMet
              buyNowPrice { amount } item { title category seller { username } } }
    errors { code message field }
  }
}"""

PUBLISH = """
mutation($id: ID!) { publishAuction(auctionId: $id) {
  auction { id status startsAt endsAt } errors { code message field } } }"""

BID = """
mutation($id: ID!, $amount: Decimal!, $max: Decimal, $key: String) {
  placeBid(auctionId: $id, amount: $amount, maxAmount: $max, idempotencyKey: $key) {
    __typename
    ... on BidAccepted { leading bid { id sequence amount { amount currency } }
                         auction { id status bidCount currentPrice { amount }
                                   minimumNextBid { amount } leader { id } endsAt } }
    ... on BidRejected { reason message minimumNextBid { amount currency } }
  }
}"""

BUY_NOW = """
mutation($id: ID!, $key: String) {
  buyNow(auctionId: $id, idempotencyKey: $key) {
    __typename
    ... on BidAccepted { leading bid { sequence amount { amount } }
                         auction { status outcome finalPrice { amount } winner { id } } }
    ... on BidRejected { reason message }
  }
}"""

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    username: str
    email: str
    token: str
    refresh: str


async def register(gql: Any, *, seller: bool = False) -> Account:
    name = f"u{uuid.uuid4().hex[:10]}"
    email = f"{name}@example.com"
    body = await gql(REGISTER, {"input": {"username": name, "email": email, "password": PASSWORD}})
    data = body["data"]["register"]
    assert data["errors"] == [], data
    account = Account(
        id=data["user"]["id"],
        username=name,
        email=email,
        token=data["accessToken"],
        refresh=data["refreshToken"],
    )
    if seller:
        result = await gql(BECOME_SELLER, token=account.token)
        assert result["data"]["becomeSeller"]["ok"], result
    return account


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def listing(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Leica M6 rangefinder, 1986",
        "description": "Classic film camera, shutter serviced last year.",
        "category": "cameras/film",
        "condition": "USED",
        "type": "ENGLISH",
        "currency": "USD",
        "startingPrice": "100.00",
        "endsAt": iso(timedelta(days=3)),
    }
    base.update(overrides)
    return base


async def create_auction(gql: Any, seller: Account, **overrides: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": listing(**overrides)}, token=seller.token)
    data = body["data"]["createAuction"]
    assert data["errors"] == [], data
    auction: dict[str, Any] = data["auction"]
    return auction


def own_redis_db(url: str, db: int) -> str:
    """`url` pointed at Redis database `db`: a server subprocess whose live auctions the
    in-process app's persister (which sweeps its own database's) must not touch."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


# Signs the webhooks tests send (the session's settings and app verify with it).
STRIPE_WEBHOOK_SECRET = "whsec_" + secrets.token_hex(24)


def stripe_event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> bytes:
    """A Stripe event's JSON body, e.g. stripe_event("payment_intent.succeeded", {"id":
    "pi_...", "object": "payment_intent", ...}); a fresh `evt_` id unless given."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": event_type,
            "created": created or int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


def stripe_webhook_headers(
    payload: bytes, *, secret: str = STRIPE_WEBHOOK_SECRET, at: int | None = None
) -> dict[str, str]:
    """Headers for POST /webhooks/stripe: `Stripe-Signature` made by the SDK's own signing
    helper at `at` (unix seconds, default now), as Stripe sends it."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=at if at is not None else int(time.time())
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


# Stripe's test payment methods, which the emulator knows too: the first attaches and
# authorizes; the second attaches but every charge is declined (card_declined).
TEST_CARD = "pm_card_visa"
DECLINED_CARD = "pm_card_chargeCustomerFail"


async def test_card(gateway: StripeGateway, customer_id: str, *, declined: bool = False) -> str:
    """Attach a test card to the customer and return the new payment method's id (what
    settlement stores and charges): Visa 4242..., or with `declined` 4000 0000 0000 0341,
    which attaches and is declined when charged. Card numbers never pass through Gavel:
    both the emulator and Stripe's test mode turn these tokens into payment methods."""
    return await gateway.save_payment_method(
        customer_id=customer_id,
        payment_method_id=DECLINED_CARD if declined else TEST_CARD,
        idempotency_key=f"test-card:{uuid.uuid4()}",
    )


test_card.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


def slot_seed(kind: str = "ENGLISH", **overrides: object) -> SlotSeed:
    """An auction slot's terms for script-level tests: a live auction of `kind` that
    started a second ago and ends in an hour, starting at 100 minor units of USD."""
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "auction_id": uuid.uuid4(),
        "type": kind,
        "currency": "USD",
        "seller_id": uuid.uuid4(),
        "starting_price": 100,
        "reserve_price": None,
        "buy_now_price": None,
        "starts_at": now - timedelta(seconds=1),
        "ends_at": now + timedelta(hours=1),
        "hard_close_at": None,
        "soft_close_window_seconds": None,
        "soft_close_extension_seconds": None,
        "dutch_step": None,
        "dutch_step_seconds": None,
        "dutch_floor": None,
        "activated_at": now,
    }
    values.update(overrides)
    return SlotSeed(**values)  # type: ignore[arg-type]


async def live_english_auction(
    app: Any,
    seller: Any,
    *,
    reserve: int | None = None,
    ends_in: timedelta = timedelta(hours=1),
    slots: Any = None,
) -> Any:
    """An ACTIVE English auction of `seller` (a `storage.tables.User`), starting at 100
    minor units of USD with `reserve` if given, ending in `ends_in`: its rows written and
    its slot created (in `slots`, default the app's). Returns the `Auction` row."""
    deps = app.state.deps
    now = datetime.now(UTC)
    item = Item(
        seller_id=seller.id,
        title="Test gavel",
        description="An auction made by the tests.",
        category="collectibles",
        condition="NEW",
    )
    auction = Auction(
        item_id=item.id,
        seller_id=seller.id,
        type="ENGLISH",
        status="ACTIVE",
        currency="USD",
        starting_price=100,
        reserve_price=reserve,
        starts_at=now,
        activated_at=now,
        published_at=now,
        ends_at=now + ends_in,
    )
    async with deps.uow() as uow:
        uow.session.add(item)
        await uow.session.flush()
        uow.session.add(auction)
        seed = await seed_for(uow, auction)
        await uow.commit()
    await (slots or deps.slots).create(seed)
    return auction
