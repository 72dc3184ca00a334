"""Settlement's queries and mutations: each reads the context, calls one use case of
services/settlement and maps its domain error to the payload (codes: docs/settlement.md
"Using it from the API").

Ids are parsed here like every other id of the API (a malformed one is INVALID_ID);
whether the viewer may act on the sale is the use case's decision (NOT_FOUND for a
stranger, FORBIDDEN for the other party's step). Admin-only mutations also declare
IsAdmin in schema/root.py.
"""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.file_uploads import Upload

from domain.enums import TransactionStatus
from domain.errors import NotFound, ValidationFailed
from domain.money import to_minor
from domain.payments import PaymentDeclined
from schema.context import Ctx
from schema.enums import DisputeStatus
from schema.errors import UserError
from schema.payloads import SimplePayload
from schema.settlement_payloads import DisputePayload, SetupIntentPayload, TransactionPayload
from schema.settlement_types import (
    Dispute,
    DisputeConnection,
    DisputeResolution,
    Transaction,
    dispute_connection,
)
from services import settlement, settlement_reads
from services.listings import ImageUpload

from .common import as_payload, parse_id, viewer

# Uploads read into memory at most: open_dispute takes 10 evidence images in all.
MAX_EVIDENCE_IMAGES = 10


async def transaction(info: Ctx, id: strawberry.ID) -> Transaction | None:
    """A sale its buyer, its seller or an admin may see; anyone else gets NOT_FOUND, as
    for an id that names nothing."""
    row = await settlement.get_transaction(info.context.deps, viewer(info), parse_id(id))
    return Transaction(row=row)


async def disputes(
    info: Ctx,
    status: DisputeStatus | None = None,
    first: int | None = 20,
    after: str | None = None,
) -> DisputeConnection:
    """Admins: disputes newest first, of one status if given (OPEN: those to resolve)."""
    page = await settlement_reads.list_disputes(
        info.context.deps,
        viewer(info),
        status,
        first,
        after,
    )
    return dispute_connection(page)


async def save_payment_method(info: Ctx, payment_method_id: str) -> SimplePayload:
    async def act() -> SimplePayload:
        await settlement.save_payment_method(info.context.deps, viewer(info), payment_method_id)
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def create_setup_intent(info: Ctx) -> SetupIntentPayload:
    async def act() -> SetupIntentPayload:
        intent = await settlement.create_setup_intent(info.context.deps, viewer(info))
        return SetupIntentPayload(setup_intent_id=intent.id, client_secret=intent.client_secret)

    return await as_payload(SetupIntentPayload.failed, act)


async def pay_transaction(info: Ctx, transaction_id: strawberry.ID) -> TransactionPayload:
    async def act() -> TransactionPayload:
        row = await settlement.pay(
            info.context.deps, viewer(info), parse_id(transaction_id, "transactionId")
        )
        if row.status == TransactionStatus.FAILED.value:
            # The refusal is recorded (the sale FAILED, both parties told), not rolled
            # back: the payload carries the failed sale and says why.
            declined = PaymentDeclined(row.failure_reason or "the card was declined")
            return TransactionPayload(
                transaction=Transaction(row=row), errors=[UserError.of(declined)]
            )
        return TransactionPayload(transaction=Transaction(row=row))

    return await as_payload(TransactionPayload.failed, act)


async def mark_shipped(
    info: Ctx, transaction_id: strawberry.ID, carrier: str, tracking_number: str
) -> TransactionPayload:
    async def act() -> TransactionPayload:
        row = await settlement.mark_shipped(
            info.context.deps,
            viewer(info),
            parse_id(transaction_id, "transactionId"),
            carrier,
            tracking_number,
        )
        return TransactionPayload(transaction=Transaction(row=row))

    return await as_payload(TransactionPayload.failed, act)


async def confirm_receipt(info: Ctx, transaction_id: strawberry.ID) -> SimplePayload:
    async def act() -> SimplePayload:
        await settlement.confirm_receipt(
            info.context.deps, viewer(info), parse_id(transaction_id, "transactionId")
        )
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def _read_evidence(uploads: list[Upload] | None) -> list[ImageUpload]:
    if uploads and len(uploads) > MAX_EVIDENCE_IMAGES:
        raise ValidationFailed(
            f"at most {MAX_EVIDENCE_IMAGES} evidence images", field="evidenceImages"
        )
    images = []
    for upload in uploads or []:
        data = await upload.read()  # type: ignore[attr-defined]  # starlette UploadFile
        images.append(ImageUpload(data=data))
    return images


async def open_dispute(
    info: Ctx,
    transaction_id: strawberry.ID,
    reason: str,
    message: str,
    evidence_image_ids: list[strawberry.ID] | None = None,
    evidence_images: list[Upload] | None = None,
) -> SimplePayload:
    async def act() -> SimplePayload:
        await settlement.open_dispute(
            info.context.deps,
            viewer(info),
            parse_id(transaction_id, "transactionId"),
            reason,
            message,
            [str(i) for i in evidence_image_ids or []],
            evidence_uploads=await _read_evidence(evidence_images),
        )
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)


async def respond_to_dispute(info: Ctx, dispute_id: strawberry.ID, message: str) -> DisputePayload:
    async def act() -> DisputePayload:
        row = await settlement.respond_to_dispute(
            info.context.deps, viewer(info), parse_id(dispute_id, "disputeId"), message
        )
        return DisputePayload(dispute=Dispute(row=row))

    return await as_payload(DisputePayload.failed, act)


async def resolve_dispute(
    info: Ctx,
    dispute_id: strawberry.ID,
    resolution: DisputeResolution,
    refund_amount: Decimal | None = None,
) -> DisputePayload:
    async def act() -> DisputePayload:
        dispute_uuid = parse_id(dispute_id, "disputeId")
        minor = None
        if refund_amount is not None:
            # The amount is in the sale's currency; only admins get here (IsAdmin).
            loaders = info.context.loaders.settlement
            dispute = await loaders.disputes.load(dispute_uuid)
            txn = await loaders.transactions.load(dispute.transaction_id) if dispute else None
            if txn is None:
                raise NotFound("no such dispute", field="disputeId")
            minor = to_minor(refund_amount, txn.currency, field="refundAmount")
        row = await settlement.resolve_dispute(
            info.context.deps, viewer(info), dispute_uuid, resolution.value, minor
        )
        if minor is not None:
            # The sale was read above, before the refund changed it.
            info.context.loaders.settlement.transactions.clear(row.transaction_id)
        return DisputePayload(dispute=Dispute(row=row))

    return await as_payload(DisputePayload.failed, act)


async def offer_second_chance(info: Ctx, transaction_id: strawberry.ID) -> TransactionPayload:
    async def act() -> TransactionPayload:
        row = await settlement.offer_second_chance(
            info.context.deps, viewer(info), parse_id(transaction_id, "transactionId")
        )
        return TransactionPayload(transaction=Transaction(row=row))

    return await as_payload(TransactionPayload.failed, act)


async def leave_feedback(
    info: Ctx, transaction_id: strawberry.ID, rating: int, comment: str | None = None
) -> SimplePayload:
    async def act() -> SimplePayload:
        await settlement.leave_feedback(
            info.context.deps,
            viewer(info),
            parse_id(transaction_id, "transactionId"),
            rating,
            comment,
        )
        return SimplePayload()

    return await as_payload(SimplePayload.failed, act)
