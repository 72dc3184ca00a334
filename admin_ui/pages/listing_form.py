"""Creating and editing a listing: `/listings/new` and `/listings/{auction_id}/edit`.

The form shows the fields common to every auction and only those of the chosen type
(admin_ui/listing_fields.py BY_TYPE); amounts are typed in major units, times in the
viewer's timezone. Saving calls services/listings.py (create_auction, update_auction,
publish_auction: the API's use cases, the same validation and rate limits); a refusal is
shown next to the field it names (DomainError.field) as well as in a toast. Images go
through the same path as the API's uploads (services/listings.ImageUpload, deps.images):
each file is checked when it arrives (type, size, dimensions: adapters/images.py) and
previewed; the listing's images are stored when it is created. Only the viewer's own
listing can be edited (services/seller_listings.own_listing): another seller's id is
"not found", and nothing of it is shown.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nicegui import events, ui
from nicegui.elements.mixins.disableable_element import DisableableElement
from nicegui.elements.mixins.validation_element import ValidationElement

from adapters.images import MAX_BYTES, MAX_IMAGES
from admin_ui.actions import act
from admin_ui.context import admin_context
from admin_ui.formatting import plural, when
from admin_ui.listing_fields import (
    BY_TYPE,
    CONDITION_LABELS,
    EDITABLE,
    LABELS,
    MONEY_FIELDS,
    SECONDS_FIELDS,
    STATUS_LABELS,
    TIME_FIELDS,
    TYPE_FIELDS,
    TYPE_LABELS,
    FormProblems,
    check_fields,
    field_words,
    humanize,
    local_text,
    major_text,
    read_money,
    read_seconds,
    read_time,
)
from admin_ui.messages import error_state, explain
from admin_ui.session_store import page_storage
from admin_ui.shell import PageEnv, admin_page
from domain.categories import CATEGORIES
from domain.enums import AuctionStatus, AuctionType, ItemCondition
from domain.errors import DomainError, ValidationFailed
from domain.listing import ListingChanges, ListingInput, ListingPolicy
from domain.money import CURRENCY_EXPONENTS
from services import listings, seller_listings
from services.listings import ImageUpload
from services.seller_listings import OwnListing
from storage.tables import User

FLASH = "gavel_listing_flash"  # a message for the next page (app.storage.user)
HINTS = {
    "startingPrice": "In major units, e.g. 12.50",  # a Dutch clock's: DUTCH_START_HINT
    "reservePrice": "Optional: no sale below it (kept secret)",
    "buyNowPrice": "Optional: a buyer may end it at this price",
    "dutchFloor": "The clock never goes below it",
    "dutchStep": "The price drops this much each step",
    "dutchStepSeconds": "Seconds between two drops",
    "softCloseWindowSeconds": "A bid this close to the end extends it; 0: off",
    "softCloseExtensionSeconds": "How far a late bid pushes the end",
    "hardCloseAt": "Optional: extensions stop here",
    "startsAt": "Empty: opens when you publish",
    "endsAt": "When bidding closes",
}
DUTCH_START_HINT = "The clock starts here and drops toward the floor"


def _category_label(path: str) -> str:
    return " / ".join(part.replace("-", " ").capitalize() for part in path.split("/"))


@dataclass
class PickedImage:
    name: str
    data: bytes
    content_type: str


@dataclass
class ListingForm:
    """The inputs of the listing form, by the domain's field names."""

    zone: Any
    inputs: dict[str, ValidationElement[Any]] = field(default_factory=dict)
    boxes: dict[str, ui.element] = field(default_factory=dict)
    type_select: ui.select | None = None
    images_problem: ui.label | None = None
    banner: ui.label | None = None
    picked: list[PickedImage] = field(default_factory=list)

    # -- drawing ---------------------------------------------------------------------

    def text(self, name: str, *, wide: bool = False, multiline: bool = False) -> ui.input:
        maker: Callable[..., ui.input] = ui.textarea if multiline else ui.input
        box = ui.element("div").classes("w-full" + (" sm:col-span-2" if wide else ""))
        with box:
            element = (
                maker(LABELS[name])
                .props("outlined hide-bottom-space")
                .classes("w-full")
                .mark(f"field-{name}")
            )
            if name in HINTS:
                hint = HINTS[name]
                if name in TIME_FIELDS:  # a suffix would squeeze the date: the zone is here
                    hint = f"{hint} ({self._zone()})"
                element.props(f'hint="{hint}"')
            if name in MONEY_FIELDS:
                element.props('inputmode=decimal placeholder="0.00"')
            if name in SECONDS_FIELDS:
                element.props("inputmode=numeric")
            if name in TIME_FIELDS:
                element.props("type=datetime-local stack-label clearable")
        self.inputs[name] = element
        self.boxes[name] = box
        return element

    def choice(self, name: str, options: dict[str, str], value: str) -> ui.select:
        box = ui.element("div").classes("w-full")
        with box:
            element = (
                ui.select(options, label=LABELS[name], value=value)
                .props("outlined options-dense hide-bottom-space")
                .classes("w-full")
                .mark(f"field-{name}")
            )
        self.inputs[name] = element
        self.boxes[name] = box
        return element

    def _zone(self) -> str:
        return str(self.zone.key) if hasattr(self.zone, "key") else "UTC"

    def show_type(self, kind: AuctionType) -> None:
        """Show the fields of `kind`, hide the other types' (their values are kept, and
        not sent)."""
        for name in TYPE_FIELDS:
            self.boxes[name].visible = name in BY_TYPE[kind]
        # One name for the field, in its label and in the domain's refusals ("Floor
        # price must be below the Starting price"); the hint says what it means here.
        hint = DUTCH_START_HINT if kind is AuctionType.DUTCH else HINTS["startingPrice"]
        self.inputs["startingPrice"].props(f'hint="{hint}"')

    def disable(self, names: set[str] | frozenset[str], reason: str) -> None:
        for name in names:
            element = self.inputs.get(name)
            if isinstance(element, DisableableElement):
                element.disable()
                element.props(f'hint="{reason}"')

    # -- reading ---------------------------------------------------------------------

    def value(self, name: str) -> str:
        raw = self.inputs[name].value
        return "" if raw is None else str(raw)

    def kind(self) -> AuctionType:
        assert self.type_select is not None
        return AuctionType(self.type_select.value)

    def read_all(self, kind: AuctionType) -> tuple[dict[str, Any], list[ValidationFailed]]:
        """Every field of `kind` as the domain reads it (None: empty or unreadable), and
        the problems of those that could not be read."""
        problems: list[ValidationFailed] = []
        shown = set(BY_TYPE[kind])
        values: dict[str, Any] = {"title": self.value("title")}
        values["description"] = self.value("description")

        def read(name: str, reader: Callable[[str], Any]) -> None:
            if name in TYPE_FIELDS and name not in shown:
                values[name] = None
                return
            try:
                values[name] = reader(self.value(name))
            except ValidationFailed as err:
                problems.append(err)
                values[name] = None

        for name in sorted(MONEY_FIELDS):
            read(name, lambda text, n=name: read_money(text, n))  # type: ignore[misc]
        for name in sorted(SECONDS_FIELDS):
            read(name, lambda text, n=name: read_seconds(text, n))  # type: ignore[misc]
        for name in sorted(TIME_FIELDS):
            read(name, lambda text, n=name: read_time(text, self.zone, n))  # type: ignore[misc]
        return values, problems

    def checked(
        self, kind: AuctionType, currency: str, now: datetime, policy: ListingPolicy
    ) -> dict[str, Any]:
        """The typed values, once every field passed the domain's own checks field by
        field (listing_fields.check_fields); else FormProblems with ALL the problems."""
        values, problems = self.read_all(kind)
        values["category"] = self.value("category") or None
        for name, words in (
            ("category", "Choose a category"),
            ("startingPrice", "Enter a starting price"),
            ("endsAt", "Choose when bidding closes"),
        ):
            if values[name] is None and not any(p.field == name for p in problems):
                problems.append(ValidationFailed(words, field=name))
        skip = frozenset(p.field for p in problems if p.field)
        problems += check_fields(
            values, kind=kind, currency=currency, now=now, policy=policy, skip=skip
        )
        if problems:
            raise FormProblems(problems)
        return values

    def listing_input(self, now: datetime, policy: ListingPolicy) -> ListingInput:
        """What was typed, as the domain's input; FormProblems lists every field with a
        problem (unreadable, missing, or refused by the domain's rules)."""
        kind = self.kind()
        values = self.checked(kind, self.value("currency"), now, policy)
        return ListingInput(
            title=values["title"],
            description=values["description"],
            category=self.value("category"),
            condition=ItemCondition(self.value("condition")),
            type=kind,
            currency=self.value("currency"),
            starting_price=values["startingPrice"],
            ends_at=values["endsAt"],
            reserve_price=values["reservePrice"],
            buy_now_price=values["buyNowPrice"],
            starts_at=values["startsAt"],
            dutch_step=values["dutchStep"],
            dutch_step_seconds=values["dutchStepSeconds"],
            dutch_floor=values["dutchFloor"],
            soft_close_window_seconds=values["softCloseWindowSeconds"],
            soft_close_extension_seconds=values["softCloseExtensionSeconds"],
            hard_close_at=values["hardCloseAt"],
        )

    def listing_changes(
        self, current: OwnListing, now: datetime, policy: ListingPolicy
    ) -> ListingChanges:
        """The editable fields as an update (services/listings.update_auction), checked
        field by field like a new listing. A value the update cannot remove (a reserve, a
        buy-now price, a start) is refused here."""
        auction = current.auction
        kind = AuctionType(auction.type)
        values, problems = self.read_all(kind)
        for name, stored in (
            ("startingPrice", auction.starting_price),
            ("reservePrice", auction.reserve_price),
            ("buyNowPrice", auction.buy_now_price),
            ("startsAt", auction.starts_at),
            ("endsAt", auction.ends_at),
        ):
            unread = any(p.field == name for p in problems)
            if values.get(name) is None and stored is not None and not unread:
                problems.append(
                    ValidationFailed(
                        f"{LABELS[name]} cannot be removed from a saved listing; cancel it"
                        " and list it again without one",
                        field=name,
                    )
                )
        skip = frozenset(p.field for p in problems if p.field)
        problems += check_fields(
            values, kind=kind, currency=auction.currency, now=now, policy=policy, skip=skip
        )
        if problems:
            raise FormProblems(problems)
        return ListingChanges(
            title=values["title"],
            description=values["description"],
            category=self.value("category"),
            condition=ItemCondition(self.value("condition")),
            starting_price=values["startingPrice"],
            reserve_price=values["reservePrice"] if "reservePrice" in BY_TYPE[kind] else None,
            buy_now_price=values["buyNowPrice"] if "buyNowPrice" in BY_TYPE[kind] else None,
            starts_at=values["startsAt"],
            ends_at=values["endsAt"],
        )

    # -- showing problems ------------------------------------------------------------

    def clear_problems(self) -> None:
        for element in self.inputs.values():
            element.error = None
        if self.images_problem is not None:
            self.images_problem.visible = False
        if self.banner is not None:
            self.banner.visible = False

    def show(self, err: DomainError) -> None:
        """Put a refusal next to the field it names, or above the form."""
        message = field_words(err)
        if err.field == "imageUploads" and self.images_problem is not None:
            self.images_problem.text = message
            self.images_problem.visible = True
        elif err.field in self.inputs and self.boxes[err.field].visible:
            self.inputs[err.field].error = message
        elif self.banner is not None:
            self.banner.text = message
            self.banner.visible = True

    def show_all(self, problems: FormProblems) -> None:
        for problem in problems.problems:
            self.show(problem)
        ui.notify("Check the fields marked in red.", type="warning")


