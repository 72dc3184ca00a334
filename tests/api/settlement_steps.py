"""GraphQL documents and steps shared by the settlement API tests.

A sale is made the way users make one: the seller lists an English auction with a
buy-now price and the buyer buys it now (SOLD at once). The outbox persister records the
outcome and `start_settlement` (what the settlement worker runs for every SOLD auction,
idempotent) opens the sale at once instead of at the worker's next pass.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import text

from services import settlement
from tests.helpers import BUY_NOW, LOGIN, PASSWORD, PUBLISH, Account, create_auction, register

# Stripe test payment methods the emulator knows (tests/helpers.py): one authorizes,
# the other attaches and is declined when charged.
GOOD_CARD = "pm_card_visa"
DECLINING_CARD = "pm_card_chargeCustomerFail"

TXN_FIELDS = """
  id status createdAt
  amount { amount currency } price { amount } premium { amount } platformFee { amount }
  refundedAmount { amount }
  paymentClientSecret payBy captureBefore releaseAfter receivedAt releasedAt failureReason
  isSecondChance
  buyer { id } seller { id } auction { id status outcome }
  shipment { carrier trackingNumber shippedAt }
  dispute { id status reason message sellerResponse resolution refundAmount { amount }
            evidenceImageUrls respondedAt resolvedAt }
  feedback { author { id } subject { id } rating comment }
  ledgerEntries { account amount { amount currency } step }
"""

TRANSACTION = f"query($id: ID!) {{ transaction(id: $id) {{ {TXN_FIELDS} }} }}"
PURCHASES = "{ me { purchases(first: 50) { totalCount edges { node { id status } } } } }"
SALES = "{ me { sales(first: 50) { totalCount edges { node { id status } } } } }"

ERRORS = "errors { code message field }"
SAVE_CARD = f"""mutation($pm: String!) {{ savePaymentMethod(paymentMethodId: $pm) {{
  ok {ERRORS} }} }}"""
SETUP_INTENT = f"mutation {{ createSetupIntent {{ setupIntentId clientSecret {ERRORS} }} }}"
PAY = f"""mutation($id: ID!) {{ payTransaction(transactionId: $id) {{
  transaction {{ id status captureBefore }} {ERRORS} }} }}"""
SHIP = f"""mutation($id: ID!, $carrier: String!, $tracking: String!) {{
  markShipped(transactionId: $id, carrier: $carrier, trackingNumber: $tracking) {{
    transaction {{ id status shipment {{ carrier trackingNumber shippedAt }} }} {ERRORS} }} }}"""
CONFIRM = f"mutation($id: ID!) {{ confirmReceipt(transactionId: $id) {{ ok {ERRORS} }} }}"
DISPUTE = f"""mutation($id: ID!, $reason: String!, $message: String!) {{
  openDispute(transactionId: $id, reason: $reason, message: $message) {{ ok {ERRORS} }} }}"""
RESPOND = f"""mutation($id: ID!, $message: String!) {{
  respondToDispute(disputeId: $id, message: $message) {{
    dispute {{ id status sellerResponse }} {ERRORS} }} }}"""
RESOLVE = f"""mutation($id: ID!, $resolution: DisputeResolution!, $refund: Decimal) {{
  resolveDispute(disputeId: $id, resolution: $resolution, refundAmount: $refund) {{
    dispute {{ id status resolution refundAmount {{ amount }}
               transaction {{ id status refundedAmount {{ amount }} }} }}
    {ERRORS} }} }}"""
SECOND_CHANCE = f"""mutation($id: ID!) {{ offerSecondChance(transactionId: $id) {{
  transaction {{ id status isSecondChance buyer {{ id }} price {{ amount }} }} {ERRORS} }} }}"""
FEEDBACK = f"""mutation($id: ID!, $rating: Int!, $comment: String) {{
  leaveFeedback(transactionId: $id, rating: $rating, comment: $comment) {{ ok {ERRORS} }} }}"""
REPUTATION = "query($id: ID!) { user(id: $id) { reputationScore reputationCount } }"


@dataclass
class Sale:
    seller: Account
    buyer: Account
    auction_id: str
    transaction_id: str


async def make_admin(gql: Any, app: FastAPI) -> Account:
    """A registered user made admin in the database, logged in again for a fresh token."""
    admin = await register(gql)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET roles = '{BIDDER,ADMIN}' WHERE id = :u"), {"u": admin.id}
        )
    login = await gql(LOGIN, {"email": admin.email, "password": PASSWORD})
    admin.token = login["data"]["login"]["accessToken"]
    return admin


async def sold(
    gql: Any,
    app: FastAPI,
    *,
    seller: Account | None = None,
    buyer: Account | None = None,
    price: str = "120.00",
    auction: str | None = None,
) -> Sale:
    """An English auction the buyer bought now at `price` (or the published `auction`,
    with its own buy-now price), and the sale it started."""
    seller = seller or await register(gql, seller=True)
    buyer = buyer or await register(gql)
    if auction is None:
        created = await create_auction(gql, seller, buyNowPrice=price)
        auction = str(created["id"])
        published = await gql(PUBLISH, {"id": auction}, token=seller.token)
        assert published["data"]["publishAuction"]["errors"] == [], published
    bought = await gql(BUY_NOW, {"id": auction}, token=buyer.token)
    assert bought["data"]["buyNow"]["__typename"] == "BidAccepted", bought
    await app.state.persister.drain([auction])
    txn = await settlement.start_settlement(app.state.deps, uuid.UUID(auction))
    assert txn is not None
    return Sale(seller, buyer, auction, str(txn.id))


async def read(gql: Any, sale: Sale, who: Account) -> dict[str, Any]:
    body = await gql(TRANSACTION, {"id": sale.transaction_id}, token=who.token)
    assert "errors" not in body, body
    txn: dict[str, Any] = body["data"]["transaction"]
    return txn


async def payload(gql: Any, doc: str, variables: dict[str, Any], who: Account) -> dict[str, Any]:
    """The one mutation's payload of `doc`."""
    body = await gql(doc, variables, token=who.token)
    assert "errors" not in body, body
    result: dict[str, Any] = next(iter(body["data"].values()))
    return result


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["errors"]]


