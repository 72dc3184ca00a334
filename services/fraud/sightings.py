"""IP and device sightings of accounts, recorded at register and login.

Values are stored as HMAC-SHA256 hex digests under `Deps.sighting_key`, never raw: the
rules only ask whether two accounts were seen with the same value. A device
fingerprint is whatever the client sends in `X-Device-Fingerprint` (README); without
it only the IP is recorded. Recording is best effort: a failure is logged and never
fails the login it rides on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid

from sqlalchemy.dialects.postgresql import insert

from services.deps import Deps
from storage.fraud_tables import FraudSighting

log = logging.getLogger("gavel.fraud")
SIGHTINGS = FraudSighting.__table__  # type: ignore[attr-defined]
MAX_FINGERPRINT = 512


def sighting_key(secret: str) -> bytes:
    """The HMAC key for sightings, derived from a settings secret (its own purpose, so
    the same secret used elsewhere yields a different key)."""
    return hmac.new(secret.encode(), b"gavel fraud sightings v1", hashlib.sha256).digest()


def value_hash(key: bytes, kind: str, value: str) -> str:
    """The stored form of a sighting: 64 hex characters."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def observed(ip: str | None, device: str | None) -> list[tuple[str, str]]:
    """The (kind, raw value) pairs worth recording: blank or oversized values are not."""
    found: list[tuple[str, str]] = []
    if ip and ip.strip():
        found.append(("ip", ip.strip().lower()))
    if device and device.strip() and len(device) <= MAX_FINGERPRINT:
        found.append(("device", device.strip()))
    return found


async def record_sighting(
    deps: Deps, user_id: uuid.UUID, *, ip: str | None, device: str | None
) -> None:
    """Remember that `user_id` was seen with `ip` and `device` (first/last seen, count)."""
    seen = observed(ip, device)
    if not seen:
        return
    now = deps.clock()
    rows = [
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
    statement = insert(SIGHTINGS).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "kind", "value_hash"],
        set_={
            "last_seen_at": statement.excluded.last_seen_at,
            "times_seen": SIGHTINGS.c.times_seen + 1,
        },
    )
    try:
        async with deps.uow() as uow:
            await (await uow.session.connection()).execute(statement)
            await uow.commit()
    except Exception:  # evidence for the rules, never a reason to fail a login
        log.exception("sighting of %s not recorded", user_id)
