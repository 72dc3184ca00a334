"""The audit log (issue 15 item 7): PostgreSQL itself refuses to edit or delete a row
(migration 0007's trigger, tried with raw SQL as the app's own database user), the API
offers no way to, and the changes outside the normal flow (an admin's cancel, a
dispute's resolution and the money it moves) are recorded with before and after."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services import settlement
from tests.api.admin_steps import audit_rows, make_admin
from tests.helpers import BID, PUBLISH, create_auction, register
from tests.integration.settlement_kit import (
    clock,
    deps,
    make_user,
    reload,
    settle_app,
    sold_auction,
    start,
    with_card,
)

__all__ = ["clock", "deps", "settle_app"]

CANCEL = """mutation($id: ID!, $r: String) { cancelAuction(auctionId: $id, reason: $r) {
  auction { status } errors { code } } }"""


async def test_postgresql_refuses_to_update_or_delete_an_audit_row(gql, app):
    account = await register(gql, seller=True)  # becomeSeller writes an audit row
    [row] = await audit_rows(app, account.id)
    assert row["action"] == "become_seller"
    assert row["details"]["before"] == {"roles": ["BIDDER"]}

    for statement in (
        "UPDATE audit_log SET action = 'nothing' WHERE entity_id = :e",
        "UPDATE audit_log SET details = '{}' WHERE entity_id = :e",
        "DELETE FROM audit_log WHERE entity_id = :e",
        # Deleting the actor would clear actor_id (ON DELETE SET NULL): refused as well.
        "DELETE FROM users WHERE id = CAST(:e AS uuid)",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with app.state.engine.begin() as conn:
                await conn.execute(text(statement), {"e": account.id})
    assert await audit_rows(app, account.id) == [row]
    async with app.state.engine.begin() as conn:  # inserting is what the log is for
        await conn.execute(
            text(
                "INSERT INTO audit_log (action, entity_type, entity_id, details, at)"
                " VALUES ('probe', 'user', :e, '{}', now())"
            ),
            {"e": account.id},
        )
    assert len(await audit_rows(app, account.id)) == 2


async def test_the_api_offers_no_way_to_edit_the_audit_log(gql):
    body = await gql("{ __schema { mutationType { fields { name } } } }")
    names = [f["name"].lower() for f in body["data"]["__schema"]["mutationType"]["fields"]]
    assert [n for n in names if "audit" in n] == []


async def test_an_admin_cancel_records_the_auction_before_and_after(gql, app):
    seller = await register(gql, seller=True)
    auction = await create_auction(gql, seller)
    await gql(PUBLISH, {"id": auction["id"]}, token=seller.token)
    bidder = await register(gql)
    bid = await gql(BID, {"id": auction["id"], "amount": "100"}, token=bidder.token)
    assert bid["data"]["placeBid"]["__typename"] == "BidAccepted", bid
    admin = await make_admin(gql, app)

    body = await gql(CANCEL, {"id": auction["id"], "r": "counterfeit item"}, token=admin.token)
    assert body["data"]["cancelAuction"]["errors"] == [], body

    rows = await audit_rows(app, auction["id"])
    assert [r["action"] for r in rows] == ["auction.create", "auction.publish", "auction.cancel"]
    cancel: dict[str, Any] = rows[-1]["details"]
    assert str(rows[-1]["actor_id"]) == admin.id
    assert cancel["before"]["status"] == "ACTIVE" and cancel["before"]["bid_count"] == 1
    assert cancel["after"]["status"] == "CANCELLED" and cancel["after"]["cancelled_at"]
    assert cancel["reason"] == "counterfeit item" and cancel["by_admin"] is True
    assert rows[1]["details"]["before"] == {"status": "DRAFT"}
    assert rows[1]["details"]["after"]["status"] == "ACTIVE"


async def _details(deps: Any, entity_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    from sqlmodel import col, select

    from storage.tables import AuditLog

    async with deps.uow() as uow:
        rows = (
            await uow.session.exec(
                select(AuditLog)
                .where(col(AuditLog.entity_id) == str(entity_id))
                .order_by(col(AuditLog.id))
            )
        ).all()
    return {row.action: row.details for row in rows}


async def test_a_dispute_resolution_records_the_decision_and_the_money(deps):
    seller = await make_user(deps, "BIDDER", "SELLER")
    buyer = await with_card(deps, await make_user(deps))
    admin = await make_user(deps, "BIDDER", "ADMIN")
    txn = await start(deps, await sold_auction(deps, seller, buyer, 10_000))
    await settlement.mark_shipped(deps, seller, txn.id, "DHL", "123")
    dispute = await settlement.open_dispute(deps, buyer, txn.id, "Damaged", "Dented lens.")
    await settlement.respond_to_dispute(deps, seller, dispute.id, "Packed well.")

    await settlement.resolve_dispute(deps, admin, dispute.id, "REFUND_PARTIAL", 2_500)

    assert (await reload(deps, txn.id)).refunded_amount == 2_500
    on_dispute = await _details(deps, dispute.id)
    assert on_dispute["dispute.opened"]["after"] == {"status": "OPEN"}
    assert on_dispute["dispute.responded"]["before"] == {"status": "OPEN"}
    assert on_dispute["dispute.responded"]["after"] == {"status": "SELLER_RESPONDED"}
    resolving = on_dispute["dispute.resolving"]
    assert resolving["before"] == {
        "status": "SELLER_RESPONDED",
        "resolution": None,
        "refund_amount": None,
    }
    assert resolving["after"]["resolution"] == "REFUND_PARTIAL"
    assert resolving["after"]["refund_amount"] == 2_500
    resolved = on_dispute["dispute.resolved"]
    assert resolved["before"] == {"status": "SELLER_RESPONDED"}
    assert resolved["after"] == {
        "status": "RESOLVED_REFUND",
        "resolution": "REFUND_PARTIAL",
        "refund_amount": 2_500,
    }
    released = (await _details(deps, txn.id))["transaction.released"]
    assert released["before"] == {"status": "AUTHORIZED", "refunded_amount": 0}
    assert released["after"] == {"status": "RELEASED", "refunded_amount": 2_500}
    assert released["refunded"] == 2_500