def _sections(form: ListingForm, *, kind: AuctionType, creating: bool) -> None:
    """The form's fields in cards: the item, the auction, the schedule."""
    with ui.card().classes("w-full"):
        ui.label("What you sell").classes("text-lg font-semibold")
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-x-3 gap-y-4 w-full"):
            form.text("title", wide=True).props("counter maxlength=140")
            form.text("description", wide=True, multiline=True).props("autogrow")
            form.choice(
                "category", {c: _category_label(c) for c in CATEGORIES}, CATEGORIES[0]
            ).props("use-input input-debounce=0 fill-input hide-selected")
            form.choice(
                "condition", {c.value: label for c, label in CONDITION_LABELS.items()}, "USED"
            )
    with ui.card().classes("w-full"):
        ui.label("How it sells").classes("text-lg font-semibold")
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-x-3 gap-y-4 w-full"):
            form.type_select = form.choice(
                "type", {t.value: label for t, label in TYPE_LABELS.items()}, kind.value
            )
            form.choice("currency", {c: c for c in sorted(CURRENCY_EXPONENTS)}, "USD")
            form.text("startingPrice")
            form.text("reservePrice")
            form.text("buyNowPrice")
            form.text("dutchFloor")
            form.text("dutchStep")
            form.text("dutchStepSeconds")
            form.text("softCloseWindowSeconds").set_value("120")
            form.text("softCloseExtensionSeconds").set_value("120")
            form.text("hardCloseAt", wide=True)
    with ui.card().classes("w-full"):
        ui.label("When").classes("text-lg font-semibold")
        ui.label(
            f"Times are in your timezone, {form._zone()}. Start empty: bidding opens when you"
            " publish; a start in the future schedules the auction."
        ).classes("text-sm opacity-70")
        with ui.element("div").classes("grid grid-cols-1 sm:grid-cols-2 gap-x-3 gap-y-4 w-full"):
            form.text("startsAt")
            form.text("endsAt")
    assert form.type_select is not None
    form.type_select.on_value_change(lambda e: form.show_type(AuctionType(e.value)))
    if not creating:
        form.disable({"type", "currency"}, "Fixed once the listing is saved")
    form.show_type(kind)


