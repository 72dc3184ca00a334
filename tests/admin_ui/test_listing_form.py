"""Creating and editing a listing in the seller app: every auction type, validation
next to the fields, images, publishing and scheduling, and other sellers' listings."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from nicegui import ui
from nicegui.elements.upload_files import FileUpload, SmallFileUpload
from nicegui.testing.user import User

from adapters.images import MAX_BYTES, MAX_IMAGES
from tests.admin_ui.listing_steps import (
    client_of,
    field,
    fill,
    local,
    own_auctions,
    png,
    shown,
    stored,
)
from tests.admin_ui.steps import sign_in
from tests.conftest import GQL
from tests.helpers import PUBLISH, create_auction, register


async def _form(user: User, gql: GQL) -> str:
    seller = await register(gql, seller=True)
    await sign_in(user, seller, next_path="/listings/new")
    await user.should_see(marker="save-draft")
    return seller.id


def _common(user: User, title: str = "Leica M6 rangefinder") -> None:
    fill(
        user,
        title=title,
        description="Film camera, serviced last year.",
        category="cameras/film",
        condition="USED",
        currency="USD",
        startingPrice="100.00",
        endsAt=local(timedelta(days=3)),
    )


async def _saved(user: User, app: FastAPI, seller_id: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(50):
        rows = await own_auctions(app, seller_id)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} listings of {seller_id}")


async def test_english_draft_with_reserve_buy_now_and_soft_close(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller_id = await _form(ui_user, gql)
    _common(ui_user)
    fill(
        ui_user,
        type="ENGLISH",
        reservePrice="150.00",
        buyNowPrice="400",
        softCloseWindowSeconds="60",
        softCloseExtensionSeconds="90",
    )
    ui_user.find(marker="save-draft").click()
    (row,) = await _saved(ui_user, app, seller_id)
    await ui_user.should_see(marker="save-changes")  # on the draft's edit page now
    await ui_user.should_see("Draft saved.")
    auction = await stored(app, str(row["id"]))
    assert auction["status"] == "DRAFT" and auction["type"] == "ENGLISH"
    assert auction["starting_price"] == 10000
    assert auction["reserve_price"] == 15000 and auction["buy_now_price"] == 40000
    assert auction["soft_close_window_seconds"] == 60
    assert auction["soft_close_extension_seconds"] == 90
    assert auction["title"] == "Leica M6 rangefinder" and auction["category"] == "cameras/film"


async def test_dutch_shows_its_own_fields_and_publishes(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller_id = await _form(ui_user, gql)
    assert not shown(ui_user, "dutchFloor")
    _common(ui_user)
    fill(ui_user, type="DUTCH")
    assert shown(ui_user, "dutchFloor")
    assert not shown(ui_user, "reservePrice")
    assert not shown(ui_user, "buyNowPrice")
    fill(ui_user, dutchFloor="40", dutchStep="5.00", dutchStepSeconds="30")
    ui_user.find(marker="publish").click()
    (row,) = await _saved(ui_user, app, seller_id)
    await ui_user.should_see(marker="listings-table")
    auction = await stored(app, str(row["id"]))
    assert auction["status"] == "ACTIVE" and auction["type"] == "DUTCH"
    assert (auction["dutch_floor"], auction["dutch_step"], auction["dutch_step_seconds"]) == (
        4000,
        500,
        30,
    )
    assert auction["reserve_price"] is None and auction["soft_close_window_seconds"] is None


async def test_sealed_types_take_a_reserve_and_schedule(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller_id = await _form(ui_user, gql)
    for count, kind in enumerate(("SEALED_FIRST_PRICE", "SEALED_SECOND_PRICE"), start=1):
        await ui_user.open("/listings/new")
        _common(ui_user, title=f"Sealed lot {count}")
        fill(ui_user, type=kind, reservePrice="120", startsAt=local(timedelta(hours=2)))
        assert not shown(ui_user, "buyNowPrice")
        await ui_user.should_see("Schedule")  # the start is set: publishing schedules it
        ui_user.find(marker="publish").click()
        rows = await _saved(ui_user, app, seller_id, count)
        await ui_user.should_see(marker="listings-table")
        auction = await stored(app, str(rows[-1]["id"]))
        assert auction["type"] == kind and auction["status"] == "SCHEDULED"
        assert auction["reserve_price"] == 12000


async def test_refusals_appear_next_to_their_fields(ui_user: User, gql: GQL, app: FastAPI) -> None:
    seller_id = await _form(ui_user, gql)
    _common(ui_user)
    fill(ui_user, startingPrice="", buyNowPrice="ten")
    ui_user.find(marker="save-draft").click()
    await ui_user.should_see("Check the fields marked in red.")
    # Both fields the page could not read are marked at once; the others are not.
    assert field(ui_user, "startingPrice").error == "Enter a starting price."
    assert field(ui_user, "buyNowPrice").error == "Enter an amount like 12.50."
    assert field(ui_user, "title").error is None
    # The domain refuses an amount finer than the currency's cents, on its field.
    fill(ui_user, startingPrice="12.345", buyNowPrice="")
    ui_user.find(marker="save-draft").click()
    await ui_user.should_see("USD amounts have at most 2 decimal places.")
    assert field(ui_user, "startingPrice").error == "USD amounts have at most 2 decimal places."
    assert field(ui_user, "buyNowPrice").error is None
    # The domain's own rule: the reserve must be at least the starting price.
    fill(ui_user, startingPrice="100", buyNowPrice="", reservePrice="50")
    ui_user.find(marker="save-draft").click()
    await ui_user.should_see("Reserve price must be at least the Starting price.")
    assert field(ui_user, "reservePrice").error == (
        "Reserve price must be at least the Starting price."
    )
    assert field(ui_user, "startingPrice").error is None
    # Dutch: the floor must be below the start price.
    fill(ui_user, reservePrice="", type="DUTCH", dutchFloor="150", dutchStep="1")
    fill(ui_user, dutchStepSeconds="10")
    ui_user.find(marker="save-draft").click()
    await ui_user.should_see("Floor price must be below the Starting price.")
    assert field(ui_user, "dutchFloor").error == "Floor price must be below the Starting price."
    assert await own_auctions(app, seller_id) == []  # nothing was created


async def test_every_field_problem_shows_at_once_in_words_for_people(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """An empty title, an unreadable price and an end in the past: all three are marked
    before anything is sent, each next to its field, none in a developer's words."""
    seller_id = await _form(ui_user, gql)
    _common(ui_user)
    fill(
        ui_user,
        title="",
        startingPrice="abc",
        endsAt=local(-timedelta(days=2)),
        reservePrice="1e3",
        softCloseWindowSeconds="999999",
    )
    ui_user.find(marker="publish").click()
    await ui_user.should_see("Check the fields marked in red.")
    assert field(ui_user, "title").error == "Title needs at least 3 characters."
    assert field(ui_user, "startingPrice").error == "Enter an amount like 12.50."
    assert field(ui_user, "reservePrice").error == "Enter an amount like 12.50."
    assert "at least" in field(ui_user, "endsAt").error
    assert field(ui_user, "softCloseWindowSeconds").error.startswith("Soft-close window")
    assert field(ui_user, "description").error is None
    assert all("plain decimal" not in (field(ui_user, n).error or "") for n in ("startingPrice",))
    # A bare "amount" of the domain is named by its field.
    fill(ui_user, title="Leica M6", startingPrice="1" + "0" * 20, reservePrice="")
    fill(ui_user, endsAt=local(timedelta(days=3)), softCloseWindowSeconds="60")
    ui_user.find(marker="publish").click()
    await ui_user.should_see("Starting price is too large.")
    assert field(ui_user, "title").error is None and field(ui_user, "endsAt").error is None
    assert await own_auctions(app, seller_id) == []  # nothing was created


