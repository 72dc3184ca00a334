"""services/seller_listings.py: a seller's own listings, scoped in the service, and the
images of a listing being edited."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI

from adapters.images import MAX_IMAGES
from domain.enums import AuctionStatus, AuctionType
from domain.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from services import seller_listings
from services.catalog import users_by_id
from services.listings import ImageUpload
from services.seller_listings import ListingQuery
from storage.tables import User
from tests.admin_ui.listing_steps import png
from tests.api.discovery_kit import bid, live_auction
from tests.api.settlement_steps import make_admin
from tests.conftest import GQL
from tests.helpers import Account, create_auction, register


async def user_of(app: FastAPI, account: Account) -> User:
    (user,) = await users_by_id(app.state.deps, [uuid.UUID(account.id)])
    assert user is not None
    return user


async def test_lists_only_the_viewers_own_listings(app: FastAPI, gql: GQL) -> None:
    deps = app.state.deps
    mine = await register(gql, seller=True)
    theirs = await register(gql, seller=True)
    await create_auction(gql, mine, title="My draft")
    await live_auction(gql, mine, title="My live one")
    await create_auction(gql, theirs, title="Their draft")
    await live_auction(gql, theirs, title="Their live one")
    page = await seller_listings.list_own(deps, await user_of(app, mine), ListingQuery())
    assert sorted(r.title for r in page.rows) == ["My draft", "My live one"]
    assert page.total == 2
    admin = await make_admin(gql, app)
    page = await seller_listings.list_own(deps, await user_of(app, admin), ListingQuery())
    assert page.rows == [] and page.total == 0  # an admin's own: none


async def test_malformed_queries_are_refused_by_field(app: FastAPI, gql: GQL) -> None:
    viewer = await user_of(app, await register(gql, seller=True))
    bad = {
        "sort": ListingQuery(sort="title; DROP TABLE auctions"),
        "limit": ListingQuery(limit=0),
        "offset": ListingQuery(offset=-1),
        "text": ListingQuery(text="x" * (seller_listings.MAX_TEXT + 1)),
    }
    for name, query in bad.items():
        with pytest.raises(ValidationFailed) as refused:
            await seller_listings.list_own(app.state.deps, viewer, query)
        assert refused.value.field == name
    with pytest.raises(ValidationFailed):
        await seller_listings.list_own(
            app.state.deps, viewer, ListingQuery(limit=seller_listings.MAX_PAGE + 1)
        )


async def test_control_characters_in_the_search_are_refused_before_postgresql(
    app: FastAPI, gql: GQL
) -> None:
    """PostgreSQL cannot hold NUL (`invalid byte sequence`): refused by field, in words."""
    viewer = await user_of(app, await register(gql, seller=True))
    for text in ("ab\x00c", "line\nbreak", "\x7f", "\ud800"):
        with pytest.raises(ValidationFailed) as refused:
            await seller_listings.list_own(app.state.deps, viewer, ListingQuery(text=text))
        assert refused.value.field == "text"
        assert "must not contain NUL" in refused.value.message


async def test_bidders_have_no_listings_to_read(app: FastAPI, gql: GQL) -> None:
    bidder = await user_of(app, await register(gql))
    with pytest.raises(Forbidden):
        await seller_listings.list_own(app.state.deps, bidder, ListingQuery())
    with pytest.raises(Forbidden):
        await seller_listings.own_listing(app.state.deps, bidder, uuid.uuid4())


async def test_the_text_filter_is_literal(app: FastAPI, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    await create_auction(gql, seller, title="100% wool coat")
    await create_auction(gql, seller, title="Plain coat")
    viewer = await user_of(app, seller)
    page = await seller_listings.list_own(app.state.deps, viewer, ListingQuery(text="0%"))
    assert [r.title for r in page.rows] == ["100% wool coat"]
    page = await seller_listings.list_own(app.state.deps, viewer, ListingQuery(text="_"))
    assert page.rows == []


async def test_a_sealed_price_stays_hidden_from_its_seller(app: FastAPI, gql: GQL) -> None:
    seller = await register(gql, seller=True)
    bidder = await register(gql)
    auction_id = await live_auction(gql, seller, type="SEALED_FIRST_PRICE")
    await bid(gql, bidder, auction_id, "150.00")
    page = await seller_listings.list_own(
        app.state.deps,
        await user_of(app, seller),
        ListingQuery(types=[AuctionType.SEALED_FIRST_PRICE]),
    )
    (row,) = page.rows
    assert row.status is AuctionStatus.ACTIVE and row.price is None


async def test_another_sellers_listing_is_not_found(app: FastAPI, gql: GQL) -> None:
    owner = await register(gql, seller=True)
    draft = await create_auction(gql, owner)
    live_id = await live_auction(gql, owner)
    other = await user_of(app, await register(gql, seller=True))
    for target in (draft["id"], live_id):
        with pytest.raises(NotFound):
            await seller_listings.own_listing(app.state.deps, other, uuid.UUID(target))
    with pytest.raises(NotFound):
        seller_listings.parse_listing_id("../../etc")


async def test_images_are_added_and_removed_by_the_seller_only(app: FastAPI, gql: GQL) -> None:
    deps = app.state.deps
    owner_account = await register(gql, seller=True)
    owner = await user_of(app, owner_account)
    draft_id = uuid.UUID((await create_auction(gql, owner_account))["id"])
    other = await user_of(app, await register(gql, seller=True))
    pictures = [ImageUpload(png(color="red")), ImageUpload(png(color="green"))]

    images = await seller_listings.add_images(deps, owner, draft_id, pictures)
    assert len(images) == 2 and all(i.url.startswith("/media/items/") for i in images)

    refusals: list[tuple[str, object]] = [
        ("add", seller_listings.add_images(deps, other, draft_id, pictures)),
        ("remove", seller_listings.remove_image(deps, other, draft_id, images[0].id)),
        ("foreign image", seller_listings.remove_image(deps, owner, draft_id, uuid.uuid4())),
    ]
    for name, attempt in refusals:
        with pytest.raises(NotFound):
            await attempt  # type: ignore[misc]
        assert len((await seller_listings.own_listing(deps, owner, draft_id)).images) == 2, name

    with pytest.raises(ValidationFailed) as too_many:
        await seller_listings.add_images(
            deps, owner, draft_id, [ImageUpload(png()) for _ in range(MAX_IMAGES - 1)]
        )
    assert too_many.value.field == "imageUploads"
    with pytest.raises(ValidationFailed):
        await seller_listings.add_images(deps, owner, draft_id, [ImageUpload(b"<svg/>")])

    left = await seller_listings.remove_image(deps, owner, draft_id, images[0].id)
    assert [i.id for i in left] == [images[1].id]


async def test_images_of_a_live_listing_cannot_change(app: FastAPI, gql: GQL) -> None:
    owner_account = await register(gql, seller=True)
    live_id = uuid.UUID(await live_auction(gql, owner_account))
    owner = await user_of(app, owner_account)
    with pytest.raises(InvalidState):
        await seller_listings.add_images(app.state.deps, owner, live_id, [ImageUpload(png())])
