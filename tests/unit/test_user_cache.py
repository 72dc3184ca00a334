"""The per-process user cache: entries die after their TTL, with their token, or when the
user changes in this process."""

from __future__ import annotations

import time
import uuid

from services.user_cache import UserCache
from storage.tables import User


def user() -> User:
    return User(id=uuid.uuid4(), username="u", email="u@example.com", password_hash="x")


def test_hit_until_the_ttl_ends():
    cache, someone = UserCache(ttl=0.05), user()
    cache.put("t", someone)
    assert cache.get("t") is someone
    time.sleep(0.06)
    assert cache.get("t") is None


def test_an_entry_never_outlives_its_token():
    cache, someone = UserCache(ttl=60), user()
    cache.put("expired", someone, not_after=time.time() - 1)
    cache.put("valid", someone, not_after=time.time() + 60)
    assert cache.get("expired") is None
    assert cache.get("valid") is someone


def test_forget_drops_every_token_of_a_user_and_size_is_bounded():
    cache, someone, other = UserCache(ttl=60, size=3), user(), user()
    cache.put("a", someone)
    cache.put("b", someone)
    cache.put("c", other)
    cache.forget(someone.id)
    assert cache.get("a") is None and cache.get("b") is None and cache.get("c") is other
    for token in "defg":
        cache.put(token, other)
    assert cache.get("c") is None and cache.get("g") is other