async def test_dutch_start_price_has_one_name_in_label_and_errors(ui_user: User, gql: GQL) -> None:
    await _form(ui_user, gql)
    _common(ui_user)
    fill(ui_user, type="DUTCH", startingPrice="100", dutchFloor="150", dutchStep="1")
    fill(ui_user, dutchStepSeconds="10")
    ui_user.find(marker="save-draft").click()
    await ui_user.should_see("Floor price must be below the Starting price.")
    assert field(ui_user, "startingPrice").props["label"] == "Starting price"
    assert field(ui_user, "startingPrice").props["hint"].startswith("The clock starts here")


async def test_the_form_layout_leaves_room_and_says_nothing_raw(ui_user: User, gql: GQL) -> None:
    """Dates have no zone suffix squeezing them (the zone is in the hint), the page ends
    with room for the sticky bar, and the uploader's header shows words, not the raw
    "0.0B / 0.00%" of an upload progress."""
    await _form(ui_user, gql)
    for name in ("startsAt", "endsAt", "hardCloseAt"):
        element = field(ui_user, name)
        assert "suffix" not in element.props and "(UTC)" in element.props["hint"]
    assert "sm:col-span-2" in field(ui_user, "hardCloseAt").parent_slot.parent.classes
    await ui_user.should_see(marker="bar-room")
    (upload,) = ui_user.find(kind=ui.upload, marker="image-upload").elements
    header = upload.slots["header"].template or ""
    assert "Add images" in header and "uploadSizeLabel" not in header
    assert "uploadProgressLabel" not in header