# The uploader's own header shows a byte count and a percentage ("0.0B / 0.00%") that
# mean nothing here: files are checked, not uploaded somewhere with progress to follow.
_UPLOAD_HEADER = """
<div class="row no-wrap items-center q-pa-sm q-gutter-xs">
  <q-spinner v-if="props.isUploading" size="1.5em" />
  <div class="col">
    <div class="q-uploader__title">Add images</div>
    <div class="q-uploader__subtitle">
      {{ props.isUploading ? 'Checking…' : 'Drop files here or click +' }}
    </div>
  </div>
  <q-btn v-if="props.canAddFiles" type="a" icon="add_box" round dense flat>
    <q-uploader-add-trigger />
    <q-tooltip>Choose images</q-tooltip>
  </q-btn>
</div>
"""
_ACCEPT = ".jpg,.jpeg,.png,.webp,.gif,image/jpeg,image/png,image/webp,image/gif"
_LIMITS = (
    f"Up to {MAX_IMAGES} JPEG, PNG, WebP or GIF files of at most"
    f" {MAX_BYTES // (1024 * 1024)} MB each. The first one is the cover."
)


def _stored_images(form: ListingForm, current: OwnListing) -> None:
    """A saved listing's images, each with a remove button, and an uploader that adds
    more, while the listing can be edited (services/seller_listings add_images and
    remove_image: the same checks and rate limit as createAuction)."""
    deps = admin_context().deps
    auction_id = current.auction.id
    editable = current.editable
    with ui.card().classes("w-full"):
        ui.label("Images").classes("text-lg font-semibold")
        if editable:
            ui.label(_LIMITS).classes("text-sm opacity-70")
        gallery = ui.element("div").classes("grid grid-cols-3 gap-2 w-full").mark("stored-images")
        form.images_problem = ui.label("").classes("text-negative text-sm").mark("images-problem")
        form.images_problem.visible = False

        held = {"images": len(current.images), "arriving": 0}

        def draw(images: list[seller_listings.ListingImage]) -> None:
            held["images"] = len(images)
            gallery.clear()
            with gallery:
                if not images:
                    ui.label("No images yet.").classes("opacity-70 col-span-3")
                for image in images:
                    with ui.element("div").classes("relative").mark("stored-image"):
                        ui.image(image.url).classes("rounded aspect-square")
                        if editable:
                            ui.button(icon="close", on_click=lambda _, i=image.id: remove(i)).props(
                                "round dense size=sm color=negative"
                            ).classes("absolute top-1 right-1").mark("remove-stored-image").tooltip(
                                "Remove this image"
                            )

        async def remove(image_id: uuid.UUID) -> None:
            images = await act(
                lambda viewer: seller_listings.remove_image(deps, viewer, auction_id, image_id),
                audience="seller",
                done="Image removed.",
            )
            if images is not None:
                draw(images)

        async def arrived(e: events.MultiUploadEventArguments) -> None:
            form.images_problem.visible = False  # type: ignore[union-attr]
            # The uploader's limits are the browser's; a hand-made request may exceed them:
            # count and size are checked before any file is read into memory, against the
            # slots left (the images held and those of batches still being stored).
            free = MAX_IMAGES - held["images"] - held["arriving"]
            if len(e.files) > free:
                uploader.reset()
                _image_problem(
                    form,
                    f"A listing has at most {MAX_IMAGES} images: room for {max(0, free)} more,"
                    f" {len(e.files)} were sent. Nothing was added.",
                )
                return
            if too_big := [f.name for f in e.files if f.size() > MAX_BYTES]:
                uploader.reset()
                _image_problem(form, f"Over {MAX_BYTES // (1024 * 1024)} MB: {', '.join(too_big)}.")
                return
            held["arriving"] += len(e.files)
            try:
                await store(e)
            finally:
                held["arriving"] -= len(e.files)

        async def store(e: events.MultiUploadEventArguments) -> None:
            uploads = [ImageUpload(data=await f.read()) for f in e.files]

            async def work(viewer: User) -> list[seller_listings.ListingImage]:
                try:
                    return await seller_listings.add_images(deps, viewer, auction_id, uploads)
                except DomainError as err:
                    form.show(err)
                    raise

            spinner.visible = True
            try:
                images = await act(work, audience="seller", done="Images added.")
            finally:
                spinner.visible = False
                uploader.reset()
            if images is not None:
                draw(images)

        draw(current.images)
        if not editable:
            return
        uploader = (
            ui.upload(
                multiple=True,
                auto_upload=True,
                max_file_size=MAX_BYTES,
                max_files=MAX_IMAGES,
                on_multi_upload=arrived,
                on_rejected=lambda: _image_problem(
                    form,
                    f"Some files were left out: at most {MAX_IMAGES} files of"
                    f" {MAX_BYTES // (1024 * 1024)} MB each.",
                ),
                label="Add images",
            )
            .props(f'accept="{_ACCEPT}" flat bordered hide-upload-btn')
            .classes("w-full")
            .mark("image-upload")
        )
        uploader.add_slot("header", _UPLOAD_HEADER)
        spinner = ui.spinner(size="lg").mark("images-saving")
        spinner.visible = False


