"""GraphQL documents and small builders shared by the admin API tests."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from tests.api.settlement_steps import make_admin as make_admin

FLAGS = """
query($status: FraudFlagStatus, $userId: ID, $first: Int, $after: String) {
  fraudFlags(status: $status, userId: $userId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id rule score status createdAt resolvedAt
      resolvedBy { id } user { id } auction { id }
      signals { name value weight explanation evidence } } }
  }
}"""

USERS = """
query($query: String, $first: Int, $after: String) {
  adminUsers(query: $query, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id username email roles banned fraudHold reputationScore
      unpaidStrikes disputesLost openFlagCount user { id } } }
  }
}"""

AUDIT = """
query($action: String, $actorId: ID, $entityType: String, $entityId: String,
      $first: Int, $after: String) {
  auditLog(action: $action, actorId: $actorId, entityType: $entityType,
           entityId: $entityId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id action entityType entityId before after reason details at
      actor { id } } }
  }
}"""

DISMISS = """
mutation($id: ID!, $reason: String!) {
  dismissFraudFlag(flagId: $id, reason: $reason) {
    flag { id status resolvedAt resolvedBy { id } } errors { code field message }
  }
}"""

HOLD = """
mutation($id: ID!, $held: Boolean!, $reason: String!) {
  setFraudHold(userId: $id, held: $held, reason: $reason) {
    user { id fraudHold banned openFlagCount } errors { code field message }
  }
}"""

BAN = """
mutation($id: ID!, $reason: String!) {
  banUser(userId: $id, reason: $reason) {
    user { id banned fraudHold } errors { code field message }
  }
}"""

UNBAN = """
mutation($id: ID!, $reason: String!) {
  unbanUser(userId: $id, reason: $reason) {
    user { id banned } errors { code field message }
  }
}"""

VOID = """
mutation($id: ID!, $auctionId: ID, $reason: String!) {
  voidBids(userId: $id, auctionId: $auctionId, reason: $reason) {
    auctions { auctionId voidedSequences sequence
      before { price { amount currency } leaderId bidCount }
      after { price { amount currency } leaderId bidCount } }
    errors { code field message }
  }
}"""


async def add_flag(
    app: FastAPI,
    user_id: str,
    *,
    status: str = "OPEN",
    rule: str = "shill_bidding",
    score: int = 80,
    auction_id: str | None = None,
) -> str:
    """A fraud flag as the fraud rules store one, with its signals in `details`."""
    flag_id = str(uuid.uuid4())
    details = (
        '{"signals": [{"name": "bidder_tendency", "value": 0.9, "weight": 30, '
        '"explanation": "90% of their bids go to one seller"}, '
        '{"name": "winning_ratio", "value": 0.05, "weight": 20}]}'
    )
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO fraud_flags (id, user_id, auction_id, rule, score, details, status,"
                " created_at) VALUES (:id, :u, :a, :rule, :score, CAST(:d AS jsonb), :status,"
                " now())"
            ),
            {
                "id": flag_id,
                "u": user_id,
                "a": auction_id,
                "rule": rule,
                "score": score,
                "d": details,
                "status": status,
            },
        )
    return flag_id


async def audit_rows(app: FastAPI, entity_id: str) -> list[dict[str, Any]]:
    """The audit rows naming `entity_id`, oldest first."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, actor_id, entity_type, details FROM audit_log"
                " WHERE entity_id = :e ORDER BY id"
            ),
            {"e": entity_id},
        )
        return [dict(r._mapping) for r in rows]


async def flag_status(app: FastAPI, flag_id: str) -> str:
    async with app.state.engine.connect() as conn:
        status: str = (
            await conn.execute(text("SELECT status FROM fraud_flags WHERE id = :f"), {"f": flag_id})
        ).scalar_one()
        return status


async def account_state(app: FastAPI, user_id: str) -> tuple[bool, bool]:
    """(banned, fraud_hold) as the row says."""
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT banned_at IS NOT NULL, fraud_hold FROM users WHERE id = :u"),
                {"u": user_id},
            )
        ).one()
        return bool(row[0]), bool(row[1])


def payload(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"][field]
    return data


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
