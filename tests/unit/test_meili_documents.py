"""Meilisearch documents (adapters/search/meili_documents.py): shapes, and the round trip."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.search.meili_documents import (
    body_of,
    category_path,
    document_of_body,
    epoch_ms,
    moment_of,
)
from adapters.search.meili_settings import FILTERABLE, SEARCHABLE, SORTABLE
from domain.categories import CATEGORIES
from domain.enums import AuctionStatus, AuctionType, ItemCondition
from services.search.port import SearchDocument

# Moments as Meilisearch keeps them: whole milliseconds, aware UTC.
ms_moments = st.integers(min_value=0, max_value=4_102_444_800_000).map(moment_of)
documents = st.builds(
    SearchDocument,
    auction_id=st.uuids(),
    title=st.text(max_size=40),
    description=st.text(max_size=80),
    category=st.sampled_from(CATEGORIES),
    condition=st.sampled_from(ItemCondition),
    type=st.sampled_from(AuctionType),
    status=st.sampled_from([s for s in AuctionStatus if s is not AuctionStatus.DRAFT]),
    seller_id=st.uuids(),
    currency=st.sampled_from(["USD", "EUR", "JPY", "BHD"]),
    price=st.integers(min_value=0, max_value=10**12),
    price_scaled=st.integers(min_value=0, max_value=10**15),
    bid_count=st.integers(min_value=0, max_value=10**6),
    reserve_met=st.booleans(),
    has_buy_now=st.booleans(),
    featured=st.booleans(),
    ends_at=ms_moments,
    listed_at=ms_moments,
)


@given(documents)
def test_a_document_survives_the_trip_through_json(document: SearchDocument):
    body = json.loads(json.dumps(body_of(document)))
    assert document_of_body(body) == document


@given(documents)
def test_bodies_hold_strings_ints_and_booleans_only(document: SearchDocument):
    body = body_of(document)
    assert body["auction_id"] == str(document.auction_id)
    assert body["seller_id"] == str(document.seller_id)
    assert (body["status"], body["type"], body["condition"]) == (
        document.status.value,
        document.type.value,
        document.condition.value,
    )
    for key in ("price", "price_scaled", "bid_count", "ends_at_ms", "listed_at_ms"):
        assert type(body[key]) is int, key
    assert body["category_path"][-1] == document.category
    # Everything the settings name exists in every document.
    assert {*SEARCHABLE, *FILTERABLE, *SORTABLE} <= body.keys()


def test_moments_are_whole_milliseconds_rounded_down_exactly():
    moment = datetime(2026, 11, 30, 12, 0, 0, 999_999, tzinfo=UTC)
    assert epoch_ms(moment) == epoch_ms(moment.replace(microsecond=0)) + 999
    assert moment_of(epoch_ms(moment)) == moment.replace(microsecond=999_000)
    # Far from the epoch a float timestamp would round; integer arithmetic does not.
    late = datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert epoch_ms(late) == (late - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert epoch_ms(late) % 1000 == 999


def test_a_category_path_lists_every_ancestor_then_the_category():
    assert category_path("cameras") == ["cameras"]
    assert category_path("cameras/film") == ["cameras", "cameras/film"]
    assert category_path("a/b/c") == ["a", "a/b", "a/b/c"]


def test_a_document_of_a_known_auction_has_its_shape():
    auction_id, seller = uuid.uuid4(), uuid.uuid4()
    ends = datetime(2026, 12, 1, tzinfo=UTC)
    document = SearchDocument(
        auction_id=auction_id,
        title="Walnut turntable",
        description='A "quoted" \\ description',
        category="music/equipment",
        condition=ItemCondition.USED,
        type=AuctionType.ENGLISH,
        status=AuctionStatus.ACTIVE,
        seller_id=seller,
        currency="EUR",
        price=12_550,
        price_scaled=1_255_000,
        bid_count=3,
        reserve_met=False,
        has_buy_now=True,
        featured=False,
        ends_at=ends,
        listed_at=ends - timedelta(days=7),
    )
    assert body_of(document) == {
        "auction_id": str(auction_id),
        "title": "Walnut turntable",
        "description": 'A "quoted" \\ description',
        "category": "music/equipment",
        "category_path": ["music", "music/equipment"],
        "condition": "USED",
        "type": "ENGLISH",
        "status": "ACTIVE",
        "seller_id": str(seller),
        "currency": "EUR",
        "price": 12_550,
        "price_scaled": 1_255_000,
        "bid_count": 3,
        "reserve_met": False,
        "has_buy_now": True,
        "featured": False,
        "ends_at_ms": 1_796_083_200_000,
        "listed_at_ms": 1_796_083_200_000 - 7 * 86_400_000,
    }
