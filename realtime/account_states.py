"""Account states in Redis: what authenticating a request needs, without PostgreSQL.

A bid must not need PostgreSQL on its way in (README, "Bids never touch PostgreSQL"), and
every authenticated request needs the token's account: its roles, ban, fraud hold, email
verification, token version (access tokens of an older one are revoked), and the profile
`me` shows. Each account's state is one Redis string,
the hash `gavel:account:<user id>`: `s`, a JSON copy of its `users` row without secrets
(no password hash, no MFA secret, no payment ids), and `v`, its version (`updated_at`).

Who keeps it: every use case that changes those columns writes the new state after its
commit (services/accounts.py, services/moderation.py), having deleted the old one before
committing, so a failed write leaves no stale copy; issuing a token (register, login,
refresh) writes it from the row it just read; the demo seeds delete the states of their
users. A missing state (expired, never written, Redis lost its data) is rebuilt from
PostgreSQL on the next request. A write never replaces a newer version, so a rebuild from
a row read just before a change cannot undo the change's own write. The TTL bounds how
long an out-of-band change (SQL by hand) can go unseen; it is at least an access token's
life, so a live token finds its state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from storage.tables import User

# Copied into Redis. Secrets stay in PostgreSQL: the state is for authorization and `me`.
_FIELDS = (
    "username",
    "email",
    "display_name",
    "roles",
    "address",
    "email_verified_at",
    "mfa_enabled",
    "reputation_score",
    "fraud_hold",
    "banned_at",
    "created_at",
    "updated_at",
    # Access tokens of an older version are refused (services/accounts.py).
    "token_version",
)
_MOMENTS = frozenset({"email_verified_at", "banned_at", "created_at", "updated_at"})


def key(user_id: uuid.UUID | str) -> str:
    return f"gavel:account:{user_id}"


def encode(user: User) -> bytes:
    return orjson.dumps({"id": str(user.id), **{name: getattr(user, name) for name in _FIELDS}})


def decode(raw: str | bytes) -> User:
    """A detached `User` with the state's columns; secrets are empty (never written back)."""
    data: dict[str, Any] = orjson.loads(raw)
    for name in _MOMENTS:
        value = data.get(name)
        data[name] = None if value is None else datetime.fromisoformat(value)
    values: dict[str, Any] = {name: data.get(name) for name in _FIELDS}
    # A state written before token versions existed stands for version 0.
    values["token_version"] = data.get("token_version") or 0
    return User(id=uuid.UUID(data["id"]), password_hash="", **values)


# Writes a state unless the stored one is newer (a higher version: the row's updated_at
# in microseconds). A request that read the row just before a change committed, or a
# login that read it then, must not overwrite the state the change wrote.
_PUT = """
local stored = redis.call('HGET', KEYS[1], 'v')
if stored and tonumber(stored) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def version(user: User) -> int:
    return int(user.updated_at.timestamp() * 1_000_000)


class AccountStates:
    def __init__(self, redis: Any, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self._put = redis.register_script(_PUT)

    async def get(self, user_id: uuid.UUID) -> User | None:
        raw = await self.redis.hget(key(user_id), "s")
        return None if raw is None else decode(raw)

    async def put(self, user: User) -> bool:
        """Store `user`'s state; False if a newer one is stored (kept)."""
        written = await self._put(
            keys=[key(user.id)], args=[encode(user), version(user), self.ttl_seconds]
        )
        return bool(written)

    async def forget(self, *user_ids: uuid.UUID) -> None:
        if user_ids:
            await self.redis.delete(*(key(u) for u in user_ids))