async def paid(gql: Any, app: FastAPI, **kwargs: Any) -> Sale:
    """A sale the buyer has paid (AUTHORIZED: the card holds the amount)."""
    sale = await sold(gql, app, **kwargs)
    saved = await payload(gql, SAVE_CARD, {"pm": GOOD_CARD}, sale.buyer)
    assert saved["errors"] == [], saved
    result = await payload(gql, PAY, {"id": sale.transaction_id}, sale.buyer)
    assert result["errors"] == [] and result["transaction"]["status"] == "AUTHORIZED", result
    return sale


async def shipped(gql: Any, app: FastAPI, **kwargs: Any) -> Sale:
    sale = await paid(gql, app, **kwargs)
    result = await payload(
        gql, SHIP, {"id": sale.transaction_id, "carrier": "UPS", "tracking": "1Z999"}, sale.seller
    )
    assert result["errors"] == [], result
    return sale


DISPUTE_WITH_EVIDENCE = f"""mutation($id: ID!, $reason: String!, $message: String!,
    $ids: [ID!], $images: [Upload!]) {{
  openDispute(transactionId: $id, reason: $reason, message: $message,
              evidenceImageIds: $ids, evidenceImages: $images) {{ ok {ERRORS} }} }}"""

# Uploads are multipart POSTs, which a browser could send cross-site without this header.
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), color=(200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def dispute_with_evidence(
    client: httpx.AsyncClient, who: Account, variables: dict[str, Any], blobs: list[bytes]
) -> dict[str, Any]:
    """openDispute with `blobs` uploaded as evidence (GraphQL multipart request spec)."""
    operation = {
        "query": DISPUTE_WITH_EVIDENCE,
        "variables": {**variables, "images": [None] * len(blobs)},
    }
    mapping = {str(i): [f"variables.images.{i}"] for i in range(len(blobs))}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operation), "map": json.dumps(mapping)},
        files={str(i): (f"{i}.png", blob, "image/png") for i, blob in enumerate(blobs)},
        headers={"Authorization": f"Bearer {who.token}", **PREFLIGHT},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["openDispute"]
    return result