def _new_images(form: ListingForm) -> None:
    """A new listing's images: an uploader with a preview and a remove button per
    picture; each file is checked as it arrives, all are stored with the listing."""
    with ui.card().classes("w-full"):
        ui.label("Images").classes("text-lg font-semibold")
        ui.label(_LIMITS).classes("text-sm opacity-70")
        previews = ui.element("div").classes("grid grid-cols-3 gap-2 w-full").mark("previews")
        form.images_problem = ui.label("").classes("text-negative text-sm").mark("images-problem")
        form.images_problem.visible = False

        def redraw() -> None:
            previews.clear()
            with previews:
                for index, picture in enumerate(form.picked):
                    with ui.element("div").classes("relative").mark("image-preview"):
                        encoded = base64.b64encode(picture.data).decode("ascii")
                        ui.image(f"data:{picture.content_type};base64,{encoded}").classes(
                            "rounded aspect-square"
                        )
                        ui.button(icon="close", on_click=lambda _, i=index: remove(i)).props(
                            "round dense size=sm color=negative"
                        ).classes("absolute top-1 right-1").mark("remove-image").tooltip(
                            f"Remove {picture.name}"
                        )

        def remove(index: int) -> None:
            if 0 <= index < len(form.picked):
                form.picked.pop(index)
            redraw()

        arriving = {"files": 0}  # files being read and checked now (handlers overlap)

        async def arrived(e: events.UploadEventArguments) -> None:
            form.images_problem.visible = False  # type: ignore[union-attr]
            # Each file's handler runs at once: a slot is taken before anything is read,
            # so a hand-made request with many files reads no more than the slots left.
            if len(form.picked) + arriving["files"] >= MAX_IMAGES:
                _image_problem(form, f"At most {MAX_IMAGES} images: {e.file.name} was left out.")
                return
            # The uploader's limits are the browser's; a hand-made request may exceed them.
            if e.file.size() > MAX_BYTES:
                _image_problem(
                    form, f"{e.file.name} is over {MAX_BYTES // (1024 * 1024)} MB: left out."
                )
                return
            arriving["files"] += 1
            try:
                await take(e)
            finally:
                arriving["files"] -= 1

        async def take(e: events.UploadEventArguments) -> None:
            data = await e.file.read()
            try:
                kind = await seller_listings.check_image(data)
            except DomainError as err:
                # The check names the file "image 1"; the person knows it by its name.
                reason = err.message.removeprefix("image 1 ").rstrip(".")
                _image_problem(form, f"{e.file.name} {reason}.")
                return
            if len(form.picked) >= MAX_IMAGES:  # others arrived while this one was checked
                _image_problem(form, f"At most {MAX_IMAGES} images: {e.file.name} was left out.")
                return
            form.picked.append(PickedImage(name=e.file.name, data=data, content_type=kind))
            redraw()

        uploader = (
            ui.upload(
                multiple=True,
                auto_upload=True,
                max_file_size=MAX_BYTES,
                max_files=MAX_IMAGES,
                on_upload=arrived,
                on_rejected=lambda: _image_problem(
                    form,
                    f"Some files were left out: at most {MAX_IMAGES} files of"
                    f" {MAX_BYTES // (1024 * 1024)} MB each.",
                ),
                label="Add images",
            )
            .props(f'accept="{_ACCEPT}" flat bordered hide-upload-btn')
            .classes("w-full")
            .mark("image-upload")
        )
        uploader.add_slot("header", _UPLOAD_HEADER)
        uploader.on_multi_upload(lambda: uploader.reset())


