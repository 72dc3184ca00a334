"""argon2id password hashing (argon2-cffi's tuned defaults)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    """Hashing runs in a thread: argon2 is deliberately slow and must not block the loop."""

    def __init__(self, *, fast: bool = False) -> None:
        # `fast` is for tests and seeds only: same algorithm, cheaper parameters.
        self._argon = _Argon2(time_cost=1, memory_cost=1024, parallelism=1) if fast else _Argon2()

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._argon.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def hash_sync(self, password: str) -> str:
        return self._argon.hash(password)
