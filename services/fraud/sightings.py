"""IP and device sightings of accounts, recorded at register and login.

Values are stored as HMAC-SHA256 hex digests under `Deps.sighting_key`, never raw: the
rules only ask whether two accounts were seen with the same value. A device
fingerprint is whatever the client sends in `X-Device-Fingerprint` (README); without
it only the IP is recorded. Recording is best effort: a failure is logged and never
fails the login it rides on.

Because a client chooses its fingerprint, an account keeps at most
`FraudPolicy.device_limit` distinct ones per look-back window: a further one is not
stored (so a seller cannot claim a bidder's fingerprint by trying many) and opens a
`fingerprint_spraying` flag on the account instead. Loopback addresses are not
recorded: they are the server's own host (local runs, a proxy on the same machine),
never the client's.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.fraud.rules import FraudPolicy, fingerprint_spraying
from services.deps import Deps
from storage.fraud_tables import FraudSighting
from storage.tables import FraudFlag

log = logging.getLogger("gavel.fraud")
SIGHTINGS = FraudSighting.__table__  # type: ignore[attr-defined]
FLAGS = FraudFlag.__table__  # type: ignore[attr-defined]
MAX_FINGERPRINT = 512
# One account's device sightings are counted and added one login at a time.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def sighting_key(secret: str) -> bytes:
    """The HMAC key for sightings, derived from a settings secret (its own purpose, so
    the same secret used elsewhere yields a different key)."""
    return hmac.new(secret.encode(), b"gavel fraud sightings v1", hashlib.sha256).digest()


def value_hash(key: bytes, kind: str, value: str) -> str:
    """The stored form of a sighting: 64 hex characters."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def observed(ip: str | None, device: str | None) -> list[tuple[str, str]]:
    """The (kind, raw value) pairs worth recording: blank, oversized or loopback values
    are not."""
    found: list[tuple[str, str]] = []
    if ip and ip.strip() and not _loopback(ip.strip()):
        found.append(("ip", ip.strip().lower()))
    if device and device.strip() and len(device) <= MAX_FINGERPRINT:
        found.append(("device", device.strip()))
    return found


async def record_sighting(
    deps: Deps, user_id: uuid.UUID, *, ip: str | None, device: str | None
) -> None:
    """Remember that `user_id` was seen with `ip` and `device` (first/last seen, count);
    a fingerprint beyond the account's `device_limit` is refused and flagged instead."""
    seen = observed(ip, device)
    if not seen:
        return
    now = deps.clock()
    rows: list[dict[str, Any]] = [
        {
            "user_id": user_id,
            "kind": kind,
            "value_hash": value_hash(deps.sighting_key, kind, value),
            "first_seen_at": now,
            "last_seen_at": now,
            "times_seen": 1,
        }
        for kind, value in seen
    ]
    try:
        async with deps.uow() as uow:
            conn = await uow.session.connection()
            device_row = next((r for r in rows if r["kind"] == "device"), None)
            if device_row is not None and await _over_limit(
                conn, user_id, device_row["value_hash"], deps.fraud_policy, now
            ):
                rows.remove(device_row)
                await _flag_spraying(conn, user_id, deps.fraud_policy, now)
            if rows:
                statement = insert(SIGHTINGS).values(rows)
                await conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["user_id", "kind", "value_hash"],
                        set_={
                            "last_seen_at": statement.excluded.last_seen_at,
                            "times_seen": SIGHTINGS.c.times_seen + 1,
                        },
                    )
                )
            await uow.commit()
    except Exception:  # evidence for the rules, never a reason to fail a login
        log.exception("sighting of %s not recorded", user_id)


async def _over_limit(
    conn: AsyncConnection, user_id: uuid.UUID, digest: str, policy: FraudPolicy, now: datetime
) -> bool:
    """Whether `digest` would be one fingerprint too many for the account (a known one
    never is)."""
    await conn.execute(_LOCK, {"key": f"fraud-devices:{user_id}"})
    known = set(
        (
            await conn.execute(
                select(SIGHTINGS.c.value_hash).where(
                    SIGHTINGS.c.user_id == user_id,
                    SIGHTINGS.c.kind == "device",
                    SIGHTINGS.c.last_seen_at >= now - policy.lookback,
                )
            )
        )
        .scalars()
        .all()
    )
    return digest not in known and len(known) >= policy.device_limit


async def _flag_spraying(
    conn: AsyncConnection, user_id: uuid.UUID, policy: FraudPolicy, now: datetime
) -> None:
    signal = fingerprint_spraying(policy)
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "auction_id": None,
        "rule": signal.rule,
        "score": signal.score,
        "details": {"signals": [signal.as_json()], "last_refused_at": now.isoformat()},
        "status": "OPEN",
        "created_at": now,
    }
    statement = insert(FLAGS).values(row)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[FLAGS.c.user_id, FLAGS.c.rule, FLAGS.c.auction_id],
            index_where=text("status = 'OPEN'"),
            set_={"details": statement.excluded.details},
        )
    )
    log.warning("fraud: %s presented too many device fingerprints", user_id)
