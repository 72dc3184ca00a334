"""Trending scores in Redis sorted sets (domain/discovery.py explains the decay).

Every key carries the hash tag `{trending}` (or the test's own prefix's), so the scripts
below, which touch several keys at once, run unchanged on Redis Cluster: one sorted set
for all auctions, one per category path, the epoch, the view/watch de-duplication keys
and each viewer's recently viewed auctions. The price is that discovery's writes land on
one cluster slot; they are a few per view, watch or persisted bid, far from the bid path.

An activity is one round trip: the script checks the de-duplication key, reads the epoch
and adds the increment to every set, so a re-base by another process can never meet an
increment computed for the old epoch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from domain.categories import CATEGORIES
from domain.discovery import TrendingPolicy

DEFAULT_PREFIX = "gavel:{trending}"
RECENT_VIEWS_KEPT = 20
RECENT_VIEWS_TTL = 30 * 86400
# Scores whose decayed value falls below this after a re-base are dropped (nothing left).
FORGOTTEN_BELOW = 1e-6

# KEYS: epoch, dedupe (or a placeholder), recent (or a placeholder), sets...
# ARGV: now, half-life, weight, member, dedupe ttl (0: none), rebase after, recent (1/0),
#       recent kept, recent ttl
# Returns 1 counted, 0 a repeat within the dedupe window, -1 re-base first.
_RECORD = """
local now, half_life = tonumber(ARGV[1]), tonumber(ARGV[2])
local epoch = tonumber(redis.call('GET', KEYS[1]))
if not epoch then
  epoch = now
  redis.call('SET', KEYS[1], ARGV[1])
end
local exponent = (now - epoch) / half_life
if exponent > tonumber(ARGV[6]) then return -1 end
local ttl = tonumber(ARGV[5])
if ttl > 0 and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ttl) then return 0 end
if ARGV[7] == '1' then
  redis.call('LREM', KEYS[3], 0, ARGV[4])
  redis.call('LPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[9]))
end
local add = tonumber(ARGV[3]) * 2 ^ exponent
for i = 4, #KEYS do redis.call('ZINCRBY', KEYS[i], add, ARGV[4]) end
return 1
"""

# KEYS: epoch, sets...   ARGV: the epoch the caller saw, the new epoch, half-life, floor
# Returns 1 re-based, 0 someone else did it first.
_REBASE = """
local seen = redis.call('GET', KEYS[1])
if seen and seen ~= ARGV[1] then return 0 end
local old, new = tonumber(ARGV[1]) or tonumber(ARGV[2]), tonumber(ARGV[2])
local factor = 2 ^ (-(new - old) / tonumber(ARGV[3]))
for i = 2, #KEYS do
  redis.call('ZUNIONSTORE', KEYS[i], 1, KEYS[i], 'WEIGHTS', factor)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[4])
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


# KEYS: epoch, claim   ARGV: ttl. 1: this process rebuilds; 0: scores exist or another does.
_CLAIM_WARM_START = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[1])) then return 1 end
return 0
"""


class RedisTrending:
    """The trending sorted sets; `now` arguments are Unix seconds."""

    def __init__(self, redis: Any, policy: TrendingPolicy, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = redis
        self.policy = policy
        self.prefix = prefix
        self._record = redis.register_script(_RECORD)
        self._rebase = redis.register_script(_REBASE)
        self._claim = redis.register_script(_CLAIM_WARM_START)

    def key(self, category: str | None) -> str:
        return f"{self.prefix}:all" if category is None else f"{self.prefix}:cat:{category}"

    @property
    def epoch_key(self) -> str:
        return f"{self.prefix}:epoch"

    async def record(
        self,
        auction_id: uuid.UUID,
        categories: Sequence[str],
        weight: float,
        now: float,
        *,
        dedupe: str | None = None,
        recent_of: uuid.UUID | None = None,
    ) -> bool:
        """Add one activity to the auction's global score and to each of `categories`;
        with `dedupe`, only if that key was not set within the policy's dedupe window;
        with `recent_of`, also at the head of that user's recently viewed auctions.
        Returns whether it counted."""
        placeholder = f"{self.prefix}:none"
        keys = [
            self.epoch_key,
            f"{self.prefix}:seen:{dedupe}" if dedupe else placeholder,
            f"{self.prefix}:recent:{recent_of}" if recent_of else placeholder,
            self.key(None),
            *(self.key(c) for c in categories),
        ]
        args = [
            repr(now),
            repr(self.policy.half_life_seconds),
            repr(weight),
            str(auction_id),
            self.policy.view_dedupe_seconds if dedupe else 0,
            repr(self.policy.rebase_after),
            "1" if recent_of else "0",
            RECENT_VIEWS_KEPT,
            RECENT_VIEWS_TTL,
        ]
        outcome = int(await self._record(keys=keys, args=args))
        if outcome == -1:
            await self.rebase(now)
            outcome = int(await self._record(keys=keys, args=args))
        return outcome == 1

    async def claim_warm_start(self, ttl_seconds: int) -> bool:
        """True for one caller while no score exists (a new or emptied Redis): that one
        rebuilds the scores from the history; others within `ttl_seconds` do not."""
        keys = [self.epoch_key, f"{self.prefix}:warm-start"]
        return bool(await self._claim(keys=keys, args=[ttl_seconds]))

    async def rebase(self, now: float) -> None:
        """Scale every set to an epoch of `now` (the order is unchanged)."""
        seen = await self.redis.get(self.epoch_key)
        keys = [self.epoch_key, self.key(None), *(self.key(c) for c in CATEGORIES)]
        args = [seen or "", repr(now), repr(self.policy.half_life_seconds), FORGOTTEN_BELOW]
        await self._rebase(keys=keys, args=args)

    async def top(self, category: str | None, start: int, count: int) -> list[uuid.UUID]:
        """Auction ids by descending score, `count` of them from rank `start`."""
        members = await self.redis.zrevrange(self.key(category), start, start + count - 1)
        return [uuid.UUID(m if isinstance(m, str) else m.decode()) for m in members]

    async def scores(self, category: str | None, now: float) -> dict[uuid.UUID, float]:
        """Every auction's decayed score in a set as of `now` (tests and tools)."""
        epoch_raw, members = (
            await self.redis.get(self.epoch_key),
            await self.redis.zrange(self.key(category), 0, -1, withscores=True),
        )
        epoch = float(epoch_raw) if epoch_raw is not None else now
        factor = 2.0 ** (-(now - epoch) / self.policy.half_life_seconds)
        return {uuid.UUID(str(m)): float(s) * factor for m, s in members}

    async def forget(
        self, auction_ids: Sequence[uuid.UUID], categories: Sequence[str], *, overall: bool = True
    ) -> None:
        """Remove auctions from `categories`' sets and, if `overall`, the global one."""
        if not auction_ids:
            return
        members = [str(a) for a in auction_ids]
        keys = [self.key(c) for c in categories] + ([self.key(None)] if overall else [])
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrem(key, *members)
            await pipe.execute()

    async def recent_views(self, user_id: uuid.UUID, count: int) -> list[uuid.UUID]:
        """The user's most recently viewed auctions, newest first."""
        members = await self.redis.lrange(f"{self.prefix}:recent:{user_id}", 0, count - 1)
        return [uuid.UUID(str(m)) for m in members]
