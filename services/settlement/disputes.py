"""Disputes: the buyer opens, the seller responds, an admin resolves (SPEC section 7).

The dispute state machine is domain/settlement.py's: OPEN -> SELLER_RESPONDED ->
RESOLVED_REFUND | RESOLVED_RELEASE (an admin may resolve an OPEN dispute too). While
a dispute is open the escrow stays held: no confirmation, no auto-release. Every step
notifies both parties and is written to the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import col, select

from domain.enums import DisputeStatus
from domain.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from domain.settlement import (
    MAX_MESSAGE,
    MAX_REASON,
    OPEN_DISPUTES,
    Resolution,
    check_action,
    check_dispute_window,
    check_resolution,
    clean_dispute_text,
    dispute_transition,
)
from services.deps import Deps
from services.listings import ImageUpload
from services.settlement import steps
from services.settlement.common import (
    audit,
    can_see,
    is_admin,
    notify_both,
    require_party,
    status_of,
    visible_transaction,
)
from storage.tables import Auction, Dispute, ItemImage, Transaction, User
from storage.uow import UnitOfWork

MAX_EVIDENCE = 10


async def _evidence_of_item(
    uow: UnitOfWork, txn: Transaction, image_ids: Sequence[str]
) -> list[dict[str, str]]:
    """Evidence naming the listing's own images by id (they must belong to the item)."""
    if not image_ids:
        return []
    try:
        ids = [uuid.UUID(str(i)) for i in image_ids]
    except ValueError:
        raise ValidationFailed(
            "evidence image ids are malformed", field="evidenceImageIds"
        ) from None
    auction = await uow.session.get(Auction, txn.auction_id)
    assert auction is not None
    found = (
        await uow.session.exec(
            select(ItemImage).where(
                col(ItemImage.id).in_(ids), col(ItemImage.item_id) == auction.item_id
            )
        )
    ).all()
    if len({img.id for img in found}) != len(set(ids)):
        raise ValidationFailed(
            "evidence images must be images of this listing or uploads",
            field="evidenceImageIds",
        )
    return [{"image_id": str(img.id), "key": img.storage_key} for img in found]


async def _check_disputable(
    uow: UnitOfWork,
    txn: Transaction,
    deadline_of: Callable[[datetime | None], datetime | None],
    now: datetime,
) -> None:
    check_action("open a dispute", status_of(txn))
    if txn.pending_step is not None:
        raise InvalidState(
            f"the transaction is being settled ({txn.pending_step})", field="transactionId"
        )
    existing = (
        await uow.session.exec(select(Dispute.id).where(col(Dispute.transaction_id) == txn.id))
    ).first()
    if existing is not None:
        raise InvalidState("this sale was disputed already", field="transactionId")
    check_dispute_window(deadline_of(txn.shipped_at), now)


async def open_dispute(
    deps: Deps,
    viewer: User,
    transaction_id: uuid.UUID | str,
    reason: str,
    message: str,
    evidence_image_ids: Sequence[str] = (),
    *,
    evidence_uploads: Sequence[ImageUpload] = (),
) -> Dispute:
    """The buyer disputes a paid sale whose money is still in escrow: at any time while
    the item is not shipped, then within the dispute window from shipment. Evidence: ids of the
    listing's images and/or uploaded pictures (cleaned like listing images,
    adapters/images.py, but stored privately: only short-lived signed URLs serve them,
    adapters/signed_media.py), at most 10 in all.

    Errors: NOT_FOUND, FORBIDDEN (not the buyer), INVALID_STATE (not paid, settled,
    disputed already), DISPUTE_WINDOW_CLOSED, INVALID_INPUT (reason: 1-100 characters
    on one line; message: 1-5000 characters; evidence).
    """
    reason = clean_dispute_text(reason, "reason", limit=MAX_REASON, multiline=False)
    message = clean_dispute_text(message, "message", limit=MAX_MESSAGE, multiline=True)
    if len(evidence_image_ids) + len(evidence_uploads) > MAX_EVIDENCE:
        raise ValidationFailed(f"at most {MAX_EVIDENCE} evidence images", field="evidenceImageIds")
    now = deps.clock()
    policy = deps.settlement_policy
    async with deps.uow() as uow:
        # Everything checked first: nothing is decoded or stored for a refused call.
        txn = await visible_transaction(uow, viewer, transaction_id, lock=False)
        require_party(viewer, txn.buyer_id, "buyer")
        await _check_disputable(uow, txn, policy.dispute_deadline, now)
        from_item = await _evidence_of_item(uow, txn, evidence_image_ids)
    stored: list[dict[str, str]] = []
    if evidence_uploads:
        cleaned = await deps.images.prepare([u.data for u in evidence_uploads])
        for image in cleaned:
            saved = await deps.images.save(image, private=True)
            stored.append({"key": saved.key, "content_type": saved.content_type})
    async with deps.uow() as uow:
        txn = await visible_transaction(uow, viewer, transaction_id, lock=True)
        await _check_disputable(uow, txn, policy.dispute_deadline, now)  # again, locked
        evidence = from_item + stored
        dispute = Dispute(
            transaction_id=txn.id,
            opened_by_id=viewer.id,
            reason=reason,
            message=message,
            evidence=evidence,
            created_at=now,
        )
        uow.session.add(dispute)
        txn.updated_at = now
        await notify_both(uow, txn, "DISPUTE_OPENED", f"A dispute was opened: {reason}.")
        audit(
            uow,
            viewer.id,
            "dispute.opened",
            "dispute",
            dispute.id,
            now,
            after={"status": dispute.status},
            reason=reason,
            transaction_id=txn.id,
        )
        await uow.commit()
    return dispute


