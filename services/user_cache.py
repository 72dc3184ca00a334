"""A short-lived, per-process cache of the user behind an access token.

Authenticating every request with a database read costs about a quarter of a small
mutation; users change rarely. Entries live `ttl` seconds and are keyed by token, so a
fresh login always reads the database; this process drops a user's entries when it
changes them. Another process's change (a ban, a new role) shows within `ttl`. A hit
also stands for the token's verified signature, so an entry never outlives the token
(`not_after`, its expiry in wall-clock seconds).
"""

from __future__ import annotations

import random
import time
import uuid
from collections import OrderedDict

from storage.tables import User


class UserCache:
    def __init__(self, ttl: float = 2.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, float, User]] = OrderedDict()

    def get(self, token: str) -> User | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] < time.monotonic() or entry[1] <= time.time():
            del self._entries[token]
            return None
        return entry[2]

    def put(self, token: str, user: User, not_after: float = float("inf")) -> None:
        if self.ttl <= 0:
            return
        # A random share of the TTL: entries cached together (every client's token after a
        # restart, a benchmark's bidders) would otherwise all expire in the same instant
        # and reload in one burst of database reads, a latency spike for every request.
        life = self.ttl * (0.5 + random.random() / 2)
        self._entries[token] = (time.monotonic() + life, not_after, user)
        self._entries.move_to_end(token)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, user_id: uuid.UUID) -> None:
        for token in [t for t, (_, _, u) in self._entries.items() if u.id == user_id]:
            del self._entries[token]
