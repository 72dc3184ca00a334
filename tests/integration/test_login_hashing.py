"""Login never blocks the event loop, and known and unknown emails cost the same work.

Both tests swap the app's hasher for one of real argon2id parameters (the suite's app
hashes with cheap test parameters), then log in through the API.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Literal

import pytest
from argon2 import PasswordHasher as Argon2

from adapters.passwords import PasswordHasher
from tests.helpers import LOGIN, register


# argon2-cffi's default costs on one lane (its defaults use four): one hash is long next
# to a loaded machine's noise, and any hash run on the loop shows as a gap that long.
def slow_argon2() -> Argon2:
    return Argon2(time_cost=3, memory_cost=65536, parallelism=1)


class CountingArgon2(Argon2):
    """The real argon2 hasher, counting calls."""

    def __init__(self, **params: int) -> None:
        super().__init__(**params)  # type: ignore[arg-type]
        self.calls: Counter[str] = Counter()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls["hash"] += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls["verify"] += 1
        return super().verify(hash, password)


@pytest.fixture
def use_hasher(app) -> Iterator[object]:
    deps = app.state.deps
    original = deps.hasher

    def swap(hasher: PasswordHasher) -> None:
        deps.hasher = hasher

    yield swap
    deps.hasher = original


async def test_known_and_unknown_emails_do_the_same_work(gql, use_hasher):
    counting = CountingArgon2(time_cost=1, memory_cost=1024, parallelism=1)
    hasher = PasswordHasher(argon=counting)
    use_hasher(hasher)
    account = await register(gql)  # hashed by the new hasher
    cases = [
        (account.email, "wrong password", "INVALID_CREDENTIALS"),
        (f"nobody-{uuid.uuid4().hex}@example.com", "wrong password", "INVALID_CREDENTIALS"),
        (account.email, "correct horse battery", None),
    ]
    for email, password, code in cases:
        counting.calls.clear()
        body = await gql(LOGIN, {"email": email, "password": password})
        errors = body["data"]["login"]["errors"]
        assert [e["code"] for e in errors] == ([code] if code else []), body
        assert counting.calls == Counter(verify=1), (email, counting.calls)


async def test_concurrent_logins_do_not_block_the_loop(gql, use_hasher):
    argon = slow_argon2()
    started = time.perf_counter()
    await asyncio.to_thread(argon.hash, "measure one hash")
    one_hash = time.perf_counter() - started
    hasher = PasswordHasher(argon=argon, threads=2)
    use_hasher(hasher)
    account = await register(gql)

    gaps: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    logins = [
        gql(LOGIN, {"email": f"nobody-{n}-{uuid.uuid4().hex}@example.com", "password": "x"})
        for n in range(6)
    ] + [gql(LOGIN, {"email": account.email, "password": "wrong"}) for _ in range(2)]
    started = time.perf_counter()
    answers = await asyncio.gather(*logins)
    took = time.perf_counter() - started
    stop.set()
    await ticker
    hasher.close()
    for body in answers:
        assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS", body
    # Eight verifications on two threads took several hashes' time, while the loop kept
    # ticking: no gap comes near one hash run on the loop.
    assert max(gaps) < one_hash / 2, (max(gaps), one_hash, took)
