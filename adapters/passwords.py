"""argon2id password hashing (argon2-cffi's tuned defaults), off the event loop.

Hashing and verifying run in a bounded thread pool of this hasher's own: argon2 is slow
on purpose (tens of ms and ~64 MiB each), argon2-cffi releases the GIL while it works,
and a bounded pool caps the memory and cores a burst of logins can take; callers beyond
`threads` wait their turn without holding the loop.

`verify_unknown` verifies against a dummy hash made once, with the same parameters, at
start-up: a login for an unknown account does exactly the work of a wrong password (one
verify), so neither the loop nor the answer's timing tells whether an account exists.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    def __init__(
        self, *, fast: bool = False, threads: int = 2, argon: _Argon2 | None = None
    ) -> None:
        # `fast` is for tests and seeds only: same algorithm, cheaper parameters.
        self._argon = argon or (
            _Argon2(time_cost=1, memory_cost=1024, parallelism=1) if fast else _Argon2()
        )
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        self.dummy_hash = self._argon.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._argon.hash, password
        )

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, self._argon.verify, password_hash, password
            )
        except (VerificationError, InvalidHashError):
            return False

    async def verify_unknown(self, password: str) -> bool:
        """The work of `verify` for an account that does not exist; always False."""
        await self.verify(self.dummy_hash, password)
        return False

    def hash_sync(self, password: str) -> str:
        """For seeds and tools that run before any loop."""
        return self._argon.hash(password)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