async def _locked_dispute(
    uow: UnitOfWork, viewer: User, dispute_id: uuid.UUID | str
) -> tuple[Dispute, Transaction]:
    """The dispute and its sale, both locked (sale first, as every settlement step);
    NOT_FOUND unless the viewer may see the sale."""
    try:
        key = dispute_id if isinstance(dispute_id, uuid.UUID) else uuid.UUID(str(dispute_id))
    except ValueError:
        raise NotFound("no such dispute", field="disputeId") from None
    peek = await uow.session.get(Dispute, key)
    if peek is None:
        raise NotFound("no such dispute", field="disputeId")
    txn = await uow.session.get(Transaction, peek.transaction_id, with_for_update=True)
    assert txn is not None
    if not can_see(viewer, txn):
        raise NotFound("no such dispute", field="disputeId")
    dispute = await uow.session.get(Dispute, key, with_for_update=True, populate_existing=True)
    assert dispute is not None
    return dispute, txn


async def respond_to_dispute(
    deps: Deps, viewer: User, dispute_id: uuid.UUID | str, message: str
) -> Dispute:
    """The seller answers an OPEN dispute once. Errors: NOT_FOUND, FORBIDDEN (not the
    seller), INVALID_STATE (answered or resolved already), INVALID_INPUT (message)."""
    message = clean_dispute_text(message, "message", limit=MAX_MESSAGE, multiline=True)
    now = deps.clock()
    async with deps.uow() as uow:
        dispute, txn = await _locked_dispute(uow, viewer, dispute_id)
        require_party(viewer, txn.seller_id, "seller")
        was = dispute.status
        dispute.status = dispute_transition(
            DisputeStatus(dispute.status), DisputeStatus.SELLER_RESPONDED
        ).value
        dispute.seller_response = message
        dispute.responded_at = now
        await notify_both(uow, txn, "DISPUTE_RESPONDED", "The seller responded to the dispute.")
        audit(
            uow,
            viewer.id,
            "dispute.responded",
            "dispute",
            dispute.id,
            now,
            before={"status": was},
            after={"status": dispute.status},
        )
        await uow.commit()
    return dispute


async def resolve_dispute(
    deps: Deps,
    viewer: User,
    dispute_id: uuid.UUID | str,
    resolution: str,
    refund_amount: int | None = None,
) -> Dispute:
    """An admin resolves an open dispute: REFUND_FULL (everything back to the buyer; an
    uncaptured authorization is cancelled), REFUND_PARTIAL (`refund_amount` minor units
    back, the rest released to the seller less the fee on what is left), or RELEASE.
    Refunds and payouts go through the gateway; the dispute's loser gets a
    `disputes_lost` mark.

    Errors: NOT_FOUND (not a party nor an admin), FORBIDDEN (not an admin, or an admin
    who is the sale's buyer or seller: nobody judges their own case), INVALID_STATE
    (resolved already or being resolved), INVALID_INPUT (resolution,
    refundAmount), PAYMENT_GATEWAY_UNAVAILABLE (the worker finishes it later).
    """
    now = deps.clock()
    async with deps.uow() as uow:
        dispute, txn = await _locked_dispute(uow, viewer, dispute_id)
        if not is_admin(viewer):
            raise Forbidden("only an admin resolves a dispute", field="disputeId")
        if viewer.id in (txn.buyer_id, txn.seller_id):
            raise Forbidden(
                "you are a party to this sale: another admin must resolve its dispute",
                field="disputeId",
            )
        current = DisputeStatus(dispute.status)
        if current not in OPEN_DISPUTES:
            dispute_transition(current, DisputeStatus.RESOLVED_RELEASE)  # raises: resolved
        if dispute.resolution is not None:
            raise InvalidState("the dispute is being resolved already", field="disputeId")
        refund = check_resolution(resolution, refund_amount, txn.amount, txn.currency)
        target = (
            DisputeStatus.RESOLVED_RELEASE
            if resolution == Resolution.RELEASE
            else DisputeStatus.RESOLVED_REFUND
        )
        dispute_transition(current, target)
        step = {
            Resolution.REFUND_FULL: steps.REFUND,
            Resolution.REFUND_PARTIAL: steps.PARTIAL_REFUND,
            Resolution.RELEASE: steps.RELEASE,
        }[resolution]
        check_action("refund" if step == steps.REFUND else "release", status_of(txn))
        steps.begin(txn, step, now)
        dispute.resolution = resolution
        dispute.refund_amount = refund
        dispute.resolved_by_id = viewer.id
        audit(
            uow,
            viewer.id,
            "dispute.resolving",
            "dispute",
            dispute.id,
            now,
            before={"status": current.value, "resolution": None, "refund_amount": None},
            after={"status": current.value, "resolution": resolution, "refund_amount": refund},
            transaction_id=txn.id,
            step=step,
        )
        await uow.commit()
    await steps.execute(deps, txn.id, now)
    async with deps.uow() as uow:
        done = await uow.session.get(Dispute, dispute.id)
        assert done is not None
        return done