async def test_images_are_checked_previewed_removed_and_stored(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller_id = await _form(ui_user, gql)
    _common(ui_user)
    (upload,) = ui_user.find(kind=ui.upload, marker="image-upload").elements
    files: list[FileUpload] = [
        SmallFileUpload("front.png", "image/png", png(color="red")),
        SmallFileUpload("back.png", "image/png", png(color="blue")),
        SmallFileUpload("notes.txt", "image/png", b"<svg onload=alert(1)>not a picture</svg>"),
    ]
    with client_of(ui_user):
        await upload.handle_uploads(files)
    await ui_user.should_see(marker="image-preview")
    await ui_user.should_see("notes.txt is not a JPEG, PNG, WebP or GIF.")
    # The uploader's size limit is the browser's: the page checks again.
    huge = SmallFileUpload("huge.png", "image/png", png() + b"\0" * MAX_BYTES)
    with client_of(ui_user):
        await upload.handle_uploads([huge])
    await ui_user.should_see("huge.png is over 5 MB: left out.")
    assert len(ui_user.find(marker="image-preview").elements) == 2
    ui_user.find(marker="remove-image").click()  # the first one
    await asyncio.sleep(0.05)
    assert len(ui_user.find(marker="image-preview").elements) == 1
    ui_user.find(marker="save-draft").click()
    (row,) = await _saved(ui_user, app, seller_id)
    await ui_user.should_see(marker="stored-image")
    assert (await stored(app, str(row["id"])))["images"] == 1


async def test_edit_saves_changes_and_publishes_the_draft(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller, reservePrice="150.00")
    await sign_in(ui_user, seller, next_path=f"/listings/{auction['id']}/edit")
    await ui_user.should_see(marker="save-changes")
    assert field(ui_user, "reservePrice").value == "150.00"
    assert not field(ui_user, "currency").enabled  # fixed once saved
    fill(ui_user, title="Leica M6, 1986, boxed", startingPrice="120")
    ui_user.find(marker="save-changes").click()
    await ui_user.should_see("Saved.")
    row = await stored(app, auction["id"])
    assert (row["title"], row["starting_price"], row["status"]) == (
        "Leica M6, 1986, boxed",
        12000,
        "DRAFT",
    )
    fill(ui_user, reservePrice="")  # a reserve cannot be removed by an update
    ui_user.find(marker="save-changes").click()
    await ui_user.should_see("Check the fields marked in red.")
    assert "cannot be removed" in field(ui_user, "reservePrice").error
    fill(ui_user, reservePrice="150")
    ui_user.find(marker="publish").click()
    await ui_user.should_see(marker="listings-table")
    assert (await stored(app, auction["id"]))["status"] == "ACTIVE"


async def test_another_sellers_listing_is_not_found_and_unchanged(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    owner = await register(gql, seller=True)
    draft = await create_auction(gql, owner, title="Owner's private draft")
    other = await register(gql, seller=True)
    await sign_in(ui_user, other, next_path=f"/listings/{draft['id']}/edit")
    await ui_user.should_see("Listing not found")
    await ui_user.should_not_see("Owner's private draft")
    await ui_user.should_not_see(marker="save-changes")
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        await ui_user.open(f"/listings/{bad}/edit")
        await ui_user.should_see("Listing not found")
    assert (await stored(app, draft["id"]))["title"] == "Owner's private draft"


async def test_bidders_and_anonymous_cannot_open_the_form(ui_user: User, gql: GQL) -> None:
    await ui_user.open("/listings/new")
    await ui_user.should_see(marker="sign-in")
    bidder = await register(gql)
    await sign_in(ui_user, bidder, next_path="/listings/new")
    await ui_user.should_see("Not for this account")
    await ui_user.should_not_see(marker="save-draft")


async def test_edit_adds_and_removes_images(ui_user: User, gql: GQL, app: FastAPI) -> None:
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    await sign_in(ui_user, seller, next_path=f"/listings/{auction['id']}/edit")
    await ui_user.should_see("No images yet.")
    (upload,) = ui_user.find(kind=ui.upload, marker="image-upload").elements
    files: list[FileUpload] = [
        SmallFileUpload("a.png", "image/png", png(color="red")),
        SmallFileUpload("b.png", "image/png", png(color="blue")),
    ]
    with client_of(ui_user):
        await upload.handle_uploads(files)
    await ui_user.should_see("Images added.")
    assert len(ui_user.find(marker="stored-image").elements) == 2
    assert (await stored(app, auction["id"]))["images"] == 2
    ui_user.find(marker="remove-stored-image").click()
    await ui_user.should_see("Image removed.")
    assert len(ui_user.find(marker="stored-image").elements) == 1
    assert (await stored(app, auction["id"]))["images"] == 1
    # A file the listing refuses is named next to the images, and nothing is added.
    with client_of(ui_user):
        await upload.handle_uploads([SmallFileUpload("x.png", "image/png", b"not an image")])
    await ui_user.should_see(marker="images-problem")
    assert (await stored(app, auction["id"]))["images"] == 1


async def test_a_live_listing_is_shown_but_not_editable(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    await sign_in(ui_user, seller, next_path=f"/listings/{auction['id']}/edit")
    await ui_user.should_see(marker="not-editable")
    await ui_user.should_not_see(marker="save-changes")
    await ui_user.should_not_see(marker="image-upload")
    await ui_user.should_see(marker="open-monitor")
    assert not field(ui_user, "title").enabled


# -- hostile input: refused in words, nothing stored, nothing crashes -------------------


async def test_a_date_off_the_calendar_is_a_field_error(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    """Year 1 with an offset parses, then leaves the calendar when turned into UTC."""
    seller_id = await _form(ui_user, gql)
    _common(ui_user)
    for moment in ("0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00", "1900-01-01T00:00"):
        fill(ui_user, endsAt=moment)
        ui_user.find(marker="save-draft").click()
        for _ in range(50):
            if field(ui_user, "endsAt").error:
                break
            await asyncio.sleep(0.02)
        assert "between the years" in field(ui_user, "endsAt").error, moment
    assert await own_auctions(app, seller_id) == []


async def test_a_nul_byte_in_a_text_field_is_refused_in_words(
    ui_user: User, gql: GQL, app: FastAPI
) -> None:
    seller = await register(gql, seller=True)
    await sign_in(ui_user, seller, next_path="/listings/new")
    # A category is chosen from the list: a value not in it leaves the choice empty.
    for name, words in (
        ("title", "must not contain NUL"),
        ("description", "must not contain NUL"),
        ("category", "Choose a category."),
    ):
        await ui_user.open("/listings/new")
        await ui_user.should_see(marker="save-draft")
        _common(ui_user)
        value = str(field(ui_user, name).value)
        fill(ui_user, **{name: value[:3] + "\x00" + value[3:]})
        ui_user.find(marker="save-draft").click()
        await ui_user.should_see(words, retries=30)
    assert await own_auctions(app, seller.id) == []


async def test_an_upload_over_the_image_limit_is_refused_before_reading(
    ui_user: User, gql: GQL, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand-made upload request may carry up to 1,000 files (the uploader's max-files is
    the browser's): the count is checked before any file is read into memory, on the edit
    page (one batch) and the new listing page (one handler per file, all at once)."""
    reads = {"n": 0}
    real_read = SmallFileUpload.read

    async def counting_read(self: SmallFileUpload) -> bytes:
        reads["n"] += 1
        return await real_read(self)

    monkeypatch.setattr(SmallFileUpload, "read", counting_read)
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    await sign_in(ui_user, seller, next_path=f"/listings/{auction['id']}/edit")
    await ui_user.should_see(marker="save-changes")
    (upload,) = ui_user.find(kind=ui.upload, marker="image-upload").elements
    many: list[FileUpload] = [
        SmallFileUpload(f"p{i}.png", "image/png", png()) for i in range(MAX_IMAGES + 1)
    ]
    with client_of(ui_user):
        await upload.handle_uploads(many)
    await ui_user.should_see(f"room for {MAX_IMAGES} more")
    assert reads["n"] == 0
    assert (await stored(app, auction["id"]))["images"] == 0

    await ui_user.open("/listings/new")
    await ui_user.should_see(marker="save-draft")
    (upload,) = ui_user.find(kind=ui.upload, marker="image-upload").elements
    with client_of(ui_user):
        await upload.handle_uploads(
            [SmallFileUpload(f"q{i}.png", "image/png", png()) for i in range(60)]
        )
    await asyncio.sleep(0.5)
    assert reads["n"] == MAX_IMAGES
    assert len(ui_user.find(marker="image-preview").elements) == MAX_IMAGES


def test_counts_are_written_with_proper_plurals() -> None:
    from admin_ui.formatting import plural

    assert [plural(n, "bid") for n in (0, 1, 2)] == ["0 bids", "1 bid", "2 bids"]
    assert plural(3, "live auction") == "3 live auctions"