def _image_problem(form: ListingForm, message: str) -> None:
    assert form.images_problem is not None
    form.images_problem.text = message
    form.images_problem.visible = True


def _flash(message: str, kind: str = "positive") -> None:
    page_storage()[FLASH] = {"text": message, "type": kind}


def show_flash() -> None:
    """The message a previous page left (e.g. "Published"), shown once."""
    message = page_storage().pop(FLASH, None)
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        warning = message.get("type") == "warning"
        ui.notify(message["text"], type="warning" if warning else "positive", multi_line=True)


def _published_words(row: Any, zone: Any) -> str:
    if row.status == AuctionStatus.SCHEDULED.value:
        return f"Scheduled: bidding opens {when(row.starts_at, zone)}."
    return "Published: bidding is open."


@admin_page("/listings/new", title="New listing", audience="seller")
async def new_listing_page(env: PageEnv) -> None:
    deps = admin_context().deps
    kind_param = env.request.query_params.get("type", "ENGLISH")
    kind = AuctionType(kind_param) if kind_param in AuctionType.__members__ else AuctionType.ENGLISH
    form = ListingForm(zone=env.zone)
    _header("New listing", "Fill in the item and the terms; save a draft or publish.")
    form.banner = ui.label("").classes("text-negative").mark("form-problem")
    form.banner.visible = False
    with ui.element("div").classes("grid grid-cols-1 lg:grid-cols-3 gap-4 w-full"):
        with ui.column().classes("lg:col-span-2 gap-4 w-full"):
            _sections(form, kind=kind, creating=True)
        with ui.column().classes("gap-4 w-full"):
            _new_images(form)
    ends = form.inputs["endsAt"]
    default_end = (deps.clock() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    ends.set_value(local_text(default_end, env.zone))

    async def create(publish: bool, button: ui.button) -> None:
        form.clear_problems()
        try:
            listing = form.listing_input(deps.clock(), deps.listing_policy)
        except FormProblems as problems:
            form.show_all(problems)
            return
        images = [ImageUpload(data=p.data) for p in form.picked]

        async def work(viewer: User) -> Any:
            try:
                row = await listings.create_auction(deps, viewer, listing, images)
            except DomainError as err:
                form.show(err)
                raise
            if not publish:
                return row
            try:
                return await listings.publish_auction(deps, viewer, row.id)
            except DomainError as err:  # the draft stays: its page says why
                _flash(f"Saved as a draft, not published: {humanize(explain(err))}", "warning")
                return row

        with _busy(button):
            row = await act(work, audience="seller")
        if row is None:
            return
        if publish and row.status != AuctionStatus.DRAFT.value:
            _flash(_published_words(row, env.zone))
            ui.navigate.to("/listings")
        else:
            if FLASH not in page_storage():  # a refused publish left its own words
                _flash("Draft saved.")
            ui.navigate.to(f"/listings/{row.id}/edit")

    with _action_bar():
        ui.button("Back to listings", on_click=lambda: ui.navigate.to("/listings")).props("flat")
        draft = ui.button("Save draft", icon="save").props("outline").mark("save-draft")
        draft.on_click(lambda: create(False, draft))
        go = ui.button("Publish", icon="rocket_launch").props("unelevated").mark("publish")
        go.on_click(lambda: create(True, go))
        _publish_label(go, form)


def _publish_label(button: ui.button, form: ListingForm) -> None:
    """ "Publish" or "Schedule", as the start field says."""

    def relabel() -> None:
        button.text = "Schedule" if form.value("startsAt") else "Publish"
        button.props(f"icon={'event' if form.value('startsAt') else 'rocket_launch'}")

    form.inputs["startsAt"].on_value_change(relabel)
    relabel()


# The room the action bar takes at the bottom of the window: a field scrolled or tabbed
# to stops above it, and the page ends with that much space below the last field.
BAR_ROOM = "6rem"


class _action_bar:
    """The form's buttons, kept in view at the bottom of the window on a card (a theme
    background in light and dark mode, so the fields scroll beneath it, not through it)."""

    def __enter__(self) -> None:
        ui.add_css(f"html {{ scroll-padding-bottom: {BAR_ROOM}; }}")
        self.card = ui.card().classes("w-full sticky bottom-2 z-10 p-2").props("bordered")
        self.card.__enter__()
        self.row = ui.row().classes("w-full justify-end items-center gap-2 flex-wrap")
        self.row.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.row.__exit__(*exc)
        self.card.__exit__(*exc)
        ui.element("div").style(f"height: {BAR_ROOM}").mark("bar-room")


class _busy:
    """A button shows a spinner and takes no clicks while its action runs."""

    def __init__(self, button: ui.button) -> None:
        self.button = button

    def __enter__(self) -> None:
        self.button.props("loading")
        self.button.disable()

    def __exit__(self, *exc: object) -> None:
        self.button.props(remove="loading")
        self.button.enable()


def _header(title: str, subtitle: str) -> None:
    with ui.column().classes("gap-0"):
        ui.label(title).classes("text-2xl font-semibold")
        ui.label(subtitle).classes("opacity-70")


@admin_page("/listings/{auction_id}/edit", title="Edit listing", audience="seller")
async def edit_listing_page(env: PageEnv, auction_id: str) -> None:
    deps = admin_context().deps
    try:
        listing_id = seller_listings.parse_listing_id(auction_id)
        current = await seller_listings.own_listing(deps, env.viewer, listing_id)
    except DomainError as err:
        if err.code != "NOT_FOUND":
            raise
        error_state(
            "Listing not found",
            "There is no such listing among yours. It may have been mistyped, or it belongs"
            " to another account.",
            icon="search_off",
        )
        ui.button("Back to your listings", on_click=lambda: ui.navigate.to("/listings")).props(
            "flat"
        )
        return
    show_flash()
    _edit_form(env, current)


def _edit_form(env: PageEnv, current: OwnListing) -> None:
    deps = admin_context().deps
    auction, item = current.auction, current.item
    kind = AuctionType(auction.type)
    status = current.status
    _header(
        item.title,
        f"{TYPE_LABELS[kind]} · {STATUS_LABELS[status]}"
        + (f" · {plural(auction.bid_count, 'bid')}" if auction.bid_count else ""),
    )
    form = ListingForm(zone=env.zone)
    form.banner = ui.label("").classes("text-negative").mark("form-problem")
    form.banner.visible = False
    if not current.editable:
        ui.label(
            f"This listing is {STATUS_LABELS[status].lower()}"
            + (" and has bids" if auction.bid_count else "")
            + ": it can no longer be edited."
        ).classes("text-warning").mark("not-editable")
    with ui.element("div").classes("grid grid-cols-1 lg:grid-cols-3 gap-4 w-full"):
        with ui.column().classes("lg:col-span-2 gap-4 w-full"):
            _sections(form, kind=kind, creating=False)
        with ui.column().classes("gap-4 w-full"):
            _stored_images(form, current)
    _fill(form, current, env.zone)
    fixed = frozenset(form.inputs) - EDITABLE
    form.disable(fixed - {"type", "currency"}, "Fixed once the listing is saved")
    if not current.editable:
        form.disable(frozenset(form.inputs), "This listing can no longer be edited")

    async def save(then_publish: bool, button: ui.button) -> None:
        form.clear_problems()
        try:
            changes = form.listing_changes(current, deps.clock(), deps.listing_policy)
        except FormProblems as problems:
            form.show_all(problems)
            return

        async def work(viewer: User) -> Any:
            try:
                row = await listings.update_auction(deps, viewer, auction.id, changes)
                if then_publish:
                    row = await listings.publish_auction(deps, viewer, auction.id)
                return row
            except DomainError as err:
                form.show(err)
                raise

        with _busy(button):
            row = await act(work, audience="seller", done=None if then_publish else "Saved.")
        if row is None:
            return
        if then_publish:
            _flash(_published_words(row, env.zone))
            ui.navigate.to("/listings")

    with _action_bar():
        ui.button("Back to listings", on_click=lambda: ui.navigate.to("/listings")).props("flat")
        if status is not AuctionStatus.DRAFT:
            ui.button(
                "Live monitor",
                icon="sensors",
                on_click=lambda: ui.navigate.to(f"/listings/{auction.id}/live"),
            ).props("flat").mark("open-monitor")
        if current.editable:
            keep = ui.button("Save changes", icon="save").props("outline").mark("save-changes")
            keep.on_click(lambda: save(False, keep))
        if status is AuctionStatus.DRAFT:
            go = ui.button("Publish", icon="rocket_launch").props("unelevated").mark("publish")
            go.on_click(lambda: save(True, go))
            _publish_label(go, form)


def _fill(form: ListingForm, current: OwnListing, zone: Any) -> None:
    auction, item = current.auction, current.item
    currency = auction.currency
    values = {
        "title": item.title,
        "description": item.description,
        "category": item.category,
        "condition": item.condition,
        "type": auction.type,
        "currency": currency,
        "startingPrice": major_text(auction.starting_price, currency),
        "reservePrice": major_text(auction.reserve_price, currency),
        "buyNowPrice": major_text(auction.buy_now_price, currency),
        "dutchFloor": major_text(auction.dutch_floor, currency),
        "dutchStep": major_text(auction.dutch_step, currency),
        "dutchStepSeconds": ""
        if auction.dutch_step_seconds is None
        else str(auction.dutch_step_seconds),
        "softCloseWindowSeconds": ""
        if auction.soft_close_window_seconds is None
        else str(auction.soft_close_window_seconds),
        "softCloseExtensionSeconds": ""
        if auction.soft_close_extension_seconds is None
        else str(auction.soft_close_extension_seconds),
        "hardCloseAt": local_text(auction.hard_close_at, zone),
        "startsAt": local_text(auction.starts_at, zone),
        "endsAt": local_text(auction.ends_at, zone),
    }
    for name, value in values.items():
        form.inputs[name].set_value(value)
