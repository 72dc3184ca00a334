"""Uploaded dispute evidence is private: never at a public /media/items/ URL, only at the
short-lived signed URLs Dispute.evidenceImageUrls hands the sale's parties and admins
(adapters/signed_media.py). Every wrong, foreign, missing or expired signature is 404."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.api.settlement_steps import (
    PREFLIGHT,
    TRANSACTION,
    Sale,
    dispute_with_evidence,
    make_admin,
    png,
    read,
    shipped,
)
from tests.helpers import PUBLISH, Account, listing, register


async def disputed_with_pictures(gql: Any, app: FastAPI, client: httpx.AsyncClient) -> Sale:
    sale = await shipped(gql, app)
    variables = {"id": sale.transaction_id, "reason": "DAMAGED", "message": "Cracked body."}
    opened = await dispute_with_evidence(client, sale.buyer, variables, [png(), png()])
    assert opened == {"ok": True, "errors": []}
    return sale


def parts(url: str) -> tuple[str, dict[str, str]]:
    """The URL's path and its query parameters (each given once)."""
    split = urlsplit(url)
    return split.path, {k: v[0] for k, v in parse_qs(split.query).items()}


def at(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


CREATE_WITH_IMAGES = """mutation($input: CreateAuctionInput!) {
  createAuction(input: $input) { auction { id item { imageUrls } } errors { code } } }"""


async def listing_with_a_photo(client: httpx.AsyncClient, seller: Account) -> tuple[str, str]:
    """A published buy-now listing with one uploaded photo: its id and the photo's URL."""
    operation = {
        "query": CREATE_WITH_IMAGES,
        "variables": {"input": {**listing(buyNowPrice="150.00"), "imageUploads": [None]}},
    }
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps(operation),
            "map": json.dumps({"0": ["variables.input.imageUploads.0"]}),
        },
        files={"0": ("0.png", png(), "image/png")},
        headers={"Authorization": f"Bearer {seller.token}", **PREFLIGHT},
    )
    created = response.json()["data"]["createAuction"]
    assert created["errors"] == [], created
    auction = created["auction"]
    headers = {"Authorization": f"Bearer {seller.token}"}
    published = await client.post(
        "/graphql", json={"query": PUBLISH, "variables": {"id": auction["id"]}}, headers=headers
    )
    assert published.json()["data"]["publishAuction"]["errors"] == []
    return auction["id"], auction["item"]["imageUrls"][0]


async def test_uploaded_evidence_has_no_public_url_but_the_listings_photo_keeps_its_own(
    gql, app, client
):
    seller = await register(gql, seller=True)
    auction_id, photo_url = await listing_with_a_photo(client, seller)
    sale = await shipped(gql, app, seller=seller, auction=auction_id)
    async with app.state.engine.connect() as conn:
        photo_id = (
            await conn.execute(
                text(
                    "SELECT i.id FROM item_images i JOIN auctions a ON a.item_id = i.item_id"
                    " WHERE a.id = :a"
                ),
                {"a": auction_id},
            )
        ).scalar_one()
    variables = {
        "id": sale.transaction_id,
        "reason": "DAMAGED",
        "message": "Not as pictured.",
        "ids": [str(photo_id)],
    }
    opened = await dispute_with_evidence(client, sale.buyer, variables, [png(), png()])
    assert opened == {"ok": True, "errors": []}
    photo, *uploads = (await read(gql, sale, sale.seller))["dispute"]["evidenceImageUrls"]
    # The listing's own photo is public anyway: its evidence URL is its public one.
    assert photo == photo_url and urlsplit(photo).path.startswith("/media/items/")
    assert (await client.get(photo)).status_code == 200
    assert len(uploads) == 2
    for url in uploads:
        path, _ = parts(url)
        name = path.rsplit("/", 1)[1]
        for public in (f"/media/items/{name}", f"/media/evidence/../items/{name}"):
            assert (await client.get(public)).status_code == 404, public
        assert path == f"/media/evidence/{name}", url
    stranger = await register(gql, seller=True)
    body = await gql(TRANSACTION, {"id": sale.transaction_id}, token=stranger.token)
    assert body["data"] == {"transaction": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]


async def test_the_signed_url_serves_the_picture_privately_to_parties_and_admins(gql, app, client):
    sale = await disputed_with_pictures(gql, app, client)
    admin = await make_admin(gql, app)
    for who in (sale.buyer, sale.seller, admin):
        for url in (await read(gql, sale, who))["dispute"]["evidenceImageUrls"]:
            path, params = parts(url)
            assert path.startswith("/media/evidence/") and set(params) == {"exp", "sig"}, url
            assert int(params["exp"]) <= time.time() + 300 + 1
            for method in ("GET", "HEAD"):
                picture = await client.request(method, url)
                assert picture.status_code == 200, (method, url)
                assert picture.headers["content-type"] == "image/png"
                assert picture.headers["cache-control"] == "private, no-store"
                assert picture.headers["x-content-type-options"] == "nosniff"
                assert picture.headers["content-security-policy"] == ("default-src 'none'; sandbox")
                assert picture.headers["content-disposition"].startswith("inline")


async def test_tampered_foreign_unsigned_or_expired_evidence_urls_are_404(gql, app, client):
    sale = await disputed_with_pictures(gql, app, client)
    first, second = (await read(gql, sale, sale.buyer))["dispute"]["evidenceImageUrls"]
    path, params = parts(first)
    other_path, _ = parts(second)
    sig = params["sig"]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]  # always differs from sig
    later = str(int(params["exp"]) + 3600)
    wrong: list[str] = [
        at(path, {**params, "sig": flipped}),
        at(path, {**params, "sig": sig.upper()}),
        at(path, {**params, "sig": sig[:-1]}),
        at(path, {**params, "exp": later}),
        at(other_path, params),  # another key with this key's signature
        at(path, {"exp": params["exp"]}),
        at(path, {"sig": sig}),
        at(path, {}),
        at(path, {**params, "sig": ""}),
        at(path, {**params, "exp": "-1"}),
        at(path.replace(".png", ".jpg"), params),
    ]
    for url in wrong:
        refused = await client.get(url)
        assert refused.status_code == 404, url
        assert (
            "cache-control" not in refused.headers
            or "public" not in refused.headers["cache-control"]
        )
    assert (await client.get(first)).status_code == 200

    signer = app.state.deps.private_media
    ttl = signer.ttl_seconds
    try:
        signer.clock = lambda: time.time() + ttl + 1
        assert (await client.get(first)).status_code == 404
        # A URL read now, under the moved clock, works again: it was only expired.
        fresh = (await read(gql, sale, sale.buyer))["dispute"]["evidenceImageUrls"][0]
        assert (await client.get(fresh)).status_code == 200
    finally:
        signer.clock = time.time
    assert (await client.get(first)).status_code == 200
